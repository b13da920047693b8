"""Figures 3 and 4 of the paper, the consistency sweep and the heterogeneity sweep (beyond the paper)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..metrics import total_variation
from ..plotting import COLORS
from .environment import profile, signed_offsets
from .experiment import method_id, parse_method

# corrected DPO: estimated variance (Eq. 19) and the oracle arm (true variance)
CDPO_COLORS = {"estimated": "tab:orange", "oracle": "tab:brown"}


def profile_curve(ax, tables, label, color=None, linestyle="-", band=True, marker=None):
    """Plot the 1-D profile of one or several [X, N] tables (pooled across seeds and x) with a
    ±1 standard-error band."""
    tables = np.asarray(tables, dtype=float)
    d = signed_offsets(tables.shape[-1])
    mean, se = profile(tables)
    ax.plot(d, mean, linestyle, color=color, label=label, marker=marker, markersize=3)
    if band and np.any(se > 0):
        ax.fill_between(d, mean - se, mean + se, color=color, alpha=0.25, linewidth=0)
    return d, mean


def method_style(mid: str) -> dict:
    """Colour, marker and label of a method id, distinct for every family and variance source."""
    spec = parse_method(mid)
    if spec.method == "corrected_dpo":
        what = "est. variance" if spec.variance == "estimated" else "true variance"
        oracle = spec.variance == "oracle"  # hollow squares, dashed: the estimated arm stays visible beneath
        return {"color": CDPO_COLORS[spec.variance], "marker": "s" if oracle else "^",
                "linestyle": "--" if oracle else "-", "markerfacecolor": "none" if oracle else None,
                "label": f"corrected DPO α={spec.alpha:g} ({what})"}
    labels = {"dpo": "DPO", "ipo": "IPO", "consistent": "consistent loss", "nbc_counts": "NBC (counts)"}
    return {"color": COLORS.get(spec.method, "grey"), "marker": "o", "linestyle": "-", "markerfacecolor": None,
            "label": labels[spec.method]}


def _errorbar(ax, x, mean, sem, style, label):
    ax.errorbar(x, mean, yerr=sem.fillna(0), marker=style["marker"], linestyle=style["linestyle"],
                color=style["color"], markerfacecolor=style["markerfacecolor"] or style["color"], capsize=3,
                label=label)


def figure3(oracles: dict, type_labels=None):
    """Per-type rewards and their average, 1-D (Figure 3)."""
    rewards = oracles["rewards"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    labels = type_labels or [f"type {u + 1}" for u in range(rewards.shape[0])]
    for u, lab in enumerate(labels):
        profile_curve(ax, rewards[u], lab, linestyle="--", band=False)
    profile_curve(ax, oracles["average_reward"], "average r̄", color="black")
    ax.set_xlabel("d = (y − x) mod N")
    ax.set_ylabel("reward")
    ax.set_title("Figure 3: per-type rewards and their average")
    ax.legend(fontsize=8)
    return fig


def _policy_axes(title):
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.set_xlabel("d = (y − x) mod N")
    ax.set_ylabel("π̄(d)")
    ax.set_title(title, fontsize=10)
    return fig, ax


def figure4a(oracles: dict, dpo_policies, nbc_estimates=None):
    """π*, DPO (trained, ± s.e. across x and seeds; exact limit dotted) and NBC (right axis)."""
    fig, ax = _policy_axes("Figure 4(a): π*, DPO and NBC")
    profile_curve(ax, oracles["optimal"], "π* (exact)", color=COLORS["optimal"], band=False)
    profile_curve(ax, dpo_policies, "DPO (trained)", color=COLORS["dpo"])
    profile_curve(ax, oracles["dpo_limit"], "DPO limit (exact)", color=COLORS["dpo"], linestyle=":", band=False)
    ax2 = ax.twinx()
    profile_curve(ax2, oracles["nbc"], "NBC (exact)", color=COLORS["nbc"], linestyle="--", band=False)
    if nbc_estimates is not None and len(nbc_estimates):
        profile_curve(ax2, nbc_estimates, "NBC (counts)", color=COLORS["nbc"], linestyle="", marker=".")
    ax2.set_ylabel("NBC(d)", color=COLORS["nbc"])
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left")
    return fig


def figure4b(oracles: dict, cdpo_by_alpha: dict, oracle_by_alpha: dict | None = None):
    """Corrected DPO for several α: trained (solid, ± s.e.) and its exact limit with the true
    variance (dotted). One panel per variance source given — the estimated variance of Eq. 19
    (``cdpo_by_alpha``: α → stacked policies [seeds, X, N]) and the oracle arm trained with the
    true variance (``oracle_by_alpha``). Each label gives the seed-mean TV to π* of the trained
    policies and of the limit; legends sit below the axes, clear of π*'s peaks at d = ±10."""
    panels = [(title, runs) for title, runs in (("estimated variance (Eq. 19)", cdpo_by_alpha),
                                                  ("true variance (oracle arm)", oracle_by_alpha)) if runs]
    if not panels:
        raise ValueError("figure 4(b) needs trained corrected-DPO policies of at least one variance source")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 5.0), sharey=True, squeeze=False)
    opt = oracles["optimal"]
    cmap = plt.get_cmap("viridis")
    for ax, (title, runs) in zip(axes[0], panels):
        profile_curve(ax, opt, "π* (exact)", color=COLORS["optimal"], band=False)
        alphas = sorted(runs)
        for i, a in enumerate(alphas):
            c = cmap(0.9 * i / max(1, len(alphas) - 1))
            tv = np.mean([total_variation(p, opt) for p in np.asarray(runs[a])])
            key = f"limit_{method_id('corrected_dpo', a)}"
            label = f"α={a:g}: trained, TV {tv:.4f}"
            if key in oracles:
                label += f" (limit {total_variation(oracles[key], opt):.4f})"
            profile_curve(ax, runs[a], label, color=c)
            if key in oracles:
                profile_curve(ax, oracles[key], None, color=c, linestyle=":", band=False)
        ax.plot([], [], ":", color="grey", label="dotted: exact limits (true variance)")
        ax.set_xlabel("d = (y − x) mod N")
        ax.set_title(f"corrected DPO, {title}", fontsize=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
    axes[0][0].set_ylabel("π̄(d)")
    fig.suptitle("Figure 4(b): first-order corrected DPO (TV to π*, mean over seeds)", fontsize=11)
    return fig


def figure4c(oracles: dict, consistent_policies, fraction_used=None):
    """The consistent loss (Eq. 20) against π*."""
    title = "Figure 4(c): consistent loss"
    if fraction_used is not None:
        title += f" (uses {100 * fraction_used:.1f}% of pairs)"
    fig, ax = _policy_axes(title)
    profile_curve(ax, oracles["optimal"], "π* (exact) = consistent limit", color=COLORS["optimal"], band=False)
    profile_curve(ax, consistent_policies, "consistent loss (trained)", color=COLORS["consistent"])
    profile_curve(ax, oracles["dpo_limit"], "DPO limit (exact)", color=COLORS["dpo"], linestyle=":", band=False)
    ax.legend(fontsize=7, loc="upper left")
    return fig


LIMIT_FLOOR = 1e-4  # where a zero limit is drawn on a log axis


def figure_sweep(sweep: pd.DataFrame, oracle_summary: dict):
    """TV to π* against the number of preferences, mean ± s.e. over seeds, with each method's
    exact limit as a horizontal line (its own colour and line style, labelled): DPO levels off,
    the consistent loss keeps improving. A limit of 0 (the consistent loss's) cannot sit on a
    log axis; it is drawn at 1e-4 and labelled so."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    limit_styles = {"dpo_limit": ":", "consistent_limit": "--"}
    drawn = set()
    for mid, grp in sweep.groupby("method", sort=True):
        style = method_style(mid)
        stats = grp.groupby("n_preferences")["tv_to_optimal"].agg(["mean", "sem", "count"]).reset_index()
        _errorbar(ax, stats["n_preferences"], stats["mean"], stats["sem"], style, style["label"] + " (trained)")
        spec = parse_method(mid)
        key = (f"limit_{method_id('corrected_dpo', spec.alpha)}" if spec.method == "corrected_dpo" else
               {"dpo": "dpo_limit", "ipo": "dpo_limit", "consistent": "consistent_limit"}[spec.method])
        if key in oracle_summary and key not in drawn:
            drawn.add(key)
            value = oracle_summary[key]["tv_to_optimal"]
            color = CDPO_COLORS["oracle"] if spec.method == "corrected_dpo" else style["color"]
            if spec.method == "corrected_dpo":
                label = f"corrected DPO α={spec.alpha:g} limit (exact, true variance): {value:.4f}"
            else:
                label = ({"dpo_limit": "DPO / IPO", "consistent_limit": "consistent loss"}[key]
                         + f" limit (exact): {value:.4f}")
            if value < LIMIT_FLOOR:
                label = f"consistent loss limit (exact) = {value:.0e} ≈ 0, drawn at {LIMIT_FLOOR:g}"
            ax.axhline(max(value, LIMIT_FLOOR), color=color, linestyle=limit_styles.get(key, "-."), linewidth=1.2,
                       label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of preferences n")
    ax.set_ylabel("TV(π, π*)")
    ax.set_title("Consistency vs sample efficiency (horizontal lines: exact limits)", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: ("(trained)" not in labels[i], i))  # trained first
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return fig


def figure_heterogeneity(table: pd.DataFrame):
    """Beyond the paper: TV to π* of every method as the types grow apart (left: type shift s,
    shifts (−s, 0, s)) and as their confidence differs (right: scale ratio c / c₂). Trained
    policies as markers with solid or dashed lines (mean ± s.e. over seeds); each family's exact
    population limit as a dotted line of its colour (both variance sources of corrected DPO share
    the limit of the loss with the true variance; the consistent loss's limit is π*, TV 0)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
    for ax, (axis_col, x_col, xlabel) in zip(axes, (
            ("on_shift_axis", "shift", "type shift s  (shifts −s, 0, s)"),
            ("on_scale_axis", "scale_ratio", "scale ratio c / c₂  (scales c, c₂, c)"))):
        part = table[table[axis_col].astype(bool)]
        for mid, grp in part.groupby("method", sort=False):
            style = method_style(mid)
            stats = grp.groupby(x_col).agg(mean=("tv_to_optimal", "mean"), sem=("tv_to_optimal", "sem"),
                                           exact=("exact_tv_to_optimal", "first")).reset_index()
            _errorbar(ax, stats[x_col], stats["mean"], stats["sem"], style, style["label"] + " (trained)")
            spec = parse_method(mid)
            if spec.method != "corrected_dpo" or spec.variance == "oracle" or not (part.method == method_id(
                    "corrected_dpo", spec.alpha, "oracle")).any():
                label = ("corrected DPO α=%g limit (exact)" % spec.alpha if spec.method == "corrected_dpo"
                         else style["label"] + " limit (exact)")
                ax.plot(stats[x_col], stats["exact"], ":", color=style["color"], linewidth=1.5, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylim(bottom=-0.003)  # the consistent loss's limit, TV 0, stays visible
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("TV(π, π*)")
    axes[0].set_title("types further apart", fontsize=10)
    axes[1].set_title("types differ in confidence", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    for ax, trained in zip(axes, (True, False)):  # trained runs under the left panel, exact limits under the right
        keep = [i for i, lab in enumerate(labels) if ("(trained)" in lab) == trained]
        ax.legend([handles[i] for i in keep], [labels[i] for i in keep], fontsize=7, loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), ncol=1 + trained, frameon=False)
    fig.suptitle("Where does the correction help? TV to π* (dotted: exact limits)", fontsize=11)
    return fig
