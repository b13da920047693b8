"""Anthropic HH-RLHF for the semi-synthetic LM experiment (MATH.md §8): where the files come
from (download, a local folder, or a generated demo) and how a pair is split into its shared
prompt and its two responses.

Every source ends as gzipped JSONL files ``<dir>/<subset>/<split>.jsonl.gz`` with one
``{"chosen": …, "rejected": …}`` object per line, each value a whole transcript
(``"\\n\\nHuman: …\\n\\nAssistant: …"``), so that one reader (:func:`read_pairs`) serves them all.

- :func:`download_hh_rlhf` fetches the public release with retries, records each file's sha256
  in ``<dir>/manifest.json`` and verifies it on later runs; offline it fails with a message that
  says how to place the files by hand.
- :func:`local_files` finds the same layout in a folder (also the flat ``<subset>_<split>.jsonl.gz``
  naming of the project's shared test file).
- :func:`write_demo` generates conversations in exactly that format, deterministically from a
  seed, with HH-RLHF-like lengths (some multi-turn, some pairs longer than 512 tokens), so the
  whole stage runs offline.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import tempfile
import time
import urllib.request
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np

from ..provenance import file_sha256 as sha256_file

SUBSETS = ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled")
SPLITS = ("train", "test")
HH_RLHF_URL = "https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main"
HH_RLHF_PAGE = "https://huggingface.co/datasets/Anthropic/hh-rlhf"
MANIFEST = "manifest.json"
SOURCES = ("demo", "download", "local", "auto")

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"

# Checksums we know independently of any download (the project's shared copy, see
# ../shared/data/hh-rlhf/README.md); every other file is pinned on first use in the manifest.
KNOWN_SHA256 = {
    ("harmless-base", "test"): "ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03",
}

# Reasons a record is dropped while parsing (counted, never silent).
MALFORMED = "malformed_record"
NO_ASSISTANT = "no_assistant_turn"
PROMPT_MISMATCH = "prompt_mismatch"


class DownloadError(RuntimeError):
    """A file could not be fetched; the message says how to place it by hand."""


class ChecksumError(RuntimeError):
    """A file's sha256 differs from the one recorded (or known) for it."""


def relative_path(subset: str, split: str) -> str:
    """The layout every source shares: ``<subset>/<split>.jsonl.gz``."""
    return f"{subset}/{split}.jsonl.gz"


def manual_layout_hint(dest, subsets: Iterable[str] = SUBSETS, splits: Iterable[str] = SPLITS) -> str:
    """How to place the files by hand (used in every 'not found / offline' error)."""
    dest = Path(dest)
    files = "\n".join(f"  {dest / relative_path(s, p)}" for s in subsets for p in splits)
    return (f"Without network, download the files from {HH_RLHF_PAGE} (Files tab, one folder per "
            f"subset) on a machine that has it and place them by hand, layout "
            f"<dir>/<subset>/<split>.jsonl.gz:\n{files}\n"
            f"then rerun; their sha256 checksums are recorded in {dest / MANIFEST} on first use.")


def _read_manifest(dest: Path) -> dict:
    path = dest / MANIFEST
    if not path.exists():
        return {"files": {}}
    data = json.loads(path.read_text())
    data.setdefault("files", {})
    return data


def _write_manifest(dest: Path, manifest: dict) -> None:
    # atomic: a run killed mid-write must not leave a manifest that fails every later run
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if (dest / MANIFEST).exists() and (dest / MANIFEST).read_text() == text:
        return
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, dest / MANIFEST)


def _check_sha(rel: str, sha: str, manifest: dict, subset: str, split: str, expected: Mapping | None,
               path: Path) -> None:
    pinned = (expected or {}).get((subset, split))
    if manifest.get("source") != "demo":  # the known checksums are the real release's
        pinned = pinned or KNOWN_SHA256.get((subset, split))
    recorded = manifest["files"].get(rel, {}).get("sha256")
    for what, want in (("known", pinned), ("recorded in the manifest", recorded)):
        if want and sha != want:
            raise ChecksumError(f"{path}: sha256 {sha} differs from the {what} checksum {want}; "
                                f"the file is corrupt or another version: delete it and rerun")


def verify_files(dest, files: Mapping[tuple[str, str], Path], expected_sha256: Mapping | None = None,
                 record: bool = True, log: Callable[[str], None] | None = None) -> dict:
    """Check every file against the manifest in ``dest`` (and :data:`KNOWN_SHA256`); files not
    yet in the manifest are recorded (trust on first use) when ``record``. Returns the manifest."""
    dest = Path(dest)
    manifest = _read_manifest(dest)
    changed = False
    for (subset, split), path in sorted(files.items()):
        rel = relative_path(subset, split)
        sha = sha256_file(path)
        _check_sha(rel, sha, manifest, subset, split, expected_sha256, Path(path))
        if rel not in manifest["files"]:
            manifest["files"][rel] = {"sha256": sha, "bytes": Path(path).stat().st_size}
            changed = True
            if log:
                log(f"recorded sha256 of {path} (first use)")
    if changed and record:
        _write_manifest(dest, manifest)
    return manifest


def _fetch(url: str, target: Path, timeout_s: float) -> tuple[str, int]:
    """Stream ``url`` into ``target`` (via a temporary file: never a half file under the final
    name), returning (sha256, bytes)."""
    h = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
            while block := resp.read(1 << 20):
                h.update(block)
                out.write(block)
                size += len(block)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return h.hexdigest(), size


def download_hh_rlhf(dest, subsets: Iterable[str] = SUBSETS, splits: Iterable[str] = SPLITS, *,
                     base_url: str = HH_RLHF_URL, retries: int = 3, backoff_s: float = 2.0,
                     timeout_s: float = 60.0, expected_sha256: Mapping | None = None,
                     log: Callable[[str], None] | None = None) -> dict[tuple[str, str], Path]:
    """Fetch HH-RLHF ``<base_url>/<subset>/<split>.jsonl.gz`` into ``dest/<subset>/<split>.jsonl.gz``.

    Files already present are not fetched again but verified against the sha256 recorded in
    ``dest/manifest.json`` (and :data:`KNOWN_SHA256`, or ``expected_sha256[(subset, split)]``);
    new files are recorded there. Each file gets ``1 + retries`` attempts with exponential
    backoff (``backoff_s · 2^k``). Raises :class:`DownloadError` naming the manual layout when
    a file cannot be fetched (offline), :class:`ChecksumError` on a checksum mismatch.
    Returns ``{(subset, split): path}``.
    """
    dest = Path(dest)
    subsets, splits = list(subsets), list(splits)
    dest.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(dest)
    manifest["source"] = base_url
    out = {}
    for subset in subsets:
        for split in splits:
            rel = relative_path(subset, split)
            target = dest / rel
            if target.exists():
                sha = sha256_file(target)
                _check_sha(rel, sha, manifest, subset, split, expected_sha256, target)
                manifest["files"].setdefault(rel, {"sha256": sha, "bytes": target.stat().st_size})
                out[(subset, split)] = target
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            url = f"{base_url.rstrip('/')}/{rel}"
            last = None
            for attempt in range(1 + max(0, int(retries))):
                if attempt:
                    time.sleep(backoff_s * 2 ** (attempt - 1))
                try:
                    sha, size = _fetch(url, target, timeout_s)
                    break
                except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors
                    last = exc
                    if log:
                        log(f"download {url} attempt {attempt + 1}/{1 + retries} failed: {exc}")
            else:
                _write_manifest(dest, manifest)  # keep what was verified so far
                missing = [(s, p) for s in subsets for p in splits if not (dest / relative_path(s, p)).exists()]
                raise DownloadError(
                    f"could not download {url} after {1 + retries} attempt(s): {last}.\n"
                    + manual_layout_hint(dest, sorted({s for s, _ in missing}), splits))
            try:
                _check_sha(rel, sha, manifest, subset, split, expected_sha256, target)
            except ChecksumError:
                target.unlink()
                raise
            manifest["files"][rel] = {"sha256": sha, "bytes": size, "url": url}
            _write_manifest(dest, manifest)
            if log:
                log(f"downloaded {url} ({size} bytes, sha256 {sha})")
            out[(subset, split)] = target
    _write_manifest(dest, manifest)
    return out


def local_files(data_dir, subsets: Iterable[str] = SUBSETS, splits: Iterable[str] = SPLITS,
                verify: bool = True, log: Callable[[str], None] | None = None) -> dict[tuple[str, str], Path]:
    """Find ``<data_dir>/<subset>/<split>.jsonl.gz`` (or the flat ``<subset>_<split>.jsonl.gz``)
    for every subset and split; raise :class:`FileNotFoundError` listing what is missing and the
    manual layout. With ``verify``, checksums are checked against (and recorded in)
    ``<data_dir>/manifest.json`` when the folder is writable."""
    data_dir = Path(data_dir)
    subsets, splits = list(subsets), list(splits)
    found, missing = {}, []
    for subset in subsets:
        for split in splits:
            for cand in (data_dir / relative_path(subset, split), data_dir / f"{subset}_{split}.jsonl.gz"):
                if cand.is_file():
                    found[(subset, split)] = cand
                    break
            else:
                missing.append(str(data_dir / relative_path(subset, split)))
    if missing:
        raise FileNotFoundError("HH-RLHF files not found: " + ", ".join(missing) + ".\n"
                                + manual_layout_hint(data_dir, subsets, splits))
    if verify:
        verify_files(data_dir, found, record=os.access(data_dir, os.W_OK), log=log)
    return found


# ----------------------------------------------------------------------------- demo source

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
    manifest = _read_manifest(dest)
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
    _write_manifest(dest, manifest)
    return out


def get_source(source: str, *, data_dir, subsets: Iterable[str] = SUBSETS, splits: Iterable[str] = SPLITS,
               demo_dir=None, demo_seed: int = 0, demo_pairs: int | Mapping[str, int] = 1000,
               base_url: str = HH_RLHF_URL, retries: int = 3,
               log: Callable[[str], None] | None = None) -> tuple[str, dict[tuple[str, str], Path]]:
    """Resolve a source to its files. ``demo``: generate into ``demo_dir`` (default
    ``data_dir``); ``download``: :func:`download_hh_rlhf` into ``data_dir``; ``local``:
    :func:`local_files` in ``data_dir``; ``auto``: local when every file is present, else demo.
    Returns (the source actually used, ``{(subset, split): path}``)."""
    subsets, splits = list(subsets), list(splits)
    if source == "auto":
        try:
            return "local", local_files(data_dir, subsets, splits, log=log)
        except FileNotFoundError:
            if log:
                log(f"no HH-RLHF files in {data_dir}: using the generated demo data")
            source = "demo"
    if source == "demo":
        return "demo", write_demo(demo_dir or data_dir, demo_seed, subsets, splits, demo_pairs)
    if source == "download":
        return "download", download_hh_rlhf(data_dir, subsets, splits, base_url=base_url, retries=retries, log=log)
    if source == "local":
        return "local", local_files(data_dir, subsets, splits, log=log)
    raise ValueError(f"unknown HH-RLHF source {source!r}; allowed: {', '.join(SOURCES)}")


# ----------------------------------------------------------------------------- parsing


def split_pair(chosen: str, rejected: str) -> tuple[str, str, str] | str:
    """(prompt, chosen response, rejected response), or the reason the pair is dropped.

    The prompt is the chosen transcript up to and including its last ``"\\n\\nAssistant:"``; the
    rejected transcript must start with the same prompt and have no later assistant turn (so the
    two differ only in the final response). Responses keep their leading space, so
    ``prompt + response`` is the original transcript exactly (and token counts are those of it).
    """
    cut = chosen.rfind(ASSISTANT)
    if cut < 0:
        return NO_ASSISTANT
    end = cut + len(ASSISTANT)
    if rejected.rfind(ASSISTANT) != cut or rejected[:end] != chosen[:end]:
        return PROMPT_MISMATCH
    return chosen[:end], chosen[end:], rejected[end:]


@dataclass
class PairTable:
    """Parsed pairs of one split in canonical order (sorted by ``ids``), in HH-RLHF's own
    orientation: ``chosen`` / ``rejected`` are the responses the original annotators preferred /
    did not. ``n_chosen`` / ``n_rejected`` (token counts of prompt + response) are filled by
    :mod:`hetpref.lm.tokenization`. ``stages`` records every filtering step with its counts."""

    split: str
    ids: np.ndarray
    prompt: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    n_chosen: np.ndarray | None = None
    n_rejected: np.ndarray | None = None
    stages: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index) -> "PairTable":
        """Rows ``index`` (an integer array or boolean mask), stages kept."""
        def pick(a):
            return None if a is None else a[index]
        return PairTable(self.split, self.ids[index], self.prompt[index], self.chosen[index],
                         self.rejected[index], pick(self.n_chosen), pick(self.n_rejected), list(self.stages))

    def filter(self, keep: np.ndarray, stage: str, reason: str) -> "PairTable":
        """Keep the rows where ``keep``; the others are recorded as dropped for ``reason``."""
        keep = np.asarray(keep, bool)
        out = self.take(keep)
        dropped = int((~keep).sum())
        out.stages.append({"stage": stage, "n_in": len(self), "n_out": len(out),
                           "dropped": {reason: dropped} if dropped else {}})
        return out

    def dropped(self) -> dict[str, int]:
        """Every drop reason so far with its count."""
        total = Counter()
        for s in self.stages:
            total.update(s["dropped"])
        return dict(sorted(total.items()))

    def texts(self, which: str) -> np.ndarray:
        """``prompt + response`` for ``which`` in {'chosen', 'rejected'}: the original transcript."""
        return self.prompt + getattr(self, which)

    def canonical(self) -> "PairTable":
        """The same rows sorted by id: what every output is written in."""
        return self.take(np.argsort(self.ids, kind="stable"))


def iter_records(path) -> Iterable[tuple[int, dict | None]]:
    """(line number, record or None if malformed) for each non-blank line of a (gzipped) JSONL."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for k, line in enumerate(f):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                yield k, None
                continue
            ok = isinstance(rec, dict) and isinstance(rec.get("chosen"), str) and isinstance(rec.get("rejected"), str)
            yield k, rec if ok else None


def pair_id(subset: str, split: str, line: int) -> str:
    """Stable example id: source file and line, zero-padded so that string order is file order."""
    return f"{subset}/{split}/{line:06d}"


def read_pairs(files: Mapping[tuple[str, str], Path], split: str) -> PairTable:
    """Read and split every file of ``split`` into a :class:`PairTable` (canonical order).
    Malformed records and pairs whose transcripts do not share the prompt are dropped with a
    counted reason (stage ``parse``)."""
    ids, prompts, chosen, rejected = [], [], [], []
    reasons = Counter()
    n_read = 0
    for (subset, sp), path in sorted(files.items()):
        if sp != split:
            continue
        for line, rec in iter_records(path):
            n_read += 1
            parts = MALFORMED if rec is None else split_pair(rec["chosen"], rec["rejected"])
            if isinstance(parts, str):
                reasons[parts] += 1
                continue
            ids.append(pair_id(subset, split, line))
            prompts.append(parts[0])
            chosen.append(parts[1])
            rejected.append(parts[2])

    def obj(x):
        a = np.empty(len(x), dtype=object)
        a[:] = x
        return a

    table = PairTable(split, np.array(ids, dtype=str) if ids else np.array([], dtype="U1"),
                      obj(prompts), obj(chosen), obj(rejected))
    table.stages.append({"stage": "parse", "n_in": n_read, "n_out": len(table),
                         "dropped": dict(sorted(reasons.items()))})
    return table.canonical()
