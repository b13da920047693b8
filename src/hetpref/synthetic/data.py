"""Vectorised preference data for the synthetic environment, in three information settings
(docs/spec.md §4–5, §7): anonymous labels, same-annotator paired preferences, one label per type.

All three share the same pairs (x, y1, y2) for a given seed, so methods are compared on the
same prompts and alternatives; labels come from independent random streams. Pairs are drawn
i.i.d. from uniform context and alternative distributions (y1 = y2 may occur, as under μ⊗μ).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..preferences import sample_bt_labels

_STREAMS = {"pairs": 0, "anonymous": 1, "per_type": 2, "pairing": 3, "train": 4, "init": 5, "holdout": 6}


def generator(seed: int, stream: str) -> torch.Generator:
    """An independent, reproducible random stream per (seed, purpose)."""
    if stream not in _STREAMS:
        raise ValueError(f"unknown stream {stream!r}; allowed: {', '.join(_STREAMS)}")
    g = torch.Generator()
    g.manual_seed(int(seed) * 1_000_003 + _STREAMS[stream])
    return g


@dataclass
class Pairs:
    x: torch.Tensor   # [n] context index
    y1: torch.Tensor  # [n] first response
    y2: torch.Tensor  # [n] second response

    def __len__(self) -> int:
        return self.x.shape[0]


def flat_index(x: torch.Tensor, y: torch.Tensor, n_responses: int) -> torch.Tensor:
    """Index of (x, y) in a flattened [X, N] table: x·N + y."""
    return x * n_responses + y


def sample_pairs(n: int, n_contexts: int, n_responses: int, seed: int) -> Pairs:
    if n < 1:
        raise ValueError(f"number of preferences must be ≥ 1, got {n}")
    g = generator(seed, "pairs")
    x = torch.randint(n_contexts, (n,), generator=g)
    y1 = torch.randint(n_responses, (n,), generator=g)
    y2 = torch.randint(n_responses, (n,), generator=g)
    return Pairs(x, y1, y2)


def type_deltas(rewards: torch.Tensor, pairs: Pairs) -> torch.Tensor:
    """Δ_u = r_u(x, y1) − r_u(x, y2) for every type: [U, n]."""
    return rewards[:, pairs.x, pairs.y1] - rewards[:, pairs.x, pairs.y2]


def anonymous_labels(rewards: torch.Tensor, pairs: Pairs, seed: int,
                     type_weights: torch.Tensor | None = None):
    """Each pair labelled once by one random type (hidden from the learner).
    Returns ``(labels[n], types[n])``; label 1 = y1 preferred."""
    g = generator(seed, "anonymous")
    n_types = rewards.shape[0]
    if type_weights is None:
        types = torch.randint(n_types, (len(pairs),), generator=g)
    else:
        types = torch.multinomial(type_weights, len(pairs), replacement=True, generator=g)
    delta = rewards[types, pairs.x, pairs.y1] - rewards[types, pairs.x, pairs.y2]
    return sample_bt_labels(delta, g), types


def per_type_labels(rewards: torch.Tensor, pairs: Pairs, seed: int) -> torch.Tensor:
    """Maximum annotator information: every pair labelled once by each type, [n, U]."""
    return sample_bt_labels(type_deltas(rewards, pairs), generator(seed, "per_type")).T


def same_annotator_pairing(types: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Group anonymous preferences into pairs labelled by the same (unknown-type) person:
    within each hidden type, a random order is cut into consecutive pairs. Returns index
    tensors (first, second); the learner never sees the type itself (Eq. 19's setting)."""
    g = generator(seed, "pairing")
    key = torch.rand(types.shape, generator=g, dtype=torch.float64)
    order = torch.argsort(types.double() * 2.0 + key)  # sort by type, random within type
    sorted_types = types[order]
    first, second = order[:-1:2], order[1::2]
    same = sorted_types[:-1:2] == sorted_types[1::2]  # drop the few pairs straddling two types
    return first[same], second[same]


def counted_nbc(pairs: Pairs, labels: torch.Tensor, n_contexts: int, n_responses: int) -> torch.Tensor:
    """Count-based NBC estimate from anonymous labels: wins / appearances of each (x, y).
    Under uniform μ its expectation ratio is Σ_{y'} μ(y') P(y ≻ y') = NBC(y|x)."""
    n_cells = n_contexts * n_responses
    winner = torch.where(labels.bool(), pairs.y1, pairs.y2)
    wins = torch.bincount(pairs.x * n_responses + winner, minlength=n_cells).double()
    apps = (torch.bincount(pairs.x * n_responses + pairs.y1, minlength=n_cells)
            + torch.bincount(pairs.x * n_responses + pairs.y2, minlength=n_cells)).double()
    nbc = torch.where(apps > 0, wins / apps.clamp(min=1), torch.full_like(wins, 0.5))
    return nbc.reshape(n_contexts, n_responses)


def empirical_pair_weights(x: torch.Tensor, y_w: torch.Tensor, y_l: torch.Tensor, n_contexts: int,
                           n_responses: int) -> torch.Tensor:
    """The data's own weight W[x, a, b] of "pair (a, b) shown, a labelled winner": counts of the
    oriented preferences (x, y_w, y_l), scaled so each context's weights sum to about 1. Minimising
    Σ W ℓ(r[x,a] − r[x,b]) over tabular rewards gives the exact minimiser of a loss on this
    dataset (what a tabular policy trained to convergence reaches) — see
    :func:`hetpref.oracles.population_limit_reward`."""
    cells = (x * n_responses + y_w) * n_responses + y_l
    counts = torch.bincount(cells, minlength=n_contexts * n_responses * n_responses).double()
    return counts.reshape(n_contexts, n_responses, n_responses) * (n_contexts / len(x))
