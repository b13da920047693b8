"""Train one LoRA policy (DPO / consistent loss) or reward model for one dataset and seed.

snakemake.wildcards: objective (reward | dpo | ipo | dpo_ref | dpo_base | dpo_norm: hetpref.lm.variants),
                     dataset (anonymous | unanimous | unanimous_filtered), seed
snakemake.input:     train (JSONL records), tokenizer (the tokenizer directory written by lm_data)
snakemake.params:    model (spec: tiny | smollm2-135m | HF id / path), tiny (dict of the tiny model's shape,
                     or None), train (dict of hetpref.lm.config.LMTrainConfig fields), device (cpu | cuda | auto),
                     processes (lm.gpus_per_job; > 1 launches torchrun with that many
                     data-parallel processes, NCCL on GPUs, gloo on CPU)
snakemake.output:    adapter (directory), metrics (JSON), provenance (JSON)

The resume point lives in <adapter's parent>/checkpoint/, deliberately not a declared output:
Snakemake deletes the outputs of an incomplete job before rerunning it (--rerun-incomplete), and
the checkpoint must survive that to be resumed. The per-step log is <adapter's parent>/train_log.csv.
"""
import shutil
from pathlib import Path

from hetpref.lm.launch import run_job
from hetpref.lm.variants import objective_spec
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=True) as log:
    p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output
    out_dir = Path(out.adapter).parent
    if Path(out.adapter).name != "adapter":
        raise ValueError(f"output 'adapter' must be a folder named 'adapter' (train writes {out_dir / 'adapter'}), "
                         f"got {out.adapter}")
    # ipo and the optional DPO arms (dpo_ref, ...) train a policy; loss and scoring come in params.train
    job = {"objective": objective_spec(wc.objective)[0],
           "dataset": wc.dataset, "records": str(inp.train), "tokenizer_dir": str(inp.tokenizer),
           "model": p.model, "tiny": p.tiny, "train": dict(p.train or {}), "seed": int(wc.seed),
           "out_dir": str(out_dir), "device": p.device}
    result = run_job(job, int(p.processes), log, threads=snakemake.threads)
    for name in ("metrics", "provenance"):  # train writes <out_dir>/<name>.json; honour other declared paths
        src = out_dir / f"{name}.json"
        if src.resolve() != Path(getattr(out, name)).resolve():
            shutil.copyfile(src, getattr(out, name))
    log.info("final loss %.5f over %d steps, %.0f tokens/s, %d process(es)", result.metrics["final_loss"],
             result.metrics["steps"], result.provenance["tokens_per_second"] or 0, result.provenance["world_size"])
