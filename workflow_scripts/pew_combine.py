"""Combine the per-wave Pew tables; summary statistics of §7.1 (with bootstrap stability)."""
from pathlib import Path

import pandas as pd

from hetpref.pew.analysis import TABLE_COLUMNS, read_question_table, summary_statistics, write_question_table
from hetpref.runtime import script_run


def concat(files):
    frames = [pd.read_csv(f) for f in files if Path(f).stat().st_size > 1]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


with script_run(snakemake) as log:  # noqa: F821
    inp, out, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    tables = [read_question_table(f) for f in inp.questions]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    write_question_table(table, out.questions)
    concat(inp.skipped).to_csv(out.skipped, index=False)
    boot = concat(inp.bootstrap)
    boot.to_csv(out.bootstrap, index=False)
    stats = {"data": p.mode, **summary_statistics(table)}
    inv = pd.read_csv(inp.inventory)
    stats["waves_analysed"] = ", ".join(sorted(table["wave"].unique())) if len(table) else ""
    stats["waves_not_analysed"] = ", ".join(f"{r.wave} ({r.status})" for r in inv[inv.status != "ok"].itertuples())
    if len(boot):
        flippable = boot.merge(table[["wave", "question", "can_change"]], on=["wave", "question"])
        flippable = flippable[flippable["can_change"]]
        stats["bootstrap_draws"] = int(boot["draws"].iloc[0])
        stats["flippable_stable_in_95pct_of_draws"] = int((flippable["share_can_change"] >= 0.95).sum())
        stats["flippable_mean_share_of_draws"] = float(flippable["share_can_change"].mean()) if len(flippable) else float("nan")
        stats["top_differs_in_majority_of_draws"] = int((boot["share_top_differs"] > 0.5).sum())
    paper = {"questions_analysed": 1519, "waves": 19, "ranking_can_change": 306, "share_ranking_can_change": 0.20,
             "top_choice_can_change": 136, "median_min_tv": 0.23}
    rows = [{"statistic": k, "value": v, "paper": paper.get(k, "")} for k, v in stats.items()]
    pd.DataFrame(rows).to_csv(out.summary, index=False)
    title = "Pew surveys: NBC vs average reward" + (" — DEMO DATA (generated, not Pew)" if p.mode == "demo" else "")
    lines = [f"# {title}", "", "| statistic | this run | paper |", "| --- | --- | --- |"]
    lines += [f"| {r['statistic']} | {r['value']} | {r['paper']} |" for r in rows]
    Path(out.summary_md).write_text("\n".join(lines) + "\n")
    log.info("\n%s", "\n".join(lines))
