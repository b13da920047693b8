"""Relabelling HH-RLHF by length-based user types (docs/spec.md §8) and writing the datasets.

Three equally weighted Bradley–Terry types score a response by the token count ``n`` of
prompt + response (``n ≤ 512``):

- type 1, long:  ``r1 = min(4, e^{n/80}/100)``
- type 2, short: ``r2 = min(4, e^{(512−n)/80}/100)``
- type 3, mid:   ``r3 = exp(1/(((n − 256)/64)² + 1)) − 1``

and ``r̄ = (r1 + r2 + r3)/3`` is the alignment target (docs/spec.md §2). With
``Δ_u = r_u(n_chosen) − r_u(n_rejected)`` (HH-RLHF's own orientation) the datasets are:

- ``anonymous``: one uniformly random type per pair, BT label ``σ(Δ_u)`` (§8 "anonymous");
- ``unanimous``: BT on the summed difference ``Σ_u Δ_u`` — the paper's shortcut for "sample
  every type until they agree" (§4, Eq. 20 and "equivalent data generation"), every pair kept;
- ``unanimous_filtered``: the faithful version: one BT label per type, keep only the pairs all
  types agree on (kept share ``E[Πσ(Δ_u) + Πσ(−Δ_u)]``, reported);
- ``per_type``: one BT label per type per pair, one record per (pair, type) (maximum annotator
  information, §4 Section 6);
- ``average``: BT on ``r̄`` (the indirect consistent route of §4's last paragraph);
- ``test``: deterministic order by ``r̄`` (§8 "test labels"); ties are dropped and counted.

Randomness is counter-based and per example: every example draws its uniforms from Philox-4×64
(numpy's ``Philox``, reimplemented vectorised) keyed by a hash of (seed, split, example id), so
a label never depends on the other examples, their order, chunking or worker count. The
per-type labels are shared: ``anonymous`` reveals the per-type label of its drawn type and
``unanimous_filtered`` keeps the pairs whose per-type labels agree, so the three datasets are
views of one population of annotators.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from pathlib import Path

import numpy as np
from scipy.special import expit, log_expit

from ..names import DATASETS, LABELLINGS, TYPES

# the key of the label streams' hash: a fixed string (the module's first name), not an import path;
# changing it changes every label
LABEL_STREAM_KEY = "hetpref.lm.relabel"

MAX_TOKENS = 512
TYPE_NAMES = {1: "long", 2: "short", 3: "mid"}
TYPE_FORMULAS = {1: "min(4, e^{n/80}/100)", 2: "min(4, e^{(512-n)/80}/100)",
                 3: "exp(1/(((n-256)/64)^2 + 1)) - 1"}
TIE_TOL = 1e-12  # |r̄_a − r̄_b| at or below this is a tie (r̄ is O(1); exact ties are n_a = n_b or n_a + n_b = 512)
NOT_UNANIMOUS = "not_unanimous"
TIE = "tie_in_average_reward"

# Slots of each example's uniforms (two Philox blocks = 8 draws).
_SLOT_TYPE, _SLOT_UNANIMOUS, _SLOT_AVERAGE = 0, 1, 2
_SLOT_PER_TYPE = (3, 4, 5)
N_UNIFORMS = 8


# ----------------------------------------------------------------------------- rewards


def _check_n(n) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)
    if n.size and (n.max() > MAX_TOKENS or n.min() < 0):
        raise ValueError(f"token counts must lie in [0, {MAX_TOKENS}] (got {n.min():g}..{n.max():g}); "
                         f"filter pairs longer than max_length ≤ {MAX_TOKENS} first")
    return n


def reward_long(n) -> np.ndarray:
    """Type 1 (docs/spec.md §8): ``r1 = min(4, e^{n/80}/100)``."""
    n = _check_n(n)
    return np.minimum(4.0, np.exp(n / 80.0) / 100.0)


def reward_short(n) -> np.ndarray:
    """Type 2 (docs/spec.md §8): ``r2 = min(4, e^{(512−n)/80}/100)``."""
    n = _check_n(n)
    return np.minimum(4.0, np.exp((MAX_TOKENS - n) / 80.0) / 100.0)


def reward_mid(n) -> np.ndarray:
    """Type 3 (docs/spec.md §8): ``r3 = exp(1/(((n − 256)/64)² + 1)) − 1``."""
    n = _check_n(n)
    return np.exp(1.0 / (((n - 256.0) / 64.0) ** 2 + 1.0)) - 1.0


def type_rewards(n) -> np.ndarray:
    """``(3, *n.shape)``: r1, r2, r3 of each count."""
    return np.stack([reward_long(n), reward_short(n), reward_mid(n)])


def average_reward(n) -> np.ndarray:
    """``r̄ = (r1 + r2 + r3)/3`` (equal type weights, docs/spec.md §2). Summed in the order
    r1 + r2 + r3 so that r̄(n) == r̄(512 − n) holds exactly in floating point (r1 and r2 swap,
    r3 is symmetric), making those genuine ties exact."""
    r = type_rewards(n)
    return (r[0] + r[1] + r[2]) / 3.0


def type_deltas(n_a, n_b) -> np.ndarray:
    """``(3, N)``: ``Δ_u = r_u(n_a) − r_u(n_b)``."""
    return type_rewards(n_a) - type_rewards(n_b)


def label_probability(labelling: str, n_a, n_b) -> tuple[np.ndarray, np.ndarray]:
    """Exact label law of a pair of lengths under a labelling: (P(a ≻ b | the pair is kept),
    P(the pair is kept)).

    anonymous: ``mean_u σ(Δ_u)``; unanimous: ``σ(Σ_u Δ_u)``; unanimous_filtered:
    ``Πσ(Δ_u) / (Πσ(Δ_u) + Πσ(−Δ_u))`` (= ``σ(ΣΔ_u)``, docs/spec.md §4) kept with probability
    ``Πσ(Δ_u) + Πσ(−Δ_u)``; average: ``σ(mean_u Δ_u)``. All but unanimous_filtered keep every pair.
    """
    d = type_deltas(n_a, n_b)
    ones = np.ones(d.shape[1:])
    if labelling == "anonymous":
        return expit(d).mean(axis=0), ones
    if labelling == "unanimous":
        return expit(d.sum(axis=0)), ones
    if labelling == "unanimous_filtered":
        log_all, log_none = log_expit(d).sum(axis=0), log_expit(-d).sum(axis=0)
        return expit(log_all - log_none), np.exp(log_all) + np.exp(log_none)
    if labelling == "average":
        return expit(d.mean(axis=0)), ones
    raise ValueError(f"unknown labelling {labelling!r}; allowed: {', '.join(LABELLINGS)}")


# ----------------------------------------------------------------------------- counter-based RNG

_M0, _M1 = np.uint64(0xD2E7470EE14C6C93), np.uint64(0xCA5A826395121157)  # Philox-4×64 multipliers
_W0, _W1 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBB67AE8584CAA73B)  # Weyl key increments
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def _mulhilo(a: np.uint64, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) 64-bit words of the 128-bit product, from 32-bit halves (numpy has no u128)."""
    a0, a1 = a & _MASK32, a >> _S32
    b0, b1 = b & _MASK32, b >> _S32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _S32) + (p01 & _MASK32) + (p10 & _MASK32)
    hi = p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)
    return hi, a * b


def philox4x64(counter: np.ndarray, key: np.ndarray, rounds: int = 10) -> np.ndarray:
    """Philox-4×64-R (Salmon et al. 2011, Random123; numpy's ``Philox``), vectorised over the
    last axis: ``counter`` (4, N) and ``key`` (2, N) uint64 → (4, N) uint64."""
    x0, x1, x2, x3 = (np.array(c, dtype=np.uint64) for c in counter)
    k0, k1 = (np.array(k, dtype=np.uint64) for k in key)
    with np.errstate(over="ignore"):
        for r in range(rounds):
            if r:
                k0, k1 = k0 + _W0, k1 + _W1
            hi0, lo0 = _mulhilo(_M0, x0)
            hi1, lo1 = _mulhilo(_M1, x2)
            x0, x1, x2, x3 = hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0
    return np.stack([x0, x1, x2, x3])


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_ids(ids) -> np.ndarray:
    """64-bit hash of each id string (FNV-1a over its UTF-8 bytes, then a splitmix64 finaliser),
    vectorised over ids: one pass per byte column, none per id."""
    ids = np.asarray(ids, dtype=str)
    raw = np.char.encode(ids, "utf-8") if ids.size else np.array([], dtype="S1")
    width = max(raw.dtype.itemsize, 1)
    mat = (np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(len(raw), width) if raw.size
           else np.zeros((0, 1), np.uint8))
    lengths = np.char.str_len(raw) if raw.size else np.zeros(0, int)
    h = np.full(len(raw), 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for j in range(width):  # masked: bytes past an id's end (NUL padding) are not hashed
            h = np.where(j < lengths, (h ^ mat[:, j].astype(np.uint64)) * prime, h)
    return _splitmix64(h)


def example_keys(seed: int, split: str, ids) -> np.ndarray:
    """Philox keys ``(2, N)`` of the examples: word 0 hashes (seed, split), word 1 the id."""
    digest = hashlib.blake2b(f"{LABEL_STREAM_KEY}|seed={int(seed)}|split={split}".encode(), digest_size=8).digest()
    k0 = np.full(len(ids), int.from_bytes(digest, "little"), dtype=np.uint64)
    return np.stack([k0, hash_ids(ids)])


def example_uniforms(seed: int, split: str, ids, n: int = N_UNIFORMS) -> np.ndarray:
    """``(N, n)`` uniforms in [0, 1) per example; row i equals
    ``np.random.Generator(np.random.Philox(key=example_keys(seed, split, ids)[:, i])).random(n)``."""
    keys = example_keys(seed, split, ids)
    blocks = []
    for b in range((n + 3) // 4):  # numpy's Philox increments the counter before each block
        ctr = np.zeros((4, len(ids)), dtype=np.uint64)
        ctr[0] = b + 1
        blocks.append(philox4x64(ctr, keys))
    raw = np.concatenate(blocks, axis=0)[:n].T
    return (raw >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)  # 53-bit doubles, as numpy


# ----------------------------------------------------------------------------- datasets


@dataclass
class LabelledDataset:
    """Which pairs of a table a dataset holds and which response wins: record k is pair
    ``pair_index[k]`` with the HH-RLHF chosen response preferred iff ``original_wins[k]``
    (and labelled by type ``types[k]`` for per_type)."""

    kind: str
    split: str
    seed: int
    pair_index: np.ndarray
    original_wins: np.ndarray
    types: np.ndarray | None
    n_in: int
    dropped: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pair_index)


def _label_chunk(kind: str, ids, n_c, n_r, seed: int, split: str):
    """(local pair index, original wins, types or None, dropped counts) for one chunk."""
    m = len(ids)
    idx = np.arange(m)
    if kind == "test":
        rbar = average_reward(n_c) - average_reward(n_r)
        keep = np.abs(rbar) > TIE_TOL
        return idx[keep], rbar[keep] > 0, None, {TIE: int((~keep).sum())}
    d = type_deltas(n_c, n_r)
    u = example_uniforms(seed, split, ids)
    per_type = u[:, _SLOT_PER_TYPE].T < expit(d)  # (3, m): does type u prefer the original chosen?
    if kind == "anonymous":
        t = np.minimum((u[:, _SLOT_TYPE] * 3).astype(np.int64), 2)
        return idx, per_type[t, idx], (t + 1).astype(np.int8), {}
    if kind == "unanimous":
        return idx, u[:, _SLOT_UNANIMOUS] < expit(d.sum(axis=0)), None, {}
    if kind == "average":
        return idx, u[:, _SLOT_AVERAGE] < expit(d.mean(axis=0)), None, {}
    if kind == "unanimous_filtered":
        every, none = per_type.all(axis=0), ~per_type.any(axis=0)
        keep = every | none
        return idx[keep], every[keep], None, {NOT_UNANIMOUS: int((~keep).sum())}
    if kind == "per_type":
        return (np.repeat(idx, 3), per_type.T.ravel(), np.tile(np.array(TYPES, np.int8), m), {})
    raise ValueError(f"unknown dataset {kind!r}; allowed: {', '.join(DATASETS)}")


def relabel(kind: str, table, seed: int, chunk_size: int | None = None) -> LabelledDataset:
    """Build dataset ``kind`` (see the module docstring) from a tokenised, length-filtered
    :class:`~hetpref.lm.data.hh_rlhf.PairTable`. Vectorised; ``chunk_size`` only bounds memory (the
    result is identical for every chunking, since each example's randomness is its own)."""
    if table.n_chosen is None:
        raise ValueError("the table has no token counts (hetpref.lm.data.tokenization.count_pair_tokens)")
    n = len(table)
    step = max(1, int(chunk_size)) if chunk_size else max(1, n)
    parts, dropped = [], {}
    for a in (range(0, n, step) if n else [0]):  # an empty table still yields its (empty) counts
        b = min(n, a + step)
        i, wins, types, drops = _label_chunk(kind, table.ids[a:b], table.n_chosen[a:b], table.n_rejected[a:b],
                                             seed, table.split)
        parts.append((i + a, wins, types))
        for k, v in drops.items():
            dropped[k] = dropped.get(k, 0) + v
    pair_index = np.concatenate([p[0] for p in parts]).astype(np.int64)
    wins = np.concatenate([p[1] for p in parts]).astype(bool)
    types = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    stats = {}
    if kind == "unanimous_filtered":
        _, kept = label_probability("unanimous_filtered", table.n_chosen, table.n_rejected)
        stats["expected_kept_share"] = float(kept.mean()) if n else None
    if kind == "anonymous":
        stats["type_counts"] = {str(t): int((types == t).sum()) for t in TYPES}
    out_types = types if kind == "per_type" else None  # anonymous types stay hidden (only counted)
    return LabelledDataset(kind, table.split, int(seed), pair_index, wins, out_types, n,
                           {k: v for k, v in dropped.items()}, stats)


# ----------------------------------------------------------------------------- writing

RECORD_KEYS = ("chosen", "id", "n_chosen", "n_rejected", "prompt", "rejected")
_encode = np.frompyfunc(encode_basestring_ascii, 1, 1)


def encode_table(table) -> dict[str, np.ndarray]:
    """JSON-encoded strings of a table's ids, prompts and responses (object arrays), computed once
    and reused by every dataset written from the table."""
    return {"id": _encode(table.ids.astype(object)), "prompt": _encode(table.prompt),
            "chosen": _encode(table.chosen), "rejected": _encode(table.rejected)}


def record_lines(labelled: LabelledDataset, table, encoded: dict | None = None, order=None) -> np.ndarray:
    """The JSONL lines of ``labelled`` (object array of str, each ending in a newline), byte for
    byte ``json.dumps(record, sort_keys=True) + "\\n"`` of the record
    ``{"id", "prompt", "chosen", "rejected", "n_chosen", "n_rejected"[, "type"]}`` where chosen is
    the response preferred under the dataset's label; built by array concatenation, not per record."""
    enc = encoded if encoded is not None else encode_table(table)
    sel = slice(None) if order is None else order
    pi = labelled.pair_index[sel]
    wins = labelled.original_wins[sel]
    jc, jr = enc["chosen"][pi], enc["rejected"][pi]
    nc, nr = table.n_chosen[pi], table.n_rejected[pi]
    win_n, lose_n = np.where(wins, nc, nr), np.where(wins, nr, nc)
    lines = ('{"chosen": ' + np.where(wins, jc, jr) + ', "id": ' + enc["id"][pi]
             + ', "n_chosen": ' + win_n.astype(str).astype(object)
             + ', "n_rejected": ' + lose_n.astype(str).astype(object)
             + ', "prompt": ' + enc["prompt"][pi] + ', "rejected": ' + np.where(wins, jr, jc))
    if labelled.types is not None:
        return lines + ', "type": ' + labelled.types[sel].astype(str).astype(object) + "}\n"
    return lines + "}\n"


def canonical_order(labelled: LabelledDataset, table) -> np.ndarray:
    """Record order of the file: by example id, then type — independent of the table's row order."""
    rank = np.empty(len(table), np.int64)
    rank[np.argsort(table.ids, kind="stable")] = np.arange(len(table))
    keys = [rank[labelled.pair_index]]
    if labelled.types is not None:
        keys.insert(0, labelled.types)
    return np.lexsort(keys)


def _kept_shares(stages: list) -> dict:
    shares = {s["stage"]: (s["n_out"] / s["n_in"] if s["n_in"] else None) for s in stages}
    first, last = stages[0]["n_in"], stages[-1]["n_out"]
    shares["overall"] = last / first if first else None
    return shares


def write_dataset(path, labelled: LabelledDataset, table, manifest_path=None, encoded: dict | None = None,
                  chunk: int = 50_000, extra: dict | None = None) -> dict:
    """Write ``labelled`` as JSONL (uncompressed, sorted keys, canonical order: same seed and data
    → same bytes) and its manifest JSON (default: ``<path stem>.manifest.json`` beside it).
    Returns the manifest: size, label balance (share of records whose chosen is HH-RLHF's
    original chosen), kept shares per stage, dropped counts by reason, seed, sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = canonical_order(labelled, table)
    enc = encoded if encoded is not None else encode_table(table)
    h = hashlib.sha256()
    size = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for a in range(0, len(order), chunk):
            data = "".join(record_lines(labelled, table, enc, order[a:a + chunk])).encode("ascii")
            h.update(data)
            f.write(data)
            size += len(data)
    os.replace(tmp, path)

    n_pairs = int(np.unique(labelled.pair_index).size)
    label_stage = {"stage": "labelling", "n_in": labelled.n_in, "n_out": n_pairs, "dropped": labelled.dropped}
    stages = [*table.stages, label_stage]
    dropped: dict = {}
    for s in stages:
        for k, v in s["dropped"].items():
            dropped[k] = dropped.get(k, 0) + int(v)
    manifest = {
        "dataset": labelled.kind,
        "split": labelled.split,
        "seed": labelled.seed,
        "file": path.name,
        "sha256": h.hexdigest(),
        "bytes": size,
        "size": len(labelled),
        "n_pairs": n_pairs,
        "label_balance": float(labelled.original_wins.mean()) if len(labelled) else None,
        "kept_share": _kept_shares(stages),
        "dropped": dict(sorted(dropped.items())),
        "stages": stages,
        "types": {str(t): f"{TYPE_NAMES[t]}: {TYPE_FORMULAS[t]}" for t in TYPES},
        "record_keys": list(RECORD_KEYS) + (["type"] if labelled.types is not None else []),
        **labelled.stats,
        **(extra or {}),
    }
    mpath = (Path(manifest_path) if manifest_path
             else path.with_name(path.name.removesuffix(".jsonl") + ".manifest.json"))
    mpath.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
