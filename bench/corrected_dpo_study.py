"""The measurements behind corrected DPO's defaults (README, "First-order corrected DPO").

Part ``estimators``: Eq. 19's joint-likelihood model in several designs, each fitted on the same
same-annotator pairs of a seed (10% held out for every design, so their held-out losses compare)
— the estimate's correlation with the true Var_u[σ(Δ_u)] over the training preferences, its mean
bias, the held-out loss beside the true q's, the fit's time — and the corrected-DPO policy each
estimate gives at α (trained side by side with DPO and the oracle-variance arm, so on the same
batches): its TV to π* and the share of the DPO → oracle-arm gap it closes.

Part ``training``: the oracle-variance arm (true variance) at α under the training choices the
issue names — warm-up, clamp, learning rate, steps — against DPO; TV to π*, the profile TV (the
systematic part) and the TV to the arm's exact population limit.

Paper scale (500,000 preferences, tabular policy, batch 1024, 10,000 Adam steps at 1e-3), one
torch thread. Usage:
    python bench/corrected_dpo_study.py [estimators|training|both] [--seeds 0 1 2 3 4] [--alpha 2]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from hetpref.metrics import total_variation
from hetpref.synthetic.config import CorrectionConfig, TrainConfig
from hetpref.synthetic.data import anonymous_labels, sample_pairs
from hetpref.synthetic.environment import SyntheticEnvironment
from hetpref.synthetic.experiment import compute_oracles, profile_total_variation, variance_quality
from hetpref.synthetic.train import Arm, corrected_arm, orient_by_label, train_arms
from hetpref.synthetic.variance import train_joint_model, true_sigmoid_variance

REFERENCE = dict(joint_rewards="tabular", latent_types=3, joint_lr=1e-2, joint_steps=10_000, joint_batch_size=1024,
                 joint_early_stopping=False)
ESTIMATORS = {  # name → CorrectionConfig fields (joint_holdout 0.1 for all, to compare held-out losses)
    "reference (tabular K=3, lr 1e-2, 10k steps)": REFERENCE,
    "tabular K=3 + early stopping": {**REFERENCE, "joint_early_stopping": True},
    "tabular K=10": {**REFERENCE, "latent_types": 10},
    "offset K=3, reference optimiser": {**REFERENCE, "joint_rewards": "offset"},
    "offset K=6, reference optimiser": {**REFERENCE, "joint_rewards": "offset", "latent_types": 6},
    "default: offset K=3, lr 3e-2, 2k steps of 4096, early stopping": {},
}


def _data(env, seed, n):
    rewards = torch.tensor(env.rewards(), dtype=torch.float32)
    pairs = sample_pairs(n, env.n, env.n, seed)
    labels, _ = anonymous_labels(rewards, pairs, seed)
    x, yw, yl = orient_by_label(pairs, labels)
    return rewards, pairs, (x, yw, yl), true_sigmoid_variance(rewards, x, yw, yl)


def estimators(env, oracles, seeds, alpha, n, cfg):
    rows = []
    opt = oracles["optimal"]
    for seed in seeds:
        rewards, pairs, (x, yw, yl), truth = _data(env, seed, n)
        arms = [Arm("dpo"), corrected_arm("oracle", CorrectionConfig(alpha=alpha), truth)]
        facts = {}
        for name, fields in ESTIMATORS.items():
            corr = CorrectionConfig(alpha=alpha, **fields)
            t = time.perf_counter()
            model, _, info = train_joint_model(rewards, pairs, seed, cfg, corr)
            seconds = time.perf_counter() - t
            with torch.no_grad():
                est = model.sigmoid_variance(x * env.n + yw, x * env.n + yl)
            facts[name] = {**variance_quality(est, truth),
                           "heldout_excess": info["heldout_loss"] / info["heldout_loss_true_q"] - 1,
                           "joint_seconds": seconds}
            arms.append(corrected_arm(name, corr, est))
        res = train_arms(rewards, pairs, seed, cfg, arms)
        tv = {k: total_variation(r.policy.numpy(), opt) for k, r in res.items()}
        for name, f in facts.items():
            gap = tv["dpo"] - tv["oracle"]
            rows.append({"seed": seed, "estimator": name, **f, "tv_to_optimal": tv[name], "tv_dpo": tv["dpo"],
                         "tv_oracle": tv["oracle"], "gap_closed": (tv["dpo"] - tv[name]) / gap if gap > 0 else np.nan})
        print(f"seed {seed} done", flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("estimator", sort=False).agg(
        correlation=("variance_correlation", "mean"), correlation_min=("variance_correlation", "min"),
        relative_bias=("variance_bias", lambda b: (b / table.loc[b.index, "variance_true_mean"]).mean()),
        heldout_excess=("heldout_excess", "mean"), joint_seconds=("joint_seconds", "mean"),
        tv_to_optimal=("tv_to_optimal", "mean"), gap_closed_mean=("gap_closed", "mean"))
    means = table.groupby("estimator", sort=False)[["tv_to_optimal", "tv_dpo", "tv_oracle"]].mean()
    summary["gap_closed_of_means"] = (means.tv_dpo - means.tv_to_optimal) / (means.tv_dpo - means.tv_oracle)
    print(f"\nα = {alpha:g}; DPO TV {table.tv_dpo.mean():.4f}, oracle arm TV {table.tv_oracle.mean():.4f} (seed means)")
    print(summary.round(4).to_string())
    return table


def training(env, oracles, seeds, alpha, n, cfg):
    """The oracle arm under the training choices; arms that share lr and steps train side by side."""
    opt, limit = oracles["optimal"], oracles[f"limit_cdpo_alpha{alpha:g}"]
    rows = []
    stacked = {"warm-up 8000, clamp 0.1 (default)": {}, "warm-up 0": {"warmup_steps": 0},
               "warm-up 5000": {"warmup_steps": 5000}, "warm-up 9000": {"warmup_steps": 9000},
               "no clamp": {"correction_clamp": None}}
    separate = {"lr 3e-4": ({}, {"lr": 3e-4}), "lr 3e-3": ({}, {"lr": 3e-3}),
                "16k steps (8k warm-up)": ({}, {"steps": 16_000})}
    for seed in seeds:
        rewards, pairs, _, truth = _data(env, seed, n)
        base = CorrectionConfig(alpha=alpha)
        arms = [Arm("DPO")] + [corrected_arm(k, replace(base, **v), truth) for k, v in stacked.items()]
        res = train_arms(rewards, pairs, seed, cfg, arms)
        for name, (corr_fields, cfg_fields) in separate.items():
            res.update(train_arms(rewards, pairs, seed, replace(cfg, **cfg_fields),
                                  [corrected_arm(name, replace(base, **corr_fields), truth)]))
        for name, r in res.items():
            p = r.policy.numpy()
            rows.append({"seed": seed, "variant": name, "tv_to_optimal": total_variation(p, opt),
                         "tv_profile_to_optimal": profile_total_variation(p, opt),
                         "tv_to_own_limit": total_variation(p, limit if name != "DPO" else oracles["dpo_limit"])})
        print(f"seed {seed} done", flush=True)
    table = pd.DataFrame(rows)
    print(f"\noracle-variance arm at α = {alpha:g}; exact limit: TV {total_variation(limit, opt):.4f} "
          f"(DPO limit {total_variation(oracles['dpo_limit'], opt):.4f})")
    print(table.groupby("variant", sort=False)[["tv_to_optimal", "tv_profile_to_optimal", "tv_to_own_limit"]]
          .mean().round(4).to_string())
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", nargs="?", default="both", choices=["estimators", "training", "both"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--n", type=int, default=500_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    env = SyntheticEnvironment()
    oracles = compute_oracles(env, [args.alpha], CorrectionConfig(), theory=False)
    cfg = TrainConfig(policy="tabular")
    if args.part in ("estimators", "both"):
        estimators(env, oracles, args.seeds, args.alpha, args.n, cfg)
    if args.part in ("training", "both"):
        training(env, oracles, args.seeds, args.alpha, args.n, cfg)


if __name__ == "__main__":
    main()
