"""LM data (docs/spec.md §8): HH-RLHF source → shared prompt + two responses → token counts with the
model's tokenizer → pairs of at most max_length tokens → relabelled datasets with manifests
(hetpref.lm.data.build.build_datasets, which documents every argument).

snakemake.params (all passed by the rule):
    source          demo | download | local | auto (auto: local if every file is in data_dir, else demo)
    data_dir        folder of the real files, <data_dir>/<subset>/<split>.jsonl.gz (download target)
    subsets         HH-RLHF subsets to use (list)
    seed            label seed
    tokenizer       tiny | smollm2-135m | Hugging Face id / local path (the config's lm.model)
    max_length      keep pairs whose longer text has at most this many tokens (512)
    max_malformed_share  per file, the share of unusable records above which it is refused
    demo_dir, demo_seed, demo_pairs  where, from which seed and how many pairs per file ({train: n, test: n})
                    the demo files are generated
    vocab_size      vocabulary of the tiny tokenizer
    retries         extra download attempts per file
    local_split     lm.local_split: with enabled true (source local only), split one file's pairs into
                    train and test by a hash of each pair (hetpref.lm.data.split)
snakemake.output (names fixed; any subset of the dataset names may be declared):
    anonymous, unanimous, unanimous_filtered, per_type, average   training-split datasets (JSONL)
    test                                                          test-split dataset (JSONL)
    <name>_manifest  (optional) each dataset's manifest; default <file stem>.manifest.json beside it
    lengths, tokenizer (directory()), summary
snakemake.log: the log (drops and their reasons, the first located as file:line); optionally a
    second entry ``report``: JSON of the per-file and per-split counts, written even when the job
    stops (Snakemake keeps logs of failed jobs, not their outputs).
"""
import os

# The tokenizers library sizes its thread pool when first imported: pin it to the rule's threads.
os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, int(snakemake.threads))))

from hetpref.lm.data.build import build_datasets  # noqa: E402 (after RAYON_NUM_THREADS is set: tokenizers sizes its pool on import)
from hetpref.runtime import script_run  # noqa: E402 (after RAYON_NUM_THREADS is set: tokenizers sizes its pool on import)

with script_run(snakemake, torch_threads=False) as log:
    p, logs = snakemake.params, dict(snakemake.log.items())
    build_datasets(dict(snakemake.output.items()), source=p.source, data_dir=p.data_dir,
                   subsets=list(p.subsets), seed=int(p.seed), tokenizer=p.tokenizer, max_length=int(p.max_length),
                   demo_dir=p.demo_dir, demo_seed=int(p.demo_seed), demo_pairs=p.demo_pairs,
                   vocab_size=int(p.vocab_size), retries=int(p.retries), max_malformed_share=p.max_malformed_share,
                   local_split=p.local_split,
                   log=log, report_path=logs.get("report"), see=logs.get("report") or snakemake.log[0])
