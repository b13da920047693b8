"""The layout of ``hetpref.lm`` (its package docstring): the model layer beside three subpackages,
imports that run one way, ``__init__`` files without code, and torch-free name and resource modules.
Read from the source (ast), nothing imported."""
import ast
from pathlib import Path

import pytest

LM = Path(__file__).resolve().parents[2] / "src" / "hetpref" / "lm"
SUBPACKAGES = ("data", "training", "evaluation")
# what each subpackage must never import (the arrows run data ← training ← evaluation)
FORBIDDEN = {"data": ("training", "evaluation"), "training": ("evaluation",), "evaluation": ()}
TORCH_FREE = ("names", "hub", "resources")  # imported while the workflow's DAG is built


def _module(path: Path) -> str:
    parts = list(path.relative_to(LM.parent.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level: bool = False) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, names) of every import in ``path`` (``top_level``: those run when
    the module is imported, not the ones inside functions), relative ones resolved."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    out = []
    tree = ast.parse(path.read_text())
    for node in (tree.body if top_level else ast.walk(tree)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.append((node.lineno, mod, [a.name for a in node.names]))
    return out


FILES = sorted(LM.rglob("*.py"))


def test_the_tree_is_the_documented_one():
    assert {p.name for p in LM.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(SUBPACKAGES)
    for name in ("names", "hub", "resources", "models", "attention"):
        assert (LM / f"{name}.py").is_file(), name


@pytest.mark.parametrize("path", [p for p in FILES if p.name == "__init__.py" and p.parent.name != "hh_rlhf"],
                         ids=lambda p: _module(p))
def test_package_inits_hold_a_docstring_only(path):
    body = ast.parse(path.read_text()).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), \
        f"{path.relative_to(LM)} holds code; every name lives in its own module"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(LM)))
def test_imports_run_one_way(path):
    me = _module(path)
    rel = path.relative_to(LM).parts
    sub = rel[0] if len(rel) > 1 else None
    for line, mod, _ in _imports(path):
        where = f"{path.relative_to(LM)}:{line}: {mod}"
        # no module imports from the __init__ of a package it lives in (its own or a parent)
        packages = ("hetpref.lm", "hetpref.lm.data.hh_rlhf", *(f"hetpref.lm.{s}" for s in SUBPACKAGES))
        assert not (mod in packages and me.startswith(mod + ".")), f"{where}: imports its own package's __init__"
        if sub is not None:
            for other in FORBIDDEN[sub]:
                assert not mod.startswith(f"hetpref.lm.{other}"), f"{where}: {sub} must not import {other}"
        else:  # the model layer imports no training or evaluation code
            assert not mod.startswith(("hetpref.lm.training", "hetpref.lm.evaluation")), where


@pytest.mark.parametrize("name", TORCH_FREE)
def test_names_hub_and_resources_need_no_torch(name):
    heavy = ("torch", "transformers", "peft")
    for line, mod, _ in _imports(LM / f"{name}.py", top_level=True):
        assert mod.split(".")[0] not in heavy, f"{name}.py:{line} imports {mod}"
