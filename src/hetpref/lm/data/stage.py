"""Stage a hub model's weights once, on a host with network, into the Hugging Face cache the
GPU jobs read (``HF_HOME``), so that those jobs can run with ``HF_HUB_OFFLINE=1``.

    python -m hetpref.lm.data.stage meta-llama/Meta-Llama-3-8B [--out snapshot.json]

Only the files a job loads are fetched: ``*.json`` (config, generation config, the safetensors
index, tokenizer config), ``*.safetensors`` and the tokenizer files; never ``original/`` (Meta's
own consolidated checkpoint, another ~16 GB for Llama-3-8B) nor ``*.bin`` / ``*.pth``. The record
written names the repository, the snapshot (commit) the cache now resolves it to, the files and
their bytes; training provenance records the same commit (:func:`hetpref.lm.hub.weights_snapshot`).

With ``HF_HUB_OFFLINE=1`` it records what the cache already holds (or says it holds nothing).
Any failure (no network, gated model without ``HF_TOKEN``, misspelt id) is one
:class:`~hetpref.lm.hub.ModelUnavailable` message that says what to do.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..hub import ModelUnavailable, explain, local_folder_problems, spec_problem, weights_snapshot
from ..hub import kind as spec_kind

ALLOW_PATTERNS = ("*.json", "*.safetensors", "tokenizer*")
IGNORE_PATTERNS = ("original/*", "original/**")


def stage_model(spec: str) -> dict:
    """Download (or find in the cache, offline) the files of hub id ``spec`` a job needs; the
    record of the snapshot. Built-in specs and local folders need no staging: a record that says so."""
    k = spec_kind(spec)
    if k != "hub":
        problem = spec_problem(spec)
        if problem:
            raise ModelUnavailable(f"lm.model = {problem}")
        return {"spec": spec, "kind": k, "staged": False, "weights": weights_snapshot(spec)}
    from huggingface_hub import constants, snapshot_download

    try:
        folder = Path(snapshot_download(spec, allow_patterns=list(ALLOW_PATTERNS),
                                        ignore_patterns=list(IGNORE_PATTERNS)))
    except (OSError, ValueError) as exc:  # huggingface_hub's errors are OSErrors
        raise ModelUnavailable(explain(spec, "weights (staging)", exc)) from exc
    problems = local_folder_problems(folder)
    if problems:
        raise ModelUnavailable(
            f"lm.model = {spec!r}: the staged snapshot {folder} is incomplete ({'; '.join(problems)})"
            + (": HF_HUB_OFFLINE=1 forbids fetching the rest; stage on a host with network"
               if constants.HF_HUB_OFFLINE else f"; the hub's files for {spec} do not match {ALLOW_PATTERNS}"))
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {"spec": spec, "kind": "hub", "staged": True, "repo_id": spec, "commit": folder.name,
            "folder": str(folder), "cache": str(constants.HF_HUB_CACHE), "offline": bool(constants.HF_HUB_OFFLINE),
            "files": {str(p.relative_to(folder)): p.stat().st_size for p in files},
            "bytes": sum(p.stat().st_size for p in files)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec", help="lm.model: a hub id (namespace/name)")
    ap.add_argument("--out", default=None, help="write the record here (JSON)")
    a = ap.parse_args(argv)
    try:
        record = stage_model(a.spec)
    except ModelUnavailable as e:
        raise SystemExit(str(e)) from e
    text = json.dumps(record, indent=2) + "\n"
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    print(text, end="")
    return record


if __name__ == "__main__":
    main()
