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
  the sign of the sum over its n annotators, whose exact law is an n-fold convolution; P(unanimous)
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

import json
from dataclasses import dataclass, field
from pathlib import Path

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
    seed: int = 0
    env: SyntheticEnvironment = field(default_factory=SyntheticEnvironment)

    def __post_init__(self):
        if len(self.contexts) != len(self.offsets) or any(len(set(o)) < 3 for o in self.offsets):
            raise ValueError("every prompt needs >= 3 distinct response offsets, one offsets tuple per context")
        if len(self.types) != len(self.type_names) or len(set(self.types)) < 2:
            raise ValueError("types and type_names need equal length and at least two distinct types")
        if not 0 <= self.tie < 1:
            raise ValueError(f"tie must be in [0, 1), got {self.tie}")

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


def sample(design: PlantedDesign) -> pd.DataFrame:
    """One row per judgement: prompt (index), annotator, type (index), i, j (local response
    indices, i < j) and label in {a, b, tie} (a: response i preferred). Vectorised over everything."""
    rng = np.random.default_rng(design.seed)
    r = design.rewards()                                                      # [P, U, k]
    p_n, u_n, k = r.shape
    n = design.annotators_per_type
    top = np.argmax(r[:, :, None, :] + rng.gumbel(size=(p_n, u_n, n, k)), axis=-1)   # Luce choice [P, U, n]
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
    return n * ((k - 1) * s * (1 - t / 2) + (1 - s) * t / 2)


def _sum_law(p_pos, p_zero, p_neg, n: int) -> np.ndarray:
    """Exact law of the sum of n iid signs, [..., 2n+1] over values −n..n."""
    step = np.stack([p_neg, p_zero, p_pos], -1)
    law = np.ones(p_pos.shape + (1,))
    for _ in range(n):                                    # n convolutions (annotators), not judgements
        out = np.zeros(law.shape[:-1] + (law.shape[-1] + 2,))
        for v in range(3):
            out[..., v: v + law.shape[-1]] += law * step[..., v: v + 1]
        law = out
    return law


def unanimity_probability(design: PlantedDesign) -> np.ndarray:
    """P(pair unanimous) [P, C], pairs (i < j) in ``np.triu_indices`` order (module docstring)."""
    s = choice_probabilities(design)
    n, t = design.annotators_per_type, design.tie
    i, j = np.triu_indices(s.shape[-1], 1)
    si, sj = s[..., i], s[..., j]                                             # [P, U, C]
    law = _sum_law((1 - t) * si, 1 - (1 - t) * (si + sj), (1 - t) * sj, n)
    pos, neg = law[..., n + 1:].sum(-1), law[..., :n].sum(-1)
    return pos.prod(1) + neg.prod(1)


def all_present_bound(design: PlantedDesign) -> float:
    """Union bound on P(some type never judged some pair): Σ (1 − s_i − s_j)^n."""
    s = choice_probabilities(design)
    i, j = np.triu_indices(s.shape[-1], 1)
    return float(((1 - s[..., i] - s[..., j]) ** design.annotators_per_type).sum())


def unanimity_tolerance(design: PlantedDesign, z: float = 4.0) -> float:
    """z standard deviations of the sampled unanimous share (bound of the module docstring)."""
    q = unanimity_probability(design)
    sd = np.sqrt(q * (1 - q))
    return float(z * np.sqrt((sd.sum(1) ** 2).sum()) / q.size)


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


# ---------------------------------------------------------------- writers, one per real schema
def write_multipref(design: PlantedDesign, path) -> Path:
    """MultiPref JSONL: one row per (prompt, pair), ``normal_worker_annotations`` for the first type and
    ``expert_worker_annotations`` for the second (exactly two types), ``overall_pref`` per annotation."""
    if len(design.types) != 2:
        raise ValueError("MultiPref has two worker pools: give exactly two types")
    j = sample(design)
    ids, pids = design.response_ids(), prompt_ids(design)
    pref = np.where(j["label"] == "a", "A-is-clearly-better", np.where(j["label"] == "b", "B-is-clearly-better", "Tie"))
    ann = pd.DataFrame({"row": j["prompt"].astype(str) + "-" + j["i"].astype(str) + "-" + j["j"].astype(str),
                        "pool": np.where(j["type"] == 0, "normal_worker_annotations", "expert_worker_annotations"),
                        "rec": [{"evaluator": f"ann{a:05d}", "overall_pref": o} for a, o in zip(j["annotator"], pref)]})
    lists = ann.groupby(["row", "pool"], sort=False)["rec"].agg(list).unstack("pool")
    first = j.drop_duplicates(["prompt", "i", "j"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for p, i, jj in zip(first["prompt"], first["i"], first["j"]):
            key = f"{p}-{i}-{jj}"
            fh.write(json.dumps({
                "prompt_id": pids[p], "prompt": _prompt_text(p, design.contexts[p]),
                "model_a": ids[p, i], "completion_a": f"response {ids[p, i]}",
                "model_b": ids[p, jj], "completion_b": f"response {ids[p, jj]}",
                "normal_worker_annotations": lists.loc[key, "normal_worker_annotations"],
                "expert_worker_annotations": lists.loc[key, "expert_worker_annotations"]}) + "\n")
    return path


WRITERS = {"multipref": write_multipref}
TYPE_ATTRIBUTE = {"multipref": "worker_type"}
