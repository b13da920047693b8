"""Checkpoints of a training run: ``checkpoint-<step>/`` folders under ``out_dir/checkpoint/``
that count once our completion marker is written (:data:`CHECKPOINT_MARKER`), the choice of the
one to resume (:func:`select_checkpoint`: newest complete one of the same run, the rest removed)
and the per-step log history kept beside them (:data:`LOG_HISTORY_FILE`, :func:`read_log_history`)."""
from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

log = logging.getLogger("hetpref.lm.training.train")

CHECKPOINT_FORMAT = 2  # 2: transformers.Trainer checkpoint-<step>/ folders with a completion marker
CHECKPOINT_MARKER = "hetpref_checkpoint.json"
CHECKPOINT_DIR = re.compile(r"checkpoint-(\d+)")
# The Trainer's per-step log (logging_steps = 1) lives beside the checkpoints, appended one line
# per step; each checkpoint's trainer_state.json keeps only its last step (rewritten whole at every
# save, the full history would make a paper-scale run write O(steps²) bytes: ~15 GB at 78k steps
# and a save every 100). A resume reads the history back up to the checkpoint's step.
LOG_HISTORY_FILE = "log_history.jsonl"


def checkpoint_root(out_dir: str | Path) -> Path:
    """Where a run's resume point lives: ``out_dir/checkpoint/`` (not among a rule's declared
    outputs, so that Snakemake keeps it when it deletes an incomplete job's outputs)."""
    return Path(out_dir) / "checkpoint"


def remove_checkpoint(out_dir: str | Path) -> Path | None:
    """Remove a finished run's resume point (a stale one would only mislead); returns the folder
    removed, or None when there was none."""
    root = checkpoint_root(out_dir)
    if not root.exists():
        return None
    shutil.rmtree(root)
    return root


def read_log_history(root: Path, entries: int) -> list[dict]:
    """The first ``entries`` lines of ``root/log_history.jsonl`` (a checkpoint's history: later
    lines, perhaps a half-written one from a kill, are not read)."""
    path = root / LOG_HISTORY_FILE
    out = []
    if path.is_file():
        with open(path) as f:
            for line in f:
                if len(out) == entries:
                    break
                out.append(json.loads(line))
    if len(out) != entries:
        raise RuntimeError(f"{path} holds {len(out)} complete log entries, the checkpoint needs {entries}")
    return out



def select_checkpoint(root: Path, fingerprint: str, clean: bool = True) -> tuple[Path | None, dict | None]:
    """The newest complete checkpoint under ``root`` (``checkpoint-<step>/`` with our marker)
    whose fingerprint matches, and its marker. With ``clean`` (the main process), everything
    else under ``root`` is removed: checkpoints of another run (warned), incomplete ones (a
    kill mid-save) and older ones."""
    if not root.exists():
        return None, None
    best, best_info, entries = None, None, sorted(root.iterdir())
    for path in entries:
        m = CHECKPOINT_DIR.fullmatch(path.name)
        marker = path / CHECKPOINT_MARKER
        if not (m and path.is_dir() and marker.exists()):
            continue
        info = json.loads(marker.read_text())
        if info.get("format") == CHECKPOINT_FORMAT and info.get("fingerprint") == fingerprint and (
                best_info is None or info["step"] > best_info["step"]):
            best, best_info = path, info
    if clean:
        # the history file belongs to the checkpoint kept (another run's goes with its checkpoints)
        others = [p for p in entries if p != best and not (best is not None and p.name == LOG_HISTORY_FILE)]
        if best is None and others:
            log.warning("ignoring checkpoint %s: it belongs to another run (config, seed or data differ) or is "
                        "incomplete", root)
        for p in others:
            if best is not None:
                log.info("removing %s (incomplete or older than %s)", p, best.name)
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return best, best_info
