"""Distances between policies and rank agreement of 1-D profiles.

Numpy only: importing scipy.stats costs ~1.2 s per workflow job on the project's machines,
more than many synthetic training runs themselves.
"""
from __future__ import annotations

import numpy as np


def total_variation(p, q) -> float:
    """Mean over contexts of ½ Σ_y |p(y|x) − q(y|x)|."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    return float(0.5 * np.abs(p - q).sum(-1).mean())


def kl_divergence(p, q) -> float:
    """Mean over contexts of KL(p(·|x) ‖ q(·|x)) (p is the reference, e.g. π*)."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return float(terms.sum(-1).mean())


def average_ranks(a) -> np.ndarray:
    """Ranks 1..n with ties sharing their average rank (as scipy.stats.rankdata)."""
    a = np.asarray(a, dtype=float)
    order = np.argsort(a, kind="stable")
    sorted_a = a[order]
    new_group = np.r_[True, sorted_a[1:] != sorted_a[:-1]]
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], len(a)]
    ranks = np.empty(len(a))
    ranks[order] = ((starts + ends + 1) / 2.0)[group]
    return ranks


def spearman(a, b) -> float:
    """Spearman's rank correlation (Pearson correlation of average ranks)."""
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")
