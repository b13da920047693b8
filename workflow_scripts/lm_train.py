"""Train one LoRA policy (DPO / consistent loss) or reward model for one dataset and seed, then
measure its agreement with the average reward's order on the test split (one job: see rules/lm.smk).

snakemake.wildcards: objective (reward | dpo | ipo | dpo_ref | dpo_base | dpo_norm: hetpref.lm.names),
                     dataset (anonymous | unanimous | unanimous_filtered), seed
snakemake.input:     train (JSONL records), tokenizer (the tokenizer directory written by lm_data),
                     test (JSONL test records)
snakemake.params:    model (spec: tiny | smollm2-135m | HF id / path), tiny (dict of the tiny model's shape,
                     or None), train (dict of hetpref.lm.training.config.LMTrainConfig fields), eval (dict: any of
                     batch_size, max_length, overlength, add_eos, scoring — a policy is scored as it was
                     trained: hetpref.lm.names), device (cpu | cuda | auto),
                     processes (lm.gpus_per_job; > 1 launches torchrun with that many
                     data-parallel processes, NCCL on GPUs, gloo on CPU; the evaluation runs after them,
                     in this process)
snakemake.output:    adapter (directory), metrics (JSON), provenance (JSON) of the training;
                     test_metrics (JSON: agreement, n, n_correct, n_ties, the length diagnostics of
                     hetpref.lm.evaluation.evaluate.length_diagnostics, + objective, dataset, seed, model) and
                     test_scores (CSV: id, h, correct, response token counts, prior_correct per test pair)

The resume point lives in <adapter's parent>/checkpoint/, deliberately not a declared output:
Snakemake deletes the outputs of an incomplete job before rerunning it (--rerun-incomplete), and
the checkpoint must survive that to be resumed. The per-step log is <adapter's parent>/train_log.csv.
"""
import shutil
from pathlib import Path

import pandas as pd

from hetpref.lm.data.jsonl import read_jsonl
from hetpref.lm.data.tokenization import load_tokenizer
from hetpref.lm.evaluation.evaluate import evaluate_trained
from hetpref.lm.training.checkpoints import remove_checkpoint
from hetpref.lm.training.launch import run_job
from hetpref.lm.training.run import LMRun
from hetpref.provenance import write_json
from hetpref.runtime import script_run

SCORE_COLUMNS = ["id", "h", "correct", "response_tokens_chosen", "response_tokens_rejected", "prior_correct"]

with script_run(snakemake, torch_threads=True) as log:
    p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output
    out_dir = Path(out.adapter).parent
    if Path(out.adapter).name != "adapter":
        raise ValueError(f"output 'adapter' must be a folder named 'adapter' (train writes {out_dir / 'adapter'}), "
                         f"got {out.adapter}")
    # ipo and the optional DPO arms (dpo_ref, ...) train a policy; loss and scoring come in params.train.
    # The last checkpoint outlives the training until the evaluation below has succeeded: a job
    # that fails there resumes its training instead of starting it again
    run = LMRun.from_params(wc.objective, wc.dataset, wc.seed, p, records=str(inp.train),
                            tokenizer_dir=str(inp.tokenizer), out_dir=out_dir, keep_checkpoint=True)
    result = run_job(run, int(p.processes), log, threads=snakemake.threads)
    for name in ("metrics", "provenance"):  # train writes <out_dir>/<name>.json; honour other declared paths
        src = out_dir / f"{name}.json"
        if src.resolve() != Path(getattr(out, name)).resolve():
            shutil.copyfile(src, getattr(out, name))
    log.info("final loss %.5f over %d steps, %.0f tokens/s, %d process(es)", result.metrics["final_loss"],
             result.metrics["steps"], result.provenance["tokens_per_second"] or 0, result.provenance["world_size"])

    # the test-set evaluation (of the model in memory when it was trained in this process)
    metrics, rows = evaluate_trained(result, run, load_tokenizer(run.model, run.tokenizer_dir), read_jsonl(inp.test),
                                     **dict(p.eval or {}))
    log.info("test: agreement %.4f (%d of %d, %d ties); shorter-wins prior %.4f; where the prior is wrong %.4f "
             "(%d pairs)", metrics["agreement"], metrics["n_correct"], metrics["n"], metrics["n_ties"],
             metrics["prior_agreement"], metrics["agreement_prior_wrong"], metrics["n_prior_wrong"])
    write_json(out.test_metrics, metrics)
    pd.DataFrame(rows, columns=SCORE_COLUMNS).to_csv(out.test_scores, index=False)
    removed = remove_checkpoint(out_dir)  # the resume point kept for the evaluation: no longer needed
    if removed is not None:
        log.info("removed the resume point %s", removed)
