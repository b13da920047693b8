"""Latent-type joint-likelihood model for corrected DPO's variance term (Eq. 19)."""
import torch

from hetpref.provenance import provenance, write_json
from hetpref.runtime import script_run
from hetpref.synthetic.data import sample_pairs
from hetpref.synthetic.experiment import environment_from_config
from hetpref.synthetic.train import CorrectionConfig, TrainConfig, config_dict, train_joint_model

with script_run(snakemake, torch_threads=True) as log:  # noqa: F821
    p, wc = snakemake.params, snakemake.wildcards  # noqa: F821
    seed, n = int(wc.seed), int(wc.n)
    env = environment_from_config(p.environment)
    cfg = TrainConfig(**p.train)
    corr = CorrectionConfig(**{k: v for k, v in p.corrected_dpo.items() if k != "alphas"})
    rewards = torch.tensor(env.rewards(), dtype=torch.float32)
    model, traj, info = train_joint_model(rewards, sample_pairs(n, env.n, env.n, seed), seed, cfg, corr)
    log.info("joint model: %s, final loss %.4f", info, traj[-1][1])
    torch.save(model.state_dict(), snakemake.output.model)  # noqa: F821
    write_json(snakemake.output.provenance, provenance(  # noqa: F821
        seed, {"environment": p.environment, "n_preferences": n, **config_dict(cfg, corr)},
        loss_trajectory=traj, threads=snakemake.threads, **info))  # noqa: F821
