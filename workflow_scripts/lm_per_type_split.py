"""per_type.jsonl (one record per pair and type) → per_type_u<k>.jsonl, one dataset per type."""
from hetpref.lm.data.jsonl import read_jsonl, write_jsonl
from hetpref.lm.evaluation.indirect import split_per_type
from hetpref.runtime import script_run

with script_run(snakemake) as log:
    by_type = split_per_type(read_jsonl(snakemake.input.per_type))
    for k, path in enumerate(snakemake.output, start=1):
        log.info("type %d: %d records → %s", k, write_jsonl(path, by_type.get(k, [])), path)
