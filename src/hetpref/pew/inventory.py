"""Which Pew waves are present: scan a folder of .sav files (any names), identify each file's
wave from its WEIGHT_W<n> column, verify optional checksums, and report the manifest's waves
that are missing with where to get them. Problems are reported per file, never raised, so one
bad file cannot sink the others; the per-wave analysis then runs on the files marked ok."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..provenance import file_sha256
from .reader import WEIGHT_COLUMN

PEW_DOWNLOAD = "https://www.pewresearch.org/american-trends-panel-datasets/"


def inspect_sav(path, type_columns=("F_PARTYSUM_FINAL",)) -> dict:
    """Wave id and status of one .sav file from its metadata only (fast)."""
    import pyreadstat

    path = Path(path)
    row = {"file": str(path), "kind": "sav", "wave": None, "status": "ok", "detail": ""}
    try:
        _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    except Exception as exc:  # pyreadstat raises several types for unreadable files; reported below
        row.update(status="unreadable", detail=f"{path}: cannot be read as SPSS .sav ({type(exc).__name__}: {exc})")
        return row
    waves = sorted({m.group(1) for c in meta.column_names if (m := WEIGHT_COLUMN.match(c))})
    if not waves:
        row.update(status="missing_column", detail=f"{path}: no weight column WEIGHT_W<n> (expected e.g. WEIGHT_W128)")
        return row
    row["wave"] = waves[0]
    missing = [c for c in type_columns if c not in meta.column_names]
    if missing:
        row.update(status="missing_column", detail=f"{path}: missing type column(s) {', '.join(missing)}")
    return row


def inventory(files, manifest: dict | None = None, type_columns=("F_PARTYSUM_FINAL",), kind: str = "sav") -> pd.DataFrame:
    """One row per file (wave, status, detail) plus one row per manifest wave not found."""
    manifest = manifest or {}
    rows = []
    for f in sorted(map(str, files)):
        row = inspect_sav(f, type_columns)
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
    for wave, entry in sorted(manifest.items()):
        if wave not in found:
            name = (entry or {}).get("file", "")
            rows.append({"file": "", "kind": kind, "wave": wave, "status": "missing",
                         "detail": f"{wave} not found; download '{name}' from {PEW_DOWNLOAD} (free account) into the data folder"})
    return pd.DataFrame(rows, columns=["wave", "file", "kind", "status", "detail"])


def inventory_report(inv: pd.DataFrame, demo: bool) -> str:
    ok = inv[inv.status == "ok"]
    lines = ["# Pew survey data", ""]
    if demo:
        lines += ["**DEMO DATA**: no real Pew wave was found, so the analysis runs on generated demo waves",
                  "written with the real schema. Every output from them is marked `demo`.", ""]
    lines += [f"Analysed: {len(ok)} wave(s): {', '.join(ok.wave) or 'none'}.", ""]
    problems = inv[inv.status != "ok"]
    if len(problems):
        lines += ["| wave | status | detail |", "| --- | --- | --- |"]
        lines += [f"| {r.wave or '?'} | {r.status} | {r.detail} |" for r in problems.itertuples()]
    return "\n".join(lines) + "\n"
