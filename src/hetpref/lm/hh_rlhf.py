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
- :func:`read_source` reads every file to the end (:func:`read_file`), drops and counts the records
  that cannot be a pair, locates the first few as ``file:line``, stops on a file that cannot be
  read or has more than ``max_malformed_share`` unusable records, and only then records the
  checksums of new files (trust on first use: a corrupt file is never pinned).
- :func:`accept_file` (``python -m hetpref.lm.accept FILE``) records a replaced file's checksum
  after the same checks: how a user accepts a new copy without editing the manifest.
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
from ..runtime import InputError

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

# Reasons a record is dropped while parsing (counted, never silent; the first few located).
INVALID_JSON = "invalid_json"          # the line is not JSON
INVALID_UTF8 = "invalid_utf8"          # the line is not UTF-8 text
NOT_A_PAIR = "not_a_pair_record"       # not an object with string fields "chosen" and "rejected"
NO_ASSISTANT = "no_assistant_turn"     # the chosen transcript has no "\n\nAssistant:" turn
PROMPT_MISMATCH = "prompt_mismatch"    # the two transcripts do not share the prompt
PARSE_REASONS = (INVALID_JSON, INVALID_UTF8, NOT_A_PAIR, NO_ASSISTANT, PROMPT_MISMATCH)

# Per file, the share of records that may be dropped at parsing before the file is refused.
# The real harmless-base test split loses 5 of 2,312 records (0.22 %, prompt mismatches): 5 % is
# over 20 times that, so a real release file never trips it, while a file that is damaged or
# of another format (most lines unusable) stops the job instead of silently shrinking the data
# (and shifting the label shares). Config: lm.max_malformed_share.
MAX_MALFORMED_SHARE = 0.05
N_LOCATED = 5  # dropped records located as file:line per file (log and summary.json)
ACCEPT_COMMAND = "python -m hetpref.lm.accept"


class DownloadError(InputError):
    """A file could not be fetched; the message says how to place it by hand."""


class ChecksumError(InputError):
    """A file's sha256 differs from the one recorded (or known) for it."""


class HHRLHFFileError(InputError):
    """A file cannot be read to the end, or too many of its records cannot be used; the message
    names each such file (its checksum is not recorded)."""


class HHRLHFFilesMissing(InputError, FileNotFoundError):
    """Files of the configured subsets are not where the source expects them."""


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
               path: Path, dest: Path | None = None) -> None:
    entry = manifest["files"].get(rel, {})
    recorded = entry.get("sha256")
    pinned = (expected or {}).get((subset, split))
    if manifest.get("source") != "demo" and not entry.get("accepted"):
        # the known checksums are the real release's; a copy the user accepted replaces them
        pinned = pinned or KNOWN_SHA256.get((subset, split))
    accept = f"{ACCEPT_COMMAND} {path}"
    if pinned and sha != pinned:
        raise ChecksumError(
            f"{path}: sha256 {sha} differs from the known checksum {pinned} of the published file: it is "
            f"corrupt or another version. Replace it by the published file ({HH_RLHF_PAGE}); to use this "
            f"version anyway, accept it with `{accept}` (it reads and checks the file, then records it).")
    if recorded and sha != recorded:
        where = (dest or path.parent) / MANIFEST
        raise ChecksumError(
            f"{path}: sha256 {sha} differs from {recorded}, recorded in {where} when the file was first "
            f"used: the file changed since. If you replaced it on purpose by a good copy, accept the new "
            f"file with `{accept}` (it reads and checks the whole file, then records its checksum); "
            "otherwise put the original back.")


def verify_files(dest, files: Mapping[tuple[str, str], Path], expected_sha256: Mapping | None = None,
                 log: Callable[[str], None] | None = None) -> dict[tuple[str, str], str]:
    """Check every file against the checksums recorded in ``dest/manifest.json`` (and
    :data:`KNOWN_SHA256`); raise :class:`ChecksumError` on a mismatch. Nothing is recorded here:
    a new file is recorded by :func:`record_checksums` once it has been read to the end and
    parsed. Returns ``{(subset, split): sha256}``."""
    dest = Path(dest)
    manifest = _read_manifest(dest)
    out = {}
    for (subset, split), path in sorted(files.items()):
        sha = sha256_file(path)
        _check_sha(relative_path(subset, split), sha, manifest, subset, split, expected_sha256, Path(path), dest)
        out[(subset, split)] = sha
    return out


def record_checksums(dest, reports: Iterable["FileReport"], log: Callable[[str], None] | None = None,
                     accepted: bool = False) -> list[str]:
    """Record the checksums of files that were read to the end and parsed (``reports``) in
    ``dest/manifest.json``: new files (trust on first use), and with ``accepted`` replaced ones.
    Returns the relative names recorded. A read-only ``dest`` records nothing (logged)."""
    dest = Path(dest)
    manifest = _read_manifest(dest)
    done = []
    for rep in reports:
        rel = relative_path(rep.subset, rep.split)
        old = manifest["files"].get(rel, {})
        if old.get("sha256") and (not accepted or (old["sha256"] == rep.sha256 and old.get("accepted"))):
            continue  # recorded before: verified (by _check_sha), never overwritten unless accepted
        entry = {"sha256": rep.sha256, "bytes": rep.bytes, "records": rep.records}
        if accepted:
            entry.update(accepted=True, previous_sha256=old.get("sha256"))
        manifest["files"][rel] = {k: v for k, v in entry.items() if v is not None}
        done.append(rel)
        if log:
            log(f"recorded sha256 {rep.sha256} of {rep.path} ({'accepted' if accepted else 'first use'}, "
                f"read to the end: {rep.records} records)")
    if done:
        if not os.access(dest, os.W_OK):
            if log:
                log(f"{dest} is read-only: checksums not recorded ({', '.join(done)})")
            return []
        _write_manifest(dest, manifest)
    return done


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
                     max_malformed_share: float | None = MAX_MALFORMED_SHARE,
                     log: Callable[[str], None] | None = None) -> dict[tuple[str, str], Path]:
    """Fetch HH-RLHF ``<base_url>/<subset>/<split>.jsonl.gz`` into ``dest/<subset>/<split>.jsonl.gz``.

    Files already present are not fetched again but verified against the sha256 recorded in
    ``dest/manifest.json`` (and :data:`KNOWN_SHA256`, or ``expected_sha256[(subset, split)]``).
    A checksum is recorded only for a file read to the end and parsed (:func:`read_file`, at most
    ``max_malformed_share`` unusable records): a fetched file that fails counts as a failed
    attempt (deleted, fetched again), a file placed by hand that fails raises
    :class:`HHRLHFFileError`. Each file gets ``1 + retries`` attempts with exponential backoff
    (``backoff_s · 2^k``). Raises :class:`DownloadError` naming the manual layout when a file
    cannot be fetched (offline), :class:`ChecksumError` on a checksum mismatch.
    Returns ``{(subset, split): path}``.
    """
    dest = Path(dest)
    subsets, splits = list(subsets), list(splits)
    dest.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(dest)
    manifest["source"] = base_url
    out = {}

    def checked(target: Path, subset: str, split: str) -> FileReport:
        _, report = read_file(target, subset, split)
        refused = check_malformed_share(report, max_malformed_share)
        if refused:
            raise HHRLHFFileError(refused)
        return report

    for subset in subsets:
        for split in splits:
            rel = relative_path(subset, split)
            target = dest / rel
            if target.exists():
                if rel in manifest["files"]:
                    _check_sha(rel, sha256_file(target), manifest, subset, split, expected_sha256, target, dest)
                else:  # placed by hand: recorded once read to the end (trust on first use)
                    report = checked(target, subset, split)
                    _check_sha(rel, report.sha256, manifest, subset, split, expected_sha256, target, dest)
                    manifest["files"][rel] = {"sha256": report.sha256, "bytes": report.bytes, "records": report.records}
                    _write_manifest(dest, manifest)
                    if log:
                        log(f"recorded sha256 {report.sha256} of {target} (first use, {report.records} records)")
                out[(subset, split)] = target
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            url = f"{base_url.rstrip('/')}/{rel}"
            last = None
            for attempt in range(1 + max(0, int(retries))):
                if attempt:
                    time.sleep(backoff_s * 2 ** (attempt - 1))
                try:
                    _fetch(url, target, timeout_s)
                    report = checked(target, subset, split)
                    break
                except (OSError, http.client.HTTPException, HHRLHFFileError) as exc:  # URLError, timeouts: OSError
                    last = exc
                    if isinstance(exc, HHRLHFFileError) and target.exists():
                        target.unlink()  # never keep (or record) a file that does not read to the end
                    if log:
                        log(f"download {url} attempt {attempt + 1}/{1 + retries} failed: {exc}")
            else:
                _write_manifest(dest, manifest)  # keep what was verified so far
                missing = [(s, p) for s in subsets for p in splits if not (dest / relative_path(s, p)).exists()]
                raise DownloadError(
                    f"could not download {url} after {1 + retries} attempt(s): {last}.\n"
                    + manual_layout_hint(dest, sorted({s for s, _ in missing}), splits))
            try:
                _check_sha(rel, report.sha256, manifest, subset, split, expected_sha256, target, dest)
            except ChecksumError:
                target.unlink()
                raise
            manifest["files"][rel] = {"sha256": report.sha256, "bytes": report.bytes, "records": report.records,
                                      "url": url}
            _write_manifest(dest, manifest)
            if log:
                log(f"downloaded {url} ({report.bytes} bytes, {report.records} records, sha256 {report.sha256})")
            out[(subset, split)] = target
    _write_manifest(dest, manifest)
    return out


def local_files(data_dir, subsets: Iterable[str] = SUBSETS, splits: Iterable[str] = SPLITS,
                verify: bool = True, log: Callable[[str], None] | None = None) -> dict[tuple[str, str], Path]:
    """Find ``<data_dir>/<subset>/<split>.jsonl.gz`` (or the flat ``<subset>_<split>.jsonl.gz``)
    for every subset and split; raise :class:`HHRLHFFilesMissing` (a ``FileNotFoundError``)
    listing what is missing and the manual layout. With ``verify``, checksums already recorded in
    ``<data_dir>/manifest.json`` (or known) are checked; new files are recorded only by
    :func:`read_source`, once they have been read to the end."""
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
        raise HHRLHFFilesMissing("HH-RLHF files not found: " + ", ".join(missing) + ".\n"
                                 + manual_layout_hint(data_dir, subsets, splits))
    if verify:
        verify_files(data_dir, found, log=log)
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
               max_malformed_share: float | None = MAX_MALFORMED_SHARE,
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
        return "download", download_hh_rlhf(data_dir, subsets, splits, base_url=base_url, retries=retries,
                                            max_malformed_share=max_malformed_share, log=log)
    if source == "local":
        return "local", local_files(data_dir, subsets, splits, log=log)
    raise InputError(f"unknown HH-RLHF source {source!r}; allowed: {', '.join(SOURCES)}")


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


class _HashingReader(io.RawIOBase):
    """A binary file whose bytes are hashed as they are read: the checksum recorded for a file
    is that of exactly the bytes that were parsed."""

    def __init__(self, raw):
        self.raw, self.sha, self.bytes = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = self.raw.readinto(buf)
        if n:
            self.sha.update(memoryview(buf)[:n])
            self.bytes += n
        return n


@dataclass
class FileReport:
    """What reading one HH-RLHF file gave: records (non-blank lines), pairs kept, drops per
    reason and the first :data:`N_LOCATED` drops located by 1-based line number."""

    path: str
    subset: str
    split: str
    records: int = 0
    pairs: int = 0
    dropped: Counter = field(default_factory=Counter)
    located: list = field(default_factory=list)
    sha256: str | None = None
    bytes: int | None = None

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def dropped_share(self) -> float:
        return self.n_dropped / self.records if self.records else 0.0

    def name(self) -> str:
        return relative_path(self.subset, self.split)

    def drop(self, line: int, reason: str, detail: str = "") -> None:
        self.dropped[reason] += 1
        if len(self.located) < N_LOCATED:
            self.located.append({"at": f"{self.path}:{line}", "reason": reason, **({"detail": detail} if detail else {})})

    def describe(self) -> str:
        """One line for the log: counts, drops per reason, where the first drops are."""
        text = f"{self.path}: {self.records} records → {self.pairs} pairs"
        if self.n_dropped:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.dropped.items()))
            where = "; ".join(f"{d['at']} ({d['reason']}{': ' + d['detail'] if 'detail' in d else ''})"
                              for d in self.located)
            text += f"; dropped {self.n_dropped} ({100 * self.dropped_share:.2f} %: {reasons}); first at {where}"
        return text

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "records": self.records,
                "pairs": self.pairs, "dropped": dict(sorted(self.dropped.items())),
                "dropped_share": round(self.dropped_share, 6), "first_dropped": list(self.located)}


def _record_problem(line: bytes) -> tuple[str, str, dict | None]:
    """(reason, detail, record): reason empty when the line holds a pair record."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return INVALID_UTF8, str(e)[:120], None
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as e:
        return INVALID_JSON, f"{e.msg} (column {e.colno})", None
    if not isinstance(rec, dict):
        return NOT_A_PAIR, f"a JSON {type(rec).__name__}, not an object", None
    bad = [k for k in ("chosen", "rejected") if not isinstance(rec.get(k), str)]
    if bad:
        return NOT_A_PAIR, " and ".join(f"{k!r} {'missing' if k not in rec else 'not a string'}" for k in bad), None
    return "", "", rec


def read_file(path, subset: str, split: str) -> tuple[list[tuple[str, str, str, str]], FileReport]:
    """Read one (gzipped) JSONL file of HH-RLHF to the end: ``[(id, prompt, chosen, rejected)]``
    for the usable records and its :class:`FileReport` (with the sha256 of the bytes read).
    Records that cannot be a pair are dropped and counted by reason; a file that cannot be read
    to the end (not gzip, truncated, corrupt) raises :class:`HHRLHFFileError` naming it."""
    path = Path(path)
    report = FileReport(str(path), subset, split)
    rows, n = [], 0
    with open(path, "rb") as raw:  # a missing file is a FileNotFoundError, not a read failure
        hashing = _HashingReader(raw)
        buffered = io.BufferedReader(hashing, 1 << 20)
        stream = gzip.GzipFile(fileobj=buffered, mode="rb") if path.name.endswith(".gz") else buffered
        try:
            for n, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                report.records += 1
                reason, detail, rec = _record_problem(line)
                if not reason:
                    parts = split_pair(rec["chosen"], rec["rejected"])
                    if isinstance(parts, str):
                        reason = parts
                if reason:
                    report.drop(n, reason, detail)
                    continue
                rows.append((pair_id(subset, split, n - 1), *parts))
            while buffered.read(1 << 20):  # whatever follows the data is part of the checksum too
                pass
        except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            last = f"after line {n}" if n else "before the first line"
            hint = ("it is not a gzip file" if isinstance(e, gzip.BadGzipFile) and "Not a gzipped file" in str(e)
                    else "it is truncated or corrupt (an interrupted download or copy?)")
            raise HHRLHFFileError(f"{path}: cannot be read to the end ({type(e).__name__}: {e}; {last}): {hint}. "
                                  "Its checksum is not recorded; put a good copy in its place (with lm.source: "
                                  "download, delete it to fetch it again) and rerun.") from e
    report.pairs = len(rows)
    report.sha256, report.bytes = hashing.sha.hexdigest(), hashing.bytes
    return rows, report


def check_malformed_share(report: FileReport, max_share: float | None, key: str = "lm.max_malformed_share") -> str | None:
    """Why ``report``'s file is refused (more than ``max_share`` of its records unusable), or None."""
    if max_share is None or report.dropped_share <= max_share:
        return None
    return (f"{report.describe()}. That is more than {key} = {max_share:g} of its records: is it an HH-RLHF "
            'file (one JSON object with the transcripts "chosen" and "rejected" per line)? Fix or replace '
            f"it, or raise {key} to use the records that can be read")


def pair_id(subset: str, split: str, line: int) -> str:
    """Stable example id: source file and 0-based line index (line number − 1), zero-padded so
    that string order is file order."""
    return f"{subset}/{split}/{line:06d}"


def _table(split: str, rows: list) -> PairTable:
    def obj(x):
        a = np.empty(len(x), dtype=object)
        a[:] = x
        return a

    ids = [r[0] for r in rows]
    return PairTable(split, np.array(ids, dtype=str) if ids else np.array([], dtype="U1"),
                     obj([r[1] for r in rows]), obj([r[2] for r in rows]), obj([r[3] for r in rows]))


def read_source(files: Mapping[tuple[str, str], Path], *, max_malformed_share: float | None = MAX_MALFORMED_SHARE,
                manifest_dir=None, log: Callable[[str], None] | None = None,
                warn: Callable[[str], None] | None = None,
                ) -> tuple[dict[str, PairTable], dict[tuple[str, str], FileReport]]:
    """Read every file to the end (:func:`read_file`) into one :class:`PairTable` per split
    (canonical order, stage ``parse`` with the drops per reason) and a report per file.

    Files that cannot be read, or whose share of unusable records exceeds
    ``max_malformed_share``, are all named in one :class:`HHRLHFFileError`. Only afterwards, and
    only for files that passed, checksums are checked against ``manifest_dir/manifest.json``
    (and the known ones) and new ones recorded there (trust on first use). ``log`` gets one line
    per file, ``warn`` (default ``log``) those of files with dropped records."""
    warn = warn or log
    rows, reports, problems = {}, {}, []
    for key, path in sorted(files.items()):
        try:
            rows[key], reports[key] = read_file(path, *key)
        except HHRLHFFileError as e:
            problems.append(str(e))
            continue
        say = warn if reports[key].n_dropped or not reports[key].records else log
        if say:
            say(reports[key].describe() + ("" if reports[key].records else " (the file holds no records)"))
        refused = check_malformed_share(reports[key], max_malformed_share)
        if refused:
            problems.append(refused)
    good = [r for k, r in sorted(reports.items()) if check_malformed_share(r, max_malformed_share) is None]
    if manifest_dir is not None:
        manifest = _read_manifest(Path(manifest_dir))
        for r in good:
            _check_sha(r.name(), r.sha256, manifest, r.subset, r.split, None, Path(r.path), Path(manifest_dir))
        if not problems:  # a run that stops records nothing: rerun after the fix records all at once
            record_checksums(manifest_dir, good, log=log)
    if len(problems) == 1:
        raise HHRLHFFileError(f"HH-RLHF file cannot be used (no checksum recorded): {problems[0]}")
    if problems:
        raise HHRLHFFileError(f"{len(problems)} HH-RLHF files cannot be used (no checksum recorded):\n  "
                              + "\n  ".join(problems))
    tables = {}
    for split in sorted({sp for _, sp in files}):
        keys = [k for k in sorted(rows) if k[1] == split]
        table = _table(split, [row for k in keys for row in rows[k]])
        dropped = Counter()
        for k in keys:
            dropped.update(reports[k].dropped)
        table.stages.append({"stage": "parse", "n_in": sum(reports[k].records for k in keys), "n_out": len(table),
                             "dropped": dict(sorted(dropped.items()))})
        tables[split] = table.canonical()
    return tables, reports


def read_pairs(files: Mapping[tuple[str, str], Path], split: str,
               max_malformed_share: float | None = MAX_MALFORMED_SHARE) -> PairTable:
    """The :class:`PairTable` of one split (see :func:`read_source`; nothing is recorded)."""
    tables, _ = read_source({k: v for k, v in files.items() if k[1] == split}, max_malformed_share=max_malformed_share)
    return tables.get(split, _table(split, []))


def _locate(path) -> tuple[Path, str, str]:
    """(folder holding the manifest, subset, split) of a file in either layout."""
    path = Path(path)
    stem = path.name[:-len(".jsonl.gz")] if path.name.endswith(".jsonl.gz") else None
    if stem in SPLITS:                                   # <dir>/<subset>/<split>.jsonl.gz
        return path.parent.parent, path.parent.name, stem
    subset, _, split = (stem or "").rpartition("_")
    if subset and split in SPLITS:                       # <dir>/<subset>_<split>.jsonl.gz
        return path.parent, subset, split
    raise HHRLHFFileError(f"{path}: not an HH-RLHF file name (<dir>/<subset>/<split>.jsonl.gz or "
                          f"<dir>/<subset>_<split>.jsonl.gz, split one of {', '.join(SPLITS)})")


def accept_file(path, max_malformed_share: float | None = MAX_MALFORMED_SHARE,
                log: Callable[[str], None] | None = None) -> FileReport:
    """Accept a replaced file: read it to the end with the workflow's checks (:func:`read_file`,
    :func:`check_malformed_share`) and record its checksum in the manifest of its folder, in
    place of the one recorded before (and of a known checksum, which a later run then no longer
    applies to it). Raises :class:`HHRLHFFileError` (nothing recorded) when the file fails."""
    dest, subset, split = _locate(path)
    _, report = read_file(path, subset, split)
    refused = check_malformed_share(report, max_malformed_share, "--max-malformed-share")
    if refused:
        raise HHRLHFFileError(refused)
    record_checksums(dest, [report], log=log, accepted=True)
    return report


def data_report(reports: Mapping[tuple[str, str], FileReport], tables: Mapping[str, PairTable]) -> dict:
    """Per file (records, pairs, drops per reason, the first drops as ``file:line``, checksum) and
    per split (stages with their counts): the data part of ``summary.json`` and the job's report."""
    return {"files": {f"{s}/{sp}": r.to_dict() for (s, sp), r in sorted(reports.items())},
            "splits": {s: {"pairs": len(tb), "stages": tb.stages, "dropped": tb.dropped()}
                       for s, tb in sorted(tables.items())}}


def no_pairs_message(split: str, table: PairTable, reports: Mapping[tuple[str, str], FileReport], see,
                     max_length: int | None = None) -> str:
    """The one line a run gets when no pair of ``split`` is left: which files, what dropped
    everything, where the per-file counts are."""
    from .tokenization import TOO_LONG

    files = [r.path for (_, sp), r in sorted(reports.items()) if sp == split]
    read = sum(r.records for (_, sp), r in reports.items() if sp == split)
    why = Counter()
    for st in table.stages:
        why.update(st["dropped"])
    parts = [f"{n} {f'longer than lm.max_length = {max_length} tokens' if r == TOO_LONG and max_length else r}"
             for r, n in sorted(why.items())]
    use = "training" if split == "train" else "test (evaluation)"
    return (f"no {use} pair is left from {', '.join(files) or 'no file'} ({read} records"
            + (f"; dropped: {', '.join(parts)}" if parts else "") + f"); per-file counts in {see}")
