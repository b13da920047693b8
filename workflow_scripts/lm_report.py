"""Figure 5 and the per-seed tables of the LM experiment from every run's evaluation metrics.

snakemake.input:  metrics (list of the test_metrics JSON files lm_train writes), ceilings (JSON file
                  {label: percent}, e.g. length-oracle agreements, drawn as horizontal lines)
snakemake.params: paper (bool: the paper's numbers beside ours), modelling_dataset (the dataset
                  drawn as "modelling heterogeneity"), title
snakemake.output: csv (per-seed table), latex (same, booktabs), summary (CSV: mean and 95 %
                  t-interval per objective × dataset), figure (PDF), png
"""
import json

from hetpref.lm.evaluation.report import write_report
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    runs = [json.loads(open(f).read()) for f in inp.metrics]
    ceilings = json.loads(open(inp.ceilings).read())
    table = write_report(runs, out.csv, out.latex, out.figure, out_summary=out.summary,
                         paper=bool(p.paper), ceilings=ceilings or None,
                         modelling_dataset=p.modelling_dataset, out_png=out.png, title=p.title)
    log.info("\n%s", table.to_string())
