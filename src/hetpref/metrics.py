"""Distances between policies and rank agreement of 1-D profiles."""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr


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


def spearman(a, b) -> float:
    return float(spearmanr(np.asarray(a, float), np.asarray(b, float))[0])
