"""The Pew stage's combined outputs: per-wave tables joined into one, the §7.1 summary against
the paper's numbers, the type-partition table, and the markdown reports of both (summary.md,
partitions.md). The workflow's combine jobs only read files and write what these return."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .analysis import summary_statistics
from .inventory import input_label

#: The paper's §7.1 numbers (19 waves), shown beside this run's in summary.csv / summary.md.
PAPER_SUMMARY = {"questions_analysed": 1519, "waves": 19, "ranking_can_change": 306, "share_ranking_can_change": 0.20,
                 "top_choice_can_change": 136, "median_min_tv": 0.23}
PARTITION_FLAGS = ("can_change", "top_can_change", "top_differs", "ranking_differs")
PARTITION_REPORT_COLUMNS = ["partition", "types", "waves", "questions_analysed", "share_ranking_can_change",
                            "top_choice_can_change", "median_min_tv", "common_questions",
                            "common_share_ranking_can_change", "common_median_min_tv"]
DEMO_NOTE = " — DEMO DATA (generated, not Pew)"


def concat_csv(files, columns=None) -> pd.DataFrame:
    """The non-empty CSV files stacked (an empty file or a header-only table adds nothing);
    an empty frame with ``columns`` when none has rows."""
    frames = [pd.read_csv(f) for f in files if Path(f).stat().st_size > 1]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def summary_rows(table: pd.DataFrame, inventory: pd.DataFrame, boot: pd.DataFrame, mode: str) -> list[dict]:
    """The §7.1 summary, one ``{statistic, value, paper}`` per statistic: the question table's
    statistics, which inputs were (not) analysed, and the bootstrap's stability counts."""
    stats = {"data": mode, **summary_statistics(table)}
    stats["waves_analysed"] = ", ".join(sorted(table["wave"].astype(str).unique()))
    not_analysed = inventory[~inventory.status.isin(["ok", "in_counts_table"])]
    stats["waves_not_analysed"] = ", ".join(f"{input_label(r)} ({r.status})" for r in not_analysed.itertuples())
    if len(boot):
        flippable = boot.merge(table[["wave", "question", "can_change"]], on=["wave", "question"])
        flippable = flippable[flippable["can_change"]]
        stats["bootstrap_draws"] = int(boot["draws"].iloc[0])
        kinds = boot["method"].value_counts()
        stats["intervals_respondent_bootstrap"] = int(kinds.get("respondent", 0))  # .sav: respondents resampled
        stats["intervals_parametric_bootstrap"] = int(kinds.get("parametric", 0))  # counts tables: multinomial
        stats["flippable_stable_in_95pct_of_draws"] = int((flippable["share_can_change"] >= 0.95).sum())
        stats["flippable_mean_share_of_draws"] = (float(flippable["share_can_change"].mean()) if len(flippable)
                                                  else float("nan"))
        stats["top_differs_in_majority_of_draws"] = int((boot["share_top_differs"] > 0.5).sum())
    else:
        stats["intervals"] = "none (pew.bootstrap.draws = 0)"
    return [{"statistic": k, "value": v, "paper": PAPER_SUMMARY.get(k, "")} for k, v in stats.items()]


def _shown(value):
    """Markdown cell: an undefined statistic (no question can change) says so instead of nan."""
    if isinstance(value, float) and math.isnan(value):
        return "n/a (no question qualifies)"
    return value


def summary_markdown(rows: list[dict], mode: str, bootstrap: bool) -> str:
    """summary.md: the rows of :func:`summary_rows` beside the paper's, and (``bootstrap``) how
    the intervals were drawn."""
    title = "Pew surveys: NBC vs average reward" + (DEMO_NOTE if mode == "demo" else "")
    lines = [f"# {title}", "", "| statistic | this run | paper |", "| --- | --- | --- |"]
    lines += [f"| {r['statistic']} | {_shown(r['value'])} | {r['paper']} |" for r in rows]
    if bootstrap:
        lines += ["", "Intervals (`bootstrap.csv`, column `method`): **respondent** bootstrap for questions read from "
                      ".sav waves (respondents resampled with their weights); **parametric** bootstrap for questions "
                      "from counts tables (each group's answers redrawn as a multinomial of its effective sample "
                      "size `n_eff`, see the README)."]
    return "\n".join(lines) + "\n"


def partition_question_rows(files, columns) -> pd.DataFrame:
    """Every wave's (partition, question) rows stacked, the yes/no columns as booleans."""
    rows = concat_csv(files, columns)
    for col in PARTITION_FLAGS:
        rows[col] = rows[col].astype(bool)
    return rows


def _cell(value):
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def partitions_markdown(summary: pd.DataFrame, coverage: pd.DataFrame, mode: str) -> str:
    """partitions.md: one row per partition of :func:`~hetpref.pew.analysis.partition_summary`,
    then the inputs a partition could not use and why."""
    demo = DEMO_NOTE if mode == "demo" else ""
    head = PARTITION_REPORT_COLUMNS
    lines = [f"# Pew: is the finding robust to who the types are?{demo}", "",
             "Each partition of the respondents into user types, analysed exactly like the main analysis "
             "(same filters, same NBC / r̄ / min-TV). `common_*`: the same statistics on the questions analysed "
             "under every partition.", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in head) + " |" for _, r in summary.iterrows()]
    unused = coverage[coverage["status"] != "ok"]
    if len(unused):
        lines += ["", "Inputs a partition could not use:", ""]
        lines += [f"- {r.partition}: {Path(str(r.file)).name} ({r.wave}) — {r.status}: {r.detail}"
                  for r in unused.itertuples()]
    return "\n".join(lines) + "\n"
