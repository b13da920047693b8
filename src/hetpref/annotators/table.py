"""The judgement table: one row per judgement of one pair of responses by one annotator.

Every adapter (:mod:`hetpref.annotators.adapters`) produces a :class:`JudgementTable`, every view
(:mod:`hetpref.annotators.views`) reads one. Columns (:data:`CORE_COLUMNS`, then one column per
annotator attribute):

- ``pair_id``: ``"<prompt_id>|<response_a_id>|<response_b_id>"``; ``prompt_id``; ``prompt`` (a str, or a
  list of ``{"role", "content"}`` dicts: TRL's conversational format for multi-turn prompts);
- ``response_a_id`` / ``response_b_id``: stable ids of the two responses within the prompt, so that
  prompts with >= 3 responses can be ranked; ``response_a`` / ``response_b``: their texts;
- ``annotator_id``; ``label`` in :data:`LABELS` (categorical; ``"a"`` means response_a preferred);
  ``strength``: float >= 0 or NaN (how strongly, when the schema says so); ``source_row``: the 1-based
  line/row of the source file the judgement came from.

Orientation rule: a pair keeps one (a, b) orientation for every judgement of it.
:func:`canonical_orientation` puts the smaller response id first (flipping the label where it
swaps), so two judgements of the same two responses always share a ``pair_id``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hetpref.runtime import InputError

LABELS = ("a", "b", "tie")
CORE_COLUMNS = ("pair_id", "prompt_id", "prompt", "response_a_id", "response_b_id", "response_a", "response_b",
                "annotator_id", "label", "strength", "source_row")
_FLIP = {"a": "b", "b": "a", "tie": "tie"}
# a label as a sign: +1 response a preferred, −1 response b, 0 a tie
LABEL_SIGN = {"a": 1, "b": -1, "tie": 0}


class AnnotatorDataError(InputError):
    """One bad value in annotator data: the message names the file, the 1-based row, the field, the
    value found and what was expected."""

    def __init__(self, file, row, field: str, value, expected: str, more: str = ""):
        self.file, self.row, self.field, self.value, self.expected = str(file), row, field, value, expected
        where = f"{file}, row {row}" if row is not None else f"{file}"
        shown = repr(value.item() if isinstance(value, np.generic) else value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"{where}: field '{field}' has value {shown}; expected {expected}.{more}")


@dataclass(frozen=True)
class JudgementTable:
    """One row per judgement (:data:`CORE_COLUMNS` + one column per annotator attribute).

    ``anonymous_only`` is True when annotator ids carry no identity across pairs (HelpSteer3): the
    same-annotator and per-type views refuse such a table."""

    frame: pd.DataFrame
    attributes: tuple[str, ...]
    source: str
    dataset: str
    anonymous_only: bool = False

    def annotators(self) -> pd.DataFrame:
        """One row per ``annotator_id`` with its attributes (:func:`validate` checks they agree)."""
        cols = ["annotator_id", *self.attributes]
        return self.frame[cols].drop_duplicates("annotator_id").reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.frame)


def _more(n: int) -> str:
    return f" ({n - 1} more row(s) have the same problem.)" if n > 1 else ""


def _first(table: JudgementTable, bad: np.ndarray, field: str, expected: str, value_col: str | None = None):
    """Raise for the first True of ``bad`` (a boolean mask over the frame's rows)."""
    idx = np.flatnonzero(bad)
    if len(idx):
        f = table.frame
        i = idx[0]
        raise AnnotatorDataError(table.source, int(f["source_row"].iloc[i]), field,
                                 f[value_col or field].iloc[i], expected, _more(len(idx)))


def prompt_key(prompts: pd.Series) -> pd.Series:
    """A hashable key per prompt: the string itself, or the JSON of a conversation (list of turns)."""
    is_str = prompts.map(type).eq(str).to_numpy()
    if is_str.all():
        return prompts.astype(object)
    out = prompts.astype(object).copy()
    conv = ~is_str
    out[conv] = prompts[conv].map(lambda p: json.dumps(list(p) if not isinstance(p, list) else p,
                                                        sort_keys=True, default=_jsonable))
    return out


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _check_consistent(table: JudgementTable, key: pd.Series, by: str, field: str, what: str,
                      groups: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Every ``by`` group must have one value of ``key``; raise naming the first judgement that
    differs. ``groups``: (codes, first row per code) of ``by``, to factorise it once for several keys."""
    f = table.frame
    codes, first_row = groups if groups is not None else _groups(f[by])
    vals = pd.factorize(key)[0]
    bad = vals != vals[first_row][codes]
    idx = np.flatnonzero(bad)
    if len(idx):
        i = idx[0]
        j = first_row[codes[i]]
        raise AnnotatorDataError(table.source, int(f["source_row"].iloc[i]), field, f[field].iloc[i],
                                 f"the same {what} as the first judgement of {by} {f[by].iloc[i]!r} "
                                 f"(row {int(f['source_row'].iloc[j])})", _more(len(idx)))


def _groups(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes = pd.factorize(values)[0]
    _, first_row = np.unique(codes, return_index=True)
    return codes, first_row


def validate(table: JudgementTable) -> JudgementTable:
    """Check the table (columns, labels, strengths, attributes, one prompt and one orientation per
    pair, one attribute value per annotator); raise :class:`AnnotatorDataError` on the first bad row.
    Returns the table (so ``validate(JudgementTable(...))`` chains)."""
    f = table.frame
    missing = [c for c in (*CORE_COLUMNS, *table.attributes) if c not in f.columns]
    if missing:
        raise AnnotatorDataError(table.source, None, missing[0], None,
                                 f"a column '{missing[0]}' in the judgement table "
                                 f"(columns: {sorted(map(str, f.columns))})")
    if not len(f):
        raise AnnotatorDataError(table.source, None, "label", None, "at least one judgement; the table is empty")
    _first(table, ~f["label"].astype(object).isin(LABELS).to_numpy(), "label", f"one of {list(LABELS)}")
    strength = pd.to_numeric(f["strength"], errors="coerce")
    _first(table, (strength.isna() & f["strength"].notna()).to_numpy() | (strength < 0).to_numpy(),
           "strength", "a number >= 0 or empty")
    for col in ("pair_id", "prompt_id", "prompt", "response_a_id", "response_b_id", "response_a", "response_b",
                "annotator_id"):
        _first(table, f[col].isna().to_numpy(), col, "a value (it is missing)")
    for attr in table.attributes:
        idx = np.flatnonzero(f[attr].isna().to_numpy())
        if len(idx):
            who = f["annotator_id"].iloc[idx[0]]
            raise AnnotatorDataError(table.source, int(f["source_row"].iloc[idx[0]]), attr, None,
                                     f"a value of the annotator attribute '{attr}' for annotator {who!r} "
                                     "(annotators without it cannot be given a type)", _more(len(idx)))
    _first(table, (f["response_a_id"].astype(str) == f["response_b_id"].astype(str)).to_numpy(), "response_b_id",
           "a response different from response_a_id (a pair compares two responses)")
    pairs = _groups(f["pair_id"])
    _check_consistent(table, prompt_key(f["prompt"]), "pair_id", "prompt", "prompt", pairs)
    for col in ("response_a_id", "response_b_id", "response_a", "response_b"):
        _check_consistent(table, f[col], "pair_id", col, col, pairs)
    people = _groups(f["annotator_id"]) if table.attributes else None
    for attr in table.attributes:
        _check_consistent(table, f[attr].astype(str), "annotator_id", attr, f"attribute '{attr}'", people)
    return table


def canonical_orientation(frame: pd.DataFrame) -> pd.DataFrame:
    """Orient every pair with the smaller response id as ``a`` (labels flipped where swapped) and
    set ``pair_id``; vectorised. The frame needs prompt_id, response_{a,b}_id, response_{a,b}, label."""
    f = frame.copy()
    a_id, b_id = f["response_a_id"].astype(str), f["response_b_id"].astype(str)
    swap = (a_id > b_id).to_numpy()
    if swap.any():
        for x, y in (("response_a_id", "response_b_id"), ("response_a", "response_b")):
            xa, ya = f[x].to_numpy(copy=True), f[y].to_numpy(copy=True)
            f[x] = np.where(swap, ya, xa)
            f[y] = np.where(swap, xa, ya)
        lab = f["label"].astype(object)
        f["label"] = np.where(swap, lab.map(_FLIP).fillna(lab), lab)
    f["response_a_id"] = f["response_a_id"].astype(str)
    f["response_b_id"] = f["response_b_id"].astype(str)
    f["pair_id"] = f["prompt_id"].astype(str) + "|" + f["response_a_id"] + "|" + f["response_b_id"]
    return f


def make_table(frame: pd.DataFrame, attributes, source, dataset: str, anonymous_only: bool = False,
               orient: bool = True) -> JudgementTable:
    """Build, orient (:func:`canonical_orientation`) and :func:`validate` a table from a frame
    holding the core columns (``pair_id`` and ``strength`` may be absent) and the attributes."""
    f = frame.copy()
    if "strength" not in f.columns:
        f["strength"] = np.nan
    if orient:
        f = canonical_orientation(f)
    attributes = tuple(attributes)
    cols = [*CORE_COLUMNS, *[a for a in attributes if a not in CORE_COLUMNS]]
    missing = [c for c in cols if c not in f.columns]
    if missing:
        raise AnnotatorDataError(source, None, missing[0], None, f"a column '{missing[0]}' in the judgement table")
    f = f[cols].sort_values("source_row", kind="stable").reset_index(drop=True)
    f["source_row"] = f["source_row"].astype(np.int64)
    table = JudgementTable(frame=f, attributes=attributes, source=str(source), dataset=dataset,
                           anonymous_only=anonymous_only)
    validate(table)  # before the strengths become numbers, so a text strength is refused, not made NaN
    f["strength"] = pd.to_numeric(f["strength"]).astype(float)
    f["label"] = pd.Categorical(f["label"].astype(object), categories=list(LABELS))
    return table
