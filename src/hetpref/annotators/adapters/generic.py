"""Your own data: named columns of a CSV, JSONL or Parquet file (or a save_to_disk folder) mapped
onto the judgement table.

``columns`` maps table fields to the file's columns; ``prompt``, ``response_a``, ``response_b``,
``annotator_id`` and ``label`` are required, ``prompt_id``, ``response_a_id``, ``response_b_id`` and
``strength`` optional (ids default to hashes of the texts). A field not in ``columns`` is read from the
column of the same name. ``labels`` maps the file's label values to ``a`` / ``b`` / ``tie`` (default: the
values are already ``a``, ``b``, ``tie``); ``attributes`` names the annotator-attribute columns (each
required for every row). ``anonymous_only=True`` marks annotator ids that carry no identity across
pairs. A prompt held as a list of ``role`` / ``content`` turns (JSONL, Parquet) stays a conversation.

Example: ``read("generic", "prefs.csv", columns={"prompt": "question", "response_a": "answer_1",
"response_b": "answer_2", "annotator_id": "rater", "label": "winner"}, labels={"1": "a", "2": "b",
"0": "tie"}, attributes=["group"])``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..sources import ROW, load, require
from ..table import LABELS, AnnotatorDataError, JudgementTable, make_table
from ._common import AdapterOptionError, text_id

REQUIRED = ("prompt", "response_a", "response_b", "annotator_id", "label")
OPTIONAL = ("prompt_id", "response_a_id", "response_b_id", "strength")


def read(source, columns=None, labels=None, attributes=(), anonymous_only: bool = False) -> JudgementTable:
    """Read a file of one judgement per row; see the module docstring."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise AdapterOptionError(f"columns: unknown table field(s) {unknown}; "
                                 f"expected some of {[*REQUIRED, *OPTIONAL]}")
    labels = {str(k): v for k, v in (labels or {x: x for x in LABELS}).items()}
    bad = sorted({v for v in labels.values() if v not in LABELS})
    if bad:
        raise AdapterOptionError(f"labels: target value(s) {bad}; "
                                 f"expected each of the mapping's values in {list(LABELS)}")
    attributes = (attributes,) if isinstance(attributes, str) else tuple(attributes or ())
    raw, name = load(source)
    src = {k: columns.get(k, k) for k in (*REQUIRED, *OPTIONAL)}
    require(raw, [src[k] for k in REQUIRED], name)
    require(raw, attributes, name, "a value of this annotator attribute")
    raw_label = raw[src["label"]]
    whole = pd.api.types.is_float_dtype(raw_label) and bool((raw_label % 1 == 0).all())
    key = raw_label.astype("Int64").astype(str) if whole else raw_label.astype(str)  # 1.0 (CSV) -> "1"
    known = key.isin(list(labels)).to_numpy()
    if not known.all():
        i = (~known).argmax()
        raise AnnotatorDataError(name, int(raw[ROW].iloc[i]), src["label"], raw_label.iloc[i],
                                 f"one of {sorted(labels)} (the labels= mapping)")
    f = pd.DataFrame({
        "prompt": raw[src["prompt"]].to_numpy(dtype=object),
        "response_a": raw[src["response_a"]].astype(str).to_numpy(),
        "response_b": raw[src["response_b"]].astype(str).to_numpy(),
        "annotator_id": raw[src["annotator_id"]].astype(str).to_numpy(),
        "label": key.map(labels).to_numpy(), "source_row": raw[ROW].to_numpy(),
    })
    f["prompt"] = f["prompt"].map(lambda p: list(p) if isinstance(p, np.ndarray) else p)
    for k, default in (("prompt_id", None), ("response_a_id", "response_a"), ("response_b_id", "response_b")):
        if src[k] in raw.columns:
            require(raw, (src[k],), name)
            f[k] = raw[src[k]].astype(str).to_numpy()
        else:
            f[k] = text_id(f["prompt"] if default is None else f[default], "p" if default is None else "r").to_numpy()
    if src["strength"] in raw.columns:
        st = pd.to_numeric(raw[src["strength"]], errors="coerce")
        bad = (raw[src["strength"]].notna() & (st.isna() | (st < 0))).to_numpy()
        if bad.any():
            i = bad.argmax()
            raise AnnotatorDataError(name, int(raw[ROW].iloc[i]), src["strength"], raw[src["strength"]].iloc[i],
                                     "a number >= 0 or empty")
        f["strength"] = st.to_numpy()
    for a in attributes:
        f[a] = raw[a].to_numpy()
    return make_table(f, attributes, name, "generic", anonymous_only=anonymous_only)
