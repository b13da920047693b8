"""Train one LoRA policy (DPO / consistent loss) or reward model for one dataset and seed.

snakemake.wildcards: objective (dpo | reward), dataset (anonymous | unanimous | unanimous_filtered), seed
snakemake.input:     train (JSONL records), tokenizer (optional: tokenizer directory, needed by model 'tiny')
snakemake.params:    model (spec: tiny | smollm2-135m | HF id / path), tiny (dict of the tiny model's shape,
                     or None), train (dict of hetpref.lm.train.LMTrainConfig fields), device (optional, 'auto')
snakemake.output:    adapter (directory), metrics (JSON), provenance (JSON)

The resume point lives in <adapter's parent>/checkpoint/, deliberately not a declared output:
Snakemake deletes the outputs of an incomplete job before rerunning it (--rerun-incomplete), and
the checkpoint must survive that to be resumed.
"""
import shutil
from pathlib import Path

from hetpref.lm.models import load_tokenizer
from hetpref.lm.jsonl import read_jsonl
from hetpref.lm.train import LMTrainConfig, train
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=True) as log:  # noqa: F821
    p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output  # noqa: F821
    tokenizer_dir = getattr(inp, "tokenizer", None)
    tokenizer = load_tokenizer(p.model, tokenizer_dir)
    records = read_jsonl(inp.train)
    out_dir = Path(out.adapter).parent
    objective = "dpo" if wc.objective == "ipo" else wc.objective  # IPO: direct alignment, loss set in params.train
    result = train(objective, wc.dataset, records, tokenizer, p.model, LMTrainConfig(**(p.train or {})),
                   int(wc.seed), out_dir, device=getattr(p, "device", "auto"), tiny_config=getattr(p, "tiny", None),
                   tokenizer_dir=tokenizer_dir)
    if Path(result.adapter_dir).resolve() != Path(out.adapter).resolve():
        raise ValueError(f"output 'adapter' must be a folder named 'adapter' (train writes {result.adapter_dir}), "
                         f"got {out.adapter}")
    for name in ("metrics", "provenance"):  # train writes <out_dir>/<name>.json; honour other declared paths
        src = out_dir / f"{name}.json"
        if src.resolve() != Path(getattr(out, name)).resolve():
            shutil.copyfile(src, getattr(out, name))
    log.info("final loss %.5f over %d steps, %.0f tokens/s", result.metrics["final_loss"],
             result.metrics["steps"], result.provenance["tokens_per_second"] or 0)
