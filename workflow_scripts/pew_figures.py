"""Pew figures: fig1 (rankings of the EV question), fig2 (min-TV CDF), fig8 (per-type choices and
rewards of the EV question), fig6-10 (rankings of the configured questions present), fig_partitions
(the §7.1 statistics per user-type partition)."""
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from hetpref.pew.analysis import read_question_table
from hetpref.pew.figures import figure_min_tv_cdf, figure_partitions, figure_rankings, figure_type_choices
from hetpref.plotting import demo_title, save
from hetpref.runtime import script_run


def placeholder(message, demo):
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    ax.set_title(demo_title("not drawn", demo), fontsize=9)
    return fig


with script_run(snakemake) as log:  # noqa: F821
    p, out = snakemake.params, snakemake.output  # noqa: F821
    demo = p.mode == "demo"
    if p.figure == "fig_partitions":
        table = pd.read_csv(snakemake.input.partitions)  # noqa: F821
    else:
        table = read_question_table(snakemake.input.questions)  # noqa: F821
    by_name = table.set_index("question") if p.figure != "fig_partitions" and len(table) else None
    if p.figure == "fig_partitions":
        save(figure_partitions(table, demo), out.pdf, out.png)
    elif p.figure == "fig2":
        save(figure_min_tv_cdf(table, demo), out.pdf, out.png)
    elif p.figure in ("fig1", "fig8"):
        q = p.ev_question
        if by_name is not None and q in by_name.index:
            row = by_name.loc[q].to_dict() | {"question": q}
            fig = figure_rankings(row, demo) if p.figure == "fig1" else figure_type_choices(row, demo)
        else:
            log.warning("%s: question %s is not among the analysed questions; drawing a placeholder", p.figure, q)
            fig = placeholder(f"{q} was not analysed (its wave is absent or the question was skipped)", demo)
        save(fig, out.pdf, out.png)
    elif p.figure == "fig6_10":
        folder = Path(out.folder)
        folder.mkdir(parents=True, exist_ok=True)
        present = [q for q in p.questions if by_name is not None and q in by_name.index]
        note = ""
        if not present and demo and len(table):
            present = table.loc[table["top_differs"], "question"].head(5).tolist()
            note = ("None of the configured questions is in the demo data; drawn instead: the first demo "
                    "questions whose r̄ and NBC top choices differ.")
        lines = ["# Figures 6–10", "", note, ""]
        for i, q in enumerate(present):
            row = by_name.loc[q].to_dict() | {"question": q}
            save(figure_rankings(row, demo, label=f"Figure {6 + i}"), folder / f"{q}.pdf", folder / f"{q}.png")
            lines.append(f"- {q}: drawn ({q}.pdf)")
        for q in p.questions:
            if q not in present:
                lines.append(f"- {q}: not drawn — its wave is not present or the question was skipped")
        (folder / "index.md").write_text("\n".join(lines) + "\n")
    else:
        raise ValueError(f"unknown Pew figure {p.figure!r}")
