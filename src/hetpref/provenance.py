"""Provenance records written beside every trained artefact: seed, config hash, git SHA,
package versions, device, wall time and the loss trajectory."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

_PACKAGES = ("hetpref", "torch", "numpy", "scipy", "pandas", "snakemake")


def config_hash(config) -> str:
    """sha256 of the canonical JSON of a config (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks (downloads, survey files, datasets)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def git_sha(path: str | Path = ".") -> str:
    """The checkout's commit (with '+dirty' for uncommitted changes), or 'unknown' outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions(names=None) -> dict:
    """Installed versions (None when absent): python and the core packages, or only ``names``."""
    out = {} if names is not None else {"python": sys.version.split()[0]}
    for name in _PACKAGES if names is None else names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(seed, config, loss_trajectory=None, device: str = "cpu", threads=None, **extra) -> dict:
    return {
        "seed": seed,
        "config_hash": config_hash(config),
        "config": config,
        "git_sha": git_sha(),
        "versions": package_versions(),
        "device": device,
        "threads": threads,
        "host": platform.node(),
        "loss_trajectory": loss_trajectory,
        **extra,
    }


def write_json(path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n")
