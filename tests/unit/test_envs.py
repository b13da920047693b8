"""Each conda env lists what its rules import, at the project's pinned versions (conda channels
are not reachable here, so the envs are checked statically)."""
import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# import name → distribution name, for the third-party packages the project uses
DIST = {"torch": "torch", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "matplotlib": "matplotlib",
        "yaml": "pyyaml", "jsonschema": "jsonschema", "snakemake": "snakemake", "pyreadstat": "pyreadstat",
        "transformers": "transformers", "accelerate": "accelerate", "peft": "peft", "tokenizers": "tokenizers",
        "gguf": "gguf"}


def pins():
    text = (ROOT / "pyproject.toml").read_text()
    return dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', text))


def imports_of(path: Path, seen: set) -> set:
    """Third-party distributions imported by a file and, transitively, by the hetpref modules it imports."""
    if path in seen or not path.exists():
        return set()
    seen.add(path)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        if isinstance(node, ast.ImportFrom) and node.level:  # relative import inside hetpref
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            mod = base.joinpath(*(node.module or "").split(".")) if node.module else base
            out |= imports_of(mod.with_suffix(".py"), seen) | imports_of(mod / "__init__.py", seen)
            for a in node.names:
                out |= imports_of((mod / a.name).with_suffix(".py"), seen)
        for name in names:
            top = name.split(".")[0]
            if top == "hetpref":
                mod = ROOT / "src" / Path(*name.split("."))
                out |= imports_of(mod.with_suffix(".py"), seen) | imports_of(mod / "__init__.py", seen)
            elif top in DIST:
                out.add(DIST[top])
    return out


def rules_with_envs():
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=(?:rule|checkpoint) )", smk.read_text()):
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            name = re.match(r"(?:rule|checkpoint) (\w+)", block)
            if name and script:
                yield name.group(1), env and env.group(1), (smk.parent / script.group(1)).resolve()


def env_pins(env_file: Path) -> dict:
    spec = yaml.safe_load(env_file.read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    return dict(p.split("==") for p in pip if "==" in p)


@pytest.mark.parametrize("rule, env, script", list(rules_with_envs()), ids=lambda v: str(v).split("/")[-1])
def test_rule_env_covers_its_imports_at_pinned_versions(rule, env, script):
    assert env, f"rule {rule} has a script but no conda: env"
    env_file = (ROOT / "rules" / env).resolve()
    listed = env_pins(env_file)
    needed = imports_of(script, set())
    assert needed, f"no imports found for {script}"
    missing = needed - set(listed)
    assert not missing, f"{env_file.name} lacks {sorted(missing)} imported by rule {rule}"
    project = pins()
    for dist, version in listed.items():
        assert project.get(dist) == version, \
            f"{env_file.name}: {dist}=={version} but pyproject pins {project.get(dist)}"


def test_import_scan_sees_through_hetpref_imports():
    # synthetic_table.py imports only pandas itself; numpy/torch come in through hetpref modules
    found = imports_of(ROOT / "workflow_scripts" / "synthetic_train.py", set())
    assert {"torch", "numpy"} <= found
    assert "pyreadstat" in imports_of(ROOT / "workflow_scripts" / "pew_wave.py", set())
