"""Pew figures: Fig. 1 (rankings of one question under r̄, NBC uniform and NBC flipped),
Fig. 2 (CDF of the minimum TV that changes a ranking), Fig. 8 (per-type choice shares and
rewards of one question), Figs. 6–10 (Fig. 1's panel for other questions)."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..aggregation import normalized_borda_count
from ..plotting import demo_title
from .analysis import analyse_counts


def question_arrays(row) -> dict:
    """Re-run the analysis of one table row from its stored weighted counts."""
    counts = np.asarray(row["counts"], dtype=float)[None]
    res = analyse_counts(counts, [counts.shape[-1]])
    return {k: v[0] for k, v in res.items()}


def _bars(ax, options, scores, title, highlight):
    order = np.argsort(-scores, kind="stable")
    colors = ["tab:red" if i == highlight else "tab:gray" for i in order]
    ax.barh(range(len(order))[::-1], scores[order], color=colors)
    ax.set_yticks(range(len(order))[::-1], [textwrap.fill(options[i], 18) for i in order], fontsize=7)
    ax.set_title(title, fontsize=8)
    lo, hi = scores.min(), scores.max()
    pad = 0.15 * (hi - lo + 1e-9)
    ax.set_xlim(lo - pad, hi + pad)


def figure_rankings(row, demo: bool, label: str = "Figure 1"):
    """Three rankings of one question's options: by r̄, by NBC (uniform μ), by NBC under the
    closest μ (in TV) that flips NBC's order of some pair."""
    arr = question_arrays(row)
    options = list(row["options"])
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    _bars(axes[0], options, arr["rbar"], "average reward r̄", int(np.argmax(arr["rbar"])))
    _bars(axes[1], options, arr["nbc"], "NBC, uniform μ", int(np.argmax(arr["nbc"])))
    if row["can_change"]:
        mu = np.asarray(row["flip_mu"], dtype=float)
        nbc_flip = normalized_borda_count(arr["pairwise"], mu)
        _bars(axes[2], options, nbc_flip, f"NBC, flipping μ (TV = {row['min_tv']:.3f})", int(np.argmax(nbc_flip)))
    else:
        axes[2].text(0.5, 0.5, "no μ with full support\nchanges this ranking", ha="center", va="center")
        axes[2].set_axis_off()
    text = textwrap.shorten(str(row["text"]) or row["question"], 110)
    fig.suptitle(demo_title(f"{label}: {row['question']} — {text}", demo), fontsize=9)
    return fig


def figure_min_tv_cdf(table: pd.DataFrame, demo: bool, paper_median: float | None = 0.23):
    """CDF of each question's minimum TV to change its NBC ranking (questions that can change)."""
    tv = np.sort(table.loc[table["can_change"], "min_tv"].to_numpy())
    fig, ax = plt.subplots(figsize=(5, 3.3))
    if len(tv):
        ax.step(tv, np.arange(1, len(tv) + 1) / len(tv), where="post", color="tab:blue",
                label=f"{len(tv)} of {len(table)} questions (median {np.median(tv):.3f})")
    if paper_median is not None:
        ax.axvline(paper_median, color="grey", linestyle=":", label=f"paper's median ({paper_median})")
    ax.set_xlabel("minimum TV distance from uniform μ that changes the ranking")
    ax.set_ylabel("CDF")
    ax.set_title(demo_title("Figure 2: sensitivity of NBC to μ", demo), fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def figure_type_choices(row, demo: bool):
    """Per-type choice shares (left) and Luce–Shepard rewards (right) of one question."""
    arr = question_arrays(row)
    options, types = list(row["options"]), list(row["type_names"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    x = np.arange(len(options))
    width = 0.8 / len(types)
    for u, name in enumerate(types):
        share = arr["shares"][u]
        axes[0].bar(x + u * width, arr["choice_probs"][u], width, label=f"{name} ({100 * share:.0f}%)")
        axes[1].bar(x + u * width, arr["rewards"][u], width, label=name)
    axes[1].plot(x + 0.4 - width / 2, arr["rbar"], "k_", markersize=25, mew=2, label="r̄")
    for ax, title in zip(axes, ("choice share per type", "Luce–Shepard reward per type (centred)")):
        ax.set_xticks(x + 0.4 - width / 2, [textwrap.fill(o, 14) for o in options], fontsize=7)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.suptitle(demo_title(f"Figure 8: {row['question']}", demo), fontsize=9)
    return fig


def figure_partitions(summary: pd.DataFrame, demo: bool):
    """The §7.1 statistics per user-type partition (one row of ``partitions.csv`` each): share of
    questions whose ranking can change, share whose top choice can change, median min-TV; solid
    bars on every question analysed under the partition, hatched on the questions common to all."""
    names = summary["partition"].tolist()
    x = np.arange(len(names))
    own_n = summary["questions_analysed"].to_numpy(dtype=float)
    common_n = summary["common_questions"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        panels = [
            ("share of rankings that can change", summary["share_ranking_can_change"],
             summary["common_share_ranking_can_change"]),
            ("share of top choices that can change", summary["top_choice_can_change"] / own_n,
             summary["common_top_choice_can_change"] / common_n),
            ("median min-TV (questions that can change)", summary["median_min_tv"], summary["common_median_min_tv"]),
        ]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    labels = [f"{n}\n({t} types)" if str(t) not in ("", "nan") else f"{n}\n(no input)"
              for n, t in zip(names, summary["types"].fillna(""))]
    for ax, (title, own, common) in zip(axes, panels):
        ax.bar(x - 0.2, np.nan_to_num(np.asarray(own, dtype=float)), 0.4, color="tab:blue", label="all analysed")
        ax.bar(x + 0.2, np.nan_to_num(np.asarray(common, dtype=float)), 0.4, color="tab:blue", alpha=0.45,
               hatch="//", label="common questions")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7, loc="lower left")
    n_text = ", ".join(f"{n}: {int(q)}" for n, q in zip(names, own_n))
    fig.suptitle(demo_title(f"Who are the types? Questions analysed — {n_text}; common: {int(common_n.max(initial=0))}",
                            demo), fontsize=9)
    fig.tight_layout()
    return fig


def placeholder_figure(message: str, demo: bool):
    """A small figure that says why the real one could not be drawn."""
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    ax.set_title(demo_title("not drawn", demo), fontsize=9)
    return fig


def ev_question_figure(table: pd.DataFrame, which: str, question: str, demo: bool):
    """Figure 1 (``which="fig1"``, rankings) or 8 (``"fig8"``, per-type choices) of ``question``;
    ``(figure, None)``, or ``(placeholder, reason)`` when the question was not analysed."""
    by_name = table.set_index("question") if len(table) else None
    if by_name is None or question not in by_name.index:
        reason = f"{question} was not analysed (its wave is absent or the question was skipped)"
        return placeholder_figure(reason, demo), reason
    row = by_name.loc[question].to_dict() | {"question": question}
    return (figure_rankings(row, demo) if which == "fig1" else figure_type_choices(row, demo)), None


def figures_6_10(table: pd.DataFrame, questions, demo: bool) -> tuple[dict, str]:
    """Figures 6–10: Figure 1's panel for each configured question that was analysed (on demo
    data, where none is, the first questions whose r̄ and NBC top choices differ).
    Returns ``({question: figure}, index.md text)``."""
    by_name = table.set_index("question") if len(table) else None
    present = [q for q in questions if by_name is not None and q in by_name.index]
    note = ""
    if not present and demo and len(table):
        present = table.loc[table["top_differs"], "question"].head(5).tolist()
        note = ("None of the configured questions is in the demo data; drawn instead: the first demo "
                "questions whose r̄ and NBC top choices differ.")
    lines = ["# Figures 6–10", "", note, ""]
    figs = {}
    for i, q in enumerate(present):
        row = by_name.loc[q].to_dict() | {"question": q}
        figs[q] = figure_rankings(row, demo, label=f"Figure {6 + i}")
        lines.append(f"- {q}: drawn ({q}.pdf)")
    for q in questions:
        if q not in present:
            lines.append(f"- {q}: not drawn — its wave is not present or the question was skipped")
    return figs, "\n".join(lines) + "\n"
