"""Figures 3 and 4 of the paper and the consistency sweep (beyond the paper)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..plotting import COLORS, profile_curve


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


def figure4b(oracles: dict, cdpo_by_alpha: dict):
    """Corrected DPO for several α: trained (solid, ± s.e.) and its exact limit (dotted)."""
    fig, ax = _policy_axes("Figure 4(b): first-order corrected DPO")
    profile_curve(ax, oracles["optimal"], "π* (exact)", color=COLORS["optimal"], band=False)
    cmap = plt.get_cmap("viridis")
    alphas = sorted(cdpo_by_alpha)
    for i, a in enumerate(alphas):
        c = cmap(i / max(1, len(alphas) - 1))
        profile_curve(ax, cdpo_by_alpha[a], f"α={a:g} (trained)", color=c)
        key = f"limit_cdpo_alpha{a:g}"
        if key in oracles:
            profile_curve(ax, oracles[key], None, color=c, linestyle=":", band=False)
    ax.plot([], [], ":", color="grey", label="exact limits (true variance)")
    ax.legend(fontsize=7, loc="upper left")
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


def figure_sweep(sweep: pd.DataFrame, oracle_summary: dict):
    """TV to π* against the number of preferences, mean ± s.e. over seeds, with each method's
    exact limit as a horizontal line: DPO levels off, the consistent loss keeps improving."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for i, (mid, grp) in enumerate(sweep.groupby("method", sort=True)):
        stats = grp.groupby("n_preferences")["tv_to_optimal"].agg(["mean", "sem", "count"]).reset_index()
        color = COLORS.get(mid, f"C{i + 3}")
        ax.errorbar(stats["n_preferences"], stats["mean"], yerr=stats["sem"].fillna(0), marker="o",
                    color=color, label=mid, capsize=3)
        key = {"dpo": "dpo_limit", "consistent": "consistent_limit"}.get(mid, f"limit_{mid}")
        if key in oracle_summary:
            ax.axhline(max(oracle_summary[key]["tv_to_optimal"], 1e-4), color=color, linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of preferences n")
    ax.set_ylabel("TV(π, π*)")
    ax.set_title("Consistency vs sample efficiency (dotted: exact limits)", fontsize=10)
    ax.legend(fontsize=7)
    return fig
