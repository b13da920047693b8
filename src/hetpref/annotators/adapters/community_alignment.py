"""Community Alignment (``facebook/community-alignment-dataset``): one row per annotator
conversation, up to four turns, each with four candidate responses and the one the annotator
preferred.

Fields read: ``conversation_id``, ``annotator_id``, the demographic columns ``annotator_*`` (the
attributes), and per turn ``t`` in first, second, third, fourth: ``<t>_turn_prompt``,
``<t>_turn_response_a`` .. ``_d`` and ``<t>_turn_preferred_response`` (``response_a`` .. ``response_d``).

Best-of-4 becomes 3 judgements per turn: the preferred response against each other candidate
(label: the preferred one wins; no strength). The first turn's prompt is its text; a later turn's
prompt is the conversation so far (TRL conversational format: each earlier user prompt followed by
the response the annotator preferred, then this turn's prompt). Prompt and response ids are hashes
of their texts, so annotators shown the same pre-generated prompt and candidates share pairs.
A turn without a preferred response ends the conversation there (later turns are not read);
candidate pairs with a missing or identical text are skipped, and both are logged.

Options: ``turns`` (default all four), ``attributes`` (default every ``annotator_*`` column set for
every row), ``revision`` (a hub commit).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..sources import ROW, HubSpec, load, require
from ..table import AnnotatorDataError, JudgementTable, make_table
from ._common import AdapterOptionError, log, pick_attributes, text_id

# No commit of this repository was confirmed when this adapter was written: pass revision= to pin one.
HUB = HubSpec("facebook/community-alignment-dataset", None, ("data/full_community_alignment.csv",),
              data_files="data/full_community_alignment.csv")
TURNS = ("first", "second", "third", "fourth")
LETTERS = ("a", "b", "c", "d")
PREFERRED = {f"response_{x}": x for x in LETTERS}


def _conversation(history: list[np.ndarray], prompt: np.ndarray) -> list:
    """Per row: [user p1, assistant chosen1, ..., user p_t] (one list per row: the prompt objects)."""
    cols = [*history, prompt]
    return [[{"role": "user" if k % 2 == 0 else "assistant", "content": c} for k, c in enumerate(row)]
            for row in zip(*cols)]


def read(source, turns=TURNS, attributes=None, revision: str | None = None) -> JudgementTable:
    """Read Community Alignment from a CSV/JSONL/Parquet file, a save_to_disk folder or the hub id."""
    turns = (turns,) if isinstance(turns, str) else tuple(turns)
    for t in turns:
        if t not in TURNS:
            raise AdapterOptionError(f"turns: {t!r}; expected a subset of {list(TURNS)}")
    raw, name = load(source, HUB, revision)
    require(raw, ("conversation_id", "annotator_id", "first_turn_prompt", "first_turn_preferred_response"), name)
    cand = [c for c in raw.columns if c.startswith("annotator_") and c != "annotator_id"]
    attrs = pick_attributes(raw, cand, attributes, name, "annotator_id")
    alive = np.ones(len(raw), dtype=bool)  # conversation not yet ended by a missing turn
    history: list[np.ndarray] = []
    parts = []
    for t in TURNS[: max(TURNS.index(x) for x in turns) + 1]:
        pref_col, prompt_col = f"{t}_turn_preferred_response", f"{t}_turn_prompt"
        if pref_col not in raw.columns:
            break
        pref = raw[pref_col]
        has = alive & pref.notna().to_numpy() & raw.get(prompt_col, pd.Series(index=raw.index)).notna().to_numpy()
        known = pref.isin(list(PREFERRED)).to_numpy()
        bad = has & ~known
        if bad.any():
            i = bad.argmax()
            raise AnnotatorDataError(name, int(raw[ROW].iloc[i]), pref_col, pref.iloc[i], f"one of {list(PREFERRED)}")
        texts = {x: raw.get(f"{t}_turn_response_{x}", pd.Series(index=raw.index, dtype=object)) for x in LETTERS}
        letter = pref.map(PREFERRED)
        chosen = pd.Series(np.select([letter.eq(x).to_numpy() for x in LETTERS],
                                     [texts[x].to_numpy(dtype=object) for x in LETTERS], default=None),
                           index=raw.index, dtype=object)
        no_chosen = has & chosen.isna().to_numpy()
        if no_chosen.any():
            i = no_chosen.argmax()
            raise AnnotatorDataError(name, int(raw[ROW].iloc[i]), f"{t}_turn_response_{letter.iloc[i]}", None,
                                     f"the text of the preferred response ({pref.iloc[i]})")
        ended = int((alive & ~has).sum())
        if ended and t != "first":
            log.info("%s: %d conversations end before the %s turn", name, ended, t)
        alive &= has
        if t in turns and alive.any():
            rows = raw[alive]
            prompt = (rows[prompt_col].to_numpy(dtype=object) if not history else
                      pd.Series(_conversation([h[alive] for h in history], rows[prompt_col].to_numpy(dtype=object)),
                                index=rows.index, dtype=object).to_numpy())
            prompt = pd.Series(prompt, index=rows.index, dtype=object)
            pid = text_id(prompt, "p")
            for x in LETTERS:
                other = texts[x][alive]
                use = (letter[alive] != x).to_numpy() & other.notna().to_numpy()
                same = use & (other.to_numpy(dtype=object) == chosen[alive].to_numpy(dtype=object))
                if same.any():
                    log.info("%s: %d %s-turn pairs skipped: response_%s has the same text as the preferred one",
                             name, int(same.sum()), t, x)
                missing = ((letter[alive] != x).to_numpy() & other.isna().to_numpy())
                if missing.any():
                    log.info("%s: %d %s-turn pairs skipped: response_%s has no text", name, int(missing.sum()), t, x)
                use &= ~same
                if not use.any():
                    continue
                r = rows[use]
                win, lose = chosen[alive][use], other[use]
                parts.append(pd.DataFrame({
                    "prompt_id": pid[use].to_numpy(), "prompt": prompt[use].to_numpy(),
                    "response_a": win.to_numpy(), "response_b": lose.to_numpy(),
                    "response_a_id": text_id(win, "r").to_numpy(), "response_b_id": text_id(lose, "r").to_numpy(),
                    "annotator_id": r["annotator_id"].astype(str).to_numpy(), "label": "a",
                    "source_row": r[ROW].to_numpy(), **{a: r[a].to_numpy() for a in attrs},
                }))
        history += [raw[prompt_col].to_numpy(dtype=object), chosen.to_numpy(dtype=object)]
    if not parts:
        raise AnnotatorDataError(name, None, "first_turn_preferred_response", None,
                                 f"at least one judged turn among {list(turns)}")
    f = pd.concat(parts, ignore_index=True)
    return make_table(f, attrs, name, "community_alignment")
