"""Which Pew inputs are usable: scan a folder of .sav files (any names), identify each file's
wave from its WEIGHT_W<n> column, verify optional checksums, validate the aggregated counts
tables, and report the manifest's waves that are missing with where to get them. Problems are
reported per file, never raised, so one bad file cannot sink the others; the per-wave analysis
then runs on the inputs marked ok. A run left with no question at all fails
(:func:`no_question_message`) instead of reporting statistics of nothing."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..provenance import file_sha256
from ..runtime import InputError
from .counts import parse_counts_table, rows_for
from .questions import DEFAULT_TYPE_COLUMNS, SurveyFileError
from .sav import WEIGHT_COLUMN, read_sav

PEW_DOWNLOAD = "https://www.pewresearch.org/american-trends-panel-datasets/"
INVENTORY_COLUMNS = ["wave", "file", "kind", "status", "detail"]


class NoQuestionError(InputError):
    """The Pew inputs leave no question to analyse; the message names the inputs and the report
    (an input error: the job prints it as one line, the traceback only in its log)."""


def inspect_sav(path, type_columns=DEFAULT_TYPE_COLUMNS, refused_codes=(99,)) -> dict:
    """Wave id and status of one .sav file: its metadata, then a full read of the weight and
    type columns (which also catches a truncated file whose header is intact)."""
    import pyreadstat

    path = Path(path)
    row = {"file": str(path), "kind": "sav", "wave": None, "status": "ok", "detail": ""}
    try:
        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    except Exception as exc:  # pyreadstat raises several types for unreadable files; reported below
        row.update(status="unreadable", detail=f"{path}: cannot be read as SPSS .sav ({type(exc).__name__}: {exc})")
        return row
    waves = sorted({m.group(1) for c in meta.column_names if (m := WEIGHT_COLUMN.match(c))},
                   key=lambda w: int(w[1:]))
    if not waves:
        row.update(status="missing_column", detail=f"{path}: no weight column WEIGHT_W<n> (expected e.g. WEIGHT_W128)")
        return row
    row["wave"] = waves[0]
    if len(waves) > 1:
        row["detail"] = (f"{path}: several weight columns ({', '.join('WEIGHT_' + w for w in waves)}); "
                         f"using WEIGHT_{waves[0]}")
    missing = [c for c in type_columns if c not in meta.column_names]
    if missing:
        row.update(status="missing_column", detail=f"{path}: missing type column(s) {', '.join(missing)}")
        return row
    weight = f"WEIGHT_{waves[0]}"
    types = getattr(meta, "readstat_variable_types", {}) or {}
    strings = [c for c in (weight, *type_columns) if types.get(c) == "string"]
    if strings:
        row.update(status="invalid", detail=f"{path}: column(s) {', '.join(strings)} hold text; numeric codes expected")
        return row
    try:
        data, _ = read_sav(path, usecols=[weight, *type_columns])
    except SurveyFileError as exc:
        row.update(status=exc.status, detail=str(exc))
        return row
    w = data[weight].to_numpy(dtype=float)
    t = data[list(type_columns)].to_numpy(dtype=float)
    ok = np.isfinite(w) & (w > 0) & ~(np.isnan(t) | np.isin(t, np.asarray(refused_codes, float))).any(axis=1)
    if not ok.any():
        row.update(status="invalid", detail=f"{path}: no respondent has a valid type in {list(type_columns)} "
                                            f"and a positive {weight}")
    return row


def counts_table_ids(paths) -> list[str]:
    """The wave id of each counts table: ``C_<file stem>`` with unsafe characters replaced, made
    unique (``_2``, ``_3``, …) when two tables share a stem."""
    ids, seen = [], {}
    for p in paths:
        base = "C_" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(p).stem).strip("-") or "table")
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return ids


def inspect_counts_table(path, wave: str, type_columns=DEFAULT_TYPE_COLUMNS, partitions=None) -> dict:
    """Status of one counts table (every check of :func:`~hetpref.pew.counts.parse_counts_table`);
    an ok table's row also lists the ``waves`` it holds."""
    row = {"file": str(path), "kind": "counts", "wave": wave, "status": "ok", "detail": ""}
    try:
        table = parse_counts_table(path, type_columns, partitions)
    except SurveyFileError as exc:
        row.update(status=exc.status, detail=str(exc))
        return row
    names = {cols: name for name, cols in table.partitions.items()}
    stands = [names.get(c, " × ".join(c)) for c in table.column_sets()]
    waves = [w for w in dict.fromkeys(table.rows["wave"]) if w]
    row["waves"] = waves  # not an inventory column: for mark_waves_in_counts_tables
    row["detail"] = (f"{len(table.rows)} data rows; waves {', '.join(waves) or wave}; "
                     f"groups are types of {', '.join(stands)}")
    if rows_for(table, tuple(type_columns))[0] is None:
        row["detail"] += f"; no rows for the main types ({' × '.join(type_columns)}): used by the partitions only"
    return row


def inventory(files, manifest: dict | None = None, type_columns=DEFAULT_TYPE_COLUMNS, kind: str = "sav",
              refused_codes=(99,)) -> pd.DataFrame:
    """One row per .sav file (wave, status, detail) plus one row per manifest wave not found."""
    manifest = manifest or {}
    rows = []
    for f in sorted(map(str, files)):
        row = inspect_sav(f, type_columns, refused_codes)
        row["kind"] = kind
        expected = (manifest.get(row["wave"]) or {}).get("sha256") if row["wave"] else None
        if row["status"] == "ok" and expected:
            actual = file_sha256(f)
            if actual != expected:
                row.update(status="checksum_mismatch",
                           detail=f"{f}: sha256 {actual} differs from the manifest's {expected} for {row['wave']}")
        rows.append(row)
    found = {r["wave"] for r in rows if r["wave"]}
    dup = pd.Series([r["wave"] for r in rows if r["status"] == "ok"]).duplicated()
    for r, is_dup in zip([r for r in rows if r["status"] == "ok"], dup):
        if is_dup:
            r.update(status="duplicate_wave", detail=f"{r['file']}: another file already provides {r['wave']}")
    for wave, entry in sorted(manifest.items(), key=lambda kv: int(kv[0][1:])):
        if wave not in found:
            name = (entry or {}).get("file", "")
            rows.append({"file": "", "kind": kind, "wave": wave, "status": "missing",
                         "detail": f"{wave} not found; download '{name}' from {PEW_DOWNLOAD} (free account) "
                                   "into the data folder"})
    return pd.DataFrame(rows, columns=INVENTORY_COLUMNS)


def mark_waves_in_counts_tables(inv: pd.DataFrame, counts_rows) -> pd.DataFrame:
    """Manifest waves not found as a .sav but provided by an ok counts table: status
    ``in_counts_table`` instead of ``missing`` (they are analysed, from the table)."""
    inv = inv.copy()
    for row in counts_rows:
        if row["status"] != "ok":
            continue
        for wave in row.get("waves", []):
            hit = (inv["status"] == "missing") & (inv["wave"] == wave)
            inv.loc[hit, "status"] = "in_counts_table"
            inv.loc[hit, "detail"] = f"{wave} not found as a .sav; its questions come from {row['file']}"
    return inv


def _file_name(file) -> str:
    return Path(str(file)).name if isinstance(file, str) and file else ""


def input_label(row) -> str:
    """How the report names one inventory row: the file name, else the wave."""
    return _file_name(row.file) or (row.wave if isinstance(row.wave, str) and row.wave else "?")


def inventory_report(inv: pd.DataFrame, demo: bool) -> str:
    ok = inv[inv.status == "ok"]
    lines = ["# Pew survey data", ""]
    if demo:
        lines += ["**DEMO DATA**: no real Pew wave was found, so the analysis runs on generated demo waves",
                  "written with the real schema. Every output from them is marked `demo`.", ""]
    analysed = ", ".join(f"{r.wave} ({_file_name(r.file)})" for r in ok.itertuples()) or "none"
    lines += [f"Analysed: {len(ok)} input(s): {analysed}.", ""]
    problems = inv[~inv.status.isin(["ok", "in_counts_table"])]
    problems = problems.assign(_absent=problems["status"] == "missing").sort_values("_absent", kind="stable")
    if len(problems):
        lines += ["| file | wave | status | detail |", "| --- | --- | --- | --- |"]
        for r in problems.itertuples():
            wave = r.wave if isinstance(r.wave, str) and r.wave else "—"
            detail = str(r.detail).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {_file_name(r.file) or '—'} | {wave} | {r.status} | {detail} |")
    if not len(ok):
        lines += ["", "**No usable input: nothing is analysed.** Fix or replace the files above "
                      "(see the README's Pew section for the expected inputs)."]
    return "\n".join(lines) + "\n"


def no_question_message(inv: pd.DataFrame, skipped: pd.DataFrame | None, report, where: str = "") -> str:
    """One line saying why no question is left, naming the inputs and pointing to the report."""
    files = inv[inv["file"].map(lambda f: isinstance(f, str) and bool(f))]
    ok = files[files.status == "ok"]
    if not len(files):
        return f"no Pew input to analyse: no .sav file{f' in {where}' if where else ''} and no counts table " \
               f"(pew.counts_tables); see {report}"
    if not len(ok):
        names = "; ".join(f"{input_label(r)} ({r.status})" for r in files.itertuples())
        return f"no Pew question to analyse: every input is unusable — {names}; see {report}"
    reasons = ""
    if skipped is not None and len(skipped):
        counts = skipped["reason"].value_counts()
        reasons = " (skipped: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
    names = ", ".join(input_label(r) for r in ok.itertuples())
    return (f"no Pew question to analyse: no question of the usable input(s) {names} passes the filters{reasons}; "
            f"see the per-input skipped.csv files and {report}")
