"""LM data (MATH.md §8): HH-RLHF source → shared prompt + two responses → token counts with the
model's tokenizer → pairs of at most max_length tokens → relabelled datasets with manifests.

snakemake.params:
    source          demo | download | local | auto (auto: local if every file is in data_dir, else demo)
    data_dir        folder of the real files, <data_dir>/<subset>/<split>.jsonl.gz (download target)
    subsets         HH-RLHF subsets to use (list)
    seed            label seed
    tokenizer       tiny | smollm2-135m | Hugging Face id / local path (the config's lm.model)
    max_length      keep pairs whose longer text has at most this many tokens (512)
    max_malformed_share (optional, 0.05) per file, the share of unusable records above which it is refused
    demo_dir        (optional, default data_dir) where the demo files are generated
    demo_seed       (optional, 0) seed of the demo conversations
    demo_pairs      (optional, 1000) pairs per demo file: an int or {train: n, test: n}
    vocab_size      (optional, 2000) vocabulary of the tiny tokenizer
    tokenizer_train_texts (optional, 20000) at most this many training transcripts train the tiny tokenizer
    base_url        (optional) download base URL; retries (optional, 3) extra download attempts
    batch_size      (optional, 1024) texts per tokenizer batch
    local_split     (optional) lm.local_split: with enabled true (source local only), read only each
                    subset's <from_split> file and split its pairs into train and test by a hash of
                    each pair (hetpref.lm.split), then cap each split at train_pairs / test_pairs
snakemake.output (names fixed; any subset of the dataset names may be declared):
    anonymous, unanimous, unanimous_filtered, per_type, average   training-split datasets (JSONL)
    test                                                          test-split dataset (JSONL)
    <name>_manifest  (optional) each dataset's manifest; default <file stem>.manifest.json beside it
    lengths          CSV: split, id, n_chosen, n_rejected of every kept pair (for the length oracle)
    tokenizer        directory (declare with directory()): the tokenizer, AutoTokenizer-loadable
    summary          JSON: source, files and checksums, per-split stages and drop reasons, datasets
snakemake.log: the log (drops and their reasons, the first located as file:line); optionally a
    second entry ``report``: JSON of the per-file and per-split counts, written even when the job
    stops (Snakemake keeps logs of failed jobs, not their outputs).
"""
import os

# The tokenizers library sizes its thread pool when first imported: pin it to the rule's threads.
os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, int(snakemake.threads))))  # noqa: F821

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from hetpref.lm import hub  # noqa: E402
from hetpref.lm.hh_rlhf import (HH_RLHF_URL, MAX_MALFORMED_SHARE, SPLITS, data_report, get_source,  # noqa: E402
                                no_pairs_message, read_source)
from hetpref.lm.relabel import DATASETS, encode_table, relabel, write_dataset  # noqa: E402
from hetpref.lm.split import cap_table, split_table  # noqa: E402
from hetpref.lm.tokenization import (TINY_SPEC, count_pair_tokens, filter_max_length, load_tokenizer,  # noqa: E402
                                     tokenizer_training_texts)
from hetpref.runtime import InputError, script_run  # noqa: E402

with script_run(snakemake, torch_threads=False) as log:  # noqa: F821
    p, out = snakemake.params, snakemake.output  # noqa: F821
    opt = lambda name, default=None: getattr(p, name, default)  # noqa: E731
    outputs = dict(out.items())
    kinds = [k for k in DATASETS if k in outputs]
    if not kinds:
        raise ValueError(f"declare at least one dataset output among {', '.join(DATASETS)}")

    log_report = dict(snakemake.log.items()).get("report") if hasattr(snakemake.log, "items") else None  # noqa: F821
    max_share = opt("max_malformed_share", MAX_MALFORMED_SHARE)

    t0 = time.perf_counter()
    if p.tokenizer != TINY_SPEC:  # a model that cannot be had stops the job before any data work
        if hub.kind(p.tokenizer) == "hub":
            log.info("model %s from the Hugging Face hub: %s", p.tokenizer, hub.describe_environment())
        tokenizer = load_tokenizer(p.tokenizer)
        hub.check_model_config(p.tokenizer)
        log.info("tokenizer %s ready (%.1f s)", p.tokenizer, time.perf_counter() - t0)

    local_split = opt("local_split") or {}
    if local_split.get("enabled") and p.source != "local":
        raise InputError(f"lm.local_split.enabled is true with lm.source = {p.source!r}: the split of one file "
                         "applies to source local only (set lm.source: local, or enabled: false)")
    one_file = bool(local_split.get("enabled"))
    t0 = time.perf_counter()
    source, files = get_source(p.source, data_dir=p.data_dir, subsets=list(p.subsets),
                               splits=[local_split["from_split"]] if one_file else SPLITS,
                               demo_dir=opt("demo_dir"), demo_seed=int(opt("demo_seed", 0)),
                               demo_pairs=opt("demo_pairs", 1000), base_url=opt("base_url") or HH_RLHF_URL,
                               retries=int(opt("retries", 3)), max_malformed_share=max_share, log=log.info)
    log.info("source %s: %d files (%.1f s)", source, len(files), time.perf_counter() - t0)
    tables, reports = read_source(files, max_malformed_share=max_share,
                                  manifest_dir=None if source == "demo" else p.data_dir, log=log.info, warn=log.warning)
    report_path = log_report or snakemake.log[0]  # noqa: F821
    if one_file:
        tables = split_table(tables[local_split["from_split"]], float(local_split["test_share"]),
                             int(local_split["seed"]))
        log.info("lm.local_split: %s pairs of %s → %d train, %d test (test_share %g, seed %d)",
                 local_split["from_split"], ", ".join(p.subsets), len(tables["train"]), len(tables["test"]),
                 float(local_split["test_share"]), int(local_split["seed"]))

    def write_report():  # per-file and per-split counts, kept even if the job stops (a log, not an output)
        if log_report:
            Path(log_report).write_text(json.dumps({"source": source, **data_report(reports, tables)},
                                                   indent=2, sort_keys=True) + "\n")

    write_report()

    t0 = time.perf_counter()
    tok_dir = Path(out.tokenizer)
    if p.tokenizer == TINY_SPEC:
        texts = tokenizer_training_texts(tables["train"], opt("tokenizer_train_texts", 20000))
        if not texts:
            raise InputError(no_pairs_message("train", tables["train"], reports, report_path))
        tokenizer = load_tokenizer(TINY_SPEC, tok_dir, texts, int(opt("vocab_size", 2000)))
        log.info("trained the tiny tokenizer (vocabulary %d) on %d training transcripts", len(tokenizer), len(texts))
        log.info("tokenizer %s ready (%.1f s)", p.tokenizer, time.perf_counter() - t0)
    else:
        tokenizer.save_pretrained(str(tok_dir))  # one loadable folder whatever the spec

    t0 = time.perf_counter()
    batch = int(opt("batch_size", 1024))
    tables = {s: filter_max_length(count_pair_tokens(tokenizer, tb, batch), int(p.max_length))
              for s, tb in tables.items()}
    if one_file:
        tables = {s: cap_table(tb, local_split.get(f"{s}_pairs"), int(local_split["seed"])) for s, tb in tables.items()}
    log.info("token counts (%.1f s)", time.perf_counter() - t0)
    for split, tb in tables.items():
        for st in tb.stages:
            log.info("%s %s: %d → %d pairs", split, st["stage"], st["n_in"], st["n_out"])
            for reason, n in st["dropped"].items():
                log.info("%s %s dropped %d pairs: %s", split, st["stage"], n, reason)
    write_report()
    for split in SPLITS:
        if len(tables[split]) == 0:
            raise InputError(no_pairs_message(split, tables[split], reports, report_path, int(p.max_length)))

    extra = {"source": source, "tokenizer": p.tokenizer, "max_length": int(p.max_length)}
    encoded = {}
    datasets = {}
    for kind in kinds:
        split = "test" if kind == "test" else "train"
        table = tables[split]
        encoded.setdefault(split, encode_table(table))
        labelled = relabel(kind, table, int(p.seed))
        m = write_dataset(outputs[kind], labelled, table, manifest_path=outputs.get(f"{kind}_manifest"),
                          encoded=encoded[split], extra=extra)
        datasets[kind] = {k: m[k] for k in ("size", "n_pairs", "label_balance", "kept_share", "dropped", "sha256")}
        for reason, n in labelled.dropped.items():
            log.info("%s: labelling dropped %d of %d pairs: %s", kind, n, labelled.n_in, reason)
        log.info("%s: %d records, label balance %.4f%s", kind, m["size"], m["label_balance"] or 0,
                 f", kept share {m['kept_share']['labelling']:.4f} (expected {m['expected_kept_share']:.4f})"
                 if kind == "unanimous_filtered" else "")

    pd.concat([pd.DataFrame({"split": s, "id": tb.ids, "n_chosen": tb.n_chosen, "n_rejected": tb.n_rejected})
               for s, tb in tables.items()], ignore_index=True).to_csv(out.lengths, index=False)
    summary = {"source": source, "seed": int(p.seed), "local_split": dict(local_split) if one_file else None,
               "tokenizer": p.tokenizer, "max_length": int(p.max_length),
               **data_report(reports, tables),
               "datasets": datasets}
    Path(out.summary).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
