"""Diagnostics of own annotator data before any training (hetpref.annotators.diagnostics.inspect_table,
the same report as the `hetpref inspect` command): feasibility per information setting, agreement
within and between types, NBC vs the average reward, and the identification caveat.

snakemake.params: source (file, folder or hub id; None = the adapter's shipped fixture), adapter,
                  options (adapter keyword options), type_attribute, seed (of the views' sampling)
snakemake.output: report (markdown), json (the same figures as JSON); figures beside them
"""
from pathlib import Path

from hetpref.annotators.diagnostics import inspect_table
from hetpref.annotators.pipeline import read_source
from hetpref.annotators.report import write_report
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p, out = snakemake.params, snakemake.output
    table = read_source(p.adapter, p.source, p.options)
    paths = write_report(inspect_table(table, p.type_attribute, seed=int(p.seed)), Path(out.report).parent)
    for name in ("report", "json"):
        if Path(paths[name]).resolve() != Path(getattr(out, name)).resolve():
            raise RuntimeError(f"the inspect report wrote {paths[name]}, the rule declares {getattr(out, name)}")
    log.info("wrote %s, %s and %d figure file(s)", paths["report"], paths["json"], len(paths["figures"]))
