"""Where the HH-RLHF files come from: :func:`download_hh_rlhf` fetches the public release with
retries (offline it fails with a message saying how to place the files by hand),
:func:`local_files` finds them in a folder (also the flat ``<subset>_<split>.jsonl.gz`` naming of
the project's shared copy), :func:`get_source` resolves the configured source (demo, download,
local, auto) to files, and :func:`read_source` reads them all to the end into one
:class:`~.format.PairTable` per split, stopping on a file that cannot be read or has more than
``max_malformed_share`` unusable records, and only then records new checksums (:mod:`.manifest`).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Mapping

from hetpref.provenance import file_sha256 as sha256_file
from hetpref.runtime import InputError

from .demo import write_demo
from .format import (
    HH_RLHF_PAGE,
    HH_RLHF_URL,
    MAX_MALFORMED_SHARE,
    SPLITS,
    SUBSETS,
    FileReport,
    HHRLHFFileError,
    PairTable,
    check_malformed_share,
    pair_table,
    read_file,
    relative_path,
)
from .manifest import (
    MANIFEST,
    ChecksumError,
    check_sha256,
    read_manifest,
    record_checksums,
    verify_files,
    write_manifest,
)

SOURCES = ("demo", "download", "local", "auto")


class DownloadError(InputError):
    """A file could not be fetched; the message says how to place it by hand."""


class HHRLHFFilesMissing(InputError, FileNotFoundError):
    """Files of the configured subsets are not where the source expects them."""


def manual_layout_hint(dest, subsets: Iterable[str] = SUBSETS, splits: Iterable[str] = SPLITS) -> str:
    """How to place the files by hand (used in every 'not found / offline' error)."""
    dest = Path(dest)
    files = "\n".join(f"  {dest / relative_path(s, p)}" for s in subsets for p in splits)
    return (f"Without network, download the files from {HH_RLHF_PAGE} (Files tab, one folder per "
            f"subset) on a machine that has it and place them by hand, layout "
            f"<dir>/<subset>/<split>.jsonl.gz:\n{files}\n"
            f"then rerun; their sha256 checksums are recorded in {dest / MANIFEST} on first use.")


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
    manifest = read_manifest(dest)
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
                    check_sha256(rel, sha256_file(target), manifest, subset, split, expected_sha256, target, dest)
                else:  # placed by hand: recorded once read to the end (trust on first use)
                    report = checked(target, subset, split)
                    check_sha256(rel, report.sha256, manifest, subset, split, expected_sha256, target, dest)
                    manifest["files"][rel] = {"sha256": report.sha256, "bytes": report.bytes, "records": report.records}
                    write_manifest(dest, manifest)
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
                write_manifest(dest, manifest)  # keep what was verified so far
                missing = [(s, p) for s in subsets for p in splits if not (dest / relative_path(s, p)).exists()]
                raise DownloadError(
                    f"could not download {url} after {1 + retries} attempt(s): {last}.\n"
                    + manual_layout_hint(dest, sorted({s for s, _ in missing}), splits))
            try:
                check_sha256(rel, report.sha256, manifest, subset, split, expected_sha256, target, dest)
            except ChecksumError:
                target.unlink()
                raise
            manifest["files"][rel] = {"sha256": report.sha256, "bytes": report.bytes, "records": report.records,
                                      "url": url}
            write_manifest(dest, manifest)
            if log:
                log(f"downloaded {url} ({report.bytes} bytes, {report.records} records, sha256 {report.sha256})")
            out[(subset, split)] = target
    write_manifest(dest, manifest)
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
        manifest = read_manifest(Path(manifest_dir))
        for r in good:
            check_sha256(r.name(), r.sha256, manifest, r.subset, r.split, None, Path(r.path), Path(manifest_dir))
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
        table = pair_table(split, [row for k in keys for row in rows[k]])
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
    return tables.get(split, pair_table(split, []))
