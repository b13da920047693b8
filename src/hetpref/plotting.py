"""Figure helpers shared by every stage: consistent style, PDF + PNG output."""
from __future__ import annotations

from pathlib import Path

import matplotlib

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


def demo_title(title: str, demo: bool) -> str:
    """Mark every figure drawn from generated demo data."""
    return f"[DEMO DATA] {title}" if demo else title
