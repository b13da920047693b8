"""The demo stand-in for HH-RLHF: conversations in exactly the release's format, generated
deterministically from a seed with HH-RLHF-like lengths (some multi-turn, some pairs longer than 512
tokens), so the whole LM stage runs offline. Only the format and the length distribution are
realistic; the text is random words.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zlib
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .format import ASSISTANT, HUMAN, SPLITS, SUBSETS, relative_path
from .manifest import read_manifest, write_manifest

_COMMON_WORDS = (
    "the a an and or but if so because of to in on at for with about from by as is are was were be been "
    "it this that these those there here i you he she we they me him her us them my your his our their "
    "what which who how why when where can could would should will do does did have has had not no yes "
    "very really just also more most some any all many much few other same new good bad best better "
    "think know want need like help make take get give tell ask say try use find feel look see go come "
    "time people way day thing person question answer idea problem reason example place work life world "
    "home money food water friend family child car book phone music game story law rule plan kind sure "
    "maybe probably usually often never always sometimes again still already first last next right left"
).split()
_SYLLABLES = ("ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu "
              "pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu "
              "ar er ir or ur an en in on un al el il ol ul st tr pl gr ch sh th").split()


def _demo_vocabulary(n_words: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """A fixed vocabulary (common English words, then syllable words) with Zipf–Mandelbrot
    frequencies, so that a trained BPE needs ~1.5 tokens per word as on real text. Fixed: it is
    part of the generator's definition, not of the seed."""
    rng = np.random.default_rng(20250101)
    words = list(_COMMON_WORDS)
    seen = set(words)
    while len(words) < n_words:
        w = "".join(rng.choice(_SYLLABLES, size=rng.integers(2, 5)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    rank = np.arange(1, n_words + 1)
    p = 1.0 / (rank + 2.7) ** 1.07
    return np.array(words, dtype=object), np.cumsum(p / p.sum())


# Turn counts of the prompt (human turns) and log-normal word counts (median, sigma, clip):
# calibrated on the real harmless-base test split (median response ~21 words, 99th percentile
# ~145; median prompt ~63 words), with a heavier response tail so that some pairs exceed 512.
_TURN_PROBS = (0.42, 0.30, 0.17, 0.11)
_HUMAN_WORDS = (11.0, 0.75, 2, 150)
_EARLIER_ASSISTANT_WORDS = (22.0, 0.95, 1, 300)
_FINAL_RESPONSE_WORDS = (24.0, 1.15, 1, 450)


def _spellings(vocab: np.ndarray) -> np.ndarray:
    """Each word in six spellings: [plain, Capitalised] × [no mark, ".", "?"], flattened so that
    spelling ``v`` of word ``w`` sits at ``v * len(vocab) + w``."""
    out = []
    for end in ("", ".", "?"):
        out += [w + end for w in vocab] + [w.capitalize() + end for w in vocab]
    return np.array(out, dtype=object)


def _lognormal_counts(rng, size, spec) -> np.ndarray:
    median, sigma, lo, hi = spec
    return np.clip(np.rint(median * np.exp(sigma * rng.standard_normal(size))), lo, hi).astype(np.int64)


def generate_demo_pairs(n_pairs: int, seed: int, subset: str = "demo", split: str = "train") -> list[dict]:
    """``n_pairs`` HH-RLHF records ``{"chosen", "rejected"}``: whole transcripts that share the
    prompt (1–4 human turns) and differ only in the final assistant response (a few words to a few
    hundred). Deterministic in (seed, subset, split); the text is random words, only the format
    and the length distribution are realistic."""
    vocab, cdf = _demo_vocabulary()
    rng = np.random.default_rng([int(seed), zlib.crc32(subset.encode()), zlib.crc32(split.encode())])
    turns = rng.choice(len(_TURN_PROBS), size=n_pairs, p=_TURN_PROBS) + 1
    n_turns = int(turns.sum())
    human = _lognormal_counts(rng, n_turns, _HUMAN_WORDS)
    earlier = _lognormal_counts(rng, n_turns, _EARLIER_ASSISTANT_WORDS)  # unused for each last turn
    final = _lognormal_counts(rng, (n_pairs, 2), _FINAL_RESPONSE_WORDS)

    # Segments in order: per pair, its turns (human, then assistant except after the last human
    # turn), then the two final responses. Words for all segments are drawn at once.
    last_turn = np.zeros(n_turns, bool)
    last_turn[np.cumsum(turns) - 1] = True
    earlier = np.where(last_turn, 0, earlier)
    seg_len = np.concatenate([np.stack([human, earlier], 1).ravel(), final.ravel()])
    total = int(seg_len.sum())
    word = np.minimum(np.searchsorted(cdf, rng.random(total)), len(vocab) - 1)
    # Sentences: end one after a word with probability 1/9; capitalise the word after an end.
    ends = rng.random(total) < 1 / 9
    seg_end = np.cumsum(seg_len) - 1
    ends[seg_end[seg_len > 0]] = True
    starts = np.roll(ends, 1)
    starts[0] = True
    question = rng.random(total) < 0.12
    # one gather from the word's six spellings (plain/capitalised × none/"."/"?"), not six string ops
    variant = starts.astype(np.int64) + 2 * np.where(ends, np.where(question, 2, 1), 0)
    tokens = _spellings(vocab)[variant * len(vocab) + word]
    bounds = np.concatenate([[0], np.cumsum(seg_len)])

    def seg(k: int) -> str:
        return " ".join(tokens[bounds[k]:bounds[k + 1]])

    records = []
    t = 0
    final0 = 2 * n_turns
    for i in range(n_pairs):
        parts = []
        for j in range(turns[i]):
            parts.append(HUMAN + " " + seg(2 * (t + j)))
            parts.append(ASSISTANT)
            if j < turns[i] - 1:
                parts.append(" " + seg(2 * (t + j) + 1))
        t += turns[i]
        prompt = "".join(parts)
        records.append({"chosen": prompt + " " + seg(final0 + 2 * i),
                        "rejected": prompt + " " + seg(final0 + 2 * i + 1)})
    return records


def write_demo(dest, seed: int = 0, subsets: Iterable[str] = SUBSETS, splits: Iterable[str] = SPLITS,
               n_pairs: int | Mapping[str, int] = 1000) -> dict[tuple[str, str], Path]:
    """Write :func:`generate_demo_pairs` as ``dest/<subset>/<split>.jsonl.gz`` (``n_pairs`` per
    file, or a ``{split: n}`` mapping), their checksums in ``dest/manifest.json`` (marked as demo
    data). Files are rewritten only when their content would change, so reruns keep timestamps.
    Returns ``{(subset, split): path}``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(dest)
    if manifest["files"] and manifest.get("source") != "demo":
        raise ValueError(f"{dest} holds a non-demo manifest: generate the demo data in another folder")
    out = {}
    for subset in subsets:
        for split in splits:
            n = n_pairs[split] if isinstance(n_pairs, Mapping) else n_pairs
            path = dest / relative_path(subset, split)
            buf = io.BytesIO()
            with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
                gz.write("".join(json.dumps(r) + "\n"
                                 for r in generate_demo_pairs(int(n), seed, subset, split)).encode())
            data = buf.getvalue()
            if not path.exists() or path.read_bytes() != data:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, path)
            manifest["files"][relative_path(subset, split)] = {
                "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "demo_seed": int(seed),
                "n_pairs": int(n)}
            out[(subset, split)] = path
    # a demo folder says so: the real release's known checksums must not be applied to it
    manifest["source"] = "demo"
    write_manifest(dest, manifest)
    return out
