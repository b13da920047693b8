"""Combine the per-wave Pew tables; summary statistics of §7.1 (with bootstrap stability and the
kind of bootstrap each question used). Fails, naming the inputs, when no question is left."""
import math
from pathlib import Path

import pandas as pd

from hetpref.pew.analysis import (BOOTSTRAP_COLUMNS, TABLE_COLUMNS, read_question_table, summary_statistics,
                                  write_question_table)
from hetpref.pew.inventory import NoQuestionError, input_label, no_question_message
from hetpref.runtime import script_run


def concat(files, columns=None):
    frames = [pd.read_csv(f) for f in files if Path(f).stat().st_size > 1]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def shown(value):
    """Markdown cell: an undefined statistic (no question can change) says so instead of nan."""
    if isinstance(value, float) and math.isnan(value):
        return "n/a (no question qualifies)"
    return value


with script_run(snakemake) as log:  # noqa: F821
    inp, out, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    inv = pd.read_csv(inp.inventory)
    tables = [t for t in (read_question_table(f) for f in inp.questions) if len(t)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    skipped = concat(inp.skipped, ["wave", "question", "reason", "detail"])
    if not len(table):
        raise NoQuestionError(no_question_message(inv, skipped, p.report, p.data_dir))
    write_question_table(table, out.questions)
    skipped.to_csv(out.skipped, index=False)
    boot = concat(inp.bootstrap, BOOTSTRAP_COLUMNS)
    boot.to_csv(out.bootstrap, index=False)
    stats = {"data": p.mode, **summary_statistics(table)}
    stats["waves_analysed"] = ", ".join(sorted(table["wave"].astype(str).unique()))
    not_analysed = inv[~inv.status.isin(["ok", "in_counts_table"])]
    stats["waves_not_analysed"] = ", ".join(f"{input_label(r)} ({r.status})" for r in not_analysed.itertuples())
    if len(boot):
        flippable = boot.merge(table[["wave", "question", "can_change"]], on=["wave", "question"])
        flippable = flippable[flippable["can_change"]]
        stats["bootstrap_draws"] = int(boot["draws"].iloc[0])
        kinds = boot["method"].value_counts()
        stats["intervals_respondent_bootstrap"] = int(kinds.get("respondent", 0))  # .sav: respondents resampled
        stats["intervals_parametric_bootstrap"] = int(kinds.get("parametric", 0))  # counts tables: multinomial
        stats["flippable_stable_in_95pct_of_draws"] = int((flippable["share_can_change"] >= 0.95).sum())
        stats["flippable_mean_share_of_draws"] = float(flippable["share_can_change"].mean()) if len(flippable) else float("nan")
        stats["top_differs_in_majority_of_draws"] = int((boot["share_top_differs"] > 0.5).sum())
    else:
        stats["intervals"] = "none (pew.bootstrap.draws = 0)"
    paper = {"questions_analysed": 1519, "waves": 19, "ranking_can_change": 306, "share_ranking_can_change": 0.20,
             "top_choice_can_change": 136, "median_min_tv": 0.23}
    rows = [{"statistic": k, "value": v, "paper": paper.get(k, "")} for k, v in stats.items()]
    pd.DataFrame(rows).to_csv(out.summary, index=False)
    title = "Pew surveys: NBC vs average reward" + (" — DEMO DATA (generated, not Pew)" if p.mode == "demo" else "")
    lines = [f"# {title}", "", "| statistic | this run | paper |", "| --- | --- | --- |"]
    lines += [f"| {r['statistic']} | {shown(r['value'])} | {r['paper']} |" for r in rows]
    if len(boot):
        lines += ["", "Intervals (`bootstrap.csv`, column `method`): **respondent** bootstrap for questions read from "
                      ".sav waves (respondents resampled with their weights); **parametric** bootstrap for questions "
                      "from counts tables (each group's answers redrawn as a multinomial of its effective sample "
                      "size `n_eff`, see the README)."]
    Path(out.summary_md).write_text("\n".join(lines) + "\n")
    log.info("\n%s", "\n".join(lines))
