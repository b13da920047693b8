"""Config validation with messages that name the key, the value and what was expected."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator


class ConfigError(ValueError):
    """A user mistake in the workflow config."""


# Credentials never belong in the config: it is hashed into every provenance record, copied to
# cluster jobs and often committed. Keys named like one, and values shaped like a Hugging Face
# token, are refused before anything else (the value is never repeated in the message).
SECRET_KEY = re.compile(r"^(hf_|hub_|huggingface_|auth_|access_|use_auth_)?token$"
                        r"|(^|_)(secret|password|passwd|api_key|apikey)$",
                        re.IGNORECASE)
SECRET_VALUE = re.compile(r"^hf_[A-Za-z0-9]{20,}$")


def secret_problems(config, path: str = "") -> list[str]:
    """One line per key of ``config`` (at any depth) that holds a credential."""
    out = []
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else ()
    for key, val in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and SECRET_KEY.search(key):
            out.append(f"{where}: an access token or other credential is never read from the config; remove "
                       "the key and export HF_TOKEN=<token> in the environment of the jobs instead "
                       "(or log in once with `hf auth login`)")
        elif isinstance(val, str) and SECRET_VALUE.match(val.strip()):
            out.append(f"{where}: the value looks like a Hugging Face access token (hf_…, not repeated here); "
                       "tokens are never read from the config: export HF_TOKEN=<token> in the environment instead")
        else:
            out += secret_problems(val, where)
    return out


def config_errors(config: dict, schema: dict) -> list[str]:
    """One line per violation: ``synthetic.train.lr = -0.1: -0.1 is less than or equal to the
    minimum of 0 (expected: Adam learning rate)``."""
    lines = []
    for err in sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path)):
        key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
        if err.validator == "additionalProperties":
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            lines.append(f"{key}: {err.message}; allowed keys here: {allowed}")
            continue
        help_ = err.schema.get("description") if isinstance(err.schema, dict) else None
        value = f" = {err.instance!r}" if not isinstance(err.instance, dict) else ""
        lines.append(f"{key}{value}: {err.message}" + (f" (expected: {help_})" if help_ else ""))
    return lines


def validate_config(config: dict, schema_path: str | Path, source: str = "config") -> None:
    """Raise :class:`ConfigError` listing every violation of the JSON Schema."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = secret_problems(config) or config_errors(config, schema)
    if errors:
        raise ConfigError(f"invalid {source} ({len(errors)} problem{'s' * (len(errors) > 1)}):\n  "
                          + "\n  ".join(errors))


def deep_merge(base: dict, override: dict) -> dict:
    """Snakemake's --configfile semantics: nested dicts merge, other values replace."""
    out = dict(base)
    for key, val in override.items():
        out[key] = deep_merge(out[key], val) if isinstance(val, dict) and isinstance(out.get(key), dict) else val
    return out
