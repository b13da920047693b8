"""Exact minimisers of DPO's and corrected DPO's (true variance) loss on the first seed's own
data, at each size → empirical_limits.csv (the tabular noise floor)."""
import numpy as np
import pandas as pd

from hetpref.runtime import script_run
from hetpref.synthetic.config import correction_config
from hetpref.synthetic.experiment import empirical_limits, environment_from_config

with script_run(snakemake, torch_threads=True) as log:
    p = snakemake.params
    env = environment_from_config(p.environment)
    oracles = dict(np.load(snakemake.input.oracles))
    corr = correction_config(p.corrected_dpo)
    rows = [r for n in p.sizes for r in empirical_limits(env, n, p.seed, p.corrected_dpo["alphas"], corr, oracles)]
    table = pd.DataFrame(rows)
    table.to_csv(snakemake.output.csv, index=False)
    log.info("\n%s", table.to_string())
