"""Collect per-run metrics JSON files into one CSV table."""
import json

import pandas as pd

from hetpref.runtime import script_run

with script_run(snakemake) as log:
    rows = [json.loads(open(f).read()) for f in snakemake.input.metrics]
    table = pd.DataFrame(rows).sort_values(["n_preferences", "method", "seed"])
    table.to_csv(snakemake.output.csv, index=False)
    cols = ["tv_to_optimal", "tv_to_own_limit", "argmax_d", "spearman_vs_nbc", "spearman_vs_average_reward"]
    log.info("\n%s", table.groupby(["n_preferences", "method"])[cols].mean().to_string())
