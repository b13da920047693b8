import re
from pathlib import Path

import pytest
import yaml

from hetpref.config import ConfigError, config_errors, deep_merge, validate_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


def load(path):
    return yaml.safe_load(Path(path).read_text())


@pytest.mark.parametrize("path", ["config.yaml", "configs/paper.yaml", "configs/cpu_smollm2.yaml",
                                  "tests/workflow/config.yaml", "configs/own_data.yaml"])
def test_shipped_configs_are_valid(path):
    # other config files are given with --configfile, which Snakemake merges onto config.yaml
    validate_config(deep_merge(load(ROOT / "config.yaml"), load(ROOT / path)), SCHEMA)


def test_errors_name_key_value_and_expectation():
    cfg = load(ROOT / "config.yaml")
    cfg["synthetic"]["train"]["batch_size"] = 0
    cfg["synthetic"]["corrected_dpo"]["alpha"] = 1  # typo of alphas
    errors = config_errors(cfg, load(SCHEMA))
    assert any(e.startswith("synthetic.train.batch_size = 0:") and "preferences per step" in e for e in errors)
    assert any(e.startswith("synthetic.corrected_dpo:") and "'alpha' was unexpected" in e and "alphas" in e
               for e in errors)
    with pytest.raises(ConfigError, match="2 problems"):
        validate_config(cfg, SCHEMA)


def _leaf_schemas(schema, path=""):
    if schema.get("type") == "object" and "properties" in schema:
        assert schema.get("additionalProperties") is False, f"{path or 'top'} must reject unknown keys"
        for key, sub in schema["properties"].items():
            yield from _leaf_schemas(sub, f"{path}.{key}" if path else key)
    else:
        yield path, schema


def test_every_schema_key_has_description_and_default():
    for path, leaf in _leaf_schemas(load(SCHEMA)):
        assert leaf.get("description"), f"{path} lacks a description"
        assert "default" in leaf, f"{path} lacks a default"


def test_every_key_of_the_default_config_is_commented():
    lines = (ROOT / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z_]+:", line):
            assert "#" in line or lines[i - 1].strip().startswith("#"), f"config.yaml line {i + 1} uncommented: {line}"


def test_schema_method_names_are_the_librarys():
    """One source of truth for method names: the schema's enums are the library's constants."""
    from hetpref.synthetic.methods import BASE_METHODS, TRAINED_METHODS, VARIANCE_SOURCES

    syn = load(SCHEMA)["properties"]["synthetic"]["properties"]
    assert set(syn["methods"]["items"]["enum"]) == set(BASE_METHODS)
    assert set(syn["sweep"]["properties"]["methods"]["items"]["enum"]) == set(TRAINED_METHODS)
    assert set(syn["heterogeneity"]["properties"]["methods"]["items"]["enum"]) == set(TRAINED_METHODS)
    assert set(syn["corrected_dpo"]["properties"]["variance"]["items"]["enum"]) == set(VARIANCE_SOURCES)
