"""The indirect, consistent and sample-efficient alternative of §6 (MATH.md §4, last item):
fit one BT reward model per user type, average them with p(u), relabel the preference data with
the averaged reward, then run plain DPO.

Relabelling is deterministic: the response with the higher averaged reward becomes "chosen";
pairs the averaged models score equally are dropped and counted.
"""
from __future__ import annotations

import numpy as np


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
