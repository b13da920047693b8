"""Train one LoRA policy on own annotator data with one loss (dpo | consistent | corrected_dpo) and
seed, then evaluate it on the held-out annotators (one job, as lm_train: the model in memory).

snakemake.wildcards: loss, seed
snakemake.input:     train (JSONL records of the loss's view), tokenizer (directory), summary (JSON: n_types),
                     test (held-out judgements, JSONL), test_per_type (CSV: per-type labels of the held-out pairs)
snakemake.params:    model, tiny (dict or None), train (LMTrainConfig fields), type_attribute, batch_size
                     (scoring), device, processes (> 1: torchrun)
snakemake.output:    adapter (directory), metrics (training, JSON), evaluation (JSON:
                     hetpref.annotators.evaluate.heldout_metrics + loss, seed, model), scores (CSV per test pair)
"""
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from hetpref.annotators.evaluate import heldout_metrics, score_trained
from hetpref.annotators.train import TRAINER_DATASET
from hetpref.lm.data.jsonl import read_jsonl
from hetpref.lm.data.tokenization import load_tokenizer
from hetpref.lm.training.checkpoints import remove_checkpoint
from hetpref.lm.training.launch import run_job
from hetpref.lm.training.run import LMRun
from hetpref.provenance import write_json
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=True) as log:
    p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output
    out_dir = Path(out.adapter).parent
    summary = json.loads(Path(inp.summary).read_text())
    train = dict(p.train or {})
    if wc.loss == "consistent":
        train["n_types"] = int(summary["n_types"])  # k of Eq. 20: the number of types
    # a policy ("dpo": the loss and the scoring come in train); the checkpoint is kept until the
    # held-out evaluation below has succeeded
    run = LMRun.from_params("dpo", TRAINER_DATASET[wc.loss], wc.seed,
                            {"model": p.model, "tiny": p.tiny, "train": train, "device": p.device},
                            records=str(inp.train), tokenizer_dir=str(inp.tokenizer), out_dir=out_dir,
                            keep_checkpoint=True)
    result = run_job(run, int(p.processes), log, threads=snakemake.threads)
    if (out_dir / "metrics.json").resolve() != Path(out.metrics).resolve():
        shutil.copyfile(out_dir / "metrics.json", out.metrics)
    log.info("%s: final loss %.5f over %d steps", wc.loss, result.metrics["final_loss"], result.metrics["steps"])

    # the held-out judgements, scored as the run was trained (the model in memory, or its adapter after torchrun)
    test = SimpleNamespace(frame=pd.DataFrame(read_jsonl(inp.test)))
    scores = score_trained(result, run, load_tokenizer(p.model, inp.tokenizer), test, int(p.batch_size))
    per_type = pd.read_csv(inp.test_per_type)
    metrics = heldout_metrics(test, scores, p.type_attribute, per_type if len(per_type) else None)
    metrics.update({"loss": wc.loss, "seed": int(wc.seed), "model": p.model, "final_loss": result.metrics["final_loss"],
                    "n_train_pairs": result.metrics["n_pairs"], "dpo_scoring": run.scoring})
    log.info("held-out annotators: agreement %.3f (longer-wins prior %.3f) over %d judgements; worst type %s %.3f; "
             "unanimous %.3f (%d pairs)", metrics["agreement_all"], metrics["prior_all"], metrics["n_all"],
             metrics["worst_type"], metrics["worst_type_agreement"], metrics["agreement_unanimous"],
             metrics["n_unanimous"])
    write_json(out.evaluation, metrics)
    scores.to_csv(out.scores, index=False)
    removed = remove_checkpoint(out_dir)
    if removed is not None:
        log.info("removed the resume point %s", removed)
