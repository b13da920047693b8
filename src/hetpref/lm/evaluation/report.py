"""Figure 5 and the per-seed tables of the semi-synthetic LM experiment (docs/spec.md §8).

Figure 5 (a): agreement with r̄'s order on the test split, four bars — reward model / DPO ×
ignoring heterogeneity (trained on ``anonymous`` labels) / modelling it (``unanimous`` labels,
consistent loss with k = 3) — each the mean across seeds with the seeds as points and a 95 %
t-interval; optional horizontal lines for length-oracle ceilings; optional paper means; the
optional DPO arms (:mod:`hetpref.lm.names`) as further pairs of bars. Figure 5 (b), when the
runs carry the length diagnostics (:func:`hetpref.lm.evaluation.evaluate.length_diagnostics`): the same
bars for the agreement on the test pairs where "the shorter response wins" is wrong.

The per-seed table has one row per (objective, dataset, metric): ``metric = agreement`` (with
the paper's runs beside it) and, for runs that carry them, the diagnostics of :data:`METRICS`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..names import OBJECTIVE_ORDER
from .evaluate import DLEN_BINS, LABELLING, summarise, t_interval, wilson_interval

# docs/spec.md §8, percent, five seeds each: (objective, labelling) → values
PAPER = {
    ("dpo", "ignoring"): [65.61, 67.55, 68.77, 68.70, 66.28],
    ("dpo", "modelling"): [66.63, 69.55, 75.21, 72.04, 74.95],
    ("reward", "ignoring"): [92.33, 85.38, 88.46, 89.69, 91.94],
    ("reward", "modelling"): [95.26, 92.01, 94.60, 93.57, 93.87],
}
OBJECTIVE_NAMES = {"reward": "Reward model", "dpo": "DPO", "ipo": "IPO", "dpo_ref": "DPO, reference code's scoring",
                   "dpo_base": "DPO, base model as reference", "dpo_norm": "DPO, per-token mean"}
# short names for the figure's x axis
OBJECTIVE_TICKS = {"reward": "Reward model", "dpo": "DPO", "ipo": "IPO", "dpo_ref": "DPO\n(ref. code's\nscoring)",
                   "dpo_base": "DPO\n(π_ref = base)", "dpo_norm": "DPO\n(per-token\nmean)"}
# per-run metrics of the seed table (test_metrics.json keys written by lm_train) → label; "agreement" first
METRICS = {"agreement": "agreement with r̄",
           "agreement_ties_correct": "agreement, ties counted correct (reference code's rule; not our metric)",
           "prior_agreement": "shorter-wins prior's agreement (same pairs)",
           "agreement_prior_wrong": "agreement where the shorter-wins prior is wrong or undecided",
           **{f"agreement_dlen_{key}": f"agreement, |Δ length| {label} tokens" for key, label, _, _ in DLEN_BINS}}
# the number of pairs each share is over (metrics.json key), where it is not "n"
METRIC_N = {"agreement_prior_wrong": "n_prior_wrong", **{f"agreement_dlen_{k}": f"n_dlen_{k}" for k, *_ in DLEN_BINS}}
LABELLING_NAMES = {"ignoring": "ignoring heterogeneity", "modelling": "modelling heterogeneity"}


def _runs_frame(runs: Sequence[dict], key: str = "agreement", n_key: str | None = None) -> pd.DataFrame:
    """One row per run: its share ``key`` (as column ``agreement``) and, with ``n_key``, the
    number of pairs the share is over (column ``n``)."""
    df = pd.DataFrame([{"objective": r["objective"], "dataset": r.get("dataset", r.get("labelling")),
                        "seed": int(r["seed"]), "agreement": float(r[key]),
                        **({"n": int(r[n_key])} if n_key else {})} for r in runs if key in r])
    if df.empty:
        raise ValueError(f"no runs with {key!r} to report")
    df["labelling"] = df["dataset"].map(lambda d: LABELLING.get(d, d))
    return df


def per_seed_table(runs: Sequence[dict], paper: bool = True) -> pd.DataFrame:
    """One row per (objective, dataset, ``metric``): the metric in percent per seed (``seed <s>``),
    ``mean``, ``ci_low``/``ci_high`` (95 % t-interval), ``n_pairs`` (test pairs the share is over,
    first seed); ``metric`` is ``agreement`` and each diagnostic of :data:`METRICS` the runs carry.
    With ``paper``, the paper's five runs (``paper 1`` … ``paper 5``) and ``paper mean`` beside
    the agreement rows (blank where the paper has no such row, e.g. the filtered unanimous set,
    IPO or the optional DPO arms)."""
    df = _runs_frame(runs)
    seeds = sorted(df["seed"].unique())
    group_order = {(s["objective"], s["dataset"]): i for i, s in summarise(runs).iterrows()}
    rows = []
    for m_index, (metric, _metric_label) in enumerate(METRICS.items()):
        if not any(metric in r for r in runs):
            continue
        sub_runs = [r for r in runs if metric in r]
        for _, s in summarise(sub_runs, key=metric).iterrows():
            sel = [r for r in sub_runs if r["objective"] == s["objective"]
                   and r.get("dataset", r.get("labelling")) == s["dataset"]]
            by_seed = {int(r["seed"]): float(r[metric]) for r in sel}
            first = min(sel, key=lambda r: int(r["seed"]))
            row = {"objective": s["objective"], "dataset": s["dataset"], "labelling": s["labelling"],
                   "method": f"{OBJECTIVE_NAMES.get(s['objective'], s['objective'])}, "
                             f"{LABELLING_NAMES.get(s['labelling'], s['labelling'])}"}
            for seed in seeds:
                row[f"seed {seed}"] = 100 * by_seed.get(seed, np.nan)
            row.update({"n_seeds": s["n_seeds"], "mean": 100 * s["mean"], "ci_low": 100 * s["ci_low"],
                        "ci_high": 100 * s["ci_high"], "metric": metric,
                        "n_pairs": first.get(METRIC_N.get(metric, "n")),
                        "_order": (group_order.get((s["objective"], s["dataset"]), 99), m_index)})
            if paper:
                values = PAPER.get((s["objective"], s["labelling"])) if metric == "agreement" else None
                for i in range(5):
                    row[f"paper {i + 1}"] = values[i] if values else np.nan
                row["paper mean"] = float(np.mean(values)) if values else np.nan
            rows.append(row)
    rows.sort(key=lambda r: r.pop("_order"))
    return pd.DataFrame(rows)


def summary_table(runs: Sequence[dict]) -> pd.DataFrame:
    """:func:`hetpref.lm.evaluation.evaluate.summarise` of the agreement (one row per objective × dataset),
    with the diagnostics as further columns where the runs carry them: ``ties_correct_mean``
    (the reference code's tie rule), ``prior_agreement`` (mean over seeds; the same test pairs),
    ``prior_wrong_mean``/``_ci_low``/``_ci_high`` (95 % t-interval), ``n_prior_wrong`` and
    ``dlen_<bin>_mean`` (all shares)."""
    s = summarise(runs)
    extra = {"agreement_ties_correct": "ties_correct", "prior_agreement": "prior_agreement",
             "agreement_prior_wrong": "prior_wrong", **{f"agreement_dlen_{k}": f"dlen_{k}" for k, *_ in DLEN_BINS}}
    for metric, name in extra.items():
        if not any(metric in r for r in runs):
            continue
        d = summarise(runs, key=metric).set_index(["objective", "dataset"])
        idx = list(zip(s["objective"], s["dataset"]))
        column = name if metric == "prior_agreement" else f"{name}_mean"
        s[column] = [d["mean"].get(i, np.nan) for i in idx]
        if metric == "agreement_prior_wrong":
            s[f"{name}_ci_low"] = [d["ci_low"].get(i, np.nan) for i in idx]
            s[f"{name}_ci_high"] = [d["ci_high"].get(i, np.nan) for i in idx]
            n = {(r["objective"], r.get("dataset", r.get("labelling"))): r["n_prior_wrong"] for r in runs
                 if "n_prior_wrong" in r}
            s["n_prior_wrong"] = [n.get(i) for i in idx]
    return s


def _fmt(v, digits=2) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def to_latex(table: pd.DataFrame, caption: str = "Agreement with the average reward's order (\\%)") -> str:
    """A booktabs LaTeX table of :func:`per_seed_table` (written by hand: no jinja2 needed)."""
    value_cols = [c for c in table.columns if c.startswith("seed ") or c in ("mean",)]
    paper_cols = [c for c in table.columns if c.startswith("paper")]
    header = ["Method"] + value_cols + ["95\\% CI"] + paper_cols
    labels = {"agreement_ties_correct": "ties correct (ref.\\ code's rule)", "prior_agreement": "shorter-wins prior",
              "agreement_prior_wrong": "where the prior is wrong",
              **{f"agreement_dlen_{k}": f"$|\\Delta|$ {lab.replace('–', '--').replace('>', '$>$')}"
                 for k, lab, *_ in DLEN_BINS}}
    lines = ["\\begin{table}[t]", "\\centering", f"\\caption{{{caption}}}",
             "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule",
             " & ".join(header) + " \\\\", "\\midrule"]
    for _, r in table.iterrows():
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]" if not np.isnan(r["ci_low"]) else ""
        metric = r.get("metric", "agreement")
        method = r["method"] if metric == "agreement" else f"\\quad {labels.get(metric, metric)}"
        cells = [method] + [_fmt(r[c]) for c in value_cols] + [ci] + [_fmt(r[c]) for c in paper_cols]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)


def bar_interval(shares, n=None) -> tuple[float, float, float]:
    """(height, low, high) of one bar, in percent, from the per-seed ``shares`` (in [0, 1]): without
    ``n``, the mean across seeds and its 95 % t-interval; with ``n`` (pairs per seed), the share
    over the seeds' pooled pairs and its 95 % Wilson interval (inside 0–100 %)."""
    shares = np.asarray(shares, dtype=float)
    if n is None:
        return t_interval(100 * shares)
    n = np.asarray(n, dtype=int)
    correct = int(np.rint(shares * n).sum())
    return tuple(100 * v for v in wilson_interval(correct, int(n.sum())))


def _bars(ax, df: pd.DataFrame, objectives: Sequence[str], modelling_dataset: str, paper: bool, width: float = 0.38,
          pooled: bool = False):
    """One pair of bars (ignoring / modelling) per objective, seeds as points: the mean and its 95 %
    t-interval, or with ``pooled`` (``df`` has the pairs per run, ``n``) the share over the pooled
    pairs and its 95 % Wilson interval (:func:`bar_interval`)."""
    colors = {"ignoring": "tab:gray", "modelling": "tab:red"}
    drawn = set()
    for gi, objective in enumerate(objectives):
        for bi, (labelling, dataset) in enumerate((("ignoring", "anonymous"), ("modelling", modelling_dataset))):
            x = gi + (bi - 0.5) * width
            sel = df[(df["objective"] == objective) & (df["dataset"] == dataset)].sort_values("seed")
            vals = 100 * sel["agreement"].to_numpy()
            label = LABELLING_NAMES[labelling] if labelling not in drawn else None
            if len(vals):
                drawn.add(labelling)
                mean, lo, hi = bar_interval(sel["agreement"], sel["n"] if pooled else None)
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
    ax.set_xticks(range(len(objectives)), [OBJECTIVE_TICKS.get(o, o) for o in objectives],
                  fontsize=8 if len(objectives) > 2 else None)
    ax.set_ylim(0, 103)  # room for a ceiling at 100 %
    ax.set_xlim(-0.6, len(objectives) - 0.4)


def figure5(runs: Sequence[dict], ax=None, ceilings: Mapping[str, float] | None = None, paper: bool = False,
            modelling_dataset: str = "unanimous", title: str | None = None):
    """Figure 5: bars = mean agreement (percent) for reward model / DPO (and the optional direct-
    alignment arms present in ``runs``) × ignoring (anonymous) / modelling (``modelling_dataset``),
    per-seed points, 95 % t-interval whiskers. ``ceilings``: {label: percent} drawn as horizontal
    dashed lines (e.g. a length oracle's agreement). ``paper``: the paper's means as black
    diamonds. Direct-alignment runs whose metrics carry ``shorter_wins_agreement``
    (:func:`hetpref.lm.evaluation.evaluate.evaluate_model`) get a dotted segment at that length prior's
    agreement. When the runs carry ``agreement_prior_wrong`` and no ``ax`` is given, a second
    panel (b) shows the agreement on the test pairs where that prior is wrong or undecided (where
    the prior itself scores 0 %): each bar the share over the seeds' pooled pairs with its 95 %
    Wilson interval, which, unlike a t-interval of a few seeds, never runs past 0–100 %. Returns
    the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = _runs_frame(runs)
    present = set(df["objective"])
    objectives = [o for o in OBJECTIVE_ORDER if o in present] + sorted(present - set(OBJECTIVE_ORDER))
    two_panels = ax is None and any("agreement_prior_wrong" in r for r in runs)
    wide = 1.3 * max(len(objectives), 2) + 2.9
    if ax is None:
        if two_panels:
            fig, (ax, ax_b) = plt.subplots(1, 2, figsize=(2 * min(wide, 8.0), 4.8), sharey=True)
        else:
            fig, ax = plt.subplots(figsize=(min(wide, 9.0), 4.4))
    fig = ax.figure
    width = 0.38
    _bars(ax, df, objectives, modelling_dataset, paper, width)
    for i, (label, value) in enumerate((ceilings or {}).items()):
        ax.axhline(value, linestyle="--", linewidth=1, color=f"C{i + 4}", label=label)
    policies = [i for i, o in enumerate(objectives) if o != "reward"]
    prior = [r["shorter_wins_agreement"] for r in runs if r.get("objective") != "reward"
             and "shorter_wins_agreement" in r]
    if prior and policies:  # where a uniform-reference policy starts and, on unpredictable text, stays (length_oracle)
        ax.hlines(100 * float(np.mean(prior)), policies[0] - 1.2 * width, policies[-1] + 1.2 * width, colors="black",
                  linestyles=":", linewidth=1.5, label="shorter response wins (DPO's length prior)", zorder=5)
    ax.set_ylabel("test pairs ordered as the average reward (%)")
    heading = title or "Figure 5: modelling heterogeneity (semi-synthetic HH-RLHF)"
    ax.set_title(f"(a) {heading}" if two_panels else heading, fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09 if len(objectives) <= 2 else -0.2),
              ncol=2, frameon=False)
    if two_panels:
        wrong = _runs_frame(runs, "agreement_prior_wrong", n_key="n_prior_wrong")
        _bars(ax_b, wrong, objectives, modelling_dataset, paper=False, width=width, pooled=True)
        n = sorted({int(r["n_prior_wrong"]) for r in runs if "n_prior_wrong" in r})
        n_text = ", ".join(map(str, n))
        ax_b.axhline(50, linestyle=":", linewidth=1, color="tab:blue", label="50 %")
        ax_b.set_title(f"(b) only the {n_text} test pairs where \"shorter wins\" is wrong or undecided\n"
                       "(the length prior scores 0 % here); share over the seeds' pooled pairs,\n"
                       "95 % Wilson interval", fontsize=9)
        ax_b.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09 if len(objectives) <= 2 else -0.2),
                    ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def write_report(runs: Sequence[dict], out_csv, out_tex, out_figure, out_summary=None, paper: bool = True,
                 ceilings: Mapping[str, float] | None = None, modelling_dataset: str = "unanimous",
                 out_png=None, title: str | None = None) -> pd.DataFrame:
    """Write the per-seed table (CSV + LaTeX), optional summary CSV (:func:`summary_table`), and
    Figure 5 (PDF/PNG)."""
    from ...plotting import save

    table = per_seed_table(runs, paper=paper)
    for p in (out_csv, out_tex, out_summary):
        if p is not None:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False, float_format="%.4f")
    Path(out_tex).write_text(to_latex(table))
    if out_summary is not None:
        s = summary_table(runs)
        s["seeds"] = s["seeds"].map(lambda v: " ".join(map(str, v)))
        s.to_csv(out_summary, index=False, float_format="%.6f")
    fig = figure5(runs, ceilings=ceilings, paper=paper, modelling_dataset=modelling_dataset, title=title)
    save(fig, out_figure, out_png)
    return table
