"""The synthetic experiment end to end (§7.2): oracles, the methods of one dataset, their metrics.

Method ids (:mod:`hetpref.synthetic.methods`): ``dpo``, ``ipo``, ``consistent``, ``nbc_counts``,
``cdpo_alpha<α>`` (first-order corrected DPO at strength α with the variance estimated by
Eq. 19's joint model, e.g. ``cdpo_alpha1``) and ``cdpo_alpha<α>_oracle`` (the same loss and
training with the *true* Var_u[σ(Δ_u)]: the arm that separates estimator error from training).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..metrics import kl_divergence, spearman, total_variation
from ..oracles import (
    consistent_limit_reward,
    corrected_dpo_limit_reward,
    dpo_limit_reward,
    optimal_policy,
    population_limit_reward,
    type_delta_variance,
    unanimous_fraction,
)
from .config import CorrectionConfig, TrainConfig
from .data import anonymous_labels, counted_nbc, empirical_pair_weights, sample_pairs
from .environment import SyntheticEnvironment, profile, signed_offsets
from .methods import (  # noqa: F401 (BASE_METHODS, VARIANCE_SOURCES, MethodSpec, expand_methods: re-exported)
    BASE_METHODS,
    VARIANCE_SOURCES,
    MethodSpec,
    expand_methods,
    method_id,
    oracle_key,
    parse_method,
)
from .train import Arm, TrainResult, corrected_arm, orient_by_label, train_arms
from .variance import train_joint_model, true_sigmoid_variance

# facts about the variance estimate copied into every estimated arm's metrics
QUALITY_KEYS = ("variance_correlation", "variance_bias", "variance_true_mean", "variance_estimate_mean",
                "joint_heldout_loss", "joint_heldout_loss_true_q")


def environment_from_config(cfg: dict) -> SyntheticEnvironment:
    return SyntheticEnvironment(n=cfg["n"], shifts=tuple(cfg["shifts"]), slopes=tuple(cfg["slopes"]),
                                scales=tuple(cfg["scales"]), beta=cfg["beta"])


def compute_oracles(env: SyntheticEnvironment, alphas, corr: CorrectionConfig, theory: bool = True) -> dict:
    """Every exact population answer the synthetic figures and metrics use, as arrays [X, N]
    (plus per-type rewards [U, X, N]). Corrected DPO has two limits per α: ``limit_cdpo_alpha…``
    is the trained method's own limit (its loss — Var_u[σ(Δ_u)] via the delta method, the
    configured clamp — with the *true* variance); ``theory_cdpo_alpha…`` is §5's expansion with
    the true Var_u(Δ_u) and no clamp (skipped with ``theory=False``)."""
    rewards = env.rewards()
    out = {
        "rewards": rewards,
        "average_reward": env.average_reward(),
        "optimal": env.optimal_policy(),
        "nbc": env.nbc(),
        "dpo_limit": optimal_policy(dpo_limit_reward(env.pairwise()), env.beta),
        "consistent_limit": optimal_policy(consistent_limit_reward(rewards), env.beta),
    }
    for a in alphas:
        mid = method_id("corrected_dpo", a)
        out[f"limit_{mid}"] = optimal_policy(corrected_dpo_limit_reward(
            rewards, a, variance_kind="sigmoid", correction_clamp=corr.correction_clamp, eps=corr.eps), env.beta)
        if theory:
            out[f"theory_{mid}"] = optimal_policy(corrected_dpo_limit_reward(
                rewards, a, variance_kind="delta", correction_clamp=None, eps=corr.eps), env.beta)
    return out


def profile_total_variation(p, q) -> float:
    """½ Σ_d |π̄(d) − q̄(d)| between the 1-D profiles (means over x) that Figures 4 draw. For the
    translation-invariant §7.2 targets it is the systematic part of the TV: per-context
    sampling noise averages out over the N contexts."""
    return float(0.5 * np.abs(profile(p)[0] - profile(q)[0]).sum())


def oracle_summary(oracles: dict) -> dict:
    """Scalar facts about the oracles: each policy-valued limit's TV/KL to π*, its peak, and the
    unanimous fraction."""
    opt = oracles["optimal"]
    d = signed_offsets(opt.shape[-1])
    summary = {"unanimous_fraction": unanimous_fraction(oracles["rewards"])}
    for key, pol in oracles.items():
        if key in ("rewards", "average_reward", "nbc"):
            continue
        prof = profile(pol)[0]
        summary[key] = {"tv_to_optimal": total_variation(pol, opt), "kl_optimal_to_policy": kl_divergence(opt, pol),
                        "argmax_d": int(d[prof.argmax()]),
                        "spearman_vs_nbc": spearman(prof, profile(oracles["nbc"])[0])}
    return summary


def variance_quality(estimate, truth) -> dict:
    """How well a per-preference variance estimate tracks the true Var_u[σ(Δ_u)]."""
    est, true = np.asarray(estimate, dtype=float), np.asarray(truth, dtype=float)
    corr = float(np.corrcoef(est, true)[0, 1]) if est.std() > 0 and true.std() > 0 else float("nan")
    return {"variance_correlation": corr, "variance_bias": float(est.mean() - true.mean()),
            "variance_true_mean": float(true.mean()), "variance_estimate_mean": float(est.mean())}


def run_methods(mids, env: SyntheticEnvironment, n: int, seed: int, train_cfg: TrainConfig,
                corr: CorrectionConfig | None = None, ipo_tau: float = 0.1):
    """Generate one seed's data and fit every method of ``mids`` on it. Each method sees exactly
    the pairs, labels and batches a run of its own would (they train side by side,
    :func:`~hetpref.synthetic.train.train_arms`). Estimated corrected-DPO arms share
    one Eq. 19 joint model, fitted here. Returns ``(results, joint)``: id → TrainResult
    (``nbc_counts`` gives the count-based NBC table in place of a policy), and None or
    ``{"model", "trajectory", "info"}`` of the joint model (its info includes the estimate's
    correlation and bias against the true variance)."""
    specs = {mid: parse_method(mid) for mid in mids}
    rewards = torch.tensor(env.rewards(), dtype=torch.float32)
    pairs = sample_pairs(n, env.n, env.n, seed)
    cdpo = [mid for mid, s in specs.items() if s.method == "corrected_dpo"]
    if cdpo and corr is None:
        raise ValueError(f"{cdpo[0]} needs a CorrectionConfig")
    joint, truth, estimated, quality = None, None, None, {}
    if cdpo:
        labels, _ = anonymous_labels(rewards, pairs, seed)
        x, yw, yl = orient_by_label(pairs, labels)
        truth = true_sigmoid_variance(rewards, x, yw, yl)
        if any(specs[m].variance == "estimated" for m in cdpo):
            model, traj, info = train_joint_model(rewards, pairs, seed, train_cfg, corr)
            with torch.no_grad():
                estimated = model.sigmoid_variance(x * env.n + yw, x * env.n + yl)
            info.update(variance_quality(estimated, truth))
            joint = {"model": model, "trajectory": traj, "info": info}
            renamed = {f"joint_{k}": v for k, v in info.items() if k.startswith("heldout_loss")}
            quality = {k: v for k, v in {**info, **renamed}.items() if k in QUALITY_KEYS}
    arms = []
    for mid, s in specs.items():
        if s.method in ("dpo", "ipo", "consistent"):
            arms.append(Arm(mid, s.method, {"tau": ipo_tau} if s.method == "ipo" else {}))
        elif s.method == "corrected_dpo":
            info = {"variance_source": s.variance, **(quality if s.variance == "estimated" else {})}
            arms.append(corrected_arm(mid, replace(corr, alpha=s.alpha),
                                      estimated if s.variance == "estimated" else truth, info))
    results = train_arms(rewards, pairs, seed, train_cfg, arms) if arms else {}
    for mid, s in specs.items():
        if s.method == "nbc_counts":
            labels, _ = anonymous_labels(rewards, pairs, seed)
            results[mid] = TrainResult(counted_nbc(pairs, labels, env.n, env.n), [], {"fraction_used": 1.0}, 0.0)
    return {mid: results[mid] for mid in mids}, joint


def run_method(mid: str, env: SyntheticEnvironment, n: int, seed: int, train_cfg: TrainConfig,
               corr: CorrectionConfig | None = None, ipo_tau: float = 0.1) -> TrainResult:
    """One method on one seed's data (see :func:`run_methods`)."""
    return run_methods([mid], env, n, seed, train_cfg, corr, ipo_tau)[0][mid]


def evaluate(mid: str, table, oracles: dict) -> dict:
    """Metrics of one fitted table against the exact oracles."""
    table = np.asarray(table, dtype=float)
    opt, nbc = oracles["optimal"], oracles["nbc"]
    d = signed_offsets(opt.shape[-1])
    prof = profile(table)[0]
    out = {
        "method": mid,
        "argmax_d": int(d[prof.argmax()]),
        "spearman_vs_nbc": spearman(prof, profile(nbc)[0]),
        "spearman_vs_average_reward": spearman(prof, profile(oracles["average_reward"])[0]),
    }
    out["argmax_abs_d"] = abs(out["argmax_d"])
    if parse_method(mid).method == "nbc_counts":
        out.update(tv_to_optimal=None, kl_optimal_to_policy=None, tv_profile_to_optimal=None,
                   tv_to_own_limit=None, max_abs_error_vs_exact_nbc=float(np.abs(table - nbc).max()))
    else:
        out.update(tv_to_optimal=total_variation(table, opt), kl_optimal_to_policy=kl_divergence(opt, table),
                   tv_profile_to_optimal=profile_total_variation(table, opt),
                   tv_to_own_limit=total_variation(table, oracles[oracle_key(mid)]))
    return out


def empirical_limit_policies(env: SyntheticEnvironment, n: int, seed: int, alphas, corr: CorrectionConfig) -> dict:
    """Exact minimisers, over tabular rewards, of DPO's loss and of corrected DPO's loss with the
    *true* variance (configured clamp and ε) on one seed's own anonymous data — where training
    a tabular policy on these data to convergence ends up. Returns id → policy [X, N]; corrected
    DPO starts from DPO's minimiser, as the trained policy does after its warm-up."""
    rewards = torch.tensor(env.rewards(), dtype=torch.float32)
    pairs = sample_pairs(n, env.n, env.n, seed)
    labels, _ = anonymous_labels(rewards, pairs, seed)
    weights = empirical_pair_weights(*orient_by_label(pairs, labels), env.n, env.n).numpy()
    variance = type_delta_variance(env.rewards(), kind="sigmoid")
    r_dpo = population_limit_reward("dpo", weights)
    out = {"dpo": optimal_policy(r_dpo, env.beta)}
    for a in (a for a in alphas if a > 0):  # α = 0 is DPO
        r = population_limit_reward("corrected_dpo", weights, dict(
            variance=variance, alpha=a, variance_kind="sigmoid", correction_clamp=corr.correction_clamp,
            eps=corr.eps), init=r_dpo)
        out[method_id("corrected_dpo", a, "oracle")] = optimal_policy(r, env.beta)
    return out


def empirical_limits(env: SyntheticEnvironment, n: int, seed: int, alphas, corr: CorrectionConfig,
                     oracles: dict) -> list[dict]:
    """TV to π* of the exact minimisers on the data (:func:`empirical_limit_policies`), beside
    their population limits': the gap between the two is sampling noise, not optimisation."""
    opt = oracles["optimal"]
    rows = []
    for mid, pol in empirical_limit_policies(env, n, seed, alphas, corr).items():
        limit = oracles[oracle_key(mid)]
        rows.append({"n_preferences": n, "seed": seed, "method": mid, "tv_to_optimal": total_variation(pol, opt),
                     "tv_profile_to_optimal": profile_total_variation(pol, opt),
                     "tv_to_population_limit": total_variation(pol, limit),
                     "population_limit_tv_to_optimal": total_variation(limit, opt)})
    return rows
