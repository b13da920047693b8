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


def write_community_alignment(design: PlantedDesign, path, annotators_per_type: int | None = None) -> Path:
    """Community Alignment CSV: one row per annotator conversation (first turn only), the four
    candidates in a per-row random order as ``first_turn_response_a..d``, the chosen one's letter in
    ``first_turn_preferred_response``, the type in ``annotator_political``. Needs k = 4 and no ties.

    By default every conversation has its own annotator; ``annotators_per_type`` = M reuses M
    annotator ids per type, conversation a of prompt p going to annotator (p·n + a) mod M (so one
    annotator never sees a prompt twice while n <= M)."""
    ids = design.response_ids()
    if ids.shape[1] != 4 or design.tie:
        raise ValueError("Community Alignment is best-of-4 without ties: give 4 responses per prompt and tie=0")
    rng = np.random.default_rng(design.seed + 1)
    p_n, u_n, n = len(ids), len(design.types), design.annotators_per_type
    top = np.argmax(design.rewards()[:, :, None, :] + np.random.default_rng(design.seed).gumbel(size=(p_n, u_n, n, 4)),
                    axis=-1).ravel()
    prompt = np.repeat(np.arange(p_n), u_n * n)
    kind = np.tile(np.repeat(np.arange(u_n), n), p_n)
    perm = np.argsort(rng.random((len(top), 4)), axis=1)                     # letter -> local response
    text = np.char.add("response ", ids[prompt[:, None], perm])
    letter = np.argmax(perm == top[:, None], axis=1)
    frame = pd.DataFrame({
        "conversation_id": np.char.add("c", np.arange(len(top)).astype(str)),
        "annotator_id": np.char.add("ann", _annotator_ids(design, annotators_per_type).astype(str)),
        "annotator_political": np.asarray(design.type_names, dtype=object)[kind],
        "first_turn_prompt": _prompts(design)[prompt],
        **{f"first_turn_response_{x}": text[:, c] for c, x in enumerate("abcd")},
        "first_turn_preferred_response": np.char.add("response_", np.asarray(list("abcd"))[letter]),
    })
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _annotator_ids(design: PlantedDesign, per_type: int | None) -> np.ndarray:
    p_n, u_n, n = len(design.contexts), len(design.types), design.annotators_per_type
    if per_type is None:
        return np.arange(p_n * u_n * n)
    if per_type < n:
        raise ValueError(f"annotators_per_type={per_type} < {n} conversations per type and prompt")
    p, u, a = np.meshgrid(np.arange(p_n), np.arange(u_n), np.arange(n), indexing="ij")
    return (u * per_type + (p * n + a) % per_type).ravel()


def write_collective_alignment(design: PlantedDesign, folder) -> Path:
    """collective-alignment-1: ``comparisons.jsonl`` (one row per prompt, responses A.. and every
    assessment, the ranking ``<chosen>`` > the others tied, e.g. ``C>A=B=D``) and ``annotators.jsonl``
    (``demographics.political``: the type). Returns the comparisons file. Needs tie=0."""
    if design.tie:
        raise ValueError("collective-alignment rankings are written as chosen > the rest tied: give tie=0")
    j = sample(design)
    ids, pids = design.response_ids(), prompt_ids(design)
    k = ids.shape[1]
    letters = np.asarray(list("ABCD"[:k]))
    chosen = np.where(j["label"].to_numpy() == "a", j["i"].to_numpy(), j["j"].to_numpy())
    one = j.assign(chosen=chosen).drop_duplicates("annotator")
    rank = [f"{letters[c]}>" + "=".join(letters[letters != letters[c]]) for c in one["chosen"]]
    one = one.assign(ranking=rank, aid=np.char.add("rater", one["annotator"].astype(str).to_numpy()))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_prompt = one.groupby("prompt")
    with (folder / "comparisons.jsonl").open("w", encoding="utf-8") as fh:
        for p, grp in by_prompt:
            fh.write(json.dumps({
                "prompt_id": pids[p],
                "prompt": {"id": pids[p], "messages": [{"role": "user", "content": _prompts(design)[p]}]},
                "responses": [{"response_index": str(letters[c]),
                               "messages": [{"role": "assistant", "content": f"response {ids[p, c]}"}]}
                              for c in range(k)],
                "metadata": {"assessments": [{"annotator_id": a, "ranking_blocks": {"world": [{"ranking": r}]}}
                                             for a, r in zip(grp["aid"], grp["ranking"])]}}) + "\n")
    with (folder / "annotators.jsonl").open("w", encoding="utf-8") as fh:
        for a, t in zip(one["aid"], one["type"]):
            fh.write(json.dumps({"annotator_id": a, "demographics": {"political": design.type_names[t]}}) + "\n")
    return folder / "comparisons.jsonl"


def write_generic(design: PlantedDesign, path) -> Path:
    """A CSV of one judgement per row in the generic adapter's shipped-fixture column names
    (:data:`READ_OPTIONS` ``["generic"]``): each row shows the pair in a random order, ``winner`` 1, 2 or 0."""
    j = sample(design)
    ids = design.response_ids()
    rng = np.random.default_rng(design.seed + 2)
    flip = rng.random(len(j)) < 0.5
    first = np.where(flip, j["j"], j["i"])
    second = np.where(flip, j["i"], j["j"])
    lab = j["label"].to_numpy()
    winner = np.where(lab == "tie", 0, np.where((lab == "a") ^ flip, 1, 2))
    p = j["prompt"].to_numpy()
    frame = pd.DataFrame({"question_id": np.asarray(prompt_ids(design), dtype=object)[p],
                          "question": _prompts(design)[p],
                          "answer_1": np.char.add("response ", ids[p, first]),
                          "answer_2": np.char.add("response ", ids[p, second]),
                          "rater": np.char.add("rater", j["annotator"].to_numpy().astype(str)),
                          "rater_group": np.asarray(design.type_names, dtype=object)[j["type"].to_numpy()],
                          "winner": winner, "confidence": 1})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def recovered(result: dict, table) -> dict:
    """The report's per-prompt r̄ and NBC tops, keyed by prompt text and named by response text
    (adapters give their own ids), and its unanimous share among pairs judged by every type."""
    f = table.frame
    sides = [f[["prompt_id", f"response_{x}_id", f"response_{x}"]].set_axis(["p", "r", "text"], axis=1) for x in "ab"]
    resp = pd.concat(sides).assign(p=lambda d: d["p"].astype(str)).drop_duplicates(["p", "r"])
    text = dict(zip(zip(resp["p"], resp["r"]), resp["text"]))
    first = f.drop_duplicates("prompt_id")
    prompt = dict(zip(first["prompt_id"].astype(str), first["prompt"]))
    rows = result["nbc_vs_average"]["prompts"]
    out = {key: {prompt[p]: text[(p, t)] for p, t in zip(rows["prompt_id"], rows[key])}
           for key in ("rbar_top", "nbc_top")}
    out["top_differs"] = {p: out["rbar_top"][p] != out["nbc_top"][p] for p in out["rbar_top"]}
    by_k = result["feasibility"]["unanimous_by_types"]
    out["unanimous_share"] = by_k[-1]["share"]
    out["pairs_with_every_type"] = by_k[-1]["pairs"]
    return out


def truth_by_text(design: PlantedDesign, truth: dict) -> dict:
    """:func:`planted_truth`'s per-prompt entries keyed by prompt text, responses named by text."""
    name = {pid: _prompt_text(p, design.contexts[p]) for p, pid in enumerate(prompt_ids(design))}
    out = dict(truth)
    for key in ("rbar_top", "nbc_top", "true_rbar_top", "true_nbc_top"):
        out[key] = {name[p]: f"response {v}" for p, v in truth[key].items()}
    out["top_differs"] = {name[p]: v for p, v in truth["top_differs"].items()}
    return out


def check(design: PlantedDesign, result: dict, table) -> list[str]:
    """Every planted quantity the report misses (empty when it recovers them all)."""
    truth = truth_by_text(design, planted_truth(design))
    got = recovered(result, table)
    bad = []
    n_pairs = len(design.contexts) * len(design.offsets[0]) * (len(design.offsets[0]) - 1) // 2
    if got["pairs_with_every_type"] != n_pairs:
        bad.append(f"pairs judged by every type: {got['pairs_with_every_type']}, planted {n_pairs}")
    if abs(got["unanimous_share"] - truth["unanimous_share"]) > truth["unanimous_tolerance"]:
        bad.append(f"unanimous share {got['unanimous_share']:.4f}, planted {truth['unanimous_share']:.4f} "
                   f"± {truth['unanimous_tolerance']:.4f}")
    for key in ("rbar_top", "nbc_top", "top_differs"):
        for p, v in truth[key].items():
            if got[key].get(p) != v:
                bad.append(f"{key} of {p!r}: {got[key].get(p)!r}, planted {v!r}")
    return bad


#: Designs whose planted r̄ and NBC tops the estimator recovers at their sample size in 40 of 40
#: simulated replicates (found by search; collective-alignment: 12 of 12 through the adapter at 400
#: annotators per type): MultiPref and Community Alignment have four prompts with r̄'s top != NBC's
#: top, then four where they agree. Rankings written as "chosen > the rest tied"
#: flatten the types' win shares, and no such design was found with robust disagreements there:
#: collective-alignment's planted prompts all agree (the check then asserts that none differs).
DESIGNS = {
    "multipref": PlantedDesign(
        contexts=(26, 39, 9, 38, 2, 16, 9, 21),
        offsets=((-8, -4, -3, 10), (-12, -4, -3, 10), (-12, -4, -3, 10), (-16, -8, -3, 10),
                 (-10, -3, -2, -1), (-10, -3, -2, -1), (1, 2, 3, 10), (-10, -4, -2, -1)),
        types=(0, 2), type_names=("normal", "expert"), annotators_per_type=1000, tie=0.15),
    "community_alignment": PlantedDesign(
        contexts=(39, 13, 6, 17, 24, 10, 22, 32),
        offsets=((-16, -15, -3, 10), (-10, 4, 15, 16), (-10, 4, 15, 16), (-10, 4, 15, 16),
                 (-16, 10, 15, 16), (-16, 10, 15, 16), (-16, 10, 15, 16), (-16, -15, -9, 16)),
        annotators_per_type=1000),
    "collective_alignment": PlantedDesign(
        contexts=(6, 1, 29, 14), offsets=((-16, -15, -14, 6), (-16, -15, -14, 5), (-16, -15, -14, 5), (-5, 14, 15, 16)),
        annotators_per_type=400, rest_tied=True),
}
DESIGNS["generic"] = DESIGNS["multipref"]
WRITERS = {"multipref": write_multipref, "community_alignment": write_community_alignment,
           "collective_alignment": write_collective_alignment, "generic": write_generic}
TYPE_ATTRIBUTE = {"multipref": "worker_type", "community_alignment": "annotator_political",
                  "collective_alignment": "political", "generic": "rater_group"}
FILE_NAME = {"multipref": "multipref.jsonl", "community_alignment": "community_alignment.csv",
             "collective_alignment": "collective_alignment", "generic": "judgements.csv"}
#: The options each adapter reads planted data with (the generic adapter needs its column mapping).
READ_OPTIONS = {"generic": {
    "columns": {"prompt_id": "question_id", "prompt": "question", "response_a": "answer_1", "response_b": "answer_2",
                "annotator_id": "rater", "label": "winner", "strength": "confidence"},
    "labels": {"1": "a", "2": "b", "0": "tie"}, "attributes": ["rater_group"]}}
