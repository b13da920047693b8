"""Exact population limits of the synthetic environment → oracles.npz + oracles.json."""
import numpy as np

from hetpref.provenance import write_json
from hetpref.runtime import script_run
from hetpref.synthetic.config import correction_config
from hetpref.synthetic.experiment import compute_oracles, environment_from_config, oracle_summary

with script_run(snakemake, torch_threads=True) as log:
    p = snakemake.params
    env = environment_from_config(p.environment)
    oracles = compute_oracles(env, p.corrected_dpo["alphas"], correction_config(p.corrected_dpo))
    np.savez_compressed(snakemake.output.npz, **oracles)
    summary = oracle_summary(oracles)
    write_json(snakemake.output.json, summary)
    for key, val in summary.items():
        log.info("%s: %s", key, val)
