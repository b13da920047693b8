"""Figures 3, 4(a), 4(b), 4(c) of §7.2, the consistency sweep and the heterogeneity sweep."""
import json

import numpy as np
import pandas as pd

from hetpref.plotting import save
from hetpref.runtime import script_run
from hetpref.synthetic import figures
from hetpref.synthetic.methods import CORRECTED_DPO, ESTIMATED, ORACLE, method_id

with script_run(snakemake) as log:
    inp, out = snakemake.input, snakemake.output
    which = snakemake.params.figure

    def load(files):
        return np.stack([np.load(f) for f in files])

    if which == "heterogeneity":
        fig = figures.figure_heterogeneity(pd.read_csv(inp.heterogeneity))
    else:
        oracles = dict(np.load(inp.oracles))
    if which == "fig3":
        fig = figures.figure3(oracles)
    elif which == "fig4a":
        fig = figures.figure4a(oracles, load(inp.dpo), load(inp.nbc) if inp.nbc else None)
    elif which == "fig4b":
        alphas = snakemake.params.alphas

        def by_alpha(files, variance):
            return {a: load([f for f in files if f"/{method_id(CORRECTED_DPO, a, variance)}/" in f])
                    for a in alphas} if files else None

        fig = figures.figure4b(oracles, by_alpha(inp.cdpo, ESTIMATED), by_alpha(inp.cdpo_oracle, ORACLE))
    elif which == "fig4c":
        used = np.mean([json.loads(open(f).read())["fraction_used"] for f in inp.consistent_metrics])
        fig = figures.figure4c(oracles, load(inp.consistent), used)
    elif which == "sweep":
        fig = figures.figure_sweep(pd.read_csv(inp.sweep), json.loads(open(inp.oracle_summary).read()))
    elif which != "heterogeneity":
        raise ValueError(f"unknown synthetic figure {which!r}")
    save(fig, out.pdf, out.png)
    log.info("wrote %s and %s", out.pdf, out.png)
