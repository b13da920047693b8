"""Fit one synthetic method for one seed → policy.npy, metrics.json, provenance.json."""
import numpy as np
import torch

from hetpref.provenance import provenance, write_json
from hetpref.runtime import script_run
from hetpref.synthetic.experiment import environment_from_config, evaluate, parse_method, run_method
from hetpref.synthetic.train import CorrectionConfig, LatentTypeJointModel, TrainConfig, config_dict

with script_run(snakemake, torch_threads=True) as log:  # noqa: F821
    p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output  # noqa: F821
    seed, n, mid = int(wc.seed), int(wc.n), wc.method
    env = environment_from_config(p.environment)
    cfg = TrainConfig(**p.train)
    corr = CorrectionConfig(**{k: v for k, v in p.corrected_dpo.items() if k != "alphas"})
    joint = None
    if parse_method(mid)[0] == "corrected_dpo":
        joint = LatentTypeJointModel(corr.latent_types, env.n, env.n, seed)
        joint.load_state_dict(torch.load(inp.joint_model))
    result = run_method(mid, env, n, seed, cfg, corr, joint, ipo_tau=p.ipo_tau)
    oracles = dict(np.load(inp.oracles))
    metrics = {"n_preferences": n, "seed": seed, **evaluate(mid, result.policy.numpy(), oracles), **result.info,
               "train_seconds": result.seconds}
    log.info("%s", metrics)
    np.save(out.policy, result.policy.numpy())
    write_json(out.metrics, metrics)
    write_json(out.provenance, provenance(
        seed, {"method": mid, "environment": p.environment, "n_preferences": n, **config_dict(cfg, corr)},
        loss_trajectory=result.loss_trajectory, threads=snakemake.threads,  # noqa: F821
        train_seconds=result.seconds))
