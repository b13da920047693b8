"""Inventory of the Pew inputs: which .sav waves and counts tables are present, ok or broken
(and why, naming file and line), which of the manifest's waves are missing and where to get them."""
from pathlib import Path

import pandas as pd

from hetpref.pew.inventory import (
    counts_table_ids,
    input_label,
    inspect_counts_table,
    inventory,
    inventory_report,
    mark_waves_in_counts_tables,
)
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    p = snakemake.params
    demo = p.mode == "demo"
    inv = inventory(snakemake.input.sav, None if demo else p.manifest, p.type_columns,
                    kind="demo" if demo else "sav", refused_codes=p.refused_codes)
    rows = [inspect_counts_table(path, wave, p.type_columns, p.partitions)
            for path, wave in zip(p.counts_tables, counts_table_ids(p.counts_tables))]
    inv = pd.concat([mark_waves_in_counts_tables(inv, rows), pd.DataFrame(rows, columns=inv.columns)],
                    ignore_index=True)
    inv.to_csv(snakemake.output.inventory, index=False)
    Path(snakemake.output.report).write_text(inventory_report(inv, demo))
    for r in inv.itertuples():
        (log.info if r.status == "ok" else log.warning)("%s: %s %s", input_label(r), r.status, r.detail)
