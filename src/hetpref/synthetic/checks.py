"""The claims of §7.2 (MATH.md §7 "what must hold") checked on the workflow's own outputs.

Each check records its value, the threshold and PASS/FAIL; a failure is reported, never hidden,
and does not stop the workflow (small configs are expected to miss some thresholds).
"""
from __future__ import annotations

import pandas as pd


def _plain(value):
    """JSON- and table-friendly: numpy scalars to Python, floats to 4 decimals."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    return round(value, 4) if isinstance(value, float) else value


def _check(name, value, passed, expected):
    return {"check": name, "value": _plain(value), "expected": expected, "passed": bool(passed)}


def synthetic_checks(table: pd.DataFrame, oracle_summary: dict, sweep: pd.DataFrame | None = None) -> list[dict]:
    """Checks on the main-run table (seed means), the exact oracles and, if given, the sweep."""
    out = []
    by = table.groupby("method")
    opt = oracle_summary["optimal"]
    out.append(_check("π* peaks at |d| = 10", abs(opt["argmax_d"]), abs(opt["argmax_d"]) == 10, "10"))
    dpo_lim, theory = oracle_summary["dpo_limit"], oracle_summary.get("theory_cdpo_alpha1")
    out.append(_check("DPO limit peaks at d = 0", dpo_lim["argmax_d"], dpo_lim["argmax_d"] == 0, "0"))
    if theory is not None:
        out.append(_check("exact corrected-DPO limit (true Var(Δ), α=1) is closer to π* than the DPO limit",
                          [theory["tv_to_optimal"], dpo_lim["tv_to_optimal"]],
                          theory["tv_to_optimal"] < dpo_lim["tv_to_optimal"], "TV(corrected) < TV(DPO)"))
    if "dpo" in by.groups:
        dpo = by.get_group("dpo")
        worst = dpo["argmax_abs_d"].max()
        out.append(_check("trained DPO peaks at |d| ≤ 1 (every seed)", int(worst), worst <= 1, "≤ 1"))
        sp = dpo["spearman_vs_nbc"].min()
        out.append(_check("trained DPO profile: Spearman with exact NBC ≥ 0.95 (every seed)", sp, sp >= 0.95, "≥ 0.95"))
    if "consistent" in by.groups:
        cons = by.get_group("consistent")
        peaks = sorted(set(cons["argmax_abs_d"].astype(int)))
        out.append(_check("consistent loss peaks at |d| ∈ {9, 10, 11} (every seed)", peaks,
                          set(peaks) <= {9, 10, 11}, "{9, 10, 11}"))
        sp = cons["spearman_vs_average_reward"].min()
        out.append(_check("consistent loss profile: Spearman with π* ≥ 0.95 (every seed)", sp, sp >= 0.95, "≥ 0.95"))
        if "dpo" in by.groups:
            tc, td = cons["tv_to_optimal"].mean(), by.get_group("dpo")["tv_to_optimal"].mean()
            out.append(_check("consistent loss is closer to π* than DPO (TV, seed mean)", [tc, td], tc < td,
                              "TV(consistent) < TV(DPO)"))
    if sweep is not None and len(sweep):
        means = sweep.groupby(["method", "n_preferences"])["tv_to_optimal"].mean()
        if "consistent" in means.index.get_level_values(0):
            c = means["consistent"].sort_index()
            out.append(_check("sweep: consistent loss's TV to π* falls as n grows", c.round(4).tolist(),
                              bool((c.diff().dropna() < 0).all()), "decreasing in n"))
        if "dpo" in means.index.get_level_values(0):
            d = means["dpo"].sort_index()
            lim = dpo_lim["tv_to_optimal"]
            out.append(_check("sweep: DPO's TV to π* at the largest n stays near its limit's (within 25%)",
                              [round(float(d.iloc[-1]), 4), round(lim, 4)], abs(d.iloc[-1] - lim) <= 0.25 * lim,
                              "|TV − TV(limit)| ≤ 0.25·TV(limit)"))
    return out


def checks_markdown(checks: list[dict], title: str = "Synthetic experiment (§7.2): checks") -> str:
    lines = [f"# {title}", "", "| check | value | expected | result |", "| --- | --- | --- | --- |"]
    for c in checks:
        cells = [str(x).replace("|", "\\|") for x in (c["check"], c["value"], c["expected"])]
        lines.append(f"| {' | '.join(cells)} | {'PASS' if c['passed'] else 'FAIL'} |")
    n_pass = sum(c["passed"] for c in checks)
    lines += ["", f"{n_pass} of {len(checks)} checks pass."]
    return "\n".join(lines) + "\n"
