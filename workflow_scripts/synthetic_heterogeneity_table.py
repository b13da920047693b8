"""Collect the heterogeneity sweep's per-point CSVs into one table."""
import pandas as pd

from hetpref.runtime import script_run

with script_run(snakemake) as log:
    table = pd.concat([pd.read_csv(f) for f in snakemake.input.metrics], ignore_index=True)
    table = table.sort_values(["shift", "outer_scale", "method", "seed"])
    table.to_csv(snakemake.output.csv, index=False)
    log.info("\n%s", table.groupby(["point", "method"])[["tv_to_optimal", "exact_tv_to_optimal"]].mean().to_string())
