"""Stage the weights of a hub model (lm.model = namespace/name) into the Hugging Face cache of the
environment (HF_HOME), once, on the submit host (a localrule: it needs network, the GPU jobs then
need none and can run with HF_HUB_OFFLINE=1). Only config/index/tokenizer *.json, *.safetensors and
tokenizer files are fetched, never original/ (hetpref.lm.data.stage).

snakemake.params: model (the hub id)
snakemake.output: snapshot (JSON: repo id, the snapshot's commit, its folder, files and bytes)
"""
import json
from pathlib import Path

from hetpref.lm.data.stage import stage_model
from hetpref.lm.hub import describe_environment
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=False) as log:
    spec = snakemake.params.model
    log.info("staging %s (%s)", spec, describe_environment())
    record = stage_model(spec)
    Path(snakemake.output.snapshot).write_text(json.dumps(record, indent=2) + "\n")
    if record.get("staged"):
        log.info("%s at commit %s: %d files, %.2f GB in %s", spec, record["commit"], len(record["files"]),
                 record["bytes"] / 1e9, record["folder"])
