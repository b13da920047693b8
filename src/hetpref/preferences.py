"""Preference models (docs/spec.md §1): Bradley–Terry, temperature BT, mixtures of types, and
sampling labels from them (one BT label per pair; every type in rounds until unanimous).

Conventions: ``delta`` is a reward difference ``r_u(y1) - r_u(y2)``; the label ``1`` means
"y1 preferred". Everything is vectorised over arbitrary leading dimensions.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# torch is imported where it is used, not here: the numpy paths (Pew, claims, figures) would
# otherwise pay its import (~2 s) in every short workflow job


def _is_tensor(x) -> bool:
    torch = sys.modules.get("torch")  # a tensor exists only once torch is imported
    return torch is not None and isinstance(x, torch.Tensor)


def bt_probability(delta, temperature: float = 1.0):
    """P(y1 ≻ y2) = σ(Δ / τ) (Bradley–Terry; τ = 1 is plain BT). Works on numpy or torch."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if _is_tensor(delta):
        return delta.div(temperature).sigmoid()
    from scipy.special import expit

    return expit(np.asarray(delta, dtype=float) / temperature)


def population_preference(deltas, weights=None, temperature: float = 1.0):
    """Population preference Σ_u p(u) Φ(Δ_u) for ``deltas`` of shape ``[U, ...]``.

    ``weights`` defaults to equal type weights. A mixture of BTs is in general not a BT.
    """
    deltas = np.asarray(deltas, dtype=float)
    weights = type_weights(deltas.shape[0], weights)
    probs = bt_probability(deltas, temperature)
    return np.tensordot(weights, probs, axes=(0, 0))


def type_weights(n_types: int, weights=None) -> np.ndarray:
    """Validated type prior p(u): equal weights when ``weights`` is None."""
    if weights is None:
        return np.full(n_types, 1.0 / n_types)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_types,):
        raise ValueError(f"type weights must have length {n_types}, got shape {w.shape}")
    if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise ValueError(f"type weights must be non-negative and sum to 1, got {w.tolist()}")
    return w


def sample_bt_labels(delta: torch.Tensor, generator: torch.Generator, temperature: float = 1.0):
    """One BT label per entry of ``delta`` (1 = first option preferred), as int64."""
    import torch

    u = torch.rand(delta.shape, generator=generator, dtype=delta.dtype)
    return (u < bt_probability(delta, temperature)).long()


def simulate_until_unanimous(deltas, n_repeats: int, rng: np.random.Generator):
    """Every type labels the pair (BT) in rounds until all agree; returns (share of 'all prefer y1'
    outcomes [M], mean rounds [M]) for per-type deltas ``[k, M]``. Vectorised over repeats and
    pairs; loops only over rounds, each round re-drawing the still-undecided samples."""
    deltas = np.asarray(deltas, dtype=float)
    k, n_pairs = deltas.shape
    probs = bt_probability(deltas).T                                  # [M, k]
    pending = np.repeat(np.arange(n_pairs), n_repeats)                 # pair index of undecided samples
    sample_id = np.arange(n_pairs * n_repeats)
    outcome = np.zeros(n_pairs * n_repeats, dtype=bool)
    rounds = np.zeros(n_pairs * n_repeats, dtype=np.int64)
    while pending.size:
        labels = rng.random((pending.size, k)) < probs[pending]
        rounds[sample_id] += 1
        done = labels.all(1) | (~labels).all(1)
        outcome[sample_id[done]] = labels[done, 0]
        pending, sample_id = pending[~done], sample_id[~done]
    return outcome.reshape(n_pairs, n_repeats).mean(1), rounds.reshape(n_pairs, n_repeats).mean(1)
