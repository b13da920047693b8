"""Agreement with the average reward's order on the test split (MATH.md §8 "Metric").

A test record's ``chosen`` is the response with the higher average reward r̄ (deterministic
labels). A model agrees on a pair when its score puts ``chosen`` strictly first:
``log π(y_c|x) > log π(y_r|x)`` for a policy (uniform reference, so the induced reward order is
the log-probability order), ``R(x, y_c) > R(x, y_r)`` for a reward model. Ties count as wrong:
a model that cannot tell the responses apart has not recovered r̄'s order.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch

from .train import EncodedPairs, encode_records, pair_h, resolve_device

# How the workflow's datasets map onto the paper's Figure 5 labels
LABELLING = {"anonymous": "ignoring", "unanimous": "modelling", "unanimous_filtered": "modelling (filtered)",
             "average": "average-reward labels"}


def agreement(h: torch.Tensor) -> dict:
    """Share of pairs with ``h = score(chosen) − score(rejected) > 0`` (ties, h = 0, are wrong;
    NaN scores are wrong too)."""
    h = torch.as_tensor(h, dtype=torch.float64)
    n = int(h.numel())
    correct = int((h > 0).sum())
    return {"agreement": correct / n if n else float("nan"), "n": n, "n_correct": correct,
            "n_ties": int((h == 0).sum()), "n_nan": int(torch.isnan(h).sum())}


@torch.no_grad()
def pair_differences(model, enc: EncodedPairs, objective: str, pad_id: int, batch_size: int = 8,
                     device: str | torch.device = "cpu") -> torch.Tensor:
    """``h`` of every encoded pair (chosen − rejected score), model in eval mode (no dropout)."""
    model.eval()
    out = []
    for start in range(0, len(enc), batch_size):
        idx = list(range(start, min(start + batch_size, len(enc))))
        h, _ = pair_h(model, enc, idx, objective, pad_id, device)
        out.append(h.float().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def evaluate_model(model, tokenizer, records: Sequence[dict], objective: str, max_length: int = 512,
                   overlength: str = "error", add_eos: bool = True, batch_size: int = 8,
                   device: str | torch.device = "cpu") -> tuple[dict, list[dict]]:
    """(metrics, per-pair rows) of a model on test records. Over-long pairs follow the same
    explicit choice as training (``overlength``); dropped ones are excluded from the share and
    counted in ``n_dropped``."""
    enc = encode_records(records, tokenizer, max_length, overlength, add_eos)
    h = pair_differences(model, enc, objective, tokenizer.pad_token_id, batch_size, device)
    metrics = {**agreement(h), "n_dropped": len(enc.dropped), "objective": objective}
    rows = [{"id": i, "h": float(v), "correct": bool(v > 0)} for i, v in zip(enc.ids, h.tolist())]
    return metrics, rows


def evaluate_run(adapter_dir: str | Path, tokenizer, records: Sequence[dict], objective: str | None = None,
                 max_length: int = 512, overlength: str = "error", add_eos: bool = True, batch_size: int = 8,
                 device: str | torch.device | None = "auto", dtype=None) -> tuple[dict, list[dict]]:
    """Evaluate a trained run: its base (rebuilt from ``base.json``) plus its adapter."""
    from .models import load_adapter

    device = resolve_device(device)
    model, base = load_adapter(adapter_dir, tokenizer, device, dtype)
    objective = objective or ("dpo" if base["kind"] == "causal_lm" else "reward")
    return evaluate_model(model, tokenizer, records, objective, max_length, overlength, add_eos, batch_size, device)


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean across seeds; NaN bounds for one value."""
    vals = [float(v) for v in values]
    n = len(vals)
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = sum(vals) / n
    if n < 2:
        return mean, float("nan"), float("nan")
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def summarise(runs: Sequence[dict], level: float = 0.95):
    """Mean and 95 % t-interval of the agreement across seeds per (objective, labelling).

    ``runs``: dicts with ``objective``, ``dataset`` (or ``labelling``), ``seed`` and
    ``agreement`` (a share in [0, 1]). Returns a DataFrame with one row per group: ``objective``,
    ``dataset``, ``labelling``, ``n_seeds``, ``seeds``, ``mean``, ``sd``, ``ci_low``, ``ci_high``
    (all shares)."""
    import pandas as pd

    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        dataset = r.get("dataset", r.get("labelling"))
        groups.setdefault((r["objective"], dataset), []).append(r)
    rows = []
    for (objective, dataset), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        vals = [r["agreement"] for r in rs]
        mean, lo, hi = t_interval(vals, level)
        sd = float(pd.Series(vals).std(ddof=1)) if len(vals) > 1 else float("nan")
        rows.append({"objective": objective, "dataset": dataset, "labelling": LABELLING.get(dataset, dataset),
                     "n_seeds": len(vals), "seeds": [r["seed"] for r in rs], "mean": mean, "sd": sd,
                     "ci_low": lo, "ci_high": hi})
    order = {"reward": 0, "dpo": 1}
    rows.sort(key=lambda r: (order.get(r["objective"], 9), str(r["dataset"])))
    return pd.DataFrame(rows, columns=["objective", "dataset", "labelling", "n_seeds", "seeds", "mean", "sd",
                                       "ci_low", "ci_high"])
