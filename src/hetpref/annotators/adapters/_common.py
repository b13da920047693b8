"""Helpers shared by the adapters: stable ids from texts, and the choice of attribute columns."""
from __future__ import annotations

import logging

import pandas as pd

from ..sources import ROW
from ..table import AnnotatorDataError, prompt_key

log = logging.getLogger("hetpref.annotators")


def text_id(values: pd.Series, prefix: str = "") -> pd.Series:
    """A stable id per text (or conversation; a 64-bit hash in decimal), vectorised: equal texts get
    equal ids."""
    keys = prompt_key(values.reset_index(drop=True))
    h = pd.util.hash_pandas_object(keys.astype(str), index=False).to_numpy()
    return pd.Series(prefix + pd.Series(h.astype(str)), dtype=object).set_axis(values.index)


def pick_attributes(frame: pd.DataFrame, candidates, explicit, source: str, id_column: str) -> tuple[str, ...]:
    """The attribute columns: ``explicit`` (each must exist and be set for every annotator, else an
    error naming the first row), or by default every candidate column set for every annotator (the
    others are left out, logged with their count of missing values)."""
    if explicit is not None:
        explicit = (explicit,) if isinstance(explicit, str) else tuple(explicit)
        for col in explicit:
            if col not in frame.columns:
                raise AnnotatorDataError(source, int(frame[ROW].iloc[0]) if len(frame) else None, col, None,
                                         f"an annotator attribute column '{col}' (available: {sorted(candidates)})")
            bad = frame[col].isna().to_numpy()
            if bad.any():
                i = bad.argmax()
                raise AnnotatorDataError(source, int(frame[ROW].iloc[i]), col, None,
                                         f"a value of the annotator attribute '{col}' for annotator "
                                         f"{frame[id_column].iloc[i]!r} (annotators without it cannot be given a "
                                         "type)", f" ({int(bad.sum()) - 1} more row(s) have the same problem.)"
                                         if bad.sum() > 1 else "")
        return explicit
    kept = []
    for col in candidates:
        n_missing = int(frame[col].isna().sum())
        if n_missing:
            log.info("%s: attribute column %r left out: %d of %d rows have no value (name it in attributes= to "
                     "require it)", source, col, n_missing, len(frame))
        else:
            kept.append(col)
    return tuple(kept)
