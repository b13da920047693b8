"""The synthetic experiment end to end (§7.2): oracles, one method run, its metrics.

Method ids used by the workflow: ``dpo``, ``ipo``, ``consistent``, ``nbc_counts`` and
``cdpo_alpha<α>`` (first-order corrected DPO at strength α, e.g. ``cdpo_alpha1``).
"""
from __future__ import annotations

import re

import numpy as np
import torch

from ..metrics import kl_divergence, spearman, total_variation
from ..oracles import (consistent_limit_reward, corrected_dpo_limit_reward, dpo_limit_reward,
                       optimal_policy, unanimous_fraction)
from .data import anonymous_labels, counted_nbc, sample_pairs
from .environment import SyntheticEnvironment, profile, signed_offsets
from .train import (CorrectionConfig, LatentTypeJointModel, TrainConfig, TrainResult, train_consistent,
                    train_corrected_dpo, train_dpo)

BASE_METHODS = ("dpo", "ipo", "consistent", "nbc_counts", "corrected_dpo")
_CDPO = re.compile(r"^cdpo_alpha(\d+(?:\.\d+)?)$")


def method_id(method: str, alpha: float | None = None) -> str:
    """``corrected_dpo`` + α → ``cdpo_alpha<α>``; other methods are their own id."""
    if method == "corrected_dpo":
        return f"cdpo_alpha{float(alpha):g}"
    return method


def parse_method(mid: str) -> tuple[str, float | None]:
    m = _CDPO.match(mid)
    if m:
        return "corrected_dpo", float(m.group(1))
    if mid in BASE_METHODS and mid != "corrected_dpo":
        return mid, None
    raise ValueError(f"unknown synthetic method {mid!r}; allowed: dpo, ipo, consistent, nbc_counts, cdpo_alpha<α>")


def environment_from_config(cfg: dict) -> SyntheticEnvironment:
    return SyntheticEnvironment(n=cfg["n"], shifts=tuple(cfg["shifts"]), slopes=tuple(cfg["slopes"]),
                                scales=tuple(cfg["scales"]), beta=cfg["beta"])


def oracle_key(mid: str) -> str:
    """Name of a method's own population limit in the oracle file."""
    method, alpha = parse_method(mid)
    if method == "corrected_dpo":
        return f"limit_{mid}"
    return {"dpo": "dpo_limit", "ipo": "dpo_limit", "consistent": "consistent_limit",
            "nbc_counts": "nbc"}[method]


def compute_oracles(env: SyntheticEnvironment, alphas, corr: CorrectionConfig) -> dict:
    """Every exact population answer the synthetic figures and metrics use, as arrays [X, N]
    (plus per-type rewards [U, X, N]). Corrected DPO has two limits per α: ``limit_cdpo_alpha…``
    is the trained method's own limit (its loss — Var_u[σ(Δ_u)] via the delta method, the
    configured clamp — with the *true* variance); ``theory_cdpo_alpha…`` is §5's expansion with
    the true Var_u(Δ_u) and no clamp."""
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
        out[f"theory_{mid}"] = optimal_policy(corrected_dpo_limit_reward(
            rewards, a, variance_kind="delta", correction_clamp=None, eps=corr.eps), env.beta)
    return out


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


def run_method(mid: str, env: SyntheticEnvironment, n: int, seed: int, train_cfg: TrainConfig,
               corr: CorrectionConfig | None = None, joint_model: LatentTypeJointModel | None = None,
               ipo_tau: float = 0.1) -> TrainResult:
    """Generate the seed's data and fit one method. ``nbc_counts`` returns the count-based NBC
    table in place of a policy (a score, not a distribution)."""
    method, alpha = parse_method(mid)
    rewards = torch.tensor(env.rewards(), dtype=torch.float32)
    pairs = sample_pairs(n, env.n, env.n, seed)
    if method == "dpo":
        return train_dpo(rewards, pairs, seed, train_cfg)
    if method == "ipo":
        return train_dpo(rewards, pairs, seed, train_cfg, loss="ipo", tau=ipo_tau)
    if method == "consistent":
        return train_consistent(rewards, pairs, seed, train_cfg)
    if method == "nbc_counts":
        labels, _ = anonymous_labels(rewards, pairs, seed)
        return TrainResult(counted_nbc(pairs, labels, env.n, env.n), [], {"fraction_used": 1.0}, 0.0)
    if joint_model is None or corr is None:
        raise ValueError(f"{mid} needs a trained joint-likelihood model and a CorrectionConfig")
    corr = CorrectionConfig(**{**corr.__dict__, "alpha": alpha})
    return train_corrected_dpo(rewards, pairs, seed, train_cfg, corr, joint_model)


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
    if parse_method(mid)[0] == "nbc_counts":
        out.update(tv_to_optimal=None, kl_optimal_to_policy=None,
                   tv_to_own_limit=None, max_abs_error_vs_exact_nbc=float(np.abs(table - nbc).max()))
    else:
        out.update(tv_to_optimal=total_variation(table, opt), kl_optimal_to_policy=kl_divergence(opt, table),
                   tv_to_own_limit=total_variation(table, oracles[oracle_key(mid)]))
    return out
