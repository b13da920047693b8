"""Inventory of the Pew inputs: which waves are present, ok or broken (and why), which of the
manifest's waves are missing and where to get them."""
from pathlib import Path

import pandas as pd

from hetpref.pew.inventory import inventory, inventory_report
from hetpref.pew.reader import SurveyFileError, read_counts_table
from hetpref.runtime import script_run

with script_run(snakemake) as log:  # noqa: F821
    p = snakemake.params  # noqa: F821
    demo = p.mode == "demo"
    inv = inventory(snakemake.input.sav, None if demo else p.manifest, p.type_columns,  # noqa: F821
                    kind="demo" if demo else "sav")
    rows = []
    for path in p.counts_tables:
        wave = "C_" + Path(path).stem
        try:
            read_counts_table(path)
            rows.append({"wave": wave, "file": path, "kind": "counts", "status": "ok", "detail": ""})
        except (SurveyFileError, OSError) as exc:
            rows.append({"wave": wave, "file": path, "kind": "counts", "status": "unreadable", "detail": str(exc)})
    inv = pd.concat([inv, pd.DataFrame(rows, columns=inv.columns)], ignore_index=True)
    inv.to_csv(snakemake.output.inventory, index=False)  # noqa: F821
    Path(snakemake.output.report).write_text(inventory_report(inv, demo))  # noqa: F821
    for r in inv.itertuples():
        (log.info if r.status == "ok" else log.warning)("%s %s %s %s", r.wave, r.status, r.file, r.detail)
