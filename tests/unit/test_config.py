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


# ---------------------------------------------------------------- checks across keys (hetpref.config_checks)
def _default_config():
    return load(ROOT / "config.yaml")  # every key present, as the schema's defaults fill them


def _set(cfg, key, value):
    *path, last = key.split(".")
    for part in path:
        cfg = cfg[part]
    cfg[last] = value


# (edits as dotted key → value, the key of the problem, words of its message)
CROSS_KEY_CASES = [
    ({"synthetic.corrected_dpo.warmup_steps": 10**9}, "synthetic.corrected_dpo.warmup_steps",
     ["exceeds synthetic.train.steps"]),
    ({"synthetic.environment.slopes": [0.1]}, "synthetic.environment", ["one entry per type"]),
    ({"synthetic.train.hidden": [0]}, "synthetic.train.hidden", ["hidden widths must be ≥ 1"]),
    ({"synthetic.corrected_dpo.joint_holdout": 0}, "synthetic.corrected_dpo.joint_early_stopping",
     ["needs held-out pairs", "joint_holdout > 0"]),
    ({"synthetic.heterogeneity.enabled": True, "synthetic.heterogeneity.shifts": [0, 99]}, "synthetic.heterogeneity",
     ["the sweep of synthetic.environment", "shifts [99] are outside 0..n/2 = 0..20"]),
    ({"lm.model": "./no/such/model"}, "lm.model", ["does not exist", "working directory"]),
    ({"lm.local_split.enabled": True, "lm.source": "demo"}, "lm.local_split.enabled",
     ["lm.source = 'demo'", "source local only"]),
    ({"lm.train.batch_size": 3, "lm.train.gradient_accumulation_steps": 2}, "lm.train.batch_size",
     ["cannot be split", "2 × 1 = 2"]),
    ({"pew.partitions": [{"name": "a", "columns": ["X"]}, {"name": "a", "columns": ["Y"]}]}, "pew.partitions",
     ["partition names must be unique", "['a', 'a']"]),
]


def test_the_default_config_has_no_cross_key_problem():
    from hetpref.config_checks import check_config, config_problems

    assert config_problems(_default_config()) == []
    check_config(_default_config())


@pytest.mark.parametrize("edits, key, words", CROSS_KEY_CASES, ids=[c[1] for c in CROSS_KEY_CASES])
def test_each_cross_key_check_fails_naming_its_key(edits, key, words, tmp_path, monkeypatch):
    from hetpref.config_checks import check_config, config_problems

    monkeypatch.chdir(tmp_path)  # relative model paths are read from the working directory
    cfg = _default_config()
    for k, v in edits.items():
        _set(cfg, k, v)
    problems = config_problems(cfg)
    assert [p.key for p in problems] == [key], problems
    assert all(w in problems[0].message for w in words), problems[0].message
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value).startswith(f"invalid workflow config at {key}: ")


def test_every_problem_is_reported_at_once():
    from hetpref.config_checks import check_config, config_problems

    cfg = _default_config()
    for edits, _, _ in CROSS_KEY_CASES:
        if "lm.model" not in edits:  # a relative path depends on the working directory
            for k, v in edits.items():
                _set(cfg, k, v)
    keys = [p.key for p in config_problems(cfg)]
    assert keys == [c[1] for c in CROSS_KEY_CASES if "lm.model" not in c[0]]
    with pytest.raises(ConfigError, match=f"invalid workflow config \\({len(keys)} problems\\):") as err:
        check_config(cfg)
    lines = str(err.value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == keys


@pytest.mark.parametrize("section, overlay", [("sweep", "sweep.yaml"), ("heterogeneity", "heterogeneity.yaml")])
def test_a_sweep_that_is_off_names_its_key_and_overlay(section, overlay):
    from hetpref.config_checks import opt_in_problem

    syn = _default_config()["synthetic"]
    syn[section]["enabled"] = False
    problem = opt_in_problem(syn, section)
    assert problem.key == f"synthetic.{section}.enabled" and f"--configfile configs/{overlay}" in problem.message
    syn[section]["enabled"] = True
    assert opt_in_problem(syn, section) is None


def test_config_checks_import_no_torch():
    """They run while the DAG is built, where an import of torch costs seconds."""
    import subprocess
    import sys

    code = "import sys, hetpref.config_checks; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"
