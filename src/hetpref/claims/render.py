"""The claims report as people read it: markdown that stands on its own (summary table, then
per claim the statement, every number of the instance, the evidence and PASS/FAIL) and the
figure of claims 4 and 5. Works on the claim records alone (as written to claims.json)."""
from __future__ import annotations

import numpy as np

from ..aggregation import normalized_borda_count, pairwise_preference_matrix
from .aggregation import claim4_mu

_MAX_INLINE_NUMBERS = 60


def _count_numbers(value) -> int:
    if isinstance(value, dict):
        return sum(_count_numbers(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_numbers(v) for v in value)
    return 1


def _shape(value):
    shape = []
    while isinstance(value, list) and value:
        shape.append(len(value))
        value = value[0]
    return shape


def _fmt(value) -> str:
    """Compact, exact-enough text: floats to 6 significant digits, lists as [a, b, …]."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        if _count_numbers(value) > _MAX_INLINE_NUMBERS:
            return f"array of shape {_shape(value)}; all values in the JSON"
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(mapping: dict) -> list[str]:
    lines = ["| quantity | value |", "| --- | --- |"]
    for key, value in mapping.items():
        if isinstance(value, dict) and _count_numbers(value) > 1 and len(value) > 1:
            # a nested record: one row per entry keeps long dicts readable
            for sub, v in value.items():
                lines.append(f"| {_cell(key)} — {_cell(sub)} | {_cell(_fmt(v))} |")
        else:
            lines.append(f"| {_cell(key)} | {_cell(_fmt(value))} |")
    return lines


def claims_markdown(claims: list[dict], title: str = "The paper's claims, checked on concrete instances") -> str:
    """A report that stands on its own: summary table, then per claim the statement, every number of
    the instance, the computed evidence and PASS/FAIL."""
    n_pass = sum(c["passed"] for c in claims)
    lines = [f"# {title}", "",
             "Each claim is checked on an instance whose numbers are all listed, so every value can be "
             "recomputed by hand. σ is the logistic sigmoid, P(y≻y') = Σ_u p(u) σ(r_u(y) − r_u(y')), "
             "NBC_μ(y) = Σ_y' μ(y') P(y≻y') (y' = y included), r̄ = Σ_u p(u) r_u; responses are y1, y2, …; "
             "'ranking' lists responses from best to worst. Numbers are shown to 6 significant digits.", "",
             f"**{n_pass} of {len(claims)} claims pass.**", "",
             "| # | claim | result |", "| --- | --- | --- |"]
    lines += [f"| {c['id']} | {_cell(c['title'])} | {'PASS' if c['passed'] else 'FAIL'} |" for c in claims]
    for c in claims:
        lines += ["", f"## Claim {c['id']}: {c['title']} — {'PASS' if c['passed'] else 'FAIL'}", "",
                  f"*Statement.* {c['statement']}", "", "**Instance**", ""]
        lines += _table(c["instance"])
        lines += ["", "**Evidence**", ""]
        lines += _table(c["evidence"])
        lines += ["", f"**Result: {'PASS' if c['passed'] else 'FAIL'}**"]
    return "\n".join(lines) + "\n"


def claims_figure(claims: list[dict]):
    """Two panels: NBC scores along claim 4's μ family (winner switch at t*) and claim 5's
    P(y1≻y2) against the BT temperature τ (NBC's order flips at ½)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_id = {c["id"]: c for c in claims}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    if 4 in by_id:
        c4 = by_id[4]
        P = pairwise_preference_matrix(np.array(c4["instance"]["rewards r_u(y1..y3) per type"]))
        t = np.linspace(0.0, 1.0, 201)
        nbc = normalized_borda_count(np.broadcast_to(P, (t.size, 3, 3)), np.stack([claim4_mu(v) for v in t]))
        for i in range(3):
            axes[0].plot(t, nbc[:, i], label=f"NBC(y{i + 1})")
        t_star = c4["evidence"]["t* by bisection (NBC(y1) = NBC(y2))"]
        if t_star is not None:
            axes[0].axvline(t_star, color="grey", linestyle="--", label=f"t* = {t_star:.3f}")
        axes[0].axvline(1 / 3, color="grey", linestyle=":", label="uniform μ")
        axes[0].set(xlabel="t = μ(y3); μ(y1) = μ(y2) = (1 − t)/2", ylabel="NBC_μ",
                    title=f"Claim 4: NBC winner vs μ (r̄ winner: {c4['evidence']['r̄ winner']})")
        axes[0].legend(fontsize=7)
    if 5 in by_id:
        rewards = np.array(by_id[5]["instance"]["rewards r_u(y1, y2) per type"])
        taus = np.linspace(0.3, 4.0, 200)
        p12 = [pairwise_preference_matrix(rewards, temperature=tau)[0, 1] for tau in taus]
        axes[1].plot(taus, p12, color="tab:green", label="P(y1≻y2) under σ(Δ/τ)")
        axes[1].axhline(0.5, color="grey", linestyle=":")
        axes[1].axvline(by_id[5]["evidence"]["τ* where NBC ties"], color="grey", linestyle="--", label="τ* (NBC tie)")
        axes[1].set(xlabel="BT temperature τ", ylabel="P(y1≻y2)",
                    title="Claim 5: NBC order flips with τ (r̄ prefers y1)")
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig

