"""Figure helpers shared by every stage: consistent style, PDF + PNG output."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from .synthetic.environment import profile, signed_offsets

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after matplotlib.use: the Agg backend is chosen before pyplot loads)

COLORS = {"optimal": "black", "dpo": "tab:blue", "nbc": "tab:green", "consistent": "tab:red",
          "dpo_limit": "tab:blue", "ipo": "tab:purple"}


def save(fig, pdf_path, png_path=None, dpi: int = 150) -> None:
    """Write a figure as PDF (and PNG), creating folders; closes the figure."""
    Path(pdf_path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(pdf_path)
    if png_path:
        fig.savefig(png_path, dpi=dpi)
    plt.close(fig)


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


def demo_title(title: str, demo: bool) -> str:
    """Mark every figure drawn from generated demo data."""
    return f"[DEMO DATA] {title}" if demo else title
