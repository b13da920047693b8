"""Per-question analysis of survey preferences (paper §4.3, §7.1, App. E; docs/spec.md §1, §3, §6).

For each question: weighted type shares p(u), per-type choice distributions, Luce–Shepard
rewards r_u(o) = log P_u(o) + c_u (centred), the average reward r̄, the population pairwise
matrix P(a ≻ b) = Σ_u p(u) σ((r_u(a) − r_u(b))/τ), NBC under the alternative distribution μ,
both rankings, and the min-TV change of μ that reverses NBC's order of some pair (flip.py).

Options a type never chose: log 0 = −∞ has no finite reward. We add a pseudo-count
(``pseudocount``, default 0.5 weighted respondents, a Jeffreys-style prior) to every
(type, option) cell, which gives such options a finite, low reward that shrinks as the type's
sample grows. ``floor`` instead reproduces the reference code's log(p + floor), floor = 1e-15,
which gives ≈ −34.5 for a never-chosen option (before centring) and lets one unchosen option
dominate a type's rewards.

Everything works on padded batches: counts[Q, U, O] with ``n_options[Q]``; padded options have
zero counts and are masked.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..aggregation import normalized_borda_count
from ..preferences import bt_probability
from .flip import DELTA, EPS, question_flips


def pad_counts(questions) -> tuple[np.ndarray, np.ndarray]:
    """Stack questions' weighted counts [U, O] into [Q, U_max, O_max] (zeros in padding)."""
    u_max = max(q.counts.shape[0] for q in questions)
    o_max = max(q.counts.shape[1] for q in questions)
    out = np.zeros((len(questions), u_max, o_max))
    for i, q in enumerate(questions):
        out[i, : q.counts.shape[0], : q.counts.shape[1]] = q.counts
    return out, np.array([q.counts.shape[1] for q in questions])


def option_mask(n_options, o_max) -> np.ndarray:
    return np.arange(o_max)[None, :] < np.asarray(n_options)[:, None]


def type_shares(counts) -> np.ndarray:
    """p(u): each type's weighted share of the question's respondents, [..., U]."""
    per_type = counts.sum(-1)
    return per_type / per_type.sum(-1, keepdims=True)


def luce_shepard_rewards(counts, n_options, pseudocount: float = 0.5, floor: float | None = None) -> np.ndarray:
    """Centred r_u(o) = log P_u(o) from weighted counts [..., U, O] (padding → 0)."""
    counts = np.asarray(counts, dtype=float)
    mask = option_mask(np.broadcast_to(n_options, counts.shape[:-2]).reshape(-1), counts.shape[-1])
    mask = mask.reshape(counts.shape[:-2] + (1, counts.shape[-1]))
    if floor is not None:
        probs = counts / np.maximum(counts.sum(-1, keepdims=True), 1e-300)
        logp = np.log(probs + floor)
    else:
        if pseudocount <= 0:
            raise ValueError(f"pseudocount must be > 0 (or give floor), got {pseudocount}")
        smoothed = np.where(mask, counts + pseudocount, 0.0)
        logp = np.log(np.where(mask, smoothed / smoothed.sum(-1, keepdims=True), 1.0))
    n = mask.sum(-1, keepdims=True)
    centred = logp - np.where(mask, logp, 0.0).sum(-1, keepdims=True) / n
    return np.where(mask, centred, 0.0)


def pairwise_from_rewards(rewards, shares, temperature: float = 1.0) -> np.ndarray:
    """P[..., a, b] = Σ_u p(u) σ((r_u(a) − r_u(b))/τ) for rewards [..., U, O], shares [..., U]."""
    deltas = rewards[..., :, :, None] - rewards[..., :, None, :]
    return np.einsum("...u,...uab->...ab", shares, bt_probability(deltas, temperature))


def alternative_distribution(counts, n_options, kind: str = "uniform") -> np.ndarray:
    """μ over options: ``uniform`` (the paper) or ``popularity`` (each option's overall weighted share)."""
    mask = option_mask(n_options, counts.shape[-1])
    if kind == "uniform":
        mu = mask.astype(float)
    elif kind == "popularity":
        mu = np.where(mask, counts.sum(-2), 0.0)
    else:
        raise ValueError(f"alternative distribution must be 'uniform' or 'popularity', got {kind!r}")
    return mu / mu.sum(-1, keepdims=True)


def analyse_counts(counts, n_options, pseudocount=0.5, floor=None, temperature=1.0, mu="uniform",
                   eps=EPS, delta=DELTA) -> dict:
    """The whole per-question pipeline on padded counts [Q, U, O]; returns arrays keyed by name."""
    counts = np.asarray(counts, dtype=float)
    mask = option_mask(n_options, counts.shape[-1])
    shares = type_shares(counts)
    rewards = luce_shepard_rewards(counts, n_options, pseudocount, floor)
    rbar = np.einsum("qu,quo->qo", shares, rewards)
    pairwise = pairwise_from_rewards(rewards, shares, temperature)
    mu_arr = alternative_distribution(counts, n_options, mu)
    nbc = normalized_borda_count(pairwise, mu_arr)
    flips = question_flips(pairwise, nbc, n_options, eps, delta, base=mu_arr)

    def masked(x):
        return np.where(mask, x, -np.inf)

    return {"shares": shares, "rewards": rewards, "rbar": rbar, "pairwise": pairwise, "mu": mu_arr,
            "nbc": nbc, "rbar_top": masked(rbar).argmax(-1), "nbc_top": masked(nbc).argmax(-1),
            "choice_probs": counts / np.maximum(counts.sum(-1, keepdims=True), 1e-300), **flips}


def _ranking(scores, n):
    return np.argsort(-scores[:n], kind="stable").tolist()


def analyse_questions(questions, **kwargs) -> tuple[pd.DataFrame, dict]:
    """One row per question (the per-wave table) plus the raw arrays for figures."""
    counts, n_opts = pad_counts(questions)
    res = analyse_counts(counts, n_opts, **kwargs)
    rows = []
    for i, q in enumerate(questions):
        n = n_opts[i]
        k1, k2 = res["best_pair"][i]
        rows.append({
            "wave": q.wave, "question": q.name, "text": q.text, "n_options": int(n),
            "n_respondents": q.n_respondents, "options": list(q.options), "type_names": list(q.type_names),
            "type_shares": res["shares"][i].round(6).tolist(),
            "rbar_ranking": _ranking(res["rbar"][i], n), "nbc_ranking": _ranking(res["nbc"][i], n),
            "rbar_top": q.options[res["rbar_top"][i]], "nbc_top": q.options[res["nbc_top"][i]],
            "top_differs": bool(res["rbar_top"][i] != res["nbc_top"][i]),
            "ranking_differs": _ranking(res["rbar"][i], n) != _ranking(res["nbc"][i], n),
            "can_change": bool(res["can_change"][i]), "min_tv": float(res["min_tv"][i]),
            "top_can_change": bool(res["top_can_change"][i]), "top_min_tv": float(res["top_min_tv"][i]),
            "flip_pair": [q.options[k1], q.options[k2]] if k1 >= 0 else None,
            "flip_mu": res["best_q"][i, :n].round(8).tolist() if k1 >= 0 else None,
            "n_pairs": int(res["n_pairs"][i]),
        })
    return pd.DataFrame(rows), res


def summary_statistics(table: pd.DataFrame) -> dict:
    """The paper's §7.1 statistics from the per-question table."""
    n = len(table)
    changeable = table[table["can_change"].astype(bool)] if n else table
    return {
        "questions_analysed": int(n),
        "waves": int(table["wave"].nunique()) if n else 0,
        "ranking_can_change": int(len(changeable)),
        "share_ranking_can_change": float(len(changeable) / n) if n else float("nan"),
        "top_choice_can_change": int(table["top_can_change"].astype(bool).sum()) if n else 0,
        "median_min_tv": float(changeable["min_tv"].median()) if len(changeable) else float("nan"),
        "top_differs_rbar_vs_nbc": int(table["top_differs"].astype(bool).sum()) if n else 0,
    }


def effective_sample_sizes(counts, n_counts=None) -> np.ndarray:
    """Each group's effective sample size n_eff[..., U] for the parametric bootstrap.

    Kish's n_eff = (Σw)² / Σw² needs every respondent's weight; a counts table only gives, per
    (group, option) cell, the weighted count W_k and the respondents n_k. Giving each of a
    cell's respondents the cell's mean weight W_k / n_k yields n_eff = W² / Σ_k (W_k² / n_k):
    exactly Kish's value when weights are constant within cells, and otherwise an upper bound
    (Cauchy–Schwarz: Σ_{i∈k} w_i² ≥ W_k² / n_k), never above the group's n. Without ``n_counts``
    (only weighted counts given) the weighted total W stands for n: Pew weights are scaled to
    mean 1 over a wave's sample.
    """
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(-1)
    if n_counts is None:
        return total
    n_counts = np.asarray(n_counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.where(n_counts > 0, counts ** 2 / n_counts, 0.0).sum(-1)
        return np.where(sq > 0, total ** 2 / sq, 0.0)


def parametric_bootstrap_counts(counts, n_counts, draws: int, rng) -> np.ndarray:
    """Resampled weighted counts [draws, U, O] of one question from its aggregated counts [U, O].

    Each group's answers are redrawn as a multinomial of its effective sample size
    (:func:`effective_sample_sizes`, rounded, at least 1) over its observed choice shares and
    scaled back to the group's weighted total: the groups' shares p(u) stay as observed (a
    bootstrap stratified by group), their choice distributions vary as a weighted sample of
    n_eff respondents would.
    """
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(-1)
    n_draw = np.where(total > 0, np.maximum(np.rint(effective_sample_sizes(counts, n_counts)), 1), 0).astype(np.int64)
    shares = np.where(total[:, None] > 0, counts / np.where(total > 0, total, 1.0)[:, None], 1.0 / counts.shape[-1])
    drawn = rng.multinomial(n_draw, shares, size=(draws, counts.shape[0]))      # [B, U, O]
    scale = np.where(n_draw > 0, total / np.maximum(n_draw, 1), 0.0)
    return drawn * scale[None, :, None]


def bootstrap_question(q, draws: int, seed: int, **kwargs) -> dict:
    """Bootstrap of one question: min-TV per draw, whether r̄'s and NBC's top choices differ per draw.

    With respondent-level data (``.sav``): the respondent bootstrap (resample respondents with
    replacement, keep their weights). For aggregated counts: the parametric bootstrap of
    :func:`parametric_bootstrap_counts`. ``method`` says which; ``n_eff`` is Kish's effective
    sample size of the question's respondents, or the sum of the groups' n_eff used.
    """
    rng = np.random.default_rng(seed)
    u_n, o_n = q.counts.shape
    if q.type_idx is not None:
        n = len(q.weight)
        mult = rng.multinomial(n, np.full(n, 1.0 / n), size=draws)                 # [B, n]
        cell = q.type_idx * o_n + q.answer_idx
        design = np.zeros((n, u_n * o_n))
        design[np.arange(n), cell] = q.weight
        counts = (mult @ design).reshape(draws, u_n, o_n)
        method, n_eff = "respondent", float(q.weight.sum() ** 2 / (q.weight ** 2).sum())
    else:
        counts = parametric_bootstrap_counts(q.counts, getattr(q, "n_counts", None), draws, rng)
        method, n_eff = "parametric", float(effective_sample_sizes(q.counts, getattr(q, "n_counts", None)).sum())
    res = analyse_counts(counts, np.full(draws, o_n), **kwargs)
    return {"min_tv": res["min_tv"], "can_change": res["can_change"],
            "top_differs": res["rbar_top"] != res["nbc_top"], "method": method, "n_eff": n_eff}


def bootstrap_table(questions, draws: int, seed: int, level: float = 0.95, **kwargs) -> pd.DataFrame:
    """Per question: bootstrap interval of min-TV (inf when a draw cannot flip), the share of
    draws in which the ranking can change, the share in which r̄'s and NBC's tops differ, and
    the kind of bootstrap used (``method``: respondent or parametric) with its ``n_eff``."""
    rows = []
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    for i, q in enumerate(questions):
        b = bootstrap_question(q, draws, seed + i, **kwargs)
        rows.append({"wave": q.wave, "question": q.name, "method": b["method"], "n_eff": round(b["n_eff"], 3),
                     "draws": draws,
                     "min_tv_lo": float(np.quantile(b["min_tv"], lo, method="inverted_cdf")),
                     "min_tv_hi": float(np.quantile(b["min_tv"], hi, method="inverted_cdf")),
                     "share_can_change": float(b["can_change"].mean()),
                     "share_top_differs": float(b["top_differs"].mean())})
    return pd.DataFrame(rows, columns=BOOTSTRAP_COLUMNS)


BOOTSTRAP_COLUMNS = ["wave", "question", "method", "n_eff", "draws", "min_tv_lo", "min_tv_hi", "share_can_change",
                     "share_top_differs"]
#: Per-question columns of the partition analysis (one row per partition × question).
PARTITION_COLUMNS = ["partition", "wave", "question", "source", "n_types", "n_options", "can_change", "min_tv",
                     "top_can_change", "top_min_tv", "top_differs", "ranking_differs"]


def partition_rows(partition: str, table: pd.DataFrame) -> pd.DataFrame:
    """The partition analysis' per-question rows from :func:`analyse_questions`' table."""
    out = table.assign(partition=partition, n_types=table["type_names"].map(len))
    if "source" not in out:
        out["source"] = ""
    return out.reindex(columns=PARTITION_COLUMNS)


def partition_summary(rows: pd.DataFrame, partitions) -> pd.DataFrame:
    """One row per type partition (config order): the §7.1 statistics of :func:`summary_statistics`
    on every question analysed under it, and on the questions analysed under every partition
    (``common_*``), so that partitions are compared on the same questions too."""
    from .counts import partition_map

    parts = partition_map(partitions)
    rows = rows if len(rows) else pd.DataFrame(columns=PARTITION_COLUMNS)
    keys = rows["wave"].astype(str) + "\x1f" + rows["question"].astype(str)
    present = [p for p in parts if (rows["partition"] == p).any()]
    common = set.intersection(*(set(keys[rows["partition"] == p]) for p in present)) if present else set()
    out = []
    for name, columns in parts.items():
        own = rows[rows["partition"] == name]
        stats = summary_statistics(own)
        shared = summary_statistics(own[keys[own.index].isin(common)])
        n_types = own["n_types"]
        out.append({
            "partition": name, "columns": " × ".join(columns),
            "types": (f"{int(n_types.min())}" if n_types.min() == n_types.max() else
                      f"{int(n_types.min())}–{int(n_types.max())}") if len(own) else "",
            "waves": stats["waves"], "questions_analysed": stats["questions_analysed"],
            "share_ranking_can_change": stats["share_ranking_can_change"],
            "top_choice_can_change": stats["top_choice_can_change"],
            "share_top_choice_can_change": stats["top_choice_can_change"] / len(own) if len(own) else float("nan"),
            "median_min_tv": stats["median_min_tv"],
            "common_questions": shared["questions_analysed"],
            "common_share_ranking_can_change": shared["share_ranking_can_change"],
            "common_top_choice_can_change": shared["top_choice_can_change"],
            "common_median_min_tv": shared["median_min_tv"],
        })
    return pd.DataFrame(out)


JSON_COLUMNS = ("options", "type_names", "type_shares", "rbar_ranking", "nbc_ranking", "flip_pair", "flip_mu", "counts")
TABLE_COLUMNS = ("wave", "question", "text", "n_options", "n_respondents", "options", "type_names", "type_shares",
                 "rbar_ranking", "nbc_ranking", "rbar_top", "nbc_top", "top_differs", "ranking_differs",
                 "can_change", "min_tv", "top_can_change", "top_min_tv", "flip_pair", "flip_mu", "n_pairs",
                 "counts", "source")


def write_question_table(table: pd.DataFrame, path) -> None:
    """CSV with list-valued cells as JSON (so it round-trips); header only when empty."""
    import json

    out = table.reindex(columns=list(TABLE_COLUMNS)).copy()
    for col in JSON_COLUMNS:
        out[col] = out[col].map(
            lambda v: json.dumps(v) if v is not None and not (isinstance(v, float) and np.isnan(v)) else "")
    out.to_csv(path, index=False)


def read_question_table(path) -> pd.DataFrame:
    import json

    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for col in JSON_COLUMNS:
        table[col] = table[col].map(lambda v: json.loads(v) if isinstance(v, str) and v else None)
    for col in ("top_differs", "ranking_differs", "can_change", "top_can_change"):
        table[col] = table[col].astype(bool)
    return table
