"""The indirect, consistent and sample-efficient alternative of §6 (docs/spec.md §4, last item):
fit one BT reward model per user type, average them with p(u), relabel the preference data with
the averaged reward, then run plain DPO.

Relabelling is deterministic: the response with the higher averaged reward becomes "chosen";
pairs the averaged models score equally are dropped and counted.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

CHUNK_PAIRS = 8192  # pairs per resumable chunk: ~16 min of one 8B reward model on an A100 (README); a multiple of
#                     the scoring batch, so chunked scores equal unchunked ones bit for bit


def split_per_type(records) -> dict[int, list[dict]]:
    """``per_type`` records (one per pair and type, field ``type``) → one dataset per type."""
    out: dict[int, list[dict]] = {}
    for rec in records:
        out.setdefault(int(rec["type"]), []).append({k: v for k, v in rec.items() if k != "type"})
    return out


def relabel_by_average_reward(records, per_type_h, weights=None) -> tuple[list[dict], dict]:
    """Orient each pair by the averaged reward difference.

    ``per_type_h[k][i]`` is type k's reward model's R(chosen) − R(rejected) for ``records[i]``
    (in the record's current orientation); ``weights`` is p(u) (default equal).
    """
    h = np.asarray(per_type_h, dtype=float)
    if h.ndim != 2 or h.shape[1] != len(records):
        raise ValueError(f"per_type_h must be [types, {len(records)}], got shape {h.shape}")
    w = np.full(h.shape[0], 1.0 / h.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    avg = w @ h
    out = []
    for rec, value in zip(records, avg):
        if value > 0:
            out.append(dict(rec))
        elif value < 0:
            out.append({**rec, "chosen": rec["rejected"], "rejected": rec["chosen"],
                        "n_chosen": rec["n_rejected"], "n_rejected": rec["n_chosen"]})
    info = {"n_in": len(records), "n_out": len(out), "n_ties_dropped": int((avg == 0).sum()),
            "share_flipped": float((avg < 0).mean()) if len(avg) else float("nan")}
    return out, info


def _sha256_dir(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()


def _chunk_key(adapter_sha: str, chunk: Sequence[dict], max_length: int) -> str:
    h = hashlib.sha256(f"{adapter_sha}\0{max_length}\0".encode())
    for rec in chunk:
        h.update(json.dumps([rec["id"], rec["chosen"], rec["rejected"]], ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


def _default_scorer(tokenizer, device, max_length: int, batch_size: int):
    """adapter → records → h per record (R(chosen) − R(rejected)), the base loaded once per adapter."""
    def load(adapter):
        from ..models import load_adapter, resolve_device
        from .evaluate import evaluate_model

        dev = resolve_device(device)
        model, _ = load_adapter(adapter, tokenizer, dev)

        def score(chunk):
            _, rows = evaluate_model(model, tokenizer, chunk, "reward", max_length=max_length,
                                     batch_size=batch_size, device=dev)
            by_id = {row["id"]: row["h"] for row in rows}
            return [by_id[rec["id"]] for rec in chunk]
        return score
    return load


def reward_differences(adapters: Sequence[str | Path], records: Sequence[dict], work_dir: str | Path, *,
                       tokenizer=None, device="auto", max_length: int = 512, batch_size: int = 8,
                       chunk_pairs: int = CHUNK_PAIRS, load: Callable | None = None, log=None) -> list[list[float]]:
    """``per_type_h[k][i]``: reward model k's R(chosen) − R(rejected) on ``records[i]``, resumable.

    The records are scored in chunks of ``chunk_pairs``; each finished chunk is written to
    ``work_dir/type<k>/chunk<c>.json`` (atomically) with a key of the adapter's files, the chunk's
    pairs and ``max_length``, and a rerun (a job killed at its time limit and resubmitted) reuses
    every chunk whose key matches and scores only the rest; a base model is loaded only for an
    adapter with chunks left. ``load(adapter) -> score(chunk) -> [h]`` replaces the real scorer
    (tests)."""
    if chunk_pairs < 1 or chunk_pairs % batch_size:
        raise ValueError(f"chunk_pairs must be a positive multiple of batch_size = {batch_size}, got {chunk_pairs}")
    load = load or _default_scorer(tokenizer, device, max_length, batch_size)
    work_dir = Path(work_dir)
    chunks = [records[i:i + chunk_pairs] for i in range(0, len(records), chunk_pairs)]
    out = []
    for k, adapter in enumerate(adapters):
        adapter_sha = _sha256_dir(Path(adapter))
        folder = work_dir / f"type{k}"
        folder.mkdir(parents=True, exist_ok=True)
        score, h, reused = None, [], 0
        for c, chunk in enumerate(chunks):
            path, key = folder / f"chunk{c:05d}.json", _chunk_key(adapter_sha, chunk, max_length)
            saved = json.loads(path.read_text()) if path.is_file() else None
            if saved is not None and saved.get("key") == key and len(saved.get("h", ())) == len(chunk):
                h += saved["h"]
                reused += 1
                continue
            score = score or load(adapter)
            values = [float(v) for v in score(chunk)]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"key": key, "h": values}))
            os.replace(tmp, path)  # a kill mid-write leaves no half chunk
            h += values
            if log is not None:
                log.info("reward model %d: chunk %d of %d scored", k + 1, c + 1, len(chunks))
        if log is not None and reused:
            log.info("reward model %d: %d of %d chunks reused from an earlier attempt", k + 1, reused, len(chunks))
        out.append(h)
    return out
