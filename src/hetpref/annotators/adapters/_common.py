"""Helpers shared by the adapters: stable ids from texts, and the choice of attribute columns."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ...runtime import InputError
from ..sources import ROW, HubSpec, first_missing, is_hub_id, load
from ..table import AnnotatorDataError, prompt_key

log = logging.getLogger("hetpref.annotators")


class AdapterOptionError(InputError, ValueError):
    """An adapter option the adapter cannot take: an unknown name or a value out of its range."""


def text_id(values: pd.Series, prefix: str = "") -> pd.Series:
    """A stable id per text (or conversation; a 64-bit hash in decimal), vectorised: equal texts get
    equal ids."""
    keys = prompt_key(values.reset_index(drop=True))
    h = pd.util.hash_pandas_object(keys.astype(str), index=False).to_numpy()
    return pd.Series(prefix + pd.Series(h.astype(str)), dtype=object).set_axis(values.index)


def companion(source, given, hub: HubSpec, file_name: str, option: str, dataset: str, main_file: str,
              revision) -> tuple[pd.DataFrame, str]:
    """A data set's second file (PRISM's survey, collective-alignment-1's annotators): ``given``, or
    the hub's companion table for a hub id, or ``file_name`` beside ``source``; one error naming it
    when it is not there."""
    if given is None:
        if is_hub_id(source):
            return load(source, hub, revision)
        given = Path(source).parent / file_name
        if not given.exists():
            raise AnnotatorDataError(given, None, option, str(given), f"the {file_name} file of {dataset} beside the "
                                     f"{main_file} file, or its path as {option}=")
    return load(given)


def one_row_per(people: pd.DataFrame, id_column: str, source: str, expected: str) -> None:
    """Refuse a companion table in which an id appears twice, naming the later row."""
    dup = people[id_column].duplicated().to_numpy()
    if dup.any():
        i = dup.argmax()
        raise AnnotatorDataError(source, int(people[ROW].iloc[i]), id_column, people[id_column].iloc[i],
                                 f"{expected} (this id appears earlier)")


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
            missing = first_missing(frame, col)
            if missing:
                i, row, more = missing
                raise AnnotatorDataError(source, row, col, None,
                                         f"a value of the annotator attribute '{col}' for annotator "
                                         f"{frame[id_column].iloc[i]!r} (annotators without it cannot be given a "
                                         "type)", more)
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
