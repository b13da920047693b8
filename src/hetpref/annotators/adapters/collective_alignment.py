"""collective-alignment-1 (``openai/collective-alignment-1``): prompts with four candidate
responses ranked by several annotators, and a companion file of annotator demographics.

Files and fields read:

- ``comparisons.jsonl``: ``prompt_id``; ``prompt.messages`` (a chat transcript; a single user message
  becomes the prompt string, anything longer stays a conversation); ``responses`` (each with
  ``response_index`` ``A``..``D`` and ``messages``, whose ``content`` is the response text, a str or a dict
  of ``parts``); ``metadata.assessments`` (each with ``annotator_id`` and ``ranking_blocks.<block>[0].ranking``,
  a ranking string such as ``B>A=C=D``);
- ``annotators.jsonl`` (option ``annotators``; by default the file of that name beside the source):
  ``annotator_id`` and ``demographics`` (a dict; each key becomes an attribute).

A ranking is expanded into all pairs of the responses it ranks: ``>`` orders, ``=`` is a tie. The
response ids are the letters. Option ``block``: ``"world"`` (default: what the annotator thinks is
best for the world, present on every assessment) or ``"personal"``; assessments without that block
are skipped and logged.
"""
from __future__ import annotations

import re
from itertools import combinations

import numpy as np
import pandas as pd

from ..sources import ROW, HubSpec, load, require
from ..table import AnnotatorDataError, JudgementTable, make_table
from ._common import AdapterOptionError, companion, log, one_row_per, pick_attributes

# No commit of this repository was confirmed when this adapter was written: pass revision= to pin one.
HUB = HubSpec("openai/collective-alignment-1", None, ("comparisons.jsonl", "annotators.jsonl"), config="comparisons")
HUB_ANNOTATORS = HubSpec("openai/collective-alignment-1", None, ("annotators.jsonl",), config="annotators")
LETTERS = ("A", "B", "C", "D")
RANKING = re.compile(r"^\s*[A-D](\s*[>=]\s*[A-D])*\s*$")
BLOCKS = ("world", "personal")


def _text(messages: pd.Series) -> pd.Series:
    """The text of a message list: each message's ``content`` (a str, or a dict of ``parts``), joined."""
    def one(ms):
        out = []
        for m in ms if ms is not None else ():
            c = m.get("content") if isinstance(m, dict) else None
            if isinstance(c, dict):
                c = " ".join(p for p in (c.get("parts") or ()) if isinstance(p, str))
            if isinstance(c, str):
                out.append(c)
        return " ".join(out) if out else None
    return messages.map(one)  # one call per response (4 per prompt), not per judgement


def _prompt(prompts: pd.Series) -> pd.Series:
    def one(p):
        ms = [dict(m) for m in (p.get("messages") if isinstance(p, dict) else None) or ()]
        ms = [{"role": m.get("role"), "content": m.get("content")} for m in ms]
        if len(ms) == 1 and ms[0]["role"] == "user" and isinstance(ms[0]["content"], str):
            return ms[0]["content"]
        return ms or None
    return prompts.map(one)


def read(source, annotators=None, block: str = "world", attributes=None, revision: str | None = None
         ) -> JudgementTable:
    """Read collective-alignment-1 comparisons (a file, folder or the hub id) and its annotators."""
    if block not in BLOCKS:
        raise AdapterOptionError(f"block={block!r}; expected one of {list(BLOCKS)}")
    raw, name = load(source, HUB, revision)
    require(raw, ("prompt_id", "prompt", "responses", "metadata"), name)
    ann_raw, ann_name = companion(source, annotators, HUB_ANNOTATORS, "annotators.jsonl", "annotators",
                                  "collective-alignment-1", "comparisons", revision)
    require(ann_raw, ("annotator_id",), ann_name)
    demo = (pd.DataFrame.from_records(ann_raw["demographics"].map(lambda d: d if isinstance(d, dict) else {})
                                      .tolist(), index=ann_raw.index)
            if "demographics" in ann_raw.columns else pd.DataFrame(index=ann_raw.index))
    people = pd.concat([ann_raw[["annotator_id", ROW]], demo], axis=1)
    people["annotator_id"] = people["annotator_id"].astype(str)
    one_row_per(people, "annotator_id", ann_name, "one row per annotator")
    attrs = pick_attributes(people, list(demo.columns), attributes, ann_name, "annotator_id")

    # responses: one row per (prompt row, letter)
    resp = raw[[ROW, "responses"]].explode("responses", ignore_index=True).dropna(subset=["responses"])
    resp = resp.assign(letter=resp["responses"].str.get("response_index"),
                       text=_text(resp["responses"].str.get("messages")))
    bad = ~resp["letter"].isin(LETTERS).to_numpy()
    if bad.any():
        i = bad.argmax()
        raise AnnotatorDataError(name, int(resp[ROW].iloc[i]), "responses[].response_index", resp["letter"].iloc[i],
                                 f"one of {list(LETTERS)}")
    texts = resp.pivot_table(index=ROW, columns="letter", values="text", aggfunc="first").reindex(columns=LETTERS)

    # assessments: one row per (prompt row, assessment)
    asm = raw[[ROW, "metadata"]].assign(_a=raw["metadata"].str.get("assessments"))
    asm = asm.explode("_a", ignore_index=True).dropna(subset=["_a"])
    asm = asm.assign(_k=asm.groupby(ROW).cumcount() + 1, annotator_id=asm["_a"].str.get("annotator_id"))
    blocks = asm["_a"].str.get("ranking_blocks").str.get(block)
    asm["ranking"] = blocks.str.get(0).str.get("ranking")
    no_block = asm["ranking"].isna().to_numpy()
    if no_block.any():
        log.info("%s: %d of %d assessments have no %r ranking and are skipped", name, int(no_block.sum()), len(asm),
                 block)
    asm = asm[~no_block]
    for fld, expected in (("annotator_id", "an annotator id"),):
        miss = asm[fld].isna().to_numpy()
        if miss.any():
            i = miss.argmax()
            raise AnnotatorDataError(name, int(asm[ROW].iloc[i]), f"metadata.assessments[{int(asm['_k'].iloc[i])}]"
                                     f".{fld}", None, expected)
    rk = asm["ranking"].astype(str)
    ok = rk.str.match(RANKING).to_numpy()
    ranks = {x: rk.str.split(x).str[0].str.count(">").where(rk.str.contains(x)) for x in LETTERS}
    twice = np.zeros(len(asm), dtype=bool)
    for x in LETTERS:
        twice |= rk.str.count(x).to_numpy() > 1
    bad = ~ok | twice
    if bad.any():
        i = bad.argmax()
        raise AnnotatorDataError(name, int(asm[ROW].iloc[i]),
                                 f"metadata.assessments[{int(asm['_k'].iloc[i])}].ranking_blocks.{block}[1].ranking",
                                 rk.iloc[i], "a ranking of the letters A-D, each at most once, joined by '>' "
                                 "(better) or '=' (tie), such as 'B>A=C=D'")
    asm["annotator_id"] = asm["annotator_id"].astype(str)
    unknown = ~asm["annotator_id"].isin(people["annotator_id"]).to_numpy()
    if unknown.any():
        i = unknown.argmax()
        raise AnnotatorDataError(name, int(asm[ROW].iloc[i]), f"metadata.assessments[{int(asm['_k'].iloc[i])}]"
                                 ".annotator_id", asm["annotator_id"].iloc[i],
                                 f"an annotator listed in {ann_name} (annotators without attributes cannot be typed)")
    parts = []
    prompt = _prompt(raw.set_index(ROW)["prompt"])
    for x, y in combinations(LETTERS, 2):
        rx, ry = ranks[x], ranks[y]
        use = (rx.notna() & ry.notna()).to_numpy()
        if not use.any():
            continue
        a = asm[use]
        for z in (x, y):
            gone = texts.loc[a[ROW].to_numpy(), z].isna().to_numpy()
            if gone.any():
                i = gone.argmax()
                raise AnnotatorDataError(name, int(a[ROW].iloc[i]), f"responses[{z}].messages", None,
                                         f"the text of response {z}, which the ranking {a['ranking'].iloc[i]!r} ranks")
        label = np.where(rx[use] < ry[use], "a", np.where(rx[use] > ry[use], "b", "tie"))
        rows = a[ROW].to_numpy()
        parts.append(pd.DataFrame({
            "prompt_id": raw.set_index(ROW).loc[rows, "prompt_id"].astype(str).to_numpy(),
            "prompt": prompt.loc[rows].to_numpy(),
            "response_a_id": x, "response_b_id": y,
            "response_a": texts.loc[rows, x].to_numpy(), "response_b": texts.loc[rows, y].to_numpy(),
            "annotator_id": a["annotator_id"].to_numpy(), "label": label, "source_row": rows,
        }))
    if not parts:
        raise AnnotatorDataError(name, None, f"metadata.assessments[].ranking_blocks.{block}", None,
                                 "at least one assessment ranking two or more responses")
    f = pd.concat(parts, ignore_index=True)
    f = f.merge(people[["annotator_id", *attrs]], on="annotator_id", how="left", validate="many_to_one")
    return make_table(f, attrs, name, "collective_alignment")
