"""Aggregations of heterogeneous rewards (docs/spec.md §2–3).

Shapes: per-type rewards ``rewards[U, ..., N]`` (N responses, any leading context dims),
type prior ``p[U]``, alternative distribution ``mu[..., N]``.
"""
from __future__ import annotations

import numpy as np

from .preferences import bt_probability, type_weights


def average_reward(rewards, weights=None) -> np.ndarray:
    """r̄ = Σ_u p(u) r_u — the paper's alignment target (§3)."""
    rewards = np.asarray(rewards, dtype=float)
    return np.tensordot(type_weights(rewards.shape[0], weights), rewards, axes=(0, 0))


def pairwise_preference_matrix(rewards, weights=None, temperature: float = 1.0) -> np.ndarray:
    """Population pairwise matrix P[..., y, y'] = Σ_u p(u) Φ(r_u(y) − r_u(y')).

    The diagonal is Φ(0) = 1/2; P + Pᵀ = 1.
    """
    rewards = np.asarray(rewards, dtype=float)
    w = type_weights(rewards.shape[0], weights)
    deltas = rewards[..., :, None] - rewards[..., None, :]
    return np.tensordot(w, bt_probability(deltas, temperature), axes=(0, 0))


def normalized_borda_count(pairwise, mu=None) -> np.ndarray:
    """NBC_μ(y) = Σ_{y'} μ(y') P(y ≻ y') (Eq. 13), y' = y included (contributes μ(y)/2).

    ``pairwise`` is P[..., N, N]; ``mu`` defaults to uniform over the N responses.
    """
    pairwise = np.asarray(pairwise, dtype=float)
    n = pairwise.shape[-1]
    mu = np.full(pairwise.shape[:-1], 1.0 / n) if mu is None else np.asarray(mu, dtype=float)
    mu = np.broadcast_to(mu, pairwise.shape[:-1])
    return np.einsum("...ij,...j->...i", pairwise, mu)


def ranking(scores) -> np.ndarray:
    """Indices of responses from best to worst (stable: ties keep index order)."""
    scores = np.asarray(scores, dtype=float)
    return np.argsort(-scores, axis=-1, kind="stable")
