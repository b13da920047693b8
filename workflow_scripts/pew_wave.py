"""Analyse one Pew wave (or aggregated counts table): per-question table, skipped questions with
reason codes, bootstrap intervals (respondent bootstrap for .sav, parametric for counts tables)."""
from hetpref.pew.analysis import write_question_table
from hetpref.pew.waves import analyse_wave
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p, out, wave = snakemake.params, snakemake.output, snakemake.wildcards.wave
    table, skipped, boot, info = analyse_wave(p.kind, snakemake.input.data, wave, p.type_columns,
                                              p.partitions, p.filters, p.analysis, p.bootstrap)
    log.info("%s: %d questions kept, %d skipped; %s", wave, info["n_questions"], info["n_skipped"], info)
    for s in skipped.itertuples():
        log.info("skipped %s: %s (%s)", s.question, s.reason, s.detail)
    skipped.to_csv(out.skipped, index=False)
    write_question_table(table, out.questions)
    boot.to_csv(out.bootstrap, index=False)
