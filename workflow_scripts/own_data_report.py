"""The own-data report: every run's agreement on held-out annotators beside the length prior
(hetpref.annotators.pipeline.write_report).

snakemake.input:  evaluations (JSON per loss × seed), summary (views), variance (Eq. 19 fit), inspect
                  (the diagnostics report, linked)
snakemake.output: report (markdown), csv (one row per run)
"""
import json
from pathlib import Path

from hetpref.annotators.pipeline import write_report
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    inp, out = snakemake.input, snakemake.output
    evaluations = [json.loads(Path(f).read_text()) for f in inp.evaluations]
    rows = write_report(evaluations, json.loads(Path(inp.summary).read_text()),
                        json.loads(Path(inp.variance).read_text()), out.report, out.csv, inspect=inp.inspect)
    log.info("report of %d runs: %s", len(rows), out.report)
