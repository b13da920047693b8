"""One Pew input under every configured user-type partition: per (partition, question) statistics,
skipped questions, and per partition whether the input could be used (coverage)."""
import pandas as pd

from hetpref.pew.analysis import PARTITION_COLUMNS, analyse_questions, partition_rows
from hetpref.pew.reader import SurveyFileError, parse_counts_table, read_counts_table, read_sav, read_wave, skipped_table
from hetpref.runtime import script_run

with script_run(snakemake) as log:  # noqa: F821
    p, out = snakemake.params, snakemake.output  # noqa: F821
    kind, path, wave = p.kind, snakemake.input.data, snakemake.wildcards.wave  # noqa: F821
    f = dict(p.filters)
    # read once, analyse under every partition
    data = parse_counts_table(path, p.type_columns, p.partitions) if kind == "counts" else read_sav(path)
    rows, skipped, coverage = [], [], []
    for part in p.partitions:
        name, columns = part["name"], list(part["columns"])
        cov = {"partition": name, "wave": wave, "file": path, "status": "ok", "n_types": 0, "n_questions": 0,
               "n_skipped": 0, "detail": ""}
        try:
            if kind == "counts":
                questions, skips, info = read_counts_table(None, columns, p.partitions, default_wave=wave,
                                                           parsed=data, **f)
                if info["status"] == "no_rows":
                    cov.update(status="no_rows", detail=f"no rows for {' × '.join(columns)} (column partition) and "
                                                        f"no partition containing them to sum")
                elif info["derived_from"]:
                    cov["detail"] = f"summed from the rows of {' × '.join(info['derived_from'])}"
                n_types = max((len(v) for v in info["type_names"].values()), default=0)
            else:
                questions, skips, info = read_wave(path, wave=wave, type_columns=columns, frame=data,
                                                   refused_codes=f["refused_codes"], min_options=f["min_options"],
                                                   min_answers_per_option=f["min_answers_per_option"])
                n_types = len(info["type_names"])
        except SurveyFileError as exc:  # e.g. this wave has no F_IDEO: the partition goes without it
            log.warning("partition %s: %s not used: %s", name, wave, exc)
            cov.update(status=exc.status, detail=str(exc))
            coverage.append(cov)
            continue
        cov.update(n_types=n_types, n_questions=len(questions), n_skipped=len(skips))
        coverage.append(cov)
        log.info("partition %s (%s): %d types, %d questions kept, %d skipped", name, " × ".join(columns), n_types,
                 len(questions), len(skips))
        if questions:
            table, _ = analyse_questions(questions, **p.analysis)
            table["source"] = kind
            rows.append(partition_rows(name, table))
        skipped.append(skipped_table(skips).assign(partition=name))
    questions_out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=PARTITION_COLUMNS)
    questions_out.to_csv(out.questions, index=False)
    skip_columns = ["partition", "wave", "question", "reason", "detail"]
    skipped_out = pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(columns=skip_columns)
    skipped_out.reindex(columns=skip_columns).to_csv(out.skipped, index=False)
    pd.DataFrame(coverage).to_csv(out.coverage, index=False)
