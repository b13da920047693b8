"""Config validation with messages that name the key, the value and what was expected."""
from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator


class ConfigError(ValueError):
    """A user mistake in the workflow config."""


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
    errors = config_errors(config, schema)
    if errors:
        raise ConfigError(f"invalid {source} ({len(errors)} problem{'s' * (len(errors) > 1)}):\n  "
                          + "\n  ".join(errors))


def deep_merge(base: dict, override: dict) -> dict:
    """Snakemake's --configfile semantics: nested dicts merge, other values replace."""
    out = dict(base)
    for key, val in override.items():
        out[key] = deep_merge(out[key], val) if isinstance(val, dict) and isinstance(out.get(key), dict) else val
    return out
