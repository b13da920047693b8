"""Annotators of known types, sampled from the synthetic environment's rewards (docs/spec.md §7),
written in the adapters' real schemas, with the planted quantities the diagnostics must recover.

Design (:class:`PlantedDesign`): a few prompts (contexts x of the 40×40 environment), each with
k >= 3 responses (responses y); for every prompt, ``annotators_per_type`` fresh annotators of each
chosen type. Each annotator makes a best-of-k choice: a Luce choice among the prompt's responses
with probabilities s_u(y) ∝ exp r_u(x, y) (Gumbel-max), written as the chosen response against each
of the k − 1 others (Community Alignment's best-of-k, written as pairs in the other schemas). A
judgement is a tie with probability ``tie`` (for schemas that have ties). So a type's labels are
Bradley–Terry in its rewards: P(y chosen | y or y' chosen) = σ(r_u(y) − r_u(y')).

Planted quantities (:func:`planted_truth`), computed exactly from the rewards, without sampling:

- the unanimous share: on pair (i, j) one annotator of type u gives +1 (i preferred) w.p.
  (1−t)s_i, −1 w.p. (1−t)s_j, and 0 otherwise (a tie, or the pair not shown); the type's label is
  the sign of the sum over its n annotators, whose exact law is binomial given the number of
  nonzero signs (:func:`_sign_law`); P(unanimous)
  = Π_u P(sum_u > 0) + Π_u P(sum_u < 0). ``all_present_bound`` bounds the probability that some type
  never judged some pair (then the report's denominators differ from all pairs). The sampling
  tolerance (:func:`unanimity_tolerance`) bounds the share's variance: prompts are independent;
  within a prompt (same annotators) Var(Σ X_i) <= (Σ sd_i)² (Cauchy–Schwarz);
- r̄'s and NBC's top responses per prompt, and whether they differ: the report's estimator
  (:mod:`hetpref.annotators.diagnostics.rankings`) on the *expected* win counts, i.e. its
  population limit under this design. Without ties these are the types' Luce choice
  probabilities, so r̄ and NBC are the environment's own (``true_*`` give those for reference).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hetpref.aggregation import average_reward, normalized_borda_count, pairwise_preference_matrix
from hetpref.pew.analysis import analyse_counts
from hetpref.synthetic.environment import SyntheticEnvironment


@dataclass(frozen=True)
class PlantedDesign:
    contexts: tuple = (3, 11, 17, 24, 30, 36)
    offsets: tuple = ((-12, -4, 3, 9), (-9, -1, 6, 14), (-14, -6, 2, 10), (-11, -2, 5, 13),
                      (-8, 0, 7, 15), (-13, -5, 1, 11))
    types: tuple = (0, 1, 2)                 # environment type indices used
    type_names: tuple = ("left", "centre", "right")
    annotators_per_type: int = 40
    tie: float = 0.0
    rest_tied: bool = False                  # rankings: the k − 1 responses not chosen are tied
    seed: int = 0
    env: SyntheticEnvironment = field(default_factory=SyntheticEnvironment)

    def __post_init__(self):
        if len(self.contexts) != len(self.offsets) or any(len(set(o)) < 3 for o in self.offsets):
            raise ValueError("every prompt needs >= 3 distinct response offsets, one offsets tuple per context")
        if len(self.types) != len(self.type_names) or len(set(self.types)) < 2:
            raise ValueError("types and type_names need equal length and at least two distinct types")
        if not 0 <= self.tie < 1 or (self.rest_tied and self.tie):
            raise ValueError(f"tie must be in [0, 1) and 0 with rest_tied, got {self.tie}")

    def rewards(self) -> np.ndarray:
        """r[P, U, k]: each chosen type's reward of each prompt's responses (equal k per prompt)."""
        r = self.env.rewards()[list(self.types)]                              # [U, X, Y]
        x = np.asarray(self.contexts)
        y = (x[:, None] + np.asarray(self.offsets)) % self.env.n               # [P, k]
        return np.transpose(r[:, x[:, None], y], (1, 0, 2))

    def response_ids(self) -> np.ndarray:
        x = np.asarray(self.contexts)
        y = (x[:, None] + np.asarray(self.offsets)) % self.env.n
        return np.char.add("y", np.char.zfill(y.astype(str), 2))


def luce_choices(design: PlantedDesign, rng: np.random.Generator | None = None) -> np.ndarray:
    """Each conversation's chosen response, top[P, U, n]: a Luce (Gumbel-max) choice of each type's
    ``annotators_per_type`` conversations per prompt; ``rng`` defaults to a fresh one of the design's
    seed (what :func:`sample` draws first, so a writer that needs only the choices sees the same)."""
    rng = np.random.default_rng(design.seed) if rng is None else rng
    r = design.rewards()                                                      # [P, U, k]
    p_n, u_n, k = r.shape
    return np.argmax(r[:, :, None, :] + rng.gumbel(size=(p_n, u_n, design.annotators_per_type, k)), axis=-1)


def sample(design: PlantedDesign) -> pd.DataFrame:
    """One row per judgement: prompt (index), annotator, type (index), i, j (local response
    indices, i < j) and label in {a, b, tie} (a: response i preferred). Vectorised over everything."""
    rng = np.random.default_rng(design.seed)
    p_n, u_n, k = design.rewards().shape
    n = design.annotators_per_type
    top = luce_choices(design, rng)                                           # [P, U, n]
    others = np.argsort(np.arange(k) == top[..., None], axis=-1, kind="stable")[..., : k - 1]
    chosen = np.broadcast_to(top[..., None], others.shape)
    ii, jj = np.minimum(chosen, others), np.maximum(chosen, others)
    lab = np.where(chosen == ii, "a", "b").astype(object)
    lab[rng.random(lab.shape) < design.tie] = "tie"
    pp, uu, aa = np.meshgrid(np.arange(p_n), np.arange(u_n), np.arange(n), indexing="ij")
    b = lambda x: np.broadcast_to(x[..., None], others.shape).ravel()         # noqa: E731
    return pd.DataFrame({"prompt": b(pp), "type": b(uu), "annotator": b(pp * u_n * n + uu * n + aa),
                         "i": ii.ravel(), "j": jj.ravel(), "label": lab.ravel()})


def choice_probabilities(design: PlantedDesign) -> np.ndarray:
    """Luce choice probabilities s[P, U, k] of each type among each prompt's responses."""
    r = design.rewards()
    e = np.exp(r - r.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def expected_counts(design: PlantedDesign) -> np.ndarray:
    """Expected wins [P, U, k] of each response by each type (a tie gives half to each), exactly:
    n [(k−1) s_y (1 − t/2) + (1 − s_y) t/2]."""
    s = choice_probabilities(design)
    n, k, t = design.annotators_per_type, s.shape[-1], design.tie
    rest = (1 - s) * (k - 2) / 2 if design.rest_tied else 0.0
    return n * ((k - 1) * s * (1 - t / 2) + (1 - s) * t / 2 + rest)


def _sign_law(p_pos, p_neg, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(P(sum > 0), P(sum < 0)) for the sum of n iid signs (+1 w.p. p_pos, −1 w.p. p_neg, else 0),
    exactly: given m = #nonzero ~ Bin(n, p_pos + p_neg), #positive ~ Bin(m, p_pos / (p_pos + p_neg))."""
    from scipy.stats import binom

    m = np.arange(n + 1)
    nz = p_pos + p_neg
    w = binom.pmf(m, n, nz[..., None])                                        # P(m nonzero)
    r = np.where(nz > 0, p_pos / np.where(nz > 0, nz, 1.0), 0.5)[..., None]
    pos = (w * binom.sf(m // 2, m, r)).sum(-1)                                 # #positive > m/2
    neg = (w * binom.cdf((m - 1) // 2, m, r)).sum(-1)                          # #positive < m/2
    return pos, neg


def unanimity_probability(design: PlantedDesign) -> np.ndarray:
    """P(pair unanimous) [P, C], pairs (i < j) in ``np.triu_indices`` order (module docstring)."""
    s = choice_probabilities(design)
    n, t = design.annotators_per_type, design.tie
    i, j = np.triu_indices(s.shape[-1], 1)
    si, sj = s[..., i], s[..., j]                                             # [P, U, C]
    pos, neg = _sign_law((1 - t) * si, (1 - t) * sj, n)
    return pos.prod(1) + neg.prod(1)


def all_present_bound(design: PlantedDesign) -> float:
    """Union bound on P(some type never judged some pair): Σ (1 − s_i − s_j)^n."""
    s = choice_probabilities(design)
    i, j = np.triu_indices(s.shape[-1], 1)
    return float(((1 - s[..., i] - s[..., j]) ** design.annotators_per_type).sum())


def unanimity_tolerance(design: PlantedDesign, z: float = 4.0) -> float:
    """z standard deviations of the sampled unanimous share (bound of the module docstring)."""
    q = unanimity_probability(design)
    sd = np.sqrt(np.clip(q * (1 - q), 0.0, None))
    return float(z * np.sqrt((sd.sum(1) ** 2).sum()) / q.size)


def unanimity_counts_exact(design: PlantedDesign) -> dict:
    """Exact means and variances, summed over prompts (independent), of D = the number of pairs
    judged by every type and A = the number of those that are unanimous, for one annotator per type
    and prompt (``annotators_per_type=1``): each annotator's outcome (its choice and which of its
    k − 1 judgements are ties) is enumerated, and so is every combination across the types."""
    if design.annotators_per_type != 1:
        raise ValueError("the exact unanimity counts enumerate one annotator per type and prompt")
    s = choice_probabilities(design)                                          # [P, U, k]
    k, t, u_n = s.shape[-1], design.tie, s.shape[1]
    masks = np.array(list(np.ndindex(*(2,) * (k - 1)))) if t else np.zeros((1, k - 1), dtype=int)
    c = np.repeat(np.arange(k), len(masks))                                   # outcome -> chosen
    m = np.tile(masks, (k, 1))                                                # outcome -> tie flags
    prob = s[..., c] * np.prod(np.where(m == 1, t, 1 - t), axis=1)            # [P, U, O]
    i, j = np.triu_indices(k, 1)
    # slot of "other" o in the chosen response's k − 1 judgements: o's rank among the non-chosen
    slot = lambda ch, o: o - (o > ch)                                          # noqa: E731
    tie_i = m[np.arange(len(c))[:, None], slot(c[:, None], j[None, :]).clip(0, k - 2)] == 1   # c == i judges (i, j)
    tie_j = m[np.arange(len(c))[:, None], slot(c[:, None], i[None, :]).clip(0, k - 2)] == 1   # c == j judges (i, j)
    sign = np.where(c[:, None] == i, np.where(tie_i, 0, 1), np.where(c[:, None] == j, np.where(tie_j, 0, -1), 0))
    present = (c[:, None] == i) | (c[:, None] == j) | design.rest_tied         # [O, C]; rest tied: all judged
    combos = np.array(list(np.ndindex(*(len(c),) * u_n)))                     # [O^U, U]
    joint = np.prod(prob[:, np.arange(u_n), combos], axis=-1)                 # [P, O^U]
    all_present = present[combos].all(1)                                      # [O^U, C]
    sg = sign[combos]
    unanimous = all_present & ((sg == 1).all(1) | (sg == -1).all(1))
    out = {}
    for key, x in (("judged_by_every_type", all_present.sum(1)), ("unanimous", unanimous.sum(1))):
        mean = joint @ x
        out[key] = (float(mean.sum()), float((joint @ x ** 2 - mean ** 2).sum()))
    return out


def planted_truth(design: PlantedDesign, pseudocount: float = 0.5) -> dict:
    """The planted quantities (module docstring), keyed by prompt id where per prompt."""
    ids = design.response_ids()
    res = analyse_counts(expected_counts(design), np.full(len(ids), ids.shape[1]), pseudocount=pseudocount)
    r = design.rewards()
    rb = average_reward(np.moveaxis(r, 1, 0))
    nbc = normalized_borda_count(pairwise_preference_matrix(np.moveaxis(r, 1, 0)))
    pids = prompt_ids(design)
    rows = np.arange(len(ids))
    out = {"rbar_top": dict(zip(pids, ids[rows, res["rbar_top"]])),
           "nbc_top": dict(zip(pids, ids[rows, res["nbc_top"]])),
           "true_rbar_top": dict(zip(pids, ids[rows, rb.argmax(-1)])),
           "true_nbc_top": dict(zip(pids, ids[rows, nbc.argmax(-1)]))}
    out["top_differs"] = {p: out["rbar_top"][p] != out["nbc_top"][p] for p in pids}
    out["unanimous_share"] = float(unanimity_probability(design).mean())
    out["unanimous_tolerance"] = unanimity_tolerance(design)
    out["all_present_bound"] = all_present_bound(design)
    return out


def prompt_ids(design: PlantedDesign) -> list[str]:
    return [f"planted-{p:02d}" for p in range(len(design.contexts))]


def _prompt_text(p: int, x: int) -> str:
    return f"Planted prompt {p} (context {x}): which answer do you prefer?"


def _prompts(design: PlantedDesign) -> np.ndarray:
    return np.asarray([_prompt_text(p, x) for p, x in enumerate(design.contexts)], dtype=object)
