"""The 40×40 three-type circular environment of §7.2 (docs/spec.md §7)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..aggregation import average_reward, normalized_borda_count, pairwise_preference_matrix


@dataclass(frozen=True)
class SyntheticEnvironment:
    """N contexts × N responses; type u has reward c_u · max(0, 1 − a_u · d(y, (x + s_u) mod N)),
    d the circular distance. Uniform context, alternative and reference distributions."""

    n: int = field(default=40, metadata={"help": "number of contexts = number of responses"})
    shifts: tuple = field(default=(-10, 0, 10), metadata={"help": "s_u, peak offset per type"})
    slopes: tuple = field(default=(0.075, 0.1, 0.075), metadata={"help": "a_u, reward decay per step"})
    scales: tuple = field(default=(4.0, 1.5, 4.0), metadata={"help": "c_u, peak reward per type"})
    beta: float = field(default=1.0, metadata={"help": "KL strength β"})

    def __post_init__(self):
        if self.n < 2:
            raise ValueError(f"n must be ≥ 2, got {self.n}")
        if not (len(self.shifts) == len(self.slopes) == len(self.scales)) or not self.shifts:
            raise ValueError("shifts, slopes and scales must be non-empty and of equal length, got "
                             f"{len(self.shifts)}, {len(self.slopes)}, {len(self.scales)}")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if any(a < 0 for a in self.slopes):
            raise ValueError(f"slopes must be ≥ 0, got {self.slopes}")

    @property
    def n_types(self) -> int:
        return len(self.shifts)

    def rewards(self) -> np.ndarray:
        """Per-type rewards r[u, x, y]."""
        x = np.arange(self.n)[:, None]
        y = np.arange(self.n)[None, :]
        out = []
        for s, a, c in zip(self.shifts, self.slopes, self.scales):
            diff = np.abs(y - (x + s) % self.n)
            dist = np.minimum(diff, self.n - diff)
            out.append(c * np.maximum(0.0, 1.0 - a * dist))
        return np.stack(out)

    def average_reward(self) -> np.ndarray:
        return average_reward(self.rewards())

    def optimal_policy(self) -> np.ndarray:
        """π* of the average reward with uniform π_ref."""
        from ..oracles import optimal_policy  # here: oracles needs torch, the figures importing this module do not

        return optimal_policy(self.average_reward(), self.beta)

    def pairwise(self) -> np.ndarray:
        return pairwise_preference_matrix(self.rewards())

    def nbc(self) -> np.ndarray:
        """Exact NBC under uniform μ, [x, y]."""
        return normalized_borda_count(self.pairwise())

    def signed_offsets(self) -> np.ndarray:
        return signed_offsets(self.n)


def signed_offsets(n: int) -> np.ndarray:
    """The 1-D axis d = −⌈N/2⌉+1 … ⌊N/2⌋ of profiles: d = (y − x) mod N, written signed."""
    return np.arange(-((n - 1) // 2), n // 2 + 1)


def profile(table, env_n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """1-D profile of a table t[x, y]: mean over x of t[x, (x + d) mod N] and its standard error
    across x, on the signed axis d = −⌈N/2⌉+1 … ⌊N/2⌋. ``table`` may carry extra leading
    dims (e.g. seeds), which are pooled with x."""
    table = np.asarray(table, dtype=float)
    n = table.shape[-1]
    d = signed_offsets(n)
    x = np.arange(n)[:, None]
    rows = table[..., x, (x + d[None, :]) % n].reshape(-1, len(d))
    se = rows.std(0, ddof=1) / np.sqrt(rows.shape[0]) if rows.shape[0] > 1 else np.zeros(len(d))
    return rows.mean(0), se
