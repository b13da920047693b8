"""Combine the per-wave Pew tables; summary statistics of §7.1 (with bootstrap stability and the
kind of bootstrap each question used). Fails, naming the inputs, when no question is left."""
from pathlib import Path

import pandas as pd

from hetpref.pew.analysis import BOOTSTRAP_COLUMNS, TABLE_COLUMNS, read_question_table, write_question_table
from hetpref.pew.combine import concat_csv, summary_markdown, summary_rows
from hetpref.pew.inventory import NoQuestionError, no_question_message
from hetpref.pew.waves import SKIPPED_COLUMNS
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    inv = pd.read_csv(inp.inventory)
    tables = [t for t in (read_question_table(f) for f in inp.questions) if len(t)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(TABLE_COLUMNS))
    skipped = concat_csv(inp.skipped, SKIPPED_COLUMNS)
    if not len(table):
        raise NoQuestionError(no_question_message(inv, skipped, p.report, p.data_dir))
    boot = concat_csv(inp.bootstrap, BOOTSTRAP_COLUMNS)
    rows = summary_rows(table, inv, boot, p.mode)
    md = summary_markdown(rows, p.mode, bootstrap=len(boot) > 0)
    write_question_table(table, out.questions)
    skipped.to_csv(out.skipped, index=False)
    boot.to_csv(out.bootstrap, index=False)
    pd.DataFrame(rows).to_csv(out.summary, index=False)
    Path(out.summary_md).write_text(md)
    log.info("\n%s", md)
