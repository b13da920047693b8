"""One Pew input (a wave or a counts table) → its per-wave tables, the work of one workflow job:
under the main user types (:func:`analyse_wave`: per-question statistics, skipped questions,
bootstrap intervals) and under every configured type partition (:func:`analyse_wave_partitions`:
per (partition, question) statistics, skipped questions, and whether each partition could use
the input)."""
from __future__ import annotations

import pandas as pd

from .analysis import BOOTSTRAP_COLUMNS, PARTITION_COLUMNS, analyse_questions, bootstrap_table, partition_rows
from .questions import SurveyFileError, skipped_table
from .reader import load_input, read_questions

SKIPPED_COLUMNS = ["wave", "question", "reason", "detail"]
PARTITION_SKIPPED_COLUMNS = ["partition", *SKIPPED_COLUMNS]
COVERAGE_COLUMNS = ["partition", "wave", "file", "status", "n_types", "n_questions", "n_skipped", "detail"]


def analyse_wave(kind: str, path, wave: str, type_columns, partitions, filters: dict, analysis: dict,
                 bootstrap: dict):
    """The main analysis of one input: ``(table, skipped, boot, info)`` with the per-question
    table (plus each question's weighted counts and the input kind), the skipped questions, the
    bootstrap intervals (``bootstrap``: ``draws``, ``seed``, ``level``; none when ``draws`` is 0)
    and the reader's info (``n_questions``, ``n_skipped``, …). ``analysis`` are the options of
    :func:`~hetpref.pew.analysis.analyse_questions`."""
    data = load_input(kind, path, type_columns, partitions)
    questions, skipped, info = read_questions(kind, path, data, wave, type_columns, partitions, filters)
    if questions:
        table, _ = analyse_questions(questions, **analysis)
        table["counts"] = [q.counts.round(6).tolist() for q in questions]
        table["source"] = kind
    else:
        table = pd.DataFrame()
    if bootstrap["draws"] > 0 and questions:
        boot = bootstrap_table(questions, bootstrap["draws"], bootstrap["seed"], bootstrap["level"], **analysis)
    else:
        boot = pd.DataFrame(columns=BOOTSTRAP_COLUMNS)
    return table, skipped_table(skipped), boot, info


def analyse_wave_partitions(kind: str, path, wave: str, type_columns, partitions, filters: dict, analysis: dict):
    """One input under every partition of ``partitions`` (``{name, columns}``; the file is read
    once): ``(rows, skipped, coverage)``. A partition the input cannot serve (e.g. a wave without
    that demographic column, a counts table without those groups) is not an error: its coverage
    row says why (``status``, ``detail``), and the other partitions go on."""
    data = load_input(kind, path, type_columns, partitions)
    rows, skipped, coverage = [], [], []
    for part in partitions:
        name, columns = part["name"], list(part["columns"])
        cov = {"partition": name, "wave": wave, "file": path, "status": "ok", "n_types": 0, "n_questions": 0,
               "n_skipped": 0, "detail": ""}
        try:
            questions, skips, info = read_questions(kind, path, data, wave, columns, partitions, filters)
        except SurveyFileError as exc:  # e.g. this wave has no F_IDEO: the partition goes without it
            cov.update(status=exc.status, detail=str(exc))
            coverage.append(cov)
            continue
        if kind == "counts":
            if info["status"] == "no_rows":
                cov.update(status="no_rows", detail=f"no rows for {' × '.join(columns)} (column partition) and "
                                                    f"no partition containing them to sum")
            elif info["derived_from"]:
                cov["detail"] = f"summed from the rows of {' × '.join(info['derived_from'])}"
            n_types = max((len(v) for v in info["type_names"].values()), default=0)
        else:
            n_types = len(info["type_names"])
        cov.update(n_types=n_types, n_questions=len(questions), n_skipped=len(skips))
        coverage.append(cov)
        if questions:
            table, _ = analyse_questions(questions, **analysis)
            table["source"] = kind
            rows.append(partition_rows(name, table))
        skipped.append(skipped_table(skips).assign(partition=name))
    rows_out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=PARTITION_COLUMNS)
    skipped_out = pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(columns=PARTITION_SKIPPED_COLUMNS)
    return rows_out, skipped_out.reindex(columns=PARTITION_SKIPPED_COLUMNS), pd.DataFrame(coverage)
