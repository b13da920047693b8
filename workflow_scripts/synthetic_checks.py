"""Check §7.2's claims on the workflow's outputs → checks.json and checks.md (PASS/FAIL)."""
import json

import pandas as pd

from hetpref.provenance import write_json
from hetpref.runtime import script_run
from hetpref.synthetic.checks import checks_markdown, synthetic_checks

with script_run(snakemake) as log:  # noqa: F821
    inp, out = snakemake.input, snakemake.output  # noqa: F821
    sweep = pd.read_csv(inp.sweep) if inp.get("sweep") else None
    checks = synthetic_checks(pd.read_csv(inp.table), json.loads(open(inp.oracle_summary).read()), sweep)
    write_json(out.json, checks)
    open(out.md, "w").write(checks_markdown(checks))
    for c in checks:
        (log.info if c["passed"] else log.warning)("%s: %s — %s", "PASS" if c["passed"] else "FAIL", c["check"], c["value"])
