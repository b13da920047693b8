"""PRISM (``HannahRoseKirk/prism-alignment``): participants' live conversations with LLMs, each
model response scored 1-100, joined to the participants' survey.

Files and fields read:

- ``utterances.jsonl``: ``interaction_id`` (one human turn: the responses rated together),
  ``conversation_id``, ``turn``, ``within_turn_id``, ``user_id``, ``user_prompt``, ``model_response``,
  ``model_name``, ``score``, ``if_chosen``;
- ``survey.jsonl`` (option ``survey``; by default the file of that name beside the source):
  ``user_id`` and the participant's answers; dict answers are flattened to ``parent.key``.

Each interaction's responses are paired (the opening turn's four give 6 pairs, later turns' two give
1): the higher score wins, a difference of at most ``tie_margin`` (default 0: only equal scores)
is a tie, and the strength is the absolute score difference. The prompt of the opening turn is its
text; a later turn's prompt is the conversation so far (each earlier user prompt and the response
the participant chose, ``if_chosen``) unless ``history=False``. Response ids are
``<within_turn_id>:<model_name>``; ``prompt_id`` is the interaction id; ``source_row`` is the row of the
pair's first utterance.

Attributes: ``attributes`` names survey columns (each required for every participant); by default
every survey column set for every participant with at most 50 distinct values (free text is left
out; both are logged). Each prompt is written and judged by one participant, so the per-type view
is refused on PRISM (see :func:`hetpref.annotators.views.per_type_view`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..sources import ROW, HubSpec, load, require
from ..table import AnnotatorDataError, JudgementTable, make_table
from ._common import AdapterOptionError, companion, log, one_row_per, pick_attributes

HUB = HubSpec("HannahRoseKirk/prism-alignment", "18ab5cfb37456f4ec8cbc00212ce54cf7b1239f6",
              ("utterances.jsonl", "survey.jsonl"), config="utterances")
HUB_SURVEY = HubSpec("HannahRoseKirk/prism-alignment", "18ab5cfb37456f4ec8cbc00212ce54cf7b1239f6",
                     ("survey.jsonl",), config="survey")
FIELDS = ("interaction_id", "conversation_id", "turn", "within_turn_id", "user_id", "user_prompt", "model_response",
          "model_name", "score")
MAX_LEVELS = 50


def _flatten(frame: pd.DataFrame) -> pd.DataFrame:
    """Dict columns become ``parent.key`` columns (one level)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if s.map(type).eq(dict).any():
            sub = pd.DataFrame.from_records(s.map(lambda d: d if isinstance(d, dict) else {}).tolist(),
                                            index=frame.index)
            for k in sub.columns:
                out[f"{col}.{k}"] = sub[k]
        else:
            out[col] = s
    return pd.DataFrame(out, index=frame.index)


def _histories(u: pd.DataFrame) -> pd.DataFrame:
    """For each (conversation_id, turn t + 1), in column ``_hist``: the conversation up to and
    including turn t (user prompts and the responses chosen, ``if_chosen``). One step per
    interaction, not per judgement."""
    chosen = u[u["if_chosen"].fillna(False).astype(bool)].sort_values(["conversation_id", "turn"])
    chosen = chosen.drop_duplicates(["conversation_id", "turn"])
    hist, prev_conv, msgs = [], None, []
    for conv, p, r in zip(chosen["conversation_id"], chosen["user_prompt"], chosen["model_response"]):
        if conv != prev_conv:
            prev_conv, msgs = conv, []
        msgs = msgs + [{"role": "user", "content": p}, {"role": "assistant", "content": r}]
        hist.append(msgs)
    out = pd.DataFrame({"conversation_id": chosen["conversation_id"].to_numpy(),
                        "turn": pd.to_numeric(chosen["turn"]).to_numpy() + 1})
    out["_hist"] = pd.Series(hist, dtype=object)
    return out


def read(source, survey=None, tie_margin: float = 0.0, history: bool = True, attributes=None,
         revision: str | None = None) -> JudgementTable:
    """Read PRISM utterances (a file, folder or the hub id) joined to the survey."""
    if not tie_margin >= 0:
        raise AdapterOptionError(f"tie_margin={tie_margin!r}; expected a number >= 0")
    u, name = load(source, HUB, revision)
    require(u, FIELDS, name)
    score = pd.to_numeric(u["score"], errors="coerce")
    bad = score.isna().to_numpy()
    if bad.any():
        i = bad.argmax()
        raise AnnotatorDataError(name, int(u[ROW].iloc[i]), "score", u["score"].iloc[i], "a number (1-100)")
    u = u.assign(score=score, user_id=u["user_id"].astype(str))
    s_raw, s_name = companion(source, survey, HUB_SURVEY, "survey.jsonl", "survey", "PRISM", "utterances", revision)
    require(s_raw, ("user_id",), s_name)
    people = _flatten(s_raw.drop(columns=[ROW])).assign(**{ROW: s_raw[ROW]})
    people["user_id"] = people["user_id"].astype(str)
    one_row_per(people, "user_id", s_name, "one survey row per participant")
    cand = []
    for c in people.columns:
        if c in ("user_id", ROW):
            continue
        vals = people[c].dropna()
        if vals.map(lambda v: isinstance(v, (list, dict))).any():
            continue
        if vals.nunique() > MAX_LEVELS:
            log.info("%s: survey column %r left out as an attribute: %d distinct values (free text?)", s_name, c,
                     vals.nunique())
            continue
        cand.append(c)
    attrs = pick_attributes(people, cand, attributes, s_name, "user_id")
    unknown = ~u["user_id"].isin(people["user_id"]).to_numpy()
    if unknown.any():
        i = unknown.argmax()
        raise AnnotatorDataError(name, int(u[ROW].iloc[i]), "user_id", u["user_id"].iloc[i],
                                 f"a participant listed in {s_name} (annotators without attributes cannot be typed)")
    u = u.assign(_rid=u["within_turn_id"].astype(str) + ":" + u["model_name"].astype(str))
    left = u[[ROW, "interaction_id", "conversation_id", "turn", "user_id", "user_prompt", "_rid", "model_response",
              "score", "within_turn_id"]]
    right = u[["interaction_id", "_rid", "model_response", "score", "within_turn_id", "user_id", "user_prompt"]]
    pairs = left.merge(right, on="interaction_id", suffixes=("", "_b"))
    pairs = pairs[(pairs["_rid"] < pairs["_rid_b"]).to_numpy()]
    for col, what in (("user_id", "participant"), ("user_prompt", "prompt")):
        diff = (pairs[col] != pairs[f"{col}_b"]).to_numpy()
        if diff.any():
            i = diff.argmax()
            raise AnnotatorDataError(name, int(pairs[ROW].iloc[i]), col, pairs[f"{col}_b"].iloc[i],
                                     f"the same {what} for every utterance of interaction "
                                     f"{pairs['interaction_id'].iloc[i]!r} ({pairs[col].iloc[i]!r})")
    singles = u["interaction_id"].map(u["interaction_id"].value_counts()).eq(1).to_numpy()
    if singles.any():
        log.info("%s: %d interactions with a single rated response give no pair", name,
                 int(u.loc[singles, "interaction_id"].nunique()))
    d = (pairs["score"] - pairs["score_b"]).to_numpy()
    label = np.where(d > tie_margin, "a", np.where(d < -tie_margin, "b", "tie"))
    prompt = pairs["user_prompt"].astype(object)
    if history:
        later = (pd.to_numeric(pairs["turn"]) > 0).to_numpy()
        if later.any():
            keys = pairs.loc[later, ["conversation_id", "turn"]].assign(turn=lambda x: pd.to_numeric(x["turn"]))
            h = keys.merge(_histories(u), on=["conversation_id", "turn"], how="left")
            gone = h["_hist"].isna().to_numpy()
            if gone.any():
                i = int(np.flatnonzero(later)[gone.argmax()])
                raise AnnotatorDataError(name, int(pairs[ROW].iloc[i]), "if_chosen", None,
                                         f"a chosen response on the turn before turn {pairs['turn'].iloc[i]} of "
                                         f"conversation {pairs['conversation_id'].iloc[i]!r} (to rebuild its "
                                         "history; or history=False)")
            convs = pd.Series([hh + [{"role": "user", "content": p}]
                               for hh, p in zip(h["_hist"].tolist(), pairs.loc[later, "user_prompt"].tolist())],
                              dtype=object)
            arr = prompt.to_numpy(dtype=object).copy()
            arr[later] = convs.to_numpy()  # object into object: each list stays one element
            prompt = pd.Series(arr, dtype=object)
    f = pd.DataFrame({
        "prompt_id": pairs["interaction_id"].astype(str).to_numpy(), "prompt": prompt.to_numpy(),
        "response_a_id": pairs["_rid"].to_numpy(), "response_b_id": pairs["_rid_b"].to_numpy(),
        "response_a": pairs["model_response"].to_numpy(), "response_b": pairs["model_response_b"].to_numpy(),
        "annotator_id": pairs["user_id"].to_numpy(), "label": label, "strength": np.abs(d),
        "source_row": pairs[ROW].to_numpy(),
    })
    f = f.merge(people[["user_id", *attrs]].rename(columns={"user_id": "annotator_id"}), on="annotator_id",
                how="left", validate="many_to_one")
    return make_table(f, attrs, name, "prism")
