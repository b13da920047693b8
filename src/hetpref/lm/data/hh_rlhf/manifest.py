"""Checksums of the HH-RLHF files, trust on first use: ``<dir>/manifest.json`` records each
file's sha256 once it has been read to the end and parsed (a corrupt file is never pinned), later
runs verify against it and against :data:`KNOWN_SHA256` (checksums known independently of any
download); :func:`accept_file` (``python -m hetpref.lm.data.accept FILE``) records a replaced file after
the same checks, so a user accepts a new copy without editing the manifest.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping

from hetpref.provenance import file_sha256 as sha256_file
from hetpref.runtime import InputError

from .format import (
    HH_RLHF_PAGE,
    MAX_MALFORMED_SHARE,
    SPLITS,
    FileReport,
    HHRLHFFileError,
    check_malformed_share,
    read_file,
    relative_path,
)

MANIFEST = "manifest.json"
ACCEPT_COMMAND = "python -m hetpref.lm.data.accept"

# Checksums we know independently of any download (the published harmless-base test split);
# every other file is pinned on first use in the manifest.
KNOWN_SHA256 = {
    ("harmless-base", "test"): "ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03",
}


class ChecksumError(InputError):
    """A file's sha256 differs from the one recorded (or known) for it."""


def read_manifest(dest: Path) -> dict:
    path = dest / MANIFEST
    if not path.exists():
        return {"files": {}}
    data = json.loads(path.read_text())
    data.setdefault("files", {})
    return data


def write_manifest(dest: Path, manifest: dict) -> None:
    # atomic: a run killed mid-write must not leave a manifest that fails every later run
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    if (dest / MANIFEST).exists() and (dest / MANIFEST).read_text() == text:
        return
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, dest / MANIFEST)


def check_sha256(rel: str, sha: str, manifest: dict, subset: str, split: str, expected: Mapping | None,
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
    manifest = read_manifest(dest)
    out = {}
    for (subset, split), path in sorted(files.items()):
        sha = sha256_file(path)
        check_sha256(relative_path(subset, split), sha, manifest, subset, split, expected_sha256, Path(path), dest)
        out[(subset, split)] = sha
    return out


def record_checksums(dest, reports: Iterable[FileReport], log: Callable[[str], None] | None = None,
                     accepted: bool = False) -> list[str]:
    """Record the checksums of files that were read to the end and parsed (``reports``) in
    ``dest/manifest.json``: new files (trust on first use), and with ``accepted`` replaced ones.
    Returns the relative names recorded. A read-only ``dest`` records nothing (logged)."""
    dest = Path(dest)
    manifest = read_manifest(dest)
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
        write_manifest(dest, manifest)
    return done


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

