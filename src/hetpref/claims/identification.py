"""Claims 9–14: what can be learnt from anonymous or annotator-linked labels (paper §5, §6, App. C).

Without annotator information neither r̄'s ranking nor the variance term of corrected DPO is
identifiable (claims 9, 10); same-annotator label pairs identify that variance (Eq. 19, claim 11);
the consistent losses on unanimous pairs recover mean_u Δ_u while the reference code's variant
does not (claim 12); sampling until unanimity is one BT draw on the summed reward (claim 13);
and consistency requires discarding disagreements (claim 14). The population solvers used here
live in :mod:`hetpref.oracles` and the label sampler in :mod:`hetpref.preferences`; this module
only builds instances and compares numbers.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import root

from ..aggregation import average_reward, pairwise_preference_matrix, ranking
from ..oracles import (
    disagreement_term_minimiser,
    dpo_limit_reward,
    pair_population_minimiser,
    pairwise_loss_weights,
    reference_variant_minimiser,
    type_delta_variance,
    unanimity_weights,
)
from ..preferences import bt_probability, simulate_until_unanimous
from .record import claim_record, claim_rng, response_names, single_torch_thread

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
    rank_A, rank_B = response_names(ranking(rbar_A)), response_names(ranking(rbar_B))
    passed = m["solver_converged"] and m["max_abs_P_difference"] < 1e-10 and rank_A != rank_B
    return claim_record(
        9, "Non-learnability without annotator information (§5)",
        "Population A (one BT type) and population B (80/20 mixture) have the same P(y≻y') for every "
        "pair, so anonymous preference data have the same law, but their r̄ rankings differ.",
        {"population A rewards r(y1..y3)": m["rewards_A"], "population A weights": m["weights_A"],
         "population B rewards r_u(y1..y3) (solved so that P_B = P_A; r(y3) = 0, "
         "minority r(y1) − r(y2) fixed at −8)": m["rewards_B"],
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
    def second_moment(r, w):
        return np.tensordot(w, bt_probability(r[:, 0] - r[:, 1]) ** 2, axes=1)

    max_W_diff = float(np.abs(W_A - W_B).max())
    passed = max_W_diff < 1e-10 and np.abs(var_A).max() == 0.0 and var_B.max() > 0.1
    return claim_record(
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


@single_torch_thread
def _latent_model_variance(rewards, pairs_ij, seed, n_preferences, joint_steps):
    """Eq. 19 with the reference code's latent-type model, fitted on same-annotator pairs."""
    from ..synthetic.config import CorrectionConfig, TrainConfig
    from ..synthetic.data import sample_pairs
    from ..synthetic.variance import train_joint_model

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


@single_torch_thread
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
    rng = claim_rng(seed, 11)
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
    se = np.sqrt(((1 - 2 * m_true) ** 2 * a_true * (1 - a_true) + (2 * m_true) ** 2 * b_true * (1 - b_true))
                 / n_annotators)
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
        evidence["latent-type model within 0.03 of truth (not part of PASS)"] = bool(
            np.abs(est - var_true).max() < 0.03)
    return claim_record(
        11, "The paired-preference estimator recovers the variance term (§5.3, Eq. 19)",
        "From pairs of labels given by the same anonymous annotator, a = q(p; p) and b = q(p; p reversed) "
        "give Var_u[σ(Δ_u)] = a − (a + b)²; simulated estimates match the exact values within Monte-Carlo error "
        "(the reference code's latent-type model fitted on such pairs is reported alongside).",
        {"rewards r_u(y1..y4) per type": rewards, "type weights p(u)": [1 / 3] * 3, "seed": seed,
         "annotators per pair and statistic": n_annotators,
         "latent-type model": ({"fitted": True, "preferences": latent_preferences, "Adam steps": latent_steps,
                                "lr": 1e-2, "batch": 1024, "latent types K": n_types}
                               if fit_latent_model else {"fitted": False})},
        evidence, passed)


# ---------------------------------------------------------------- claim 12
@single_torch_thread
def claim_12_consistent_losses(seed: int = 0, n_pairs: int = 64, bias_threshold: float = 0.05) -> dict:
    """§6 / App. C: temperature-adjusted and I_k losses recover mean Δ; the reference variant does not."""
    rng = claim_rng(seed, 12)
    deltas = {k: rng.normal(scale=1.5, size=(k, n_pairs)) for k in (2, 3, 4, 5)}
    bias = {}
    for k, d in deltas.items():
        target = d.mean(0)
        bias[f"consistent (−log σ(k h)), k = {k}"] = np.abs(pair_population_minimiser("consistent", d) - target).max()
        if k <= 4:
            bias[f"consistent_ik (I_k family), k = {k}"] = np.abs(
                pair_population_minimiser("consistent_ik", d) - target).max()
            bias[f"reference variant σ(k(1 − h)), k = {k}"] = np.abs(reference_variant_minimiser(d) - target).max()
    # one pair worked through, so the report can be checked by hand
    d3 = deltas[3][:, :1]
    w_pos, w_neg = (t.item() for t in unanimity_weights(torch.as_tensor(d3)))
    worked = {"per-type deltas Δ_u (k = 3, first pair)": d3[:, 0], "mean_u Δ_u": d3.mean(),
              "P(all prefer y1) = Π σ(Δ_u)": w_pos, "P(all prefer y2) = Π σ(−Δ_u)": w_neg,
              "h* consistent": pair_population_minimiser("consistent", d3)[0],
              "h* consistent_ik": pair_population_minimiser("consistent_ik", d3)[0],
              "h* reference variant": reference_variant_minimiser(d3)[0],
              "closed form of consistent h*: log(P(all y1) / P(all y2)) / k": np.log(w_pos / w_neg) / 3}
    consistent_ok = all(v < 1e-6 for name, v in bias.items() if not name.startswith("reference"))
    variant_biased = all(v > bias_threshold for name, v in bias.items() if name.startswith("reference"))
    return claim_record(
        12, "Temperature-adjusted and I_k losses are consistent; the reference code's variant is not (§6, App. C)",
        "For random per-type deltas, the population minimiser h* of the consistent losses equals mean_u Δ_u "
        "(to 1e-6); the variant with −log σ(k(1 − h)) on all-zero pairs is biased.",
        {"seed": seed, "pairs per k": n_pairs, "per-type deltas Δ_u ~ Normal(0, 1.5²), [k, pairs]": deltas,
         "label law": "every type labels each pair once; only unanimous pairs kept: "
                      "P(all y1) = Π σ(Δ_u), P(all y2) = Π σ(−Δ_u)",
         "bias threshold for the variant": bias_threshold},
        {"max |h* − mean_u Δ_u| per loss": bias, "worked example": worked,
         "all consistent losses within 1e-6": consistent_ok,
         "reference variant biased above threshold": variant_biased},
        consistent_ok and variant_biased)


# ---------------------------------------------------------------- claim 13
@single_torch_thread
def claim_13_until_agreement_is_bt_on_sum(seed: int = 0, n_types: int = 3, n_pairs: int = 6,
                                          n_repeats: int = 100_000) -> dict:
    """§6: P(all prefer y1 | unanimous) = Π σ(Δ_u) / (Π σ(Δ_u) + Π σ(−Δ_u)) = σ(Σ_u Δ_u)."""
    rng = claim_rng(seed, 13)
    deltas = rng.normal(scale=1.0, size=(n_types, n_pairs))
    w_pos, w_neg = (t.numpy() for t in unanimity_weights(torch.as_tensor(deltas)))
    conditional = w_pos / (w_pos + w_neg)
    bt_on_sum = bt_probability(deltas.sum(0))
    # the identity on many more random delta vectors (k = 2..6), exact arithmetic only
    many = [rng.normal(scale=2.0, size=(k, 500)) for k in range(2, 7)]
    identity_error = max(np.abs((lambda wp, wn: wp / (wp + wn))(*(t.numpy()
                                                                  for t in unanimity_weights(torch.as_tensor(d))))
                                - bt_probability(d.sum(0))).max() for d in many)
    share, mean_rounds = simulate_until_unanimous(deltas, n_repeats, rng)
    se = np.sqrt(bt_on_sum * (1 - bt_on_sum) / n_repeats)
    z = (share - bt_on_sum) / se
    passed = np.abs(conditional - bt_on_sum).max() < 1e-12 and identity_error < 1e-12 and np.abs(z).max() < 4.5
    return claim_record(
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
@single_torch_thread
def claim_14_must_discard_disagreements(seed: int = 0, n_types: int = 4, n_pairs: int = 32,
                                        weights=(0.0, 0.1, 0.5, 1.0)) -> dict:
    """§6 theorem, numerically: with k = 4 types, using a disagreement pattern breaks consistency."""
    rng = claim_rng(seed, 14)
    deltas = rng.normal(scale=1.5, size=(n_types, n_pairs))
    target = deltas.mean(0)
    h_star = {w: disagreement_term_minimiser(deltas, w) for w in weights}
    bias = {f"w = {w:g}": np.abs(h - target).max() for w, h in h_star.items()}
    median_bias = {f"w = {w:g}": np.median(np.abs(h - target)) for w, h in h_star.items()}
    w_pos, w_neg = (t.numpy() for t in unanimity_weights(torch.as_tensor(deltas)))
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
    return claim_record(
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
         "mean share of pairs in the pattern or its mirror (discarded, would be used at w > 0)":
             (p_pattern + p_mirror).mean()},
        passed)

