"""Analyse one Pew wave (or aggregated counts table): per-question table, skipped questions with
reason codes, bootstrap intervals (respondent bootstrap for .sav, parametric for counts tables)."""
import pandas as pd

from hetpref.pew.analysis import BOOTSTRAP_COLUMNS, analyse_questions, bootstrap_table, write_question_table
from hetpref.pew.reader import read_counts_table, read_wave, skipped_table
from hetpref.runtime import script_run

with script_run(snakemake) as log:  # noqa: F821
    p, out = snakemake.params, snakemake.output  # noqa: F821
    kind, path, wave = p.kind, snakemake.input.data, snakemake.wildcards.wave  # noqa: F821
    f = dict(p.filters)
    if kind == "counts":  # a counts table without a wave column is named after its file
        questions, skipped, info = read_counts_table(path, p.type_columns, p.partitions, default_wave=wave, **f)
    else:
        questions, skipped, info = read_wave(path, wave=wave, type_columns=p.type_columns,
                                             refused_codes=f["refused_codes"], min_options=f["min_options"],
                                             min_answers_per_option=f["min_answers_per_option"])
    log.info("%s: %d questions kept, %d skipped; %s", wave, len(questions), len(skipped), info)
    skipped_table(skipped).to_csv(out.skipped, index=False)
    for s in skipped:
        log.info("skipped %s: %s (%s)", s.name, s.reason, s.detail)
    if questions:
        table, _ = analyse_questions(questions, **p.analysis)
        table["counts"] = [q.counts.round(6).tolist() for q in questions]
        table["source"] = kind
    else:
        table = pd.DataFrame()
    write_question_table(table, out.questions)
    boot = bootstrap_table(questions, p.bootstrap["draws"], p.bootstrap["seed"], p.bootstrap["level"], **p.analysis) \
        if p.bootstrap["draws"] > 0 and questions else pd.DataFrame(columns=BOOTSTRAP_COLUMNS)
    boot.to_csv(out.bootstrap, index=False)
