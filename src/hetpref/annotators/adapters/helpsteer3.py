"""HelpSteer3 ``preference`` (``nvidia/HelpSteer3``): one row per pair of responses with an overall
preference and up to 3 individual annotator preferences.

Fields read: ``context`` (the conversation, a list of ``role`` / ``content`` turns; a single user turn
becomes the prompt string), ``response1``, ``response2``, ``overall_preference`` and
``individual_preference`` (entries with ``score``). Scores run from -3 (response1 much better) through 0
(about the same) to 3 (response2 much better): the label is the better response (``tie`` at 0)
and the strength is ``|score|``.

``use="individual"`` (default) gives one judgement per ``individual_preference`` entry,
``use="overall"`` one per row from ``overall_preference``. The entries carry no annotator identity:
entry k of one row and entry k of another need not be the same person, so each judgement gets its
own anonymous id and the table is ``anonymous_only``: the same-annotator and per-type views are
refused, and only the anonymous view is available. Nor do the up to 3 entries make the consistent
loss apply: they come from random raters, not fixed types (the identification caveat in
:func:`hetpref.annotators.views.per_type_view`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..sources import ROW, HubSpec, load, require
from ..table import AnnotatorDataError, JudgementTable, make_table
from ._common import AdapterOptionError, log, text_id

# No commit of this repository was confirmed when this adapter was written: pass revision= to pin one.
HUB = HubSpec("nvidia/HelpSteer3", None, ("preference/train.jsonl.gz",), data_files="preference/train.jsonl.gz")
SCORES = (-3, -2, -1, 0, 1, 2, 3)
USES = ("individual", "overall")


def _prompt(context: pd.Series) -> pd.Series:
    def one(c):
        turns = [{"role": t.get("role"), "content": t.get("content")} for t in (c if c is not None else ())
                 if isinstance(t, dict)]
        if len(turns) == 1 and turns[0]["role"] == "user":
            return turns[0]["content"]
        return turns or None
    return context.map(one)  # one call per row (a pair), not per judgement


def _scores(values: pd.Series, rows: pd.Series, fields, source: str) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce")
    bad = ~(num.isin(SCORES)).to_numpy()
    if bad.any():
        i = bad.argmax()
        raise AnnotatorDataError(source, int(rows.iloc[i]), fields.iloc[i] if hasattr(fields, "iloc") else fields,
                                 values.iloc[i], f"an integer score in {list(SCORES)} (negative: response1 better)")
    return num.to_numpy(dtype=float)


def read(source, use: str = "individual", revision: str | None = None) -> JudgementTable:
    """Read HelpSteer3 preference data (a file, folder or the hub id); see the module docstring."""
    if use not in USES:
        raise AdapterOptionError(f"use={use!r}; expected one of {list(USES)}")
    raw, name = load(source, HUB, revision)
    require(raw, ("context", "response1", "response2", "overall_preference" if use == "overall"
                  else "individual_preference"), name)
    raw = raw.assign(_prompt=_prompt(raw["context"]))
    empty = raw["_prompt"].isna().to_numpy()
    if empty.any():
        i = empty.argmax()
        raise AnnotatorDataError(name, int(raw[ROW].iloc[i]), "context", raw["context"].iloc[i],
                                 "a conversation: a list of turns with 'role' and 'content'")
    if use == "overall":
        j = raw[[ROW]].assign(_score=_scores(raw["overall_preference"], raw[ROW], "overall_preference", name),
                              _k=0)
    else:
        ex = raw[[ROW, "individual_preference"]].explode("individual_preference", ignore_index=True)
        none = ex["individual_preference"].isna().to_numpy()
        if none.any():
            log.info("%s: %d rows without individual_preference entries give no judgement", name, int(none.sum()))
        ex = ex[~none]
        ex = ex.assign(_k=ex.groupby(ROW).cumcount() + 1)
        fields = "individual_preference[" + ex["_k"].astype(str) + "].score"
        j = ex[[ROW, "_k"]].assign(_score=_scores(ex["individual_preference"].str.get("score"), ex[ROW], fields,
                                                  name))
    top = raw.set_index(ROW).loc[j[ROW].to_numpy()]
    s = j["_score"].to_numpy()
    r1, r2 = top["response1"].astype(object), top["response2"].astype(object)
    f = pd.DataFrame({
        "prompt": top["_prompt"].to_numpy(), "response_a": r1.to_numpy(), "response_b": r2.to_numpy(),
        "label": np.where(s < 0, "a", np.where(s > 0, "b", "tie")), "strength": np.abs(s),
        "source_row": j[ROW].to_numpy(),
        # anonymous: one id per judgement, because entries carry no identity across rows
        "annotator_id": ("anon:" + j[ROW].astype(str) + ":" + j["_k"].astype(str)).to_numpy(),
    })
    f["prompt_id"] = text_id(f["prompt"], "p").to_numpy()
    f["response_a_id"] = text_id(f["response_a"], "r").to_numpy()
    f["response_b_id"] = text_id(f["response_b"], "r").to_numpy()
    return make_table(f, (), name, "helpsteer3", anonymous_only=True)
