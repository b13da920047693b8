"""Claims 1–8: what a heterogeneous population aggregates to (paper §3, §4, App. A, App. C).

A mixture of BT types is not a BT model; only affine aggregation is order-consistent; DPO's
population limit follows the normalized Borda count (NBC), which depends on μ and on the BT
temperature and shows mediocrity promotion, IIA violations and tyranny of the majority, where
the average reward r̄ does not. Each claim is a function returning a claim record
(:mod:`hetpref.claims.record`) built on hand-made instances, except claim 3 (random instances
from the seed). The formulas come from the library; this module only builds instances and
compares numbers.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ..aggregation import average_reward, normalized_borda_count, pairwise_preference_matrix, ranking
from ..oracles import dpo_limit_reward
from ..preferences import bt_probability
from .record import claim_record, claim_rng, response_names


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
    return claim_record(
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
            rankings[agg].append(response_names(ranking(s)))
    for agg, r in rankings.items():
        evidence[f"{agg} ranking under the two shifts"] = r
    evidence["max |Δ BT probability| over types, pairs and shifts"] = max_prob_change
    changed = {agg: r[0] != r[1] for agg, r in rankings.items()}
    passed = (max_prob_change == 0.0 and changed["max-min"] and changed["Nash welfare"]
              and not changed["average reward r̄"])
    return claim_record(
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
    rng = claim_rng(seed, 3)
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
                           "ranking by NBC": response_names(ranking(nbc)),
                           "ranking by DPO limit": response_names(ranking(r_dpo)),
                           "ranking by r̄": response_names(ranking(rbar))}
    n = len(records)
    passed = n_dpo_nbc_agree == n and n_rbar_differs > 0 and max_eq14_residual < 1e-9
    return claim_record(
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


def claim4_mu(t):
    """The one-parameter family μ_t = ((1−t)/2, (1−t)/2, t): t is the weight on y3."""
    return np.array([(1 - t) / 2, (1 - t) / 2, t])


def claim_04_nbc_depends_on_mu(rewards=None) -> dict:
    """§4.3: with 3 responses and 2 equal types, moving mass of μ onto y3 changes NBC's winner."""
    rewards = CLAIM4_REWARDS if rewards is None else np.asarray(rewards, dtype=float)
    P = pairwise_preference_matrix(rewards)

    def nbc_gap(t):  # NBC(y1) − NBC(y2) under μ_t
        scores = normalized_borda_count(P, claim4_mu(t))
        return scores[0] - scores[1]

    # NBC(y1) − NBC(y2) = (1−t)(P12 − ½) + t (P13 − P23): linear in t, so t* is also closed-form
    d12 = P[0, 1] - 0.5
    t_closed = d12 / (d12 + P[1, 2] - P[0, 2])
    t_bisect = brentq(nbc_gap, 1e-9, 1 - 1e-9, xtol=1e-15) if nbc_gap(1e-9) * nbc_gap(1 - 1e-9) < 0 else None
    grid = np.round(np.linspace(0.01, 0.99, 99), 2)
    winners = [response_names([ranking(normalized_borda_count(P, claim4_mu(t)))[0]])[0] for t in grid]
    rbar = average_reward(rewards)
    shown_t = [0.1, 1 / 3, 0.6]
    nbc_shown = {f"NBC at t = {t:.4g} (μ = {np.round(claim4_mu(t), 4).tolist()})":
                 normalized_borda_count(P, claim4_mu(t))
                 for t in shown_t}
    winner_changes = [(float(grid[i]), winners[i], winners[i + 1]) for i in range(len(grid) - 1)
                      if winners[i] != winners[i + 1]]
    passed = (t_bisect is not None and abs(t_bisect - t_closed) < 1e-10
              and winners[0] == "y1" and winners[-1] == "y2" and len(winner_changes) == 1
              and abs(winner_changes[0][0] - t_closed) <= 0.011 and response_names(ranking(rbar))[0] == "y1")
    return claim_record(
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
         "r̄ (independent of μ)": rbar, "r̄ winner": response_names(ranking(rbar))[0]},
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
        nbc_rankings.append(response_names(ranking(nbc)))
        evidence[f"τ = {tau:g}: P(y1≻y2) = mean_u σ(Δ_u/τ)"] = P[0, 1]
        evidence[f"τ = {tau:g}: NBC (uniform μ)"] = nbc
        evidence[f"τ = {tau:g}: NBC ranking"] = nbc_rankings[-1]
        evidence[f"τ = {tau:g}: DPO-limit ranking"] = response_names(ranking(r_dpo))
    tau_star = brentq(lambda t: pairwise_preference_matrix(rewards, temperature=t)[0, 1] - 0.5, *temperatures,
                      xtol=1e-14)
    rbar = average_reward(rewards)
    evidence["τ* where NBC ties"] = tau_star
    evidence["r̄ (no τ in it)"] = rbar
    evidence["r̄ ranking"] = response_names(ranking(rbar))
    passed = nbc_rankings[0] != nbc_rankings[1] and nbc_rankings[1] == response_names(ranking(rbar))
    return claim_record(
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
    nbc_winner, rbar_winner = (response_names([ranking(nbc)[0]], CLAIM6_LABELS)[0],
                               response_names([ranking(rbar)[0]], CLAIM6_LABELS)[0])
    # robustness: how often NBC still picks medium under random μ (not used for PASS)
    mus = claim_rng(seed, 6).dirichlet(np.ones(3), size=200)
    share_medium = float(np.mean(ranking(normalized_borda_count(np.broadcast_to(P, (200, 3, 3)), mus))[:, 0] == 2))
    passed = nbc_winner == "medium" and rbar_winner != "medium"
    return claim_record(
        6, "Mediocrity promotion (§4.3)",
        "Types: long-lover, short-lover, slight medium-preferrer (equal weights). NBC (uniform μ), and "
        "hence DPO, picks the medium summary; r̄ picks the long one.",
        {"responses": CLAIM6_LABELS, "rewards r_u(long, short, medium) per type": rewards,
         "type weights p(u)": [1 / 3] * 3, "mu": mu_used},
        {"population pairwise matrix P (long, short, medium)": P,
         "NBC_mu": nbc, "NBC winner": nbc_winner,
         "DPO-limit ranking": response_names(ranking(r_dpo), CLAIM6_LABELS),
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
    return claim_record(
        7, "Violation of independence of irrelevant alternatives (App. A)",
        "With two responses NBC (uniform μ) prefers y1 to y2, as r̄ does; adding y3, the least "
        "preferred response of every type, makes NBC prefer y2 to y1 (r̄'s order of y1, y2 is unchanged).",
        {"rewards r_u(y1, y2, y3) per type": rewards, "type weights p(u)": [0.5, 0.5],
         "mu": "uniform over the offered responses"},
        {"y3 is every type's least preferred": y3_last_for_every_type,
         "P over {y1, y2}": P2, "NBC over {y1, y2}": nbc2, "NBC ranking over {y1, y2}": response_names(ranking(nbc2)),
         "P over {y1, y2, y3}": P3, "NBC over {y1, y2, y3}": nbc3,
         "NBC ranking over {y1, y2, y3}": response_names(ranking(nbc3)),
         "DPO-limit ranking over {y1, y2, y3}": response_names(ranking(r_dpo3)),
         "r̄": rbar, "r̄ ranking": response_names(ranking(rbar))},
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
    return claim_record(
        8, "Tyranny of the majority (App. A)",
        "An 80% majority slightly prefers y1, a 20% minority finds y1 offensive: NBC (and DPO) picks y1, "
        "r̄ picks y2.",
        {"rewards r_u(y1, y2) per type": rewards, "type weights p(u)": weights, "mu": "uniform"},
        {"P(y1≻y2) = 0.8 σ(1) + 0.2 σ(−10)": P[0, 1], "NBC": nbc, "NBC ranking": response_names(ranking(nbc)),
         "DPO-limit ranking": response_names(ranking(r_dpo)),
         "r̄ = (0.8·1 + 0.2·(−10), 0)": rbar, "r̄ ranking": response_names(ranking(rbar))},
        passed)

