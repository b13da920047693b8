"""Figure 5 and the per-seed tables of the semi-synthetic LM experiment (MATH.md §8).

Figure 5: agreement with r̄'s order on the test split, four bars — reward model / DPO ×
ignoring heterogeneity (trained on ``anonymous`` labels) / modelling it (``unanimous`` labels,
consistent loss with k = 3) — each the mean across seeds with the seeds as points and a 95 %
t-interval; optional horizontal lines for length-oracle ceilings; optional paper means.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .evaluate import LABELLING, summarise, t_interval

# MATH.md §8, percent, five seeds each: (objective, labelling) → values
PAPER = {
    ("dpo", "ignoring"): [65.61, 67.55, 68.77, 68.70, 66.28],
    ("dpo", "modelling"): [66.63, 69.55, 75.21, 72.04, 74.95],
    ("reward", "ignoring"): [92.33, 85.38, 88.46, 89.69, 91.94],
    ("reward", "modelling"): [95.26, 92.01, 94.60, 93.57, 93.87],
}
OBJECTIVE_NAMES = {"reward": "Reward model", "dpo": "DPO"}
LABELLING_NAMES = {"ignoring": "ignoring heterogeneity", "modelling": "modelling heterogeneity"}


def _runs_frame(runs: Sequence[dict]) -> pd.DataFrame:
    df = pd.DataFrame([{"objective": r["objective"], "dataset": r.get("dataset", r.get("labelling")),
                        "seed": int(r["seed"]), "agreement": float(r["agreement"])} for r in runs])
    if df.empty:
        raise ValueError("no runs to report")
    df["labelling"] = df["dataset"].map(lambda d: LABELLING.get(d, d))
    return df


def per_seed_table(runs: Sequence[dict], paper: bool = True) -> pd.DataFrame:
    """One row per (objective, dataset): agreement in percent per seed (``seed <s>``), ``mean``,
    ``ci_low``/``ci_high`` (95 % t-interval); with ``paper``, the paper's five runs
    (``paper 1`` … ``paper 5``) and ``paper mean`` in adjacent columns (blank where the paper has
    no such row, e.g. the filtered unanimous set or IPO)."""
    df = _runs_frame(runs)
    summary = summarise(runs)
    seeds = sorted(df["seed"].unique())
    rows = []
    for _, s in summary.iterrows():
        sub = df[(df["objective"] == s["objective"]) & (df["dataset"] == s["dataset"])].set_index("seed")
        row = {"objective": s["objective"], "dataset": s["dataset"], "labelling": s["labelling"],
               "method": f"{OBJECTIVE_NAMES.get(s['objective'], s['objective'])}, "
                         f"{LABELLING_NAMES.get(s['labelling'], s['labelling'])}"}
        for seed in seeds:
            row[f"seed {seed}"] = 100 * sub["agreement"].get(seed, np.nan)
        row.update({"n_seeds": s["n_seeds"], "mean": 100 * s["mean"], "ci_low": 100 * s["ci_low"],
                    "ci_high": 100 * s["ci_high"]})
        if paper:
            values = PAPER.get((s["objective"], s["labelling"]))
            for i in range(5):
                row[f"paper {i + 1}"] = values[i] if values else np.nan
            row["paper mean"] = float(np.mean(values)) if values else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(v, digits=2) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def to_latex(table: pd.DataFrame, caption: str = "Agreement with the average reward's order (\\%)") -> str:
    """A booktabs LaTeX table of :func:`per_seed_table` (written by hand: no jinja2 needed)."""
    value_cols = [c for c in table.columns if c.startswith("seed ") or c in ("mean",)]
    paper_cols = [c for c in table.columns if c.startswith("paper")]
    header = ["Method"] + value_cols + ["95\\% CI"] + paper_cols
    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{caption}}}",
             "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule",
             " & ".join(header) + " \\\\", "\\midrule"]
    for _, r in table.iterrows():
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]" if not np.isnan(r["ci_low"]) else ""
        cells = [r["method"]] + [_fmt(r[c]) for c in value_cols] + [ci] + [_fmt(r[c]) for c in paper_cols]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def figure5(runs: Sequence[dict], ax=None, ceilings: Mapping[str, float] | None = None, paper: bool = False,
            modelling_dataset: str = "unanimous", title: str | None = None):
    """Figure 5: bars = mean agreement (percent) for reward model / DPO × ignoring (anonymous) /
    modelling (``modelling_dataset``), per-seed points, 95 % t-interval whiskers. ``ceilings``:
    {label: percent} drawn as horizontal dashed lines (e.g. a length oracle's agreement).
    ``paper``: the paper's means as black diamonds. DPO runs whose metrics carry
    ``shorter_wins_agreement`` (:func:`hetpref.lm.evaluate.evaluate_model`) get a dotted segment at
    that length prior's agreement. Returns the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = _runs_frame(runs)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.4))
    fig = fig or ax.figure
    colors = {"ignoring": "tab:gray", "modelling": "tab:red"}
    width, drawn = 0.38, set()
    for gi, objective in enumerate(("reward", "dpo")):
        for bi, (labelling, dataset) in enumerate((("ignoring", "anonymous"), ("modelling", modelling_dataset))):
            x = gi + (bi - 0.5) * width
            vals = 100 * df[(df["objective"] == objective) & (df["dataset"] == dataset)].sort_values(
                "seed")["agreement"].to_numpy()
            label = LABELLING_NAMES[labelling] if labelling not in drawn else None
            if len(vals):
                drawn.add(labelling)
                mean, lo, hi = t_interval(vals)
                yerr = None if np.isnan(lo) else [[mean - lo], [hi - mean]]
                ax.bar(x, mean, width * 0.92, color=colors[labelling], alpha=0.75, label=label,
                       yerr=yerr, capsize=3, ecolor="black")
                jitter = np.linspace(-width * 0.25, width * 0.25, len(vals)) if len(vals) > 1 else [0.0]
                ax.scatter(x + np.asarray(jitter), vals, s=12, color="black", zorder=3)
                # inside the bar's foot: the top is crowded by whiskers, seeds and the paper marker
                ax.annotate(f"{mean:.1f}", (x, 0), textcoords="offset points", xytext=(0, 4), ha="center",
                            fontsize=7)
            if paper and (objective, labelling) in PAPER:
                ax.scatter([x], [np.mean(PAPER[(objective, labelling)])], marker="D", s=22, color="black",
                           facecolor="white", zorder=4, label="paper (mean of 5 seeds)"
                           if "paper" not in drawn else None)
                drawn.add("paper")
    for i, (label, value) in enumerate((ceilings or {}).items()):
        ax.axhline(value, linestyle="--", linewidth=1, color=f"C{i + 4}", label=label)
    prior = [r["shorter_wins_agreement"] for r in runs if r.get("objective") == "dpo" and "shorter_wins_agreement" in r]
    if prior:  # where a uniform-reference policy starts and, on unpredictable text, stays (length_oracle)
        ax.hlines(100 * float(np.mean(prior)), 1 - 1.2 * width, 1 + 1.2 * width, colors="black", linestyles=":",
                  linewidth=1.5, label="shorter response wins (DPO's length prior)", zorder=5)
    ax.set_xticks([0, 1], [OBJECTIVE_NAMES["reward"], OBJECTIVE_NAMES["dpo"]])
    ax.set_ylabel("test pairs ordered as the average reward (%)")
    ax.set_ylim(0, 103)  # room for a ceiling at 100 %
    ax.set_xlim(-0.6, 1.6)
    ax.set_title(title or "Figure 5: modelling heterogeneity (semi-synthetic HH-RLHF)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, frameon=False)
    return fig


def write_report(runs: Sequence[dict], out_csv, out_tex, out_figure, out_summary=None, paper: bool = True,
                 ceilings: Mapping[str, float] | None = None, modelling_dataset: str = "unanimous",
                 out_png=None, title: str | None = None) -> pd.DataFrame:
    """Write the per-seed table (CSV + LaTeX), optional summary CSV, and Figure 5 (PDF/PNG)."""
    from ..plotting import save

    table = per_seed_table(runs, paper=paper)
    for p in (out_csv, out_tex, out_summary):
        if p is not None:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False, float_format="%.4f")
    Path(out_tex).write_text(to_latex(table))
    if out_summary is not None:
        s = summarise(runs)
        s["seeds"] = s["seeds"].map(lambda v: " ".join(map(str, v)))
        s.to_csv(out_summary, index=False, float_format="%.6f")
    fig = figure5(runs, ceilings=ceilings, paper=paper, modelling_dataset=modelling_dataset, title=title)
    save(fig, out_figure, out_png)
    return table
