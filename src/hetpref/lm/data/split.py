"""A documented, deterministic train/test split of one HH-RLHF file (``lm.local_split``).

The only real HH-RLHF text available offline is the harmless-base *test* split (a copy
placed by the user, e.g. ``resources/hh-rlhf-local/``). To run the LM stage on real text without a download,
``lm.source: local`` with ``lm.local_split`` reads only ``<subset>/<from_split>.jsonl.gz`` of each
subset and divides its pairs into training and test pairs.

Each pair gets a uniform number ``u ∈ [0, 1)`` from the sha256 of the split seed and the pair's
own text (``seed``, prompt, chosen response, rejected response): the split does not depend on the
order of the records in the file, on which other records are there, or on the machine. A pair is
a test pair when ``u < test_share``, else a training pair; identical records land on the same
side (no copy of a test pair is trained on). Optional caps keep, per split, the ``n`` pairs with
the smallest ``u`` *after* the token-length filter: a deterministic subsample that grows by
nesting (the first 500 are among the first 1000), used to size CPU runs.

The download path is untouched: without ``lm.local_split`` every source reads both splits.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .hh_rlhf import PairTable

LOCAL_SPLIT_STAGE = "local_split"
CAP_STAGE = "cap"
HELD_OUT = "in the other split of lm.local_split"
OVER_CAP = "beyond the cap of lm.local_split"


def pair_uniforms(table: PairTable, seed: int) -> np.ndarray:
    """``u ∈ [0, 1)`` per pair: the first 8 bytes of sha256(seed, prompt, chosen, rejected) / 2^64."""
    out = np.empty(len(table), dtype=np.float64)
    for i, (p, c, r) in enumerate(zip(table.prompt, table.chosen, table.rejected)):
        digest = hashlib.sha256("\0".join((str(int(seed)), p, c, r)).encode("utf-8")).digest()
        out[i] = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    return out


def split_table(table: PairTable, test_share: float, seed: int) -> dict[str, PairTable]:
    """``{"train": …, "test": …}`` from one table: test where ``u < test_share``. Each keeps the
    source table's stages plus a ``local_split`` stage with the pairs sent to the other split."""
    if not 0 < test_share < 1:
        raise ValueError(f"lm.local_split.test_share = {test_share}: must lie strictly between 0 and 1")
    is_test = pair_uniforms(table, seed) < test_share
    out = {}
    for split, keep in (("train", ~is_test), ("test", is_test)):
        part = table.filter(keep, LOCAL_SPLIT_STAGE, HELD_OUT)
        part.split = split
        out[split] = part.canonical()
    return out


def cap_table(table: PairTable, n: int | None, seed: int) -> PairTable:
    """At most ``n`` pairs: those with the smallest ``u`` (None: all). Recorded as stage ``cap``."""
    if n is None or len(table) <= n:
        return table
    order = np.argsort(pair_uniforms(table, seed), kind="stable")
    keep = np.zeros(len(table), dtype=bool)
    keep[order[:int(n)]] = True
    return table.filter(keep, CAP_STAGE, OVER_CAP)
