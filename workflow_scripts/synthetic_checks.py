"""Check §7.2's claims on the workflow's outputs → checks.json and checks.md (PASS/FAIL, findings)."""
import json

import pandas as pd

from hetpref.provenance import write_json
from hetpref.runtime import script_run
from hetpref.synthetic.checks import checks_markdown, synthetic_checks

with script_run(snakemake) as log:
    inp, out = snakemake.input, snakemake.output
    optional = {key: pd.read_csv(inp[key]) if inp.get(key) else None
                for key in ("sweep", "heterogeneity", "empirical_limits")}
    checks = synthetic_checks(pd.read_csv(inp.table), json.loads(open(inp.oracle_summary).read()),
                              first_seed=snakemake.params.first_seed, **optional)
    write_json(out.json, checks)
    open(out.md, "w").write(checks_markdown(checks))
    for c in checks:
        status = "FINDING" if c["passed"] is None else ("PASS" if c["passed"] else "FAIL")
        (log.warning if c["passed"] is False else log.info)("%s: %s — %s", status, c["check"], c["value"])
