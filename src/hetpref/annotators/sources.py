"""Where annotator data comes from: a local file (JSONL, JSON, CSV, Parquet), a folder written by
``datasets.Dataset.save_to_disk``, or a Hugging Face hub id loaded through ``datasets.load_dataset``
pinned to a revision.

Offline (``HF_HUB_OFFLINE`` set, or the hub unreachable), a hub id fails with one
:class:`SourceUnavailable` message naming the file to download and where to pass it.

Every frame returned carries ``_row``: the 1-based row of the record in its file (for JSONL the
line number, blank lines counted), used in every error message.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from hetpref.runtime import InputError

from .table import AnnotatorDataError, _more

ROW = "_row"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".jsonl.gz", ".csv.gz")


class SourceUnavailable(InputError):
    """A hub id could not be loaded (offline); the message names the file to place by hand."""


@dataclass(frozen=True)
class HubSpec:
    """Where a dataset lives on the hub: its id, a pinned commit, the file(s) an offline user
    downloads by hand, and the ``load_dataset`` arguments (config name, split, data_files)."""

    hub_id: str
    revision: str | None  # None: no commit confirmed here; the user passes revision= to pin one
    files: tuple[str, ...]
    config: str | None = None
    split: str = "train"
    data_files: str | None = None



def is_hub_id(source) -> bool:
    """True for ``owner/name`` strings that are not an existing path or a data file name."""
    s = str(source)
    return (not Path(s).exists() and bool(_HUB_ID.match(s))
            and not s.lower().endswith(_SUFFIXES))


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def offline_message(spec: HubSpec, reason: str) -> str:
    rev = spec.revision or "main"
    files = ", ".join(f"https://huggingface.co/datasets/{spec.hub_id}/blob/{rev}/{f}" for f in spec.files)
    first = Path(spec.files[0]).name
    where = f"data/{spec.hub_id.split('/')[-1]}/{first}"
    pinned = f"revision {spec.revision}" if spec.revision else "no pinned revision: pass revision= online"
    return (f"{spec.hub_id} ({pinned}) cannot be loaded: {reason}. Without network, download {files} on a "
            f"machine that has it, place {'the files in one local folder' if len(spec.files) > 1 else 'it'} (for "
            f"example {where}) and pass the path of {first} as the source instead of the hub id.")


def load_hub(spec: HubSpec) -> pd.DataFrame:
    """``datasets.load_dataset`` at the pinned revision, as a frame with ``_row``; offline raises
    :class:`SourceUnavailable` naming the file to place."""
    if _offline():
        raise SourceUnavailable(offline_message(spec, "HF_HUB_OFFLINE is set"))
    if not spec.revision:
        raise SourceUnavailable(
            f"{spec.hub_id}: loading from the hub needs a pinned commit; pass revision=<40-hex commit> (see "
            f"https://huggingface.co/datasets/{spec.hub_id}/commits/main), or download {', '.join(spec.files)} and "
            "pass the local file instead.")
    import datasets

    try:
        ds = datasets.load_dataset(spec.hub_id, name=spec.config, split=spec.split, revision=spec.revision,
                                   data_files=spec.data_files)
    except (OSError, ConnectionError) as exc:  # offline, DNS, timeouts, missing repo: all OSError subclasses
        raise SourceUnavailable(offline_message(spec, f"{type(exc).__name__}: {exc}")) from exc
    return _with_rows(ds.to_pandas())


def _with_rows(frame: pd.DataFrame, rows=None) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame[ROW] = range(1, len(frame) + 1) if rows is None else rows
    return frame


def read_jsonl(path: Path) -> pd.DataFrame:
    """One record per non-blank line; a line that is not a JSON object raises naming its line."""
    opener = open
    if str(path).endswith(".gz"):
        import gzip

        opener = gzip.open
    records, lines = [], []
    with opener(path, "rt", encoding="utf-8") as fh:
        text = fh.read().splitlines()
    for n, line in enumerate(text, start=1):  # parsing is per line by nature; the rest is vectorised
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnnotatorDataError(path, n, "(line)", line[:60], f"one JSON object per line ({exc.msg})") from exc
        if not isinstance(rec, dict):
            raise AnnotatorDataError(path, n, "(line)", line[:60], "one JSON object per line")
        records.append(rec)
        lines.append(n)
    return _with_rows(pd.DataFrame.from_records(records), lines)


def load_local(path) -> pd.DataFrame:
    """Read a local file or ``save_to_disk`` folder into a frame with ``_row``."""
    p = Path(path)
    if not p.exists():
        raise AnnotatorDataError(p, None, "source", str(p), "an existing file (JSONL, JSON, CSV, Parquet) or a "
                                 "folder written by datasets' save_to_disk")
    if p.is_dir():
        if not ((p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists()
                or (p / "state.json").exists()):
            raise AnnotatorDataError(p, None, "source", str(p), "a folder written by datasets' save_to_disk "
                                     "(with dataset_info.json or dataset_dict.json)")
        import datasets

        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            if "train" not in ds and len(ds) != 1:
                raise AnnotatorDataError(p, None, "split", sorted(ds), "a 'train' split or a single split")
            ds = ds["train"] if "train" in ds else next(iter(ds.values()))
        return _with_rows(ds.to_pandas())
    name = p.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return read_jsonl(p)
    if name.endswith(".parquet"):
        return _with_rows(pd.read_parquet(p))
    if name.endswith((".csv", ".csv.gz")):
        return _with_rows(pd.read_csv(p))
    if name.endswith(".json"):
        with open(p, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, list):
            raise AnnotatorDataError(p, None, "(file)", type(data).__name__, "a JSON list of records")
        return _with_rows(pd.DataFrame.from_records(data))
    raise AnnotatorDataError(p, None, "source", p.name, f"a file ending in one of {list(_SUFFIXES)} or a "
                             "save_to_disk folder")


def load(source, spec: HubSpec | None = None, revision: str | None = None) -> tuple[pd.DataFrame, str]:
    """Resolve ``source`` (a path, or a hub id when ``spec`` says where it lives; ``revision``
    overrides the pinned commit) to (frame, name used in error messages)."""
    if spec is not None and is_hub_id(source):
        spec = replace(spec, hub_id=str(source), revision=revision or spec.revision)
        frame = load_hub(spec)
        return frame, f"{spec.hub_id}@{spec.revision[:8]}" + (f"/{spec.config}" if spec.config else "")
    return load_local(source), str(source)


def first_missing(frame: pd.DataFrame, col: str) -> tuple[int, int, str] | None:
    """Where ``col`` has no value: (position of the first such row, its 1-based source row, the
    "N more rows" remark), or None when every row has one."""
    bad = frame[col].isna().to_numpy()
    if not bad.any():
        return None
    i, n = int(bad.argmax()), int(bad.sum())
    return i, int(frame[ROW].iloc[i]), _more(n)


def require(frame: pd.DataFrame, columns, source: str, expected: str = "a value") -> None:
    """Every column present and non-missing; raise naming the first row that lacks one."""
    for col in columns:
        if col not in frame.columns:
            raise AnnotatorDataError(source, int(frame[ROW].iloc[0]) if len(frame) else None, col, None,
                                     f"{expected} (the field is missing)")
        missing = first_missing(frame, col)
        if missing:
            _, row, more = missing
            raise AnnotatorDataError(source, row, col, None, f"{expected} (the field is missing)", more)
