"""Own annotator data → the views of the training annotators as training records, one JSONL per loss,
plus the held-out annotators' judgements and their per-type labels (hetpref.annotators.pipeline.prepare).

snakemake.params: source (file, folder or hub id; None = the adapter's shipped fixture), adapter,
                  options (adapter keyword options), type_attribute, losses, views (multiple, missing,
                  seed), evaluation (test_share, seed, batch_size), variance (Eq. 19 fit:
                  latent_types, steps, batch_size, lr, seed),
                  model (tiny | spec), vocab_size (tiny tokenizer)
snakemake.output: dpo, consistent, corrected_dpo (JSONL records; empty for a loss not listed), test,
                  test_per_type, split, variance, summary, tokenizer (directory)
"""
import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # the tokenizers library's pool, before it is imported

from hetpref.annotators.pipeline import prepare, read_source  # noqa: E402
from hetpref.runtime import script_run  # noqa: E402

with script_run(snakemake) as log:
    p, out = snakemake.params, snakemake.output
    table = read_source(p.adapter, p.source, p.options)
    log.info("%s: %d judgements, %d pairs, %d annotators, attributes %s", table.source, len(table.frame),
             table.frame["pair_id"].nunique(), table.frame["annotator_id"].nunique(), list(table.attributes))
    paths = {k: str(getattr(out, k)) for k in ("dpo", "consistent", "corrected_dpo", "test", "test_per_type", "split",
                                              "variance", "summary", "tokenizer")}
    summary = prepare(table, paths, p.type_attribute, list(p.losses), dict(p.views), dict(p.evaluation),
                      dict(p.variance), p.model, int(p.vocab_size))
    log.info("training records per loss: %s", summary["records"])
