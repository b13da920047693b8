"""Pew figures: fig1 (rankings of the EV question), fig2 (min-TV CDF), fig8 (per-type choices and
rewards of the EV question), fig6-10 (rankings of the configured questions present), fig_partitions
(the §7.1 statistics per user-type partition)."""
from pathlib import Path

import pandas as pd

from hetpref.pew.analysis import read_question_table
from hetpref.pew.figures import ev_question_figure, figure_min_tv_cdf, figure_partitions, figures_6_10
from hetpref.plotting import save
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    demo = p.mode == "demo"
    if p.figure == "fig_partitions":
        save(figure_partitions(pd.read_csv(inp.partitions), demo), out.pdf, out.png)
    elif p.figure == "fig2":
        save(figure_min_tv_cdf(read_question_table(inp.questions), demo), out.pdf, out.png)
    elif p.figure in ("fig1", "fig8"):
        fig, missing = ev_question_figure(read_question_table(inp.questions), p.figure, p.ev_question, demo)
        if missing:
            log.warning("%s: %s; drawing a placeholder", p.figure, missing)
        save(fig, out.pdf, out.png)
    elif p.figure == "fig6_10":
        figs, index = figures_6_10(read_question_table(inp.questions), p.questions, demo)
        folder = Path(out.folder)
        folder.mkdir(parents=True, exist_ok=True)
        for q, fig in figs.items():
            save(fig, folder / f"{q}.pdf", folder / f"{q}.png")
        (folder / "index.md").write_text(index)
    else:
        raise ValueError(f"unknown Pew figure {p.figure!r}")
