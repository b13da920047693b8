"""Fit every method of one job (one n, one seed) → per method policy.npy, metrics.json,
provenance.json; and the Eq. 19 joint model with its provenance when an estimated arm used one."""
from dataclasses import replace

import numpy as np
import torch

from hetpref.provenance import provenance, write_json
from hetpref.runtime import script_run
from hetpref.synthetic.config import TrainConfig, config_dict, correction_config
from hetpref.synthetic.experiment import environment_from_config, evaluate, run_methods
from hetpref.synthetic.methods import CORRECTED_DPO, parse_method

with script_run(snakemake, torch_threads=True) as log:
    p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output
    seed, n = int(wc.seed), int(wc.n)
    env = environment_from_config(p.environment)
    cfg = TrainConfig(**p.train)
    corr = correction_config(p.corrected_dpo)
    results, joint = run_methods(p.methods, env, n, seed, cfg, corr, ipo_tau=p.ipo_tau)
    oracles = dict(np.load(inp.oracles))
    base = {"environment": p.environment, "n_preferences": n}
    for mid, policy_path, metrics_path, provenance_path in zip(p.methods, out.policy, out.metrics, out.provenance):
        result = results[mid]
        spec = parse_method(mid)
        run_corr = replace(corr, alpha=spec.alpha) if spec.method == CORRECTED_DPO else corr
        metrics = {"n_preferences": n, "seed": seed, **evaluate(mid, result.policy.numpy(), oracles), **result.info,
                   "train_seconds": result.seconds}
        log.info("%s", metrics)
        np.save(policy_path, result.policy.numpy())
        write_json(metrics_path, metrics)
        write_json(provenance_path, provenance(
            seed, {"method": mid, **base, **config_dict(cfg, run_corr)}, loss_trajectory=result.loss_trajectory,
            threads=snakemake.threads, train_seconds=result.seconds))
    if joint is not None:
        log.info("joint model: %s", {k: v for k, v in joint["info"].items() if k != "heldout_trajectory"})
        torch.save(joint["model"].state_dict(), out.joint_model)
        write_json(out.joint_provenance, provenance(
            seed, {**base, **config_dict(cfg, corr)}, loss_trajectory=joint["trajectory"],
            threads=snakemake.threads, **joint["info"]))
