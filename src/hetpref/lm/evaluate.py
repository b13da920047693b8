"""Agreement with the average reward's order on the test split (MATH.md §8 "Metric").

A test record's ``chosen`` is the response with the higher average reward r̄ (deterministic
labels). A model agrees on a pair when its score puts ``chosen`` strictly first:
``log π(y_c|x) > log π(y_r|x)`` for a policy (uniform reference, so the induced reward order is
the log-probability order), ``R(x, y_c) > R(x, y_r)`` for a reward model. Ties count as wrong:
a model that cannot tell the responses apart has not recovered r̄'s order.

A tie is decided from the tokens, not from the scores: when the scored token sequences of chosen
and rejected are identical (same prompt by construction, same response tokens) ``h`` is set to
exactly 0. Chosen and rejected are scored in different rows of one padded batch, and the same
sequence in two rows need not give bit-identical floats on every CPU (the kernels' blocking and
summation order depend on the row and the instruction set), so ``h == 0`` on the scores would make
the tie count, and the agreement, depend on the processor. Distinct sequences are compared with no
tolerance (``h > 0``): any tolerance would have to be relative to a score scale that differs between
policies (nats summed over tokens) and reward heads, and would call real, small preferences ties.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch

from .train import EncodedPairs, encode_records, pair_batch, resolve_device, sequence_scores

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
def pair_scores(model, enc: EncodedPairs, objective: str, pad_id: int, batch_size: int = 8,
                device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(score of chosen, score of rejected) of every encoded pair, model in eval mode (no dropout):
    ``log π(y|x)`` for a policy, ``R(x, y)`` for a reward model."""
    model.eval()
    chosen, rejected = [], []
    for start in range(0, len(enc), batch_size):
        idx = list(range(start, min(start + batch_size, len(enc))))
        input_ids, attention_mask, response_mask = (t.to(device) for t in pair_batch(enc, idx, pad_id))
        s = sequence_scores(model, input_ids, attention_mask, response_mask, objective).float().cpu()
        chosen.append(s[:len(idx)])
        rejected.append(s[len(idx):])
    if not chosen:
        return torch.zeros(0), torch.zeros(0)
    return torch.cat(chosen), torch.cat(rejected)


def evaluate_model(model, tokenizer, records: Sequence[dict], objective: str, max_length: int = 512,
                   overlength: str = "error", add_eos: bool = True, batch_size: int = 8,
                   device: str | torch.device = "cpu") -> tuple[dict, list[dict]]:
    """(metrics, per-pair rows) of a model on test records. Over-long pairs follow the same
    explicit choice as training (``overlength``); dropped ones are excluded from the share and
    counted in ``n_dropped``.

    For a policy the metrics also give ``response_nll_per_token``: the mean −log p per scored
    response token (eos included) — the ``H`` that makes ``log π(y|x)`` fall with every token and
    bounds how far a uniform-reference policy can leave "shorter wins"
    (:func:`hetpref.lm.length_oracle.dpo_length_prior_bound`) — and ``shorter_wins_agreement``,
    the agreement of that length prior on the same pairs."""
    enc = encode_records(records, tokenizer, max_length, overlength, add_eos)
    s_c, s_r = pair_scores(model, enc, objective, tokenizer.pad_token_id, batch_size, device)
    # identical scored token sequences are a tie by construction (module docstring)
    tie = torch.tensor([c == r for c, r in zip(enc.chosen, enc.rejected)], dtype=torch.bool)
    h = torch.where(tie, torch.zeros_like(s_c), s_c - s_r)
    metrics = {**agreement(h), "n_dropped": len(enc.dropped), "objective": objective}
    len_c = torch.tensor([len(c) for c in enc.chosen], dtype=torch.float64)
    len_r = torch.tensor([len(r) for r in enc.rejected], dtype=torch.float64)
    if objective == "dpo" and len(enc):
        metrics["response_nll_per_token"] = float(-(s_c.double().sum() + s_r.double().sum()) / (len_c.sum() + len_r.sum()))
        metrics["shorter_wins_agreement"] = float((len_c < len_r).double().mean())
    rows = [{"id": i, "h": float(v), "correct": bool(v > 0), "score_chosen": float(a), "score_rejected": float(b),
             "response_tokens_chosen": int(lc), "response_tokens_rejected": int(lr)}
            for i, v, a, b, lc, lr in zip(enc.ids, h.tolist(), s_c.tolist(), s_r.tolist(), len_c.tolist(),
                                          len_r.tolist())]
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
