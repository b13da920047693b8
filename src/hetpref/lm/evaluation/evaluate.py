"""Agreement with the average reward's order on the test split (docs/spec.md §8 "Metric"), and the
length diagnostics every run reports beside it.

A test record's ``chosen`` is the response with the higher average reward r̄ (deterministic
labels). A model agrees on a pair when its score puts ``chosen`` strictly first, h > 0, with
h = score(y_c) − score(y_r) as in training (:mod:`hetpref.lm.names`):

- reward model: ``R(x, y_c) > R(x, y_r)``;
- ``dpo`` (and ``ipo``), uniform reference: ``log π(y_c|x) > log π(y_r|x)``, response tokens with
  the causal shift (the induced reward order is the log-probability order);
- ``dpo_ref``: the reference code's score (unshifted logits, bos + prompt + response, summed) of
  the chosen transcript above the rejected one's;
- ``dpo_base`` (standard DPO, π_ref = the frozen base): the implicit reward
  ``log π(y|x) − log π_ref(y|x)`` of ``y_c`` above that of ``y_r`` (reference term included);
- ``dpo_norm``: the mean log-probability per response token of ``y_c`` above that of ``y_r``.

Ties count as wrong: a model that cannot tell the responses apart has not recovered r̄'s order.
The reference code's own tie rule (``argmax`` over (score_c, score_r) picks chosen on a tie, so
h ≥ 0 counts as correct) is reported as a separate column, ``agreement_ties_correct``, never as
our metric.

**Length diagnostics** (:func:`length_diagnostics`), from the response token counts (eos
included, the same for both responses, so only differences matter). The *length prior* is
"the shorter response wins": it is right on a pair when the chosen response has fewer response
tokens than the rejected one; on equal lengths it is undecided and counted as wrong (as a tie
of any scorer). Reported per run: ``prior_agreement`` (the prior's agreement on the same pairs),
``agreement_prior_wrong`` and ``n_prior_wrong`` (the run's agreement on the pairs where the
prior is wrong or undecided: the only pairs on which agreement shows something learnt beyond
"shorter wins"), ``agreement_prior_right``, and agreement by |Δ length| = |len(y_c) − len(y_r)|
in the fixed bins of :data:`DLEN_BINS` (0, 1–5, 6–20, 21–50, > 50 tokens).

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

from ..models import resolve_device
from ..names import OBJECTIVE_ORDER
from ..training.pairs import EncodedPairs, encode_records, pair_batch
from ..training.scoring import sequence_scores

# How the workflow's datasets map onto the paper's Figure 5 labels
# the order of objectives in tables and figures (the optional arms after the paper's two)
LABELLING = {"anonymous": "ignoring", "unanimous": "modelling", "unanimous_filtered": "modelling (filtered)",
             "average": "average-reward labels"}


# |Δ length| bins in response tokens: (key suffix, label, lowest, highest; None = no bound)
DLEN_BINS = (("0", "0", 0, 0), ("1_5", "1–5", 1, 5), ("6_20", "6–20", 6, 20), ("21_50", "21–50", 21, 50),
             ("gt50", ">50", 51, None))


def _share(correct: torch.Tensor, mask: torch.Tensor) -> float:
    n = int(mask.sum())
    return float(correct[mask].double().mean()) if n else float("nan")


def length_diagnostics(correct, len_chosen, len_rejected) -> dict:
    """Length diagnostics of one run (module docstring): ``correct`` — per pair, whether the run
    agrees with r̄ (h > 0); ``len_chosen``/``len_rejected`` — response tokens. Agreement on an
    empty subset is NaN (its ``n_…`` is 0)."""
    correct = torch.as_tensor(correct, dtype=torch.bool).flatten()
    len_c = torch.as_tensor(len_chosen, dtype=torch.long).flatten()
    len_r = torch.as_tensor(len_rejected, dtype=torch.long).flatten()
    if not correct.shape == len_c.shape == len_r.shape:
        raise ValueError(f"correct, len_chosen, len_rejected must have one entry per pair, got "
                         f"{tuple(correct.shape)}, {tuple(len_c.shape)}, {tuple(len_r.shape)}")
    prior_right = len_c < len_r  # the shorter response wins; equal lengths: undecided = wrong
    dlen = (len_c - len_r).abs()
    out = {"prior_agreement": _share(prior_right, torch.ones_like(prior_right)),
           "agreement_prior_wrong": _share(correct, ~prior_right), "n_prior_wrong": int((~prior_right).sum()),
           "agreement_prior_right": _share(correct, prior_right), "n_prior_right": int(prior_right.sum())}
    for key, _, lo, hi in DLEN_BINS:
        mask = (dlen >= lo) & (dlen <= hi) if hi is not None else dlen >= lo
        out[f"agreement_dlen_{key}"] = _share(correct, mask)
        out[f"n_dlen_{key}"] = int(mask.sum())
    return out


def agreement_ties_correct(h: torch.Tensor) -> float:
    """The reference code's tie rule, reported beside our metric only: the share of pairs with
    h ≥ 0 (its ``argmax`` over (score_c, score_r) picks the chosen response on a tie); NaN is wrong."""
    h = torch.as_tensor(h, dtype=torch.float64)
    return float((h >= 0).double().mean()) if h.numel() else float("nan")


def agreement(h: torch.Tensor) -> dict:
    """Share of pairs with ``h = score(chosen) − score(rejected) > 0`` (ties, h = 0, are wrong;
    NaN scores are wrong too)."""
    h = torch.as_tensor(h, dtype=torch.float64)
    n = int(h.numel())
    correct = int((h > 0).sum())
    return {"agreement": correct / n if n else float("nan"), "n": n, "n_correct": correct,
            "n_ties": int((h == 0).sum()), "n_nan": int(torch.isnan(h).sum())}


@torch.no_grad()
def pair_scores(model, enc: EncodedPairs, kind: str, pad_id: int, batch_size: int = 8,
                device: str | torch.device = "cpu", scoring: str = "response_sum") -> tuple[torch.Tensor, torch.Tensor]:
    """(score of chosen, score of rejected) of every encoded pair, model in eval mode (no dropout):
    a policy's ``scoring`` (``log π(y|x)`` by default; :func:`hetpref.lm.training.scoring.sequence_scores`),
    ``R(x, y)`` for a reward model."""
    model.eval()
    chosen, rejected = [], []
    for start in range(0, len(enc), batch_size):
        idx = list(range(start, min(start + batch_size, len(enc))))
        input_ids, attention_mask, response_mask = (t.to(device) for t in pair_batch(enc, idx, pad_id))
        s = sequence_scores(model, input_ids, attention_mask, response_mask, kind, scoring).float().cpu()
        chosen.append(s[:len(idx)])
        rejected.append(s[len(idx):])
    if not chosen:
        return torch.zeros(0), torch.zeros(0)
    return torch.cat(chosen), torch.cat(rejected)


def evaluate_model(model, tokenizer, records: Sequence[dict], kind: str, max_length: int = 512,
                   overlength: str = "error", add_eos: bool = True, batch_size: int = 8,
                   device: str | torch.device = "cpu", scoring: str = "response_sum") -> tuple[dict, list[dict]]:
    """(metrics, per-pair rows) of a model of ``kind`` (``causal_lm`` / ``reward``) on test
    records, a policy scored with ``scoring`` (the one it was trained with). Over-long pairs follow
    the same explicit choice as training (``overlength``); dropped ones are excluded from the share
    and counted in ``n_dropped``.

    Metrics: :func:`agreement`, ``agreement_ties_correct`` (the reference code's tie rule, not our
    metric) and :func:`length_diagnostics`, for every run. For a policy also
    ``shorter_wins_agreement`` (= ``prior_agreement``), and with the default scoring
    ``response_nll_per_token``: the mean −log p per scored response token (eos included) — the
    ``H`` that makes ``log π(y|x)`` fall with every token and bounds how far a uniform-reference
    policy can leave "shorter wins" (:func:`hetpref.lm.evaluation.length_oracle.dpo_length_prior_bound`)."""
    enc = encode_records(records, tokenizer, max_length, overlength, add_eos)
    s_c, s_r = pair_scores(model, enc, kind, tokenizer.pad_token_id, batch_size, device, scoring)
    # identical scored token sequences are a tie by construction (module docstring)
    tie = torch.tensor([c == r for c, r in zip(enc.chosen, enc.rejected)], dtype=torch.bool)
    h = torch.where(tie, torch.zeros_like(s_c), s_c - s_r)
    correct = h > 0
    metrics = {**agreement(h), "n_dropped": len(enc.dropped), "kind": kind}
    len_c = torch.tensor([len(c) for c in enc.chosen], dtype=torch.float64)
    len_r = torch.tensor([len(r) for r in enc.rejected], dtype=torch.float64)
    metrics["agreement_ties_correct"] = agreement_ties_correct(h)
    metrics.update(length_diagnostics(correct, len_c.long(), len_r.long()))
    if kind == "causal_lm":
        metrics["scoring"] = scoring
    if kind == "causal_lm" and len(enc):
        if scoring == "response_sum":  # the other scorings are not log π(y|x)
            metrics["response_nll_per_token"] = float(
                -(s_c.double().sum() + s_r.double().sum()) / (len_c.sum() + len_r.sum()))
        metrics["shorter_wins_agreement"] = float((len_c < len_r).double().mean())
    rows = [{"id": i, "h": float(v), "correct": bool(ok), "score_chosen": float(a), "score_rejected": float(b),
             "response_tokens_chosen": int(lc), "response_tokens_rejected": int(lr), "prior_correct": bool(lc < lr)}
            for i, v, ok, a, b, lc, lr in zip(enc.ids, h.tolist(), correct.tolist(), s_c.tolist(), s_r.tolist(),
                                              len_c.tolist(), len_r.tolist())]
    return metrics, rows


def evaluate_run(adapter_dir: str | Path, tokenizer, records: Sequence[dict], max_length: int = 512,
                 overlength: str = "error", add_eos: bool = True, batch_size: int = 8,
                 device: str | torch.device | None = "auto", dtype=None,
                 scoring: str = "response_sum") -> tuple[dict, list[dict]]:
    """Evaluate a trained run: its base (rebuilt from ``base.json``) plus its adapter; a policy is
    scored with ``scoring``, which must be the one it was trained with (``dpo_scoring``); the kind
    of model is the one ``base.json`` names."""
    from ..models import load_adapter

    device = resolve_device(device)
    model, base = load_adapter(adapter_dir, tokenizer, device, dtype)
    return evaluate_model(model, tokenizer, records, base["kind"], max_length, overlength, add_eos, batch_size, device,
                          scoring)


def evaluate_trained(result, run, tokenizer, records: Sequence[dict], **options) -> tuple[dict, list[dict]]:
    """Evaluate what :func:`hetpref.lm.training.launch.run_job` returned for ``run`` (an
    :class:`~hetpref.lm.training.run.LMRun`), scored as it was trained (``run.scoring``; a
    different ``scoring`` in ``options`` is an error): the trained model itself when it
    was trained in this process (``result.model``: no second load of the base, 80 s for SmolLM2's
    GGUF on a CPU, minutes for an 8B model), else the saved adapter on its rebuilt base
    (torchrun's ranks were other processes; the same weights, tested). ``options``: those of
    :func:`evaluate_model` (max_length, overlength, add_eos, batch_size, scoring). The metrics
    name the run: its objective, dataset, seed and model."""
    scoring = options.pop("scoring", run.scoring)
    if scoring != run.scoring:
        raise ValueError(f"{run.objective} run scored with {scoring!r} but trained with {run.scoring!r}: a policy "
                         "is scored as it was trained")
    if result.model is not None:
        metrics, rows = evaluate_model(result.model, tokenizer, records, run.kind,
                                       device=next(result.model.parameters()).device, scoring=scoring, **options)
    else:
        metrics, rows = evaluate_run(result.adapter_dir, tokenizer, records, device=run.device, scoring=scoring,
                                     **options)
    metrics.update({"objective": run.objective, "dataset": run.dataset, "seed": run.seed, "model": run.model})
    return metrics, rows


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


def wilson_interval(correct: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """(share, low, high): the share ``correct / n`` and its Wilson score interval, which stays
    inside [0, 1] (a t-interval of a share near 0 or 1 does not); NaN for n = 0."""
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at p = 0 (p = 1) the lower (upper) bound is exactly 0 (1); rounding would leave 1e-16 of it
    return p, 0.0 if correct == 0 else max(0.0, centre - half), 1.0 if correct == n else min(1.0, centre + half)


def summarise(runs: Sequence[dict], level: float = 0.95, key: str = "agreement"):
    """Mean and 95 % t-interval of the agreement (or another per-run share, ``key``, e.g.
    ``agreement_prior_wrong``) across seeds per (objective, labelling); runs without ``key``
    are left out.

    ``runs``: dicts with ``objective``, ``dataset`` (or ``labelling``), ``seed`` and
    ``agreement`` (a share in [0, 1]). Returns a DataFrame with one row per group: ``objective``,
    ``dataset``, ``labelling``, ``n_seeds``, ``seeds``, ``mean``, ``sd``, ``ci_low``, ``ci_high``
    (all shares)."""
    import pandas as pd

    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        if key not in r:
            continue
        dataset = r.get("dataset", r.get("labelling"))
        groups.setdefault((r["objective"], dataset), []).append(r)
    rows = []
    for (objective, dataset), rs in groups.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        vals = [float(r[key]) for r in rs]
        mean, lo, hi = t_interval(vals, level)
        sd = float(pd.Series(vals).std(ddof=1)) if len(vals) > 1 else float("nan")
        rows.append({"objective": objective, "dataset": dataset, "labelling": LABELLING.get(dataset, dataset),
                     "n_seeds": len(vals), "seeds": [r["seed"] for r in rs], "mean": mean, "sd": sd,
                     "ci_low": lo, "ci_high": hi})
    order = {o: i for i, o in enumerate(OBJECTIVE_ORDER)}
    rows.sort(key=lambda r: (order.get(r["objective"], 9), str(r["dataset"])))
    return pd.DataFrame(rows, columns=["objective", "dataset", "labelling", "n_seeds", "seeds", "mean", "sd",
                                       "ci_low", "ci_high"])
