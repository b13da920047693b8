"""Agreement of one trained run with the average reward's order on the test split.

snakemake.wildcards: objective (reward | dpo | ipo | dpo_ref | dpo_base | dpo_norm: hetpref.lm.variants), dataset, seed
snakemake.input:     adapter (directory written by lm_train), test (JSONL test records),
                     tokenizer (the tokenizer directory written by lm_data)
snakemake.params:    model (spec, for the tokenizer), eval (dict: any of batch_size, max_length,
                     overlength, add_eos, scoring — a policy is scored as it was trained:
                     hetpref.lm.variants), device (cpu | cuda | auto)
snakemake.output:    metrics (JSON: agreement, n, n_correct, n_ties, ... + objective, dataset, seed),
                     and the length diagnostics (hetpref.lm.evaluate.length_diagnostics),
                     scores (CSV: id, h, correct, response token counts, prior_correct per test pair)
"""
import pandas as pd

from hetpref.lm.evaluate import evaluate_run
from hetpref.lm.jsonl import read_jsonl
from hetpref.lm.tokenization import load_tokenizer
from hetpref.lm.variants import objective_spec
from hetpref.provenance import write_json
from hetpref.runtime import script_run

with script_run(snakemake, torch_threads=True) as log:
    p, wc, inp, out = snakemake.params, snakemake.wildcards, snakemake.input, snakemake.output
    opts = dict(p.eval)
    tokenizer = load_tokenizer(p.model, inp.tokenizer)
    metrics, rows = evaluate_run(inp.adapter, tokenizer, read_jsonl(inp.test),
                                 objective=objective_spec(wc.objective)[0], device=p.device, **opts)
    metrics.update({"objective": wc.objective, "dataset": wc.dataset, "seed": int(wc.seed), "model": p.model})
    log.info("agreement %.4f (%d of %d, %d ties); shorter-wins prior %.4f; where the prior is wrong %.4f (%d pairs)",
             metrics["agreement"], metrics["n_correct"], metrics["n"], metrics["n_ties"], metrics["prior_agreement"],
             metrics["agreement_prior_wrong"], metrics["n_prior_wrong"])
    write_json(out.metrics, metrics)
    pd.DataFrame(rows, columns=["id", "h", "correct", "response_tokens_chosen", "response_tokens_rejected",
                                "prior_correct"]).to_csv(out.scores, index=False)
