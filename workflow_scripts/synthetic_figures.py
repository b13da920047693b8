"""Figures 3, 4(a), 4(b), 4(c) of §7.2 and the consistency sweep."""
import json

import numpy as np
import pandas as pd

from hetpref.plotting import save
from hetpref.runtime import script_run
from hetpref.synthetic import figures

with script_run(snakemake) as log:  # noqa: F821
    inp, out = snakemake.input, snakemake.output  # noqa: F821
    which = snakemake.params.figure  # noqa: F821
    oracles = dict(np.load(inp.oracles))
    load = lambda files: np.stack([np.load(f) for f in files])  # noqa: E731
    if which == "fig3":
        fig = figures.figure3(oracles)
    elif which == "fig4a":
        fig = figures.figure4a(oracles, load(inp.dpo), load(inp.nbc) if inp.nbc else None)
    elif which == "fig4b":
        alphas = snakemake.params.alphas  # noqa: F821
        by_alpha = {a: load([f for f in inp.cdpo if f"/cdpo_alpha{a:g}/" in f]) for a in alphas}
        fig = figures.figure4b(oracles, by_alpha)
    elif which == "fig4c":
        used = np.mean([json.loads(open(f).read())["fraction_used"] for f in inp.consistent_metrics])
        fig = figures.figure4c(oracles, load(inp.consistent), used)
    elif which == "sweep":
        fig = figures.figure_sweep(pd.read_csv(inp.sweep), json.loads(open(inp.oracle_summary).read()))
    else:
        raise ValueError(f"unknown synthetic figure {which!r}")
    save(fig, out.pdf, out.png)
    log.info("wrote %s and %s", out.pdf, out.png)
