"""One Pew input under every configured user-type partition: per (partition, question) statistics,
skipped questions, and per partition whether the input could be used (coverage)."""
from hetpref.pew.waves import analyse_wave_partitions
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p, out = snakemake.params, snakemake.output
    rows, skipped, coverage = analyse_wave_partitions(p.kind, snakemake.input.data, snakemake.wildcards.wave,
                                                      p.type_columns, p.partitions, p.filters, p.analysis)
    for c in coverage.itertuples():
        (log.info if c.status == "ok" else log.warning)("partition %s: %s, %d types, %d questions kept, %d skipped %s",
                                                        c.partition, c.status, c.n_types, c.n_questions,
                                                        c.n_skipped, c.detail)
    rows.to_csv(out.questions, index=False)
    skipped.to_csv(out.skipped, index=False)
    coverage.to_csv(out.coverage, index=False)
