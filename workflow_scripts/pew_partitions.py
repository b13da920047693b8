"""The type-partition table: per partition of respondents into user types, the §7.1 statistics
(share of rankings that can change, top-choice changes, median min-TV), also on common questions."""
from pathlib import Path

import pandas as pd

from hetpref.pew.analysis import PARTITION_COLUMNS, partition_summary
from hetpref.pew.combine import concat_csv, partition_question_rows, partitions_markdown
from hetpref.pew.inventory import NoQuestionError, no_question_message
from hetpref.pew.waves import COVERAGE_COLUMNS, PARTITION_SKIPPED_COLUMNS
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    inv = pd.read_csv(inp.inventory)
    rows = partition_question_rows(inp.questions, PARTITION_COLUMNS)
    skipped = concat_csv(inp.skipped, PARTITION_SKIPPED_COLUMNS)
    coverage = concat_csv(inp.coverage, COVERAGE_COLUMNS)
    if not len(rows):
        raise NoQuestionError(no_question_message(inv, skipped, p.report).replace(
            "no Pew question", "no Pew question under any type partition"))
    summary = partition_summary(rows, p.partitions)
    md = partitions_markdown(summary, coverage, p.mode)
    summary.to_csv(out.table, index=False)
    rows.to_csv(out.questions, index=False)
    skipped.to_csv(out.skipped, index=False)
    coverage.to_csv(out.coverage, index=False)
    Path(out.table_md).write_text(md)
    log.info("\n%s", md)
