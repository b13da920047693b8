"""The LM data step (docs/spec.md §8) as one function, :func:`build_datasets`: HH-RLHF source → shared
prompt + two responses → token counts with the model's tokenizer → pairs of at most max_length
tokens → relabelled datasets with manifests, the token counts the length oracle reads, the
tokenizer folder and a summary. workflow_scripts/lm_data.py only passes the rule's params and
paths to it.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ...runtime import InputError
from ..hub import check_model_config, describe_environment
from ..hub import kind as spec_kind
from ..names import DATASETS, TINY_SPEC
from .hh_rlhf import HH_RLHF_URL, SPLITS, data_report, get_source, no_pairs_message, read_source
from .relabel import encode_table, relabel, write_dataset
from .split import cap_table, split_table
from .tokenization import (
    count_pair_tokens,
    filter_max_length,
    load_tokenizer,
    tokenizer_training_texts,
    train_tiny_tokenizer,
)

TOKENIZER_TRAIN_TEXTS = 20000  # at most this many training transcripts train the tiny tokenizer
TOKENIZER_BATCH = 1024  # texts per tokenizer batch (speed only)


def build_datasets(outputs: Mapping[str, str], *, source: str, data_dir, subsets: Sequence[str], seed: int,
                   tokenizer: str, max_length: int, demo_dir, demo_seed: int, demo_pairs, vocab_size: int,
                   retries: int, max_malformed_share: float | None, log: logging.Logger,
                   report_path=None, see=None, base_url: str = HH_RLHF_URL,
                   tokenizer_train_texts: int | None = TOKENIZER_TRAIN_TEXTS,
                   batch_size: int = TOKENIZER_BATCH, local_split: Mapping | None = None) -> dict:
    """Run the data step and write every declared output; returns the summary (also written).

    ``source``: demo | download | local | auto (auto: local if every file is in ``data_dir``,
    else demo, generated into ``demo_dir`` from ``demo_seed``, ``demo_pairs`` per file: an int or
    ``{train: n, test: n}``). ``tokenizer``: tiny (a BPE of ``vocab_size`` trained on the training
    transcripts) | smollm2-135m | a Hugging Face id / local path. ``seed`` is the label seed.

    ``outputs`` maps names to paths: any of :data:`~hetpref.lm.names.DATASETS` (JSONL; ``anonymous``
    … ``average`` from the training split, ``test`` from the test split), optionally
    ``<name>_manifest`` (default ``<stem>.manifest.json`` beside it), and ``lengths`` (CSV: split,
    id, n_chosen, n_rejected), ``tokenizer`` (folder, AutoTokenizer-loadable), ``summary`` (JSON:
    source, files and checksums, per-split stages and drop reasons, datasets).

    ``local_split`` (lm.local_split; ``source`` local only): with ``enabled`` true, read only each
    subset's ``from_split`` file and split its pairs into train and test by a hash of each pair
    (:mod:`hetpref.lm.data.split`), then cap each split at ``train_pairs`` / ``test_pairs``.

    ``report_path``: JSON of the per-file and per-split counts, written as soon as they are known,
    so it is kept when the step stops (a log, not an output); ``see`` is where a "no pair left"
    error points (default ``report_path``). Stops with :class:`~hetpref.runtime.InputError`
    when a split has no pair left."""
    kinds = [k for k in DATASETS if k in outputs]
    if not kinds:
        raise ValueError(f"declare at least one dataset output among {', '.join(DATASETS)}")
    see = see or report_path
    one_file = bool(local_split and local_split.get("enabled"))
    if one_file and source != "local":
        raise InputError(f"lm.local_split.enabled is true with lm.source = {source!r}: the split of one file "
                         "applies to source local only (set lm.source: local, or enabled: false)")

    t0 = time.perf_counter()
    if tokenizer != TINY_SPEC:  # a model that cannot be had stops the job before any data work
        if spec_kind(tokenizer) == "hub":
            log.info("model %s from the Hugging Face hub: %s", tokenizer, describe_environment())
        tok = load_tokenizer(tokenizer, pad=False)  # saved below as published
        check_model_config(tokenizer)
        log.info("tokenizer %s ready (%.1f s)", tokenizer, time.perf_counter() - t0)

    t0 = time.perf_counter()
    splits = [local_split["from_split"]] if one_file else SPLITS
    source, files = get_source(source, data_dir=data_dir, subsets=list(subsets), splits=splits, demo_dir=demo_dir,
                               demo_seed=demo_seed, demo_pairs=demo_pairs, base_url=base_url, retries=retries,
                               max_malformed_share=max_malformed_share, log=log.info)
    log.info("source %s: %d files (%.1f s)", source, len(files), time.perf_counter() - t0)
    tables, reports = read_source(files, max_malformed_share=max_malformed_share,
                                  manifest_dir=None if source == "demo" else data_dir, log=log.info, warn=log.warning)
    if one_file:
        tables = split_table(tables[local_split["from_split"]], float(local_split["test_share"]),
                             int(local_split["seed"]))
        log.info("lm.local_split: %s pairs of %s → %d train, %d test (test_share %g, seed %d)",
                 local_split["from_split"], ", ".join(subsets), len(tables["train"]), len(tables["test"]),
                 float(local_split["test_share"]), int(local_split["seed"]))

    def write_report():  # per-file and per-split counts, kept even if the job stops (a log, not an output)
        if report_path:
            Path(report_path).write_text(json.dumps({"source": source, **data_report(reports, tables)},
                                                    indent=2, sort_keys=True) + "\n")

    write_report()

    t0 = time.perf_counter()
    tok_dir = Path(outputs["tokenizer"])
    if tokenizer == TINY_SPEC:
        texts = tokenizer_training_texts(tables["train"], tokenizer_train_texts)
        if not texts:
            raise InputError(no_pairs_message("train", tables["train"], reports, see))
        tok = train_tiny_tokenizer(texts, tok_dir, vocab_size)
        log.info("trained the tiny tokenizer (vocabulary %d) on %d training transcripts", len(tok), len(texts))
        log.info("tokenizer %s ready (%.1f s)", tokenizer, time.perf_counter() - t0)
    else:
        tok.save_pretrained(str(tok_dir))  # one loadable folder whatever the spec

    t0 = time.perf_counter()
    tables = {s: filter_max_length(count_pair_tokens(tok, tb, batch_size), max_length) for s, tb in tables.items()}
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
            raise InputError(no_pairs_message(split, tables[split], reports, see, max_length))

    datasets = write_datasets(outputs, kinds, tables, seed,
                              extra={"source": source, "tokenizer": tokenizer, "max_length": max_length}, log=log)
    lengths_table(tables).to_csv(outputs["lengths"], index=False)
    summary = {"source": source, "seed": seed, "local_split": dict(local_split) if one_file else None,
               "tokenizer": tokenizer, "max_length": max_length,
               **data_report(reports, tables), "datasets": datasets}
    Path(outputs["summary"]).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def write_datasets(outputs: Mapping[str, str], kinds: Sequence[str], tables, seed: int, extra: dict,
                   log: logging.Logger) -> dict:
    """Relabel and write each dataset of ``kinds`` (``test`` from the test split, the others from
    the training split) with its manifest; returns each one's summary entry."""
    encoded, datasets = {}, {}
    for kind in kinds:
        split = "test" if kind == "test" else "train"
        table = tables[split]
        encoded.setdefault(split, encode_table(table))
        labelled = relabel(kind, table, seed)
        m = write_dataset(outputs[kind], labelled, table, manifest_path=outputs.get(f"{kind}_manifest"),
                          encoded=encoded[split], extra=extra)
        datasets[kind] = {k: m[k] for k in ("size", "n_pairs", "label_balance", "kept_share", "dropped", "sha256")}
        for reason, n in labelled.dropped.items():
            log.info("%s: labelling dropped %d of %d pairs: %s", kind, n, labelled.n_in, reason)
        log.info("%s: %d records, label balance %.4f%s", kind, m["size"], m["label_balance"] or 0,
                 f", kept share {m['kept_share']['labelling']:.4f} (expected {m['expected_kept_share']:.4f})"
                 if kind == "unanimous_filtered" else "")
    return datasets


def lengths_table(tables) -> pd.DataFrame:
    """split, id, n_chosen, n_rejected of every kept pair: what the length oracle reads."""
    return pd.concat([pd.DataFrame({"split": s, "id": tb.ids, "n_chosen": tb.n_chosen, "n_rejected": tb.n_rejected})
                      for s, tb in tables.items()], ignore_index=True)
