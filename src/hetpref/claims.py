"""The paper's theoretical claims, each checked on a concrete instance with exact numbers.

One function per claim (``claim_01_…`` … ``claim_14_…``). Each returns a dict

    {"id": int, "title": str, "statement": str,
     "instance": {every number that defines the instance},
     "evidence": {the computed numbers}, "passed": bool}

so that a reader can redo every number by hand from the report alone (:func:`claims_markdown`).
Hand-built instances (claims 1, 2, 4–10) do not depend on the seed; the random instances and the
Monte-Carlo simulations (claims 3, 11–14) are deterministic for a given seed.

The formulas come from the library (preferences, aggregation, losses, oracles); this module only
builds instances and compares numbers. Responses are called y1, y2, … (index 0, 1, … in arrays).
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.optimize import brentq, root

from .aggregation import average_reward, normalized_borda_count, pairwise_preference_matrix, ranking
from .losses import preference_loss
from .oracles import dpo_limit_reward, pair_population_minimiser, pairwise_loss_weights, type_delta_variance
from .preferences import bt_probability

__all__ = ["run_all_claims", "claims_markdown", "claims_figure", "CLAIMS"]


# ---------------------------------------------------------------- helpers
def _single_torch_thread(func):
    """Run ``func`` with one torch thread (restored afterwards): the claims' tensors are tiny, and
    on a busy 2-core machine torch's OpenMP spin-waits made them ~10× slower with 2 threads."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return func(*args, **kwargs)
        finally:
            torch.set_num_threads(previous)
    return wrapper


def _rng(seed: int, claim_id: int) -> np.random.Generator:
    """An independent, reproducible stream per (seed, claim)."""
    return np.random.default_rng([int(seed), int(claim_id)])


def _plain(value):
    """JSON-serialisable copy: numpy arrays/scalars to Python lists/numbers, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _claim(claim_id, title, statement, instance, evidence, passed) -> dict:
    return {"id": claim_id, "title": title, "statement": statement, "instance": _plain(instance),
            "evidence": _plain(evidence), "passed": bool(passed)}


def _names(order, labels=None) -> list[str]:
    """Response indices to names (y1, y2, … unless ``labels`` are given)."""
    return [labels[i] if labels else f"y{i + 1}" for i in np.asarray(order).tolist()]


def _convex_scalar_minimiser(objective, n: int, lo: float = -60.0, hi: float = 60.0,
                             iters: int = 100) -> np.ndarray:
    """Minimise n independent convex scalar objectives by bisection on the sign of their
    derivative (torch autograd), all at once. ``objective(h[n]) -> [n]``. Bisection rather than
    Newton because it cannot diverge, whatever the curvature of the loss."""
    lo_t = torch.full((n,), lo, dtype=torch.float64)
    hi_t = torch.full((n,), hi, dtype=torch.float64)
    for _ in range(iters):
        mid = ((lo_t + hi_t) / 2).requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(mid).sum(), mid)
        with torch.no_grad():
            rising = grad > 0
            hi_t = torch.where(rising, mid, hi_t)
            lo_t = torch.where(rising, lo_t, mid)
    h = ((lo_t + hi_t) / 2).numpy()
    if np.any(np.abs(h) > 0.99 * max(abs(lo), abs(hi))):
        raise RuntimeError("convex minimiser hit the search bracket; widen lo/hi")
    return h


def _unanimity_weights(deltas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(P(all k types prefer y1), P(all prefer y2)) = (Π σ(Δ_u), Π σ(−Δ_u)) for deltas[k, M]."""
    logsig = torch.nn.functional.logsigmoid
    return torch.exp(logsig(deltas).sum(0)), torch.exp(logsig(-deltas).sum(0))


# ---------------------------------------------------------------- claim 1
def claim_01_mixture_not_bt() -> dict:
    """App. C: under any single BT the two cyclic products are equal; a 2-type mixture breaks it."""
    rewards = np.array([[4.0, 2.0, 0.0],    # type 1: y1 ≻ y2 ≻ y3
                        [0.0, 4.0, 2.0]])   # type 2: y2 ≻ y3 ≻ y1
    weights = np.array([0.5, 0.5])
    P = pairwise_preference_matrix(rewards, weights)

    def cycles(M):  # P(y1≻y2)P(y2≻y3)P(y3≻y1) and the reverse direction
        return M[0, 1] * M[1, 2] * M[2, 0], M[1, 0] * M[2, 1] * M[0, 2]

    forward, reverse = cycles(P)
    per_type = [cycles(pairwise_preference_matrix(rewards[[u]])) for u in range(2)]
    # the best single BT (maximum likelihood under uniform pairs) still has equal cyclic products
    fitted_reward = dpo_limit_reward(P)
    P_fit = pairwise_preference_matrix(fitted_reward[None])
    fit_forward, fit_reverse = cycles(P_fit)
    per_type_gap = max(abs(f - r) for f, r in per_type)
    passed = (abs(forward - reverse) > 1e-3 and per_type_gap < 1e-12
              and abs(fit_forward - fit_reverse) < 1e-12 and np.abs(P - P_fit).max() > 1e-3)
    return _claim(
        1, "A mixture of BT models is not a BT model (App. C)",
        "Any single BT has P(y1≻y2)P(y2≻y3)P(y3≻y1) = P(y2≻y1)P(y3≻y2)P(y1≻y3) (the ratio is "
        "exp(Δ12+Δ23+Δ31) = 1); an equal mixture of two BTs has different cyclic products, so no "
        "single reward represents it.",
        {"rewards r_u(y1..y3) per type": rewards, "type weights p(u)": weights},
        {"population pairwise matrix P[y, y']": P,
         "forward cycle P(y1≻y2)P(y2≻y3)P(y3≻y1)": forward,
         "reverse cycle P(y2≻y1)P(y3≻y2)P(y1≻y3)": reverse,
         "forward / reverse": forward / reverse,
         "per type (forward, reverse), each a single BT": per_type,
         "best single-BT fit reward (centred)": fitted_reward,
         "best-fit BT: forward / reverse": fit_forward / fit_reverse,
         "max |P − P_best_BT_fit|": np.abs(P - P_fit).max()},
        passed)


# ---------------------------------------------------------------- claim 2
def claim_02_only_affine_is_order_consistent() -> dict:
    """§3: per-type shifts r_u + c_u change no BT probability, but change non-affine rankings."""
    rewards = np.array([[2.0, 0.0],   # type 1 prefers y1 by 2
                        [0.0, 1.0]])  # type 2 prefers y2 by 1
    shifts = {"c = (1, 10)": np.array([1.0, 10.0]), "c = (10, 1)": np.array([10.0, 1.0])}
    evidence = {}
    rankings = {"max-min": [], "Nash welfare": [], "average reward r̄": []}
    max_prob_change = 0.0
    for name, c in shifts.items():
        shifted = rewards + c[:, None]
        # BT probabilities of every type are unchanged: they depend on differences only
        for u in range(2):
            change = np.abs(pairwise_preference_matrix(shifted[[u]]) - pairwise_preference_matrix(rewards[[u]])).max()
            max_prob_change = max(max_prob_change, float(change))
        scores = {"max-min": shifted.min(0),            # egalitarian: worst-off type's reward
                  "Nash welfare": shifted.prod(0),      # product of (positive) rewards
                  "average reward r̄": average_reward(shifted)}
        for agg, s in scores.items():
            evidence[f"{agg} scores (y1, y2) with {name}"] = s
            rankings[agg].append(_names(ranking(s)))
    for agg, r in rankings.items():
        evidence[f"{agg} ranking under the two shifts"] = r
    evidence["max |Δ BT probability| over types, pairs and shifts"] = max_prob_change
    changed = {agg: r[0] != r[1] for agg, r in rankings.items()}
    passed = (max_prob_change == 0.0 and changed["max-min"] and changed["Nash welfare"]
              and not changed["average reward r̄"])
    return _claim(
        2, "Only affine aggregation is order-consistent (§3)",
        "Shifting each type's reward by a constant c_u leaves all BT probabilities unchanged, yet it "
        "flips the ranking by max-min and by Nash welfare (product of rewards); r̄'s ranking is unchanged.",
        {"rewards r_u(y1, y2) per type": rewards, "type weights p(u)": [0.5, 0.5],
         "per-type shift vectors c": shifts},
        evidence, passed)


# ---------------------------------------------------------------- claim 3
def claim_03_dpo_limit_follows_nbc(seed: int = 0, instances_per_shape: int = 20,
                                   shapes=((2, 3), (3, 4), (3, 5), (4, 6), (5, 8))) -> dict:
    """§4.2: DPO's exact population limit ranks responses as NBC_μ does, not as r̄ does."""
    rng = _rng(seed, 3)
    records, n_dpo_nbc_agree, n_rbar_differs, n_top_differs = [], 0, 0, 0
    max_eq14_residual, example = 0.0, None
    for n_types, n_resp in shapes:
        for _ in range(instances_per_shape):
            rewards = rng.normal(scale=2.0, size=(n_types, n_resp))
            weights = rng.dirichlet(np.ones(n_types))
            mu = rng.dirichlet(2.0 * np.ones(n_resp))  # random alternative distribution, away from 0
            P = pairwise_preference_matrix(rewards, weights)
            nbc = normalized_borda_count(P, mu)
            r_dpo = dpo_limit_reward(P, mu)
            rbar = average_reward(rewards, weights)
            # Eq. 14 at the limit: Σ_y' μ(y') σ(r(y) − r(y')) = NBC_μ(y)
            residual = np.abs(bt_probability(r_dpo[:, None] - r_dpo[None, :]) @ mu - nbc).max()
            max_eq14_residual = max(max_eq14_residual, float(residual))
            agree = bool((ranking(r_dpo) == ranking(nbc)).all())
            differs = bool((ranking(rbar) != ranking(nbc)).any())
            n_dpo_nbc_agree += agree
            n_rbar_differs += differs
            n_top_differs += bool(ranking(rbar)[0] != ranking(nbc)[0])
            records.append({"rewards": rewards, "type_weights": weights, "mu": mu})
            if differs and example is None:
                example = {"rewards r_u(y) per type": rewards, "type weights p(u)": weights, "mu": mu,
                           "NBC_mu": nbc, "DPO limit reward": r_dpo, "r̄": rbar,
                           "ranking by NBC": _names(ranking(nbc)), "ranking by DPO limit": _names(ranking(r_dpo)),
                           "ranking by r̄": _names(ranking(rbar))}
    n = len(records)
    passed = n_dpo_nbc_agree == n and n_rbar_differs > 0 and max_eq14_residual < 1e-9
    return _claim(
        3, "DPO's limit is ordinally consistent with NBC, not with r̄ (§4.2)",
        "On random populations (random rewards, type weights and μ), the exact DPO population limit "
        "ranks responses exactly as NBC_μ in every instance, while r̄'s ranking differs in many.",
        {"seed": seed, "generator": "rewards ~ Normal(0, 2²) i.i.d.; p(u) ~ Dirichlet(1,…,1); "
                                    "μ ~ Dirichlet(2,…,2); numpy default_rng([seed, 3])",
         "(types, responses) shapes": shapes, "instances per shape": instances_per_shape,
         "instances": records},
        {"instances": n, "instances where DPO-limit ranking = NBC ranking": n_dpo_nbc_agree,
         "instances where r̄ ranking ≠ NBC ranking": n_rbar_differs,
         "instances where r̄'s top response ≠ NBC's top": n_top_differs,
         "max Eq. 14 residual |Σ μ σ(r_DPO(y) − r_DPO(y')) − NBC(y)|": max_eq14_residual,
         "first instance where r̄ and NBC disagree": example},
        passed)


# ---------------------------------------------------------------- claim 4
CLAIM4_REWARDS = np.array([[5.0, 0.0, -10.0],   # type 1: y1 ≫ y2 ≫ y3
                           [0.0, 2.0, 1.0]])    # type 2: y2 ≻ y3 ≻ y1, mildly


def _claim4_mu(t):
    """The one-parameter family μ_t = ((1−t)/2, (1−t)/2, t): t is the weight on y3."""
    return np.array([(1 - t) / 2, (1 - t) / 2, t])


def claim_04_nbc_depends_on_mu(rewards=None) -> dict:
    """§4.3: with 3 responses and 2 equal types, moving mass of μ onto y3 changes NBC's winner."""
    rewards = CLAIM4_REWARDS if rewards is None else np.asarray(rewards, dtype=float)
    P = pairwise_preference_matrix(rewards)

    def nbc_gap(t):  # NBC(y1) − NBC(y2) under μ_t
        scores = normalized_borda_count(P, _claim4_mu(t))
        return scores[0] - scores[1]

    # NBC(y1) − NBC(y2) = (1−t)(P12 − ½) + t (P13 − P23): linear in t, so t* is also closed-form
    d12 = P[0, 1] - 0.5
    t_closed = d12 / (d12 + P[1, 2] - P[0, 2])
    t_bisect = brentq(nbc_gap, 1e-9, 1 - 1e-9, xtol=1e-15) if nbc_gap(1e-9) * nbc_gap(1 - 1e-9) < 0 else None
    grid = np.round(np.linspace(0.01, 0.99, 99), 2)
    winners = [_names([ranking(normalized_borda_count(P, _claim4_mu(t)))[0]])[0] for t in grid]
    rbar = average_reward(rewards)
    shown_t = [0.1, 1 / 3, 0.6]
    nbc_shown = {f"NBC at t = {t:.4g} (μ = {np.round(_claim4_mu(t), 4).tolist()})": normalized_borda_count(P, _claim4_mu(t))
                 for t in shown_t}
    winner_changes = [(float(grid[i]), winners[i], winners[i + 1]) for i in range(len(grid) - 1) if winners[i] != winners[i + 1]]
    passed = (t_bisect is not None and abs(t_bisect - t_closed) < 1e-10
              and winners[0] == "y1" and winners[-1] == "y2" and len(winner_changes) == 1
              and abs(winner_changes[0][0] - t_closed) <= 0.011 and _names(ranking(rbar))[0] == "y1")
    return _claim(
        4, "NBC's winner depends on the alternative distribution μ (§4.3)",
        "Three responses, two equally weighted types: along μ_t = ((1−t)/2, (1−t)/2, t), NBC's winner "
        "switches from y1 to y2 at t*, while r̄ (independent of μ) always picks y1.",
        {"rewards r_u(y1..y3) per type": rewards, "type weights p(u)": [0.5, 0.5],
         "mu family": "μ_t = ((1−t)/2, (1−t)/2, t), t ∈ (0, 1); t = 1/3 is uniform"},
        {"population pairwise matrix P": P,
         "t* by bisection (NBC(y1) = NBC(y2))": t_bisect,
         "t* closed form (P12 − ½) / ((P12 − ½) + P23 − P13)": t_closed,
         **nbc_shown,
         "NBC winner on grid t = 0.01..0.99 changes after (t, winner before, winner after)": winner_changes,
         "r̄ (independent of μ)": rbar, "r̄ winner": _names(ranking(rbar))[0]},
        passed)


# ---------------------------------------------------------------- claim 5
CLAIM5_REWARDS = np.array([[3.0, 0.0],   # type 1 prefers y1 strongly
                           [0.0, 1.0],   # types 2 and 3 prefer y2 mildly
                           [0.0, 1.0]])


def claim_05_nbc_depends_on_temperature() -> dict:
    """§4.3: P_u = σ(Δ_u/τ); same rewards, NBC's order flips between τ = 1 and τ = 2; r̄ does not."""
    rewards, temperatures = CLAIM5_REWARDS, (1.0, 2.0)
    evidence = {}
    nbc_rankings = []
    for tau in temperatures:
        P = pairwise_preference_matrix(rewards, temperature=tau)
        nbc = normalized_borda_count(P)
        r_dpo = dpo_limit_reward(P)
        nbc_rankings.append(_names(ranking(nbc)))
        evidence[f"τ = {tau:g}: P(y1≻y2) = mean_u σ(Δ_u/τ)"] = P[0, 1]
        evidence[f"τ = {tau:g}: NBC (uniform μ)"] = nbc
        evidence[f"τ = {tau:g}: NBC ranking"] = nbc_rankings[-1]
        evidence[f"τ = {tau:g}: DPO-limit ranking"] = _names(ranking(r_dpo))
    tau_star = brentq(lambda t: pairwise_preference_matrix(rewards, temperature=t)[0, 1] - 0.5, *temperatures, xtol=1e-14)
    rbar = average_reward(rewards)
    evidence["τ* where NBC ties"] = tau_star
    evidence["r̄ (no τ in it)"] = rbar
    evidence["r̄ ranking"] = _names(ranking(rbar))
    passed = nbc_rankings[0] != nbc_rankings[1] and nbc_rankings[1] == _names(ranking(rbar))
    return _claim(
        5, "NBC depends on the BT temperature τ while r̄ does not (§4.3)",
        "With the same rewards, NBC (uniform μ) ranks y2 first at τ = 1 and y1 first at τ = 2; r̄ ranks "
        "y1 first whatever τ.",
        {"rewards r_u(y1, y2) per type": rewards, "type weights p(u)": [1 / 3] * 3,
         "temperatures τ": temperatures, "mu": "uniform"},
        evidence, passed)


# ---------------------------------------------------------------- claim 6
CLAIM6_LABELS = ["long", "short", "medium"]
CLAIM6_REWARDS = np.array([[10.0, 0.0, 2.0],   # type 1: strongly favours long
                           [0.0, 9.0, 2.0],    # type 2: strongly favours short
                           [0.0, 0.0, 1.0]])   # type 3: slightly prefers medium


def claim_06_mediocrity_promotion(rewards=None, mu=None, seed: int = 0) -> dict:
    """§4.3: NBC (uniform μ) promotes the medium summary that only one type slightly prefers."""
    rewards = CLAIM6_REWARDS if rewards is None else np.asarray(rewards, dtype=float)
    mu_used = np.full(3, 1 / 3) if mu is None else np.asarray(mu, dtype=float)
    P = pairwise_preference_matrix(rewards)
    nbc = normalized_borda_count(P, mu_used)
    rbar = average_reward(rewards)
    r_dpo = dpo_limit_reward(P, mu_used)
    nbc_winner, rbar_winner = _names([ranking(nbc)[0]], CLAIM6_LABELS)[0], _names([ranking(rbar)[0]], CLAIM6_LABELS)[0]
    # robustness: how often NBC still picks medium under random μ (not used for PASS)
    mus = _rng(seed, 6).dirichlet(np.ones(3), size=200)
    share_medium = float(np.mean(ranking(normalized_borda_count(np.broadcast_to(P, (200, 3, 3)), mus))[:, 0] == 2))
    passed = nbc_winner == "medium" and rbar_winner != "medium"
    return _claim(
        6, "Mediocrity promotion (§4.3)",
        "Types: long-lover, short-lover, slight medium-preferrer (equal weights). NBC (uniform μ), and "
        "hence DPO, picks the medium summary; r̄ picks the long one.",
        {"responses": CLAIM6_LABELS, "rewards r_u(long, short, medium) per type": rewards,
         "type weights p(u)": [1 / 3] * 3, "mu": mu_used},
        {"population pairwise matrix P (long, short, medium)": P,
         "NBC_mu": nbc, "NBC winner": nbc_winner,
         "DPO-limit ranking": _names(ranking(r_dpo), CLAIM6_LABELS),
         "r̄": rbar, "r̄ winner": rbar_winner,
         "share of 200 random μ ~ Dirichlet(1,1,1) where NBC picks medium": share_medium},
        passed)


# ---------------------------------------------------------------- claim 7
CLAIM7_REWARDS = np.array([[3.0, 0.0, -5.0],    # type 1: y1 ≻ y2 ≻ y3
                           [0.0, 2.0, -0.5]])   # type 2: y2 ≻ y1 ≻ y3 (y3 just below y1)


def claim_07_iia_violation() -> dict:
    """App. A: adding y3, which every type likes least, flips NBC's order of y1 and y2."""
    rewards = CLAIM7_REWARDS
    P2 = pairwise_preference_matrix(rewards[:, :2])
    P3 = pairwise_preference_matrix(rewards)
    nbc2, nbc3 = normalized_borda_count(P2), normalized_borda_count(P3)
    rbar = average_reward(rewards)
    y3_last_for_every_type = bool(np.all(rewards.argmin(1) == 2))
    r_dpo3 = dpo_limit_reward(P3)
    passed = (y3_last_for_every_type and nbc2[0] > nbc2[1] and nbc3[1] > nbc3[0] and rbar[0] > rbar[1])
    return _claim(
        7, "Violation of independence of irrelevant alternatives (App. A)",
        "With two responses NBC (uniform μ) prefers y1 to y2, as r̄ does; adding y3, the least "
        "preferred response of every type, makes NBC prefer y2 to y1 (r̄'s order of y1, y2 is unchanged).",
        {"rewards r_u(y1, y2, y3) per type": rewards, "type weights p(u)": [0.5, 0.5], "mu": "uniform over the offered responses"},
        {"y3 is every type's least preferred": y3_last_for_every_type,
         "P over {y1, y2}": P2, "NBC over {y1, y2}": nbc2, "NBC ranking over {y1, y2}": _names(ranking(nbc2)),
         "P over {y1, y2, y3}": P3, "NBC over {y1, y2, y3}": nbc3, "NBC ranking over {y1, y2, y3}": _names(ranking(nbc3)),
         "DPO-limit ranking over {y1, y2, y3}": _names(ranking(r_dpo3)),
         "r̄": rbar, "r̄ ranking": _names(ranking(rbar))},
        passed)


# ---------------------------------------------------------------- claim 8
def claim_08_tyranny_of_majority() -> dict:
    """App. A: NBC follows an 80% majority's slight preference; r̄ protects a 20% minority."""
    rewards = np.array([[1.0, 0.0],      # majority: slightly prefers y1
                        [-10.0, 0.0]])   # minority: finds y1 offensive
    weights = np.array([0.8, 0.2])
    P = pairwise_preference_matrix(rewards, weights)
    nbc, rbar = normalized_borda_count(P), average_reward(rewards, weights)
    r_dpo = dpo_limit_reward(P)
    passed = nbc[0] > nbc[1] and rbar[1] > rbar[0]
    return _claim(
        8, "Tyranny of the majority (App. A)",
        "An 80% majority slightly prefers y1, a 20% minority finds y1 offensive: NBC (and DPO) picks y1, "
        "r̄ picks y2.",
        {"rewards r_u(y1, y2) per type": rewards, "type weights p(u)": weights, "mu": "uniform"},
        {"P(y1≻y2) = 0.8 σ(1) + 0.2 σ(−10)": P[0, 1], "NBC": nbc, "NBC ranking": _names(ranking(nbc)),
         "DPO-limit ranking": _names(ranking(r_dpo)),
         "r̄ = (0.8·1 + 0.2·(−10), 0)": rbar, "r̄ ranking": _names(ranking(rbar))},
        passed)


# ---------------------------------------------------------------- claims 9 and 10
MATCHED_A_REWARDS = np.array([[0.5, 0.0, -0.5]])   # population A: one BT type
MATCHED_B_WEIGHTS = np.array([0.8, 0.2])
MATCHED_B_MINORITY_DELTA12 = -8.0                  # population B's minority: r(y1) − r(y2)


def matched_populations() -> dict:
    """Two populations with the same pairwise matrix P on every pair: A is a single BT type,
    B a 80/20 mixture whose minority dislikes y1. B's rewards solve P_B = P_A (3 equations) for
    the unknowns (type-1 Δ12, type-1 Δ23, type-2 Δ23), with type-2 Δ12 fixed and r(y3) = 0."""
    P_A = pairwise_preference_matrix(MATCHED_A_REWARDS)

    def b_rewards(z):
        d12 = np.array([z[0], MATCHED_B_MINORITY_DELTA12])
        d23 = np.array([z[1], z[2]])
        return np.stack([d12 + d23, d23, np.zeros(2)], axis=1)

    def residual(z):
        P_B = pairwise_preference_matrix(b_rewards(z), MATCHED_B_WEIGHTS)
        return [P_B[0, 1] - P_A[0, 1], P_B[1, 2] - P_A[1, 2], P_B[0, 2] - P_A[0, 2]]

    sol = root(residual, x0=[1.0, 1.0, -2.0], method="hybr", tol=1e-14)
    rewards_B = b_rewards(sol.x)
    P_B = pairwise_preference_matrix(rewards_B, MATCHED_B_WEIGHTS)
    max_residual = float(np.abs(residual(sol.x)).max())
    # convergence judged by the residual itself: hybr may report "no progress" at machine precision
    return {"rewards_A": MATCHED_A_REWARDS, "weights_A": np.array([1.0]), "P_A": P_A,
            "rewards_B": rewards_B, "weights_B": MATCHED_B_WEIGHTS, "P_B": P_B,
            "solver_converged": max_residual < 1e-12, "max_abs_P_difference": float(np.abs(P_A - P_B).max())}


def claim_09_not_learnable_without_annotator_info() -> dict:
    """§5: identical anonymous label laws, different r̄ rankings → no algorithm can learn r̄'s ranking."""
    m = matched_populations()
    rbar_A, rbar_B = average_reward(m["rewards_A"], m["weights_A"]), average_reward(m["rewards_B"], m["weights_B"])
    dpo_A, dpo_B = dpo_limit_reward(m["P_A"]), dpo_limit_reward(m["P_B"])
    rank_A, rank_B = _names(ranking(rbar_A)), _names(ranking(rbar_B))
    passed = m["solver_converged"] and m["max_abs_P_difference"] < 1e-10 and rank_A != rank_B
    return _claim(
        9, "Non-learnability without annotator information (§5)",
        "Population A (one BT type) and population B (80/20 mixture) have the same P(y≻y') for every "
        "pair, so anonymous preference data have the same law, but their r̄ rankings differ.",
        {"population A rewards r(y1..y3)": m["rewards_A"], "population A weights": m["weights_A"],
         "population B rewards r_u(y1..y3) (solved so that P_B = P_A; r(y3) = 0, minority r(y1) − r(y2) fixed at −8)": m["rewards_B"],
         "population B weights": m["weights_B"]},
        {"P_A": m["P_A"], "P_B": m["P_B"], "max |P_A − P_B|": m["max_abs_P_difference"],
         "solver converged": m["solver_converged"],
         "r̄_A": rbar_A, "r̄_A ranking": rank_A, "r̄_B": rbar_B, "r̄_B ranking": rank_B,
         "DPO limit A": dpo_A, "DPO limit B": dpo_B, "max |DPO limit A − DPO limit B|": np.abs(dpo_A - dpo_B).max()},
        passed)


def claim_10_variance_not_identifiable() -> dict:
    """§5.2: same anonymous label law (μ⊗μ · P), different Var_u(Δ_u) → no M-estimator is consistent for it."""
    m = matched_populations()
    mu = np.full(3, 1 / 3)
    # law of (y_w, y_l) in anonymous data: W[a, b] = μ(a) μ(b) P(a ≻ b); every M-estimator's
    # population objective is Σ W ℓ, so equal W means equal limits
    W_A = pairwise_loss_weights(m["rewards_A"][:, None, :], mu, m["weights_A"])[0]
    W_B = pairwise_loss_weights(m["rewards_B"][:, None, :], mu, m["weights_B"])[0]
    var_A = type_delta_variance(m["rewards_A"][:, None, :], m["weights_A"])[0]
    var_B = type_delta_variance(m["rewards_B"][:, None, :], m["weights_B"])[0]
    svar_A = type_delta_variance(m["rewards_A"][:, None, :], m["weights_A"], "sigmoid")[0]
    svar_B = type_delta_variance(m["rewards_B"][:, None, :], m["weights_B"], "sigmoid")[0]
    # what paired same-annotator data would see: E_u[P_u(y1≻y2)²] differs (cf. claim 11)
    second_moment = lambda r, w: np.tensordot(w, bt_probability(r[:, 0] - r[:, 1]) ** 2, axes=1)  # noqa: E731
    max_W_diff = float(np.abs(W_A - W_B).max())
    passed = max_W_diff < 1e-10 and np.abs(var_A).max() == 0.0 and var_B.max() > 0.1
    return _claim(
        10, "No M-estimator recovers the variance term from anonymous data (§5.2)",
        "The populations of claim 9 give anonymous data the same law W(y_w, y_l) = μ(y_w)μ(y_l)P(y_w≻y_l), "
        "yet Var_u(Δ_u) is 0 for A and large for B, so any estimator's limit is wrong for one of them.",
        {"population A rewards": m["rewards_A"], "population A weights": m["weights_A"],
         "population B rewards": m["rewards_B"], "population B weights": m["weights_B"], "mu": mu},
        {"anonymous label law W_A[y_w, y_l]": W_A, "anonymous label law W_B[y_w, y_l]": W_B,
         "max |W_A − W_B|": max_W_diff,
         "Var_u(Δ_u) per pair, A": var_A, "Var_u(Δ_u) per pair, B": var_B,
         "Var_u[σ(Δ_u)] per pair, A": svar_A, "Var_u[σ(Δ_u)] per pair, B": svar_B,
         "paired statistic E_u[P_u(y1≻y2)²], A vs B (differs: paired data can tell them apart)":
             [second_moment(m["rewards_A"], m["weights_A"]), second_moment(m["rewards_B"], m["weights_B"])]},
        passed)


# ---------------------------------------------------------------- claim 11
CLAIM11_REWARDS = np.array([[2.0, 0.0, -1.0, 1.0],
                            [-1.0, 1.0, 2.0, 0.0],
                            [0.0, -2.0, 1.0, 3.0]])


@_single_torch_thread
def _latent_model_variance(rewards, pairs_ij, seed, n_preferences, joint_steps):
    """Eq. 19 with the reference code's latent-type model, fitted on same-annotator pairs."""
    from .synthetic.data import sample_pairs
    from .synthetic.train import CorrectionConfig, TrainConfig, train_joint_model

    torch_rewards = torch.tensor(rewards[:, None, :], dtype=torch.float32)  # one context
    cfg = TrainConfig(steps=1, batch_size=1024, log_every=joint_steps)
    corr = CorrectionConfig(latent_types=rewards.shape[0], joint_steps=joint_steps, joint_lr=1e-2,
                            joint_rewards="tabular", joint_batch_size=1024, joint_holdout=0.0,
                            joint_early_stopping=False)  # the reference code's settings
    model, traj, info = train_joint_model(torch_rewards, sample_pairs(n_preferences, 1, rewards.shape[1], seed),
                                          seed, cfg, corr)
    with torch.no_grad():
        est = model.sigmoid_variance(torch.as_tensor(pairs_ij[:, 0]), torch.as_tensor(pairs_ij[:, 1]))
    return est.double().numpy(), info


@_single_torch_thread
def claim_11_paired_estimator_recovers_variance(seed: int = 0, n_annotators: int = 200_000,
                                                fit_latent_model: bool = True,
                                                latent_preferences: int = 200_000,
                                                latent_steps: int = 1500) -> dict:
    """§5.3, Eq. 19: with same-annotator label pairs, Var_u[σ(Δ_u)] = a − (a + b)² is estimable."""
    rewards = CLAIM11_REWARDS
    n_types, n_resp = rewards.shape
    pairs_ij = np.array([(i, j) for i in range(n_resp) for j in range(i + 1, n_resp)])
    p_u = bt_probability(rewards[:, pairs_ij[:, 0]] - rewards[:, pairs_ij[:, 1]])   # [U, pairs]
    a_true = (p_u ** 2).mean(0)                  # q(pair; pair)
    b_true = (p_u * (1 - p_u)).mean(0)           # q(pair; reversed pair)
    m_true = a_true + b_true
    var_true = a_true - m_true ** 2
    var_direct = type_delta_variance(rewards[:, None, :], kind="sigmoid")[0][pairs_ij[:, 0], pairs_ij[:, 1]]

    # simulation: each annotator (hidden type) labels the pair twice, independently under BT.
    # a-sample: both labels "y_w preferred"; b-sample (other annotators): the first says y_w ≻ y_l,
    # the second (the reversed pair) says its first option y_l is preferred.
    rng = _rng(seed, 11)
    n_pairs = len(pairs_ij)
    types = rng.integers(n_types, size=(2, n_annotators, n_pairs))
    p = p_u[types, np.arange(n_pairs)]                               # [2, n, pairs]
    first = rng.random((2, n_annotators, n_pairs)) < p
    second = rng.random((2, n_annotators, n_pairs)) < p
    a_hat = (first[0] & second[0]).mean(0)
    b_hat = (first[1] & ~second[1]).mean(0)
    m_hat = a_hat + b_hat
    var_hat = a_hat - m_hat ** 2
    # delta-method standard error of a − (a + b)² with independent a- and b-samples
    se = np.sqrt(((1 - 2 * m_true) ** 2 * a_true * (1 - a_true) + (2 * m_true) ** 2 * b_true * (1 - b_true)) / n_annotators)
    z = (var_hat - var_true) / se
    evidence = {"pairs (y_w, y_l), 1-based": pairs_ij + 1,
                "a = E_u[P_u²]": a_true, "b = E_u[P_u(1 − P_u)]": b_true, "m = a + b = P(y_w≻y_l)": m_true,
                "true Var_u[σ(Δ_u)] = a − m²": var_true,
                "max |(a − m²) − Var_u[σ(Δ_u)] computed directly|": np.abs(var_true - var_direct).max(),
                "simulated â": a_hat, "simulated b̂": b_hat, "estimated Var = â − (â + b̂)²": var_hat,
                "Monte-Carlo standard error": se, "z = (estimate − truth) / SE": z, "max |z|": np.abs(z).max(),
                "min true Var / SE (signal far above noise)": (var_true / se).min()}
    passed = bool(np.abs(var_true - var_direct).max() < 1e-12 and np.abs(z).max() < 4.5 and (var_true / se).min() > 10)
    if fit_latent_model:
        est, info = _latent_model_variance(rewards, pairs_ij, seed, latent_preferences, latent_steps)
        evidence["latent-type model (K = 3) Var estimate"] = est
        evidence["latent-type model max |estimate − truth|"] = np.abs(est - var_true).max()
        evidence["latent-type model same-annotator pairs used"] = info["n_paired"]
        # reported, not gated: an SGD fit of a non-convex mixture is a sanity check, not the claim
        evidence["latent-type model within 0.03 of truth (not part of PASS)"] = bool(np.abs(est - var_true).max() < 0.03)
    return _claim(
        11, "The paired-preference estimator recovers the variance term (§5.3, Eq. 19)",
        "From pairs of labels given by the same anonymous annotator, a = q(p; p) and b = q(p; p reversed) "
        "give Var_u[σ(Δ_u)] = a − (a + b)²; simulated estimates match the exact values within Monte-Carlo error "
        "(the reference code's latent-type model fitted on such pairs is reported alongside).",
        {"rewards r_u(y1..y4) per type": rewards, "type weights p(u)": [1 / 3] * 3, "seed": seed,
         "annotators per pair and statistic": n_annotators,
         "latent-type model": ({"fitted": True, "preferences": latent_preferences, "Adam steps": latent_steps,
                                "lr": 1e-2, "batch": 1024, "latent types K": n_types} if fit_latent_model else {"fitted": False})},
        evidence, passed)


# ---------------------------------------------------------------- claim 12
@_single_torch_thread
def reference_variant_minimiser(deltas) -> np.ndarray:
    """Population minimiser of the reference code's variant on unanimous pairs:
    Π σ(Δ_u) · (−log σ(k h)) + Π σ(−Δ_u) · (−log σ(k (1 − h))), h = h(y1, y2)."""
    d = torch.as_tensor(np.asarray(deltas, dtype=float))
    k = d.shape[0]
    w_pos, w_neg = _unanimity_weights(d)
    return _convex_scalar_minimiser(
        lambda h: w_pos * preference_loss("consistent", h, n_types=k)
        + w_neg * preference_loss("consistent_reference_variant", h, n_types=k), d.shape[1])


@_single_torch_thread
def claim_12_consistent_losses(seed: int = 0, n_pairs: int = 64, bias_threshold: float = 0.05) -> dict:
    """§6 / App. C: temperature-adjusted and I_k losses recover mean Δ; the reference variant does not."""
    rng = _rng(seed, 12)
    deltas = {k: rng.normal(scale=1.5, size=(k, n_pairs)) for k in (2, 3, 4, 5)}
    bias = {}
    for k, d in deltas.items():
        target = d.mean(0)
        bias[f"consistent (−log σ(k h)), k = {k}"] = np.abs(pair_population_minimiser("consistent", d) - target).max()
        if k <= 4:
            bias[f"consistent_ik (I_k family), k = {k}"] = np.abs(pair_population_minimiser("consistent_ik", d) - target).max()
            bias[f"reference variant σ(k(1 − h)), k = {k}"] = np.abs(reference_variant_minimiser(d) - target).max()
    # one pair worked through, so the report can be checked by hand
    d3 = deltas[3][:, :1]
    w_pos, w_neg = (t.item() for t in _unanimity_weights(torch.as_tensor(d3)))
    worked = {"per-type deltas Δ_u (k = 3, first pair)": d3[:, 0], "mean_u Δ_u": d3.mean(),
              "P(all prefer y1) = Π σ(Δ_u)": w_pos, "P(all prefer y2) = Π σ(−Δ_u)": w_neg,
              "h* consistent": pair_population_minimiser("consistent", d3)[0],
              "h* consistent_ik": pair_population_minimiser("consistent_ik", d3)[0],
              "h* reference variant": reference_variant_minimiser(d3)[0],
              "closed form of consistent h*: log(P(all y1) / P(all y2)) / k": np.log(w_pos / w_neg) / 3}
    consistent_ok = all(v < 1e-6 for name, v in bias.items() if not name.startswith("reference"))
    variant_biased = all(v > bias_threshold for name, v in bias.items() if name.startswith("reference"))
    return _claim(
        12, "Temperature-adjusted and I_k losses are consistent; the reference code's variant is not (§6, App. C)",
        "For random per-type deltas, the population minimiser h* of the consistent losses equals mean_u Δ_u "
        "(to 1e-6); the variant with −log σ(k(1 − h)) on all-zero pairs is biased.",
        {"seed": seed, "pairs per k": n_pairs, "per-type deltas Δ_u ~ Normal(0, 1.5²), [k, pairs]": deltas,
         "label law": "every type labels each pair once; only unanimous pairs kept: "
                      "P(all y1) = Π σ(Δ_u), P(all y2) = Π σ(−Δ_u)",
         "bias threshold for the variant": bias_threshold},
        {"max |h* − mean_u Δ_u| per loss": bias, "worked example": worked,
         "all consistent losses within 1e-6": consistent_ok, "reference variant biased above threshold": variant_biased},
        consistent_ok and variant_biased)


# ---------------------------------------------------------------- claim 13
def simulate_until_unanimous(deltas, n_repeats: int, rng: np.random.Generator):
    """Every type labels the pair (BT) in rounds until all agree; returns (share of 'all prefer y1'
    outcomes [M], mean rounds [M]). Vectorised over repeats and pairs; loops only over rounds,
    each round re-drawing the still-undecided samples."""
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


@_single_torch_thread
def claim_13_until_agreement_is_bt_on_sum(seed: int = 0, n_types: int = 3, n_pairs: int = 6,
                                          n_repeats: int = 100_000) -> dict:
    """§6: P(all prefer y1 | unanimous) = Π σ(Δ_u) / (Π σ(Δ_u) + Π σ(−Δ_u)) = σ(Σ_u Δ_u)."""
    rng = _rng(seed, 13)
    deltas = rng.normal(scale=1.0, size=(n_types, n_pairs))
    w_pos, w_neg = (t.numpy() for t in _unanimity_weights(torch.as_tensor(deltas)))
    conditional = w_pos / (w_pos + w_neg)
    bt_on_sum = bt_probability(deltas.sum(0))
    # the identity on many more random delta vectors (k = 2..6), exact arithmetic only
    many = [rng.normal(scale=2.0, size=(k, 500)) for k in range(2, 7)]
    identity_error = max(np.abs((lambda wp, wn: wp / (wp + wn))(*(t.numpy() for t in _unanimity_weights(torch.as_tensor(d))))
                                - bt_probability(d.sum(0))).max() for d in many)
    share, mean_rounds = simulate_until_unanimous(deltas, n_repeats, rng)
    se = np.sqrt(bt_on_sum * (1 - bt_on_sum) / n_repeats)
    z = (share - bt_on_sum) / se
    passed = np.abs(conditional - bt_on_sum).max() < 1e-12 and identity_error < 1e-12 and np.abs(z).max() < 4.5
    return _claim(
        13, "Sampling every type until agreement equals one BT draw on the summed reward (§6)",
        "Π σ(Δ_u) / (Π σ(Δ_u) + Π σ(−Δ_u)) = σ(Σ_u Δ_u) exactly, and repeating rounds of per-type BT labels "
        "until unanimity yields 'all prefer y1' with that probability (within Monte-Carlo error).",
        {"seed": seed, "types k": n_types, "per-type deltas Δ_u, [k, pairs] ~ Normal(0, 1)": deltas,
         "simulated repeats per pair": n_repeats,
         "extra identity check": "500 random delta vectors ~ Normal(0, 2²) for each k = 2..6"},
        {"Σ_u Δ_u per pair": deltas.sum(0),
         "Π σ(Δ_u) / (Π σ(Δ_u) + Π σ(−Δ_u))": conditional, "σ(Σ_u Δ_u)": bt_on_sum,
         "max |difference| on these pairs": np.abs(conditional - bt_on_sum).max(),
         "max |difference| on 2500 extra random vectors": identity_error,
         "simulated share of 'all prefer y1'": share, "Monte-Carlo SE": se,
         "z = (simulated − σ(ΣΔ)) / SE": z, "max |z|": np.abs(z).max(),
         "mean rounds until agreement (simulated)": mean_rounds,
         "expected rounds 1 / (Π σ(Δ_u) + Π σ(−Δ_u))": 1 / (w_pos + w_neg)},
        passed)


# ---------------------------------------------------------------- claim 14
@_single_torch_thread
def disagreement_term_minimiser(deltas, weight: float) -> np.ndarray:
    """Population minimiser of the consistent loss plus ``weight`` · DPO on one disagreement pattern:
    a pair where exactly k−1 types prefer y1 adds weight·(−log σ(h)); by label symmetry a pair where
    exactly one type prefers y1 adds weight·(−log σ(−h))."""
    d = torch.as_tensor(np.asarray(deltas, dtype=float))
    k = d.shape[0]
    w_pos, w_neg = _unanimity_weights(d)
    # P(exactly one type dissents) = Π σ(Δ) Σ_j e^{−Δ_j}; mirrored for exactly one type agreeing
    q_one_dissent = w_pos * torch.exp(-d).sum(0)
    q_one_agrees = w_neg * torch.exp(d).sum(0)
    return _convex_scalar_minimiser(
        lambda h: w_pos * preference_loss("consistent", h, n_types=k) + w_neg * preference_loss("consistent", -h, n_types=k)
        + weight * (q_one_dissent * preference_loss("dpo", h) + q_one_agrees * preference_loss("dpo", -h)), d.shape[1])


@_single_torch_thread
def claim_14_must_discard_disagreements(seed: int = 0, n_types: int = 4, n_pairs: int = 32,
                                        weights=(0.0, 0.1, 0.5, 1.0)) -> dict:
    """§6 theorem, numerically: with k = 4 types, using a disagreement pattern breaks consistency."""
    rng = _rng(seed, 14)
    deltas = rng.normal(scale=1.5, size=(n_types, n_pairs))
    target = deltas.mean(0)
    h_star = {w: disagreement_term_minimiser(deltas, w) for w in weights}
    bias = {f"w = {w:g}": np.abs(h - target).max() for w, h in h_star.items()}
    median_bias = {f"w = {w:g}": np.median(np.abs(h - target)) for w, h in h_star.items()}
    w_pos, w_neg = (t.numpy() for t in _unanimity_weights(torch.as_tensor(deltas)))
    p_pattern = w_pos * np.exp(-deltas).sum(0)     # exactly k−1 types prefer y1
    p_mirror = w_neg * np.exp(deltas).sum(0)       # exactly one type prefers y1
    worked = {"per-type deltas Δ_u (first pair)": deltas[:, 0], "mean_u Δ_u": target[0],
              "P(all prefer y1)": w_pos[0], "P(all prefer y2)": w_neg[0],
              "P(exactly k−1 prefer y1)": p_pattern[0], "P(exactly 1 prefers y1)": p_mirror[0],
              **{f"h* at w = {w:g}": h[0] for w, h in h_star.items()}}
    # PASS needs both halves: w = 0 is consistent, and every positive w (at least one) is biased
    positive = [w for w in h_star if w > 0]
    passed = (0.0 in h_star and np.abs(h_star[0.0] - target).max() < 1e-6 and len(positive) > 0
              and all(np.abs(h_star[w] - target).max() > 1e-3 for w in positive))
    return _claim(
        14, "Consistency requires discarding disagreements for k > 3 types (§6)",
        "Adding w·(−log σ(h)) on pairs where exactly k−1 of k = 4 types prefer y1 (mirrored for exactly one) "
        "to the consistent loss moves the population minimiser away from mean_u Δ_u; w = 0 recovers it.",
        {"seed": seed, "types k": n_types, "per-type deltas Δ_u, [k, pairs] ~ Normal(0, 1.5²)": deltas,
         "disagreement weights w": weights,
         "population objective": "Π σ(Δ)·(−log σ(k h)) + Π σ(−Δ)·(−log σ(−k h)) "
                                 "+ w·[P(k−1 prefer y1)·(−log σ(h)) + P(1 prefers y1)·(−log σ(−h))]"},
        {"max |h* − mean_u Δ_u| per w": bias, "median |h* − mean_u Δ_u| per w": median_bias,
         "worked example": worked,
         "mean share of pairs kept by the consistent loss (unanimous)": (w_pos + w_neg).mean(),
         "mean share of pairs in the pattern or its mirror (discarded, would be used at w > 0)": (p_pattern + p_mirror).mean()},
        passed)


# ---------------------------------------------------------------- collection, report, figure
CLAIMS = (claim_01_mixture_not_bt, claim_02_only_affine_is_order_consistent, claim_03_dpo_limit_follows_nbc,
          claim_04_nbc_depends_on_mu, claim_05_nbc_depends_on_temperature, claim_06_mediocrity_promotion,
          claim_07_iia_violation, claim_08_tyranny_of_majority, claim_09_not_learnable_without_annotator_info,
          claim_10_variance_not_identifiable, claim_11_paired_estimator_recovers_variance,
          claim_12_consistent_losses, claim_13_until_agreement_is_bt_on_sum, claim_14_must_discard_disagreements)


def run_all_claims(seed: int = 0) -> list[dict]:
    """Every claim in order; the seed drives the random instances and simulations."""
    import inspect

    return [f(seed=seed) if "seed" in inspect.signature(f).parameters else f() for f in CLAIMS]


_MAX_INLINE_NUMBERS = 60


def _count_numbers(value) -> int:
    if isinstance(value, dict):
        return sum(_count_numbers(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_numbers(v) for v in value)
    return 1


def _shape(value):
    shape = []
    while isinstance(value, list) and value:
        shape.append(len(value))
        value = value[0]
    return shape


def _fmt(value) -> str:
    """Compact, exact-enough text: floats to 6 significant digits, lists as [a, b, …]."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        if _count_numbers(value) > _MAX_INLINE_NUMBERS:
            return f"array of shape {_shape(value)}; all values in the JSON"
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(mapping: dict) -> list[str]:
    lines = ["| quantity | value |", "| --- | --- |"]
    for key, value in mapping.items():
        if isinstance(value, dict) and _count_numbers(value) > 1 and len(value) > 1:
            # a nested record: one row per entry keeps long dicts readable
            for sub, v in value.items():
                lines.append(f"| {_cell(key)} — {_cell(sub)} | {_cell(_fmt(v))} |")
        else:
            lines.append(f"| {_cell(key)} | {_cell(_fmt(value))} |")
    return lines


def claims_markdown(claims: list[dict], title: str = "The paper's claims, checked on concrete instances") -> str:
    """A report that stands on its own: summary table, then per claim the statement, every number of
    the instance, the computed evidence and PASS/FAIL."""
    n_pass = sum(c["passed"] for c in claims)
    lines = [f"# {title}", "",
             "Each claim is checked on an instance whose numbers are all listed, so every value can be "
             "recomputed by hand. σ is the logistic sigmoid, P(y≻y') = Σ_u p(u) σ(r_u(y) − r_u(y')), "
             "NBC_μ(y) = Σ_y' μ(y') P(y≻y') (y' = y included), r̄ = Σ_u p(u) r_u; responses are y1, y2, …; "
             "'ranking' lists responses from best to worst. Numbers are shown to 6 significant digits.", "",
             f"**{n_pass} of {len(claims)} claims pass.**", "",
             "| # | claim | result |", "| --- | --- | --- |"]
    lines += [f"| {c['id']} | {_cell(c['title'])} | {'PASS' if c['passed'] else 'FAIL'} |" for c in claims]
    for c in claims:
        lines += ["", f"## Claim {c['id']}: {c['title']} — {'PASS' if c['passed'] else 'FAIL'}", "",
                  f"*Statement.* {c['statement']}", "", "**Instance**", ""]
        lines += _table(c["instance"])
        lines += ["", "**Evidence**", ""]
        lines += _table(c["evidence"])
        lines += ["", f"**Result: {'PASS' if c['passed'] else 'FAIL'}**"]
    return "\n".join(lines) + "\n"


def claims_figure(claims: list[dict]):
    """Two panels: NBC scores along claim 4's μ family (winner switch at t*) and claim 5's
    P(y1≻y2) against the BT temperature τ (NBC's order flips at ½)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_id = {c["id"]: c for c in claims}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    if 4 in by_id:
        c4 = by_id[4]
        P = pairwise_preference_matrix(np.array(c4["instance"]["rewards r_u(y1..y3) per type"]))
        t = np.linspace(0.0, 1.0, 201)
        nbc = normalized_borda_count(np.broadcast_to(P, (t.size, 3, 3)), np.stack([_claim4_mu(v) for v in t]))
        for i in range(3):
            axes[0].plot(t, nbc[:, i], label=f"NBC(y{i + 1})")
        t_star = c4["evidence"]["t* by bisection (NBC(y1) = NBC(y2))"]
        if t_star is not None:
            axes[0].axvline(t_star, color="grey", linestyle="--", label=f"t* = {t_star:.3f}")
        axes[0].axvline(1 / 3, color="grey", linestyle=":", label="uniform μ")
        axes[0].set(xlabel="t = μ(y3); μ(y1) = μ(y2) = (1 − t)/2", ylabel="NBC_μ",
                    title=f"Claim 4: NBC winner vs μ (r̄ winner: {c4['evidence']['r̄ winner']})")
        axes[0].legend(fontsize=7)
    if 5 in by_id:
        rewards = np.array(by_id[5]["instance"]["rewards r_u(y1, y2) per type"])
        taus = np.linspace(0.3, 4.0, 200)
        p12 = [pairwise_preference_matrix(rewards, temperature=tau)[0, 1] for tau in taus]
        axes[1].plot(taus, p12, color="tab:green", label="P(y1≻y2) under σ(Δ/τ)")
        axes[1].axhline(0.5, color="grey", linestyle=":")
        axes[1].axvline(by_id[5]["evidence"]["τ* where NBC ties"], color="grey", linestyle="--", label="τ* (NBC tie)")
        axes[1].set(xlabel="BT temperature τ", ylabel="P(y1≻y2)",
                    title="Claim 5: NBC order flips with τ (r̄ prefers y1)")
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
