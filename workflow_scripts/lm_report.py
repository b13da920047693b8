"""Figure 5 and the per-seed tables of the LM experiment from every run's evaluation metrics.

snakemake.input:  metrics (list of lm_evaluate metrics JSON files), ceilings (optional JSON file
                  {label: percent}, e.g. length-oracle agreements, drawn as horizontal lines)
snakemake.params: paper (bool: the paper's numbers beside ours, default True), ceilings (optional
                  dict {label: percent}, merged over the file's), modelling_dataset (default
                  'unanimous'), title (optional)
snakemake.output: csv (per-seed table), latex (same, booktabs), summary (CSV: mean and 95 %
                  t-interval per objective × dataset), figure (PDF), png (optional)
"""
import json

from hetpref.lm.report import write_report
from hetpref.runtime import script_run

with script_run(snakemake) as log:  # noqa: F821
    p, inp, out = snakemake.params, snakemake.input, snakemake.output  # noqa: F821
    runs = [json.loads(open(f).read()) for f in inp.metrics]
    ceilings = {}
    if getattr(inp, "ceilings", None):
        ceilings.update(json.loads(open(inp.ceilings).read()))
    ceilings.update(getattr(p, "ceilings", None) or {})
    table = write_report(runs, out.csv, out.latex, out.figure, out_summary=out.summary,
                         paper=bool(getattr(p, "paper", True)), ceilings=ceilings or None,
                         modelling_dataset=getattr(p, "modelling_dataset", "unanimous"),
                         out_png=getattr(out, "png", None), title=getattr(p, "title", None))
    log.info("\n%s", table.to_string())
