"""JSONL records, the LM stage's dataset format: one JSON object a line, keys sorted, ASCII
escapes (``json.dumps(rec, sort_keys=True)``), so equal records give equal bytes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a JSONL file (blank lines skipped), with the line number in the error of a
    malformed line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not JSON ({e})") from e
    return out


def write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    """Write records in the canonical form; returns how many were written."""
    n = 0
    with open(path, "w", encoding="ascii") as f:
        for rec in records:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
            n += 1
    return n
