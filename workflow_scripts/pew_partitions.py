"""The type-partition table: per partition of respondents into user types, the §7.1 statistics
(share of rankings that can change, top-choice changes, median min-TV), also on common questions."""
import math
from pathlib import Path

import pandas as pd

from hetpref.pew.analysis import PARTITION_COLUMNS, partition_summary
from hetpref.pew.inventory import NoQuestionError, no_question_message
from hetpref.runtime import script_run


def concat(files, columns):
    frames = [f for f in (pd.read_csv(path) for path in files) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def cell(value):
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.3f}"
    return str(value)


with script_run(snakemake) as log:  # noqa: F821
    inp, out, p = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    inv = pd.read_csv(inp.inventory)
    rows = concat(inp.questions, PARTITION_COLUMNS)
    skipped = concat(inp.skipped, ["partition", "wave", "question", "reason", "detail"])
    coverage = concat(inp.coverage, ["partition", "wave", "file", "status", "n_types", "n_questions", "n_skipped",
                                     "detail"])
    if not len(rows):
        raise NoQuestionError(no_question_message(inv, skipped, p.report).replace(
            "no Pew question", "no Pew question under any type partition"))
    for col in ("can_change", "top_can_change", "top_differs", "ranking_differs"):
        rows[col] = rows[col].astype(bool)
    summary = partition_summary(rows, p.partitions)
    summary.to_csv(out.table, index=False)
    rows.to_csv(out.questions, index=False)
    skipped.to_csv(out.skipped, index=False)
    coverage.to_csv(out.coverage, index=False)
    demo = " — DEMO DATA (generated, not Pew)" if p.mode == "demo" else ""
    head = ["partition", "types", "waves", "questions_analysed", "share_ranking_can_change", "top_choice_can_change",
            "median_min_tv", "common_questions", "common_share_ranking_can_change", "common_median_min_tv"]
    lines = [f"# Pew: is the finding robust to who the types are?{demo}", "",
             "Each partition of the respondents into user types, analysed exactly like the main analysis "
             "(same filters, same NBC / r̄ / min-TV). `common_*`: the same statistics on the questions analysed "
             "under every partition.", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(cell(r[c]) for c in head) + " |" for _, r in summary.iterrows()]
    unused = coverage[coverage["status"] != "ok"]
    if len(unused):
        lines += ["", "Inputs a partition could not use:", ""]
        lines += [f"- {r.partition}: {Path(str(r.file)).name} ({r.wave}) — {r.status}: {r.detail}"
                  for r in unused.itertuples()]
    Path(out.table_md).write_text("\n".join(lines) + "\n")
    log.info("\n%s", "\n".join(lines))
