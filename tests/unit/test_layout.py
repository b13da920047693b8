"""The package's layout, read from its source with ``ast`` (nothing is imported):

- no import cycle among hetpref modules, and no arrow back up: at every level of the tree, the
  children of a package (its modules and subpackages, each with everything below it) import
  each other without a cycle. An import anywhere in a file counts (module level, inside a
  function, under ``TYPE_CHECKING``): each is a dependency one has to follow to read the code;
- no module imports its own package's ``__init__`` (``from . import NAME`` of a name defined
  there, ``from hetpref.pkg import NAME`` inside ``hetpref.pkg``);
- every module has at most 400 lines.

``hetpref.lm`` is checked by its own test, expected to fail until its layout settles.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT_PACKAGE = "hetpref"
MAX_LINES = 400


def module_files(src: Path = SRC, root: str = ROOT_PACKAGE) -> dict[str, Path]:
    """Dotted name → file of every module of the package (a package's name is its ``__init__``)."""
    out = {}
    for path in sorted((src / root).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py"


def imports_of(name: str, files: dict[str, Path]) -> set[str]:
    """The hetpref modules that module ``name`` imports, anywhere in its file."""
    package = name if is_package(name, files) else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(files[name].read_text(), str(files[name]))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in files:  # `import hetpref.a.b` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    return {name: imports_of(name, files) for name in files}


def own_init_imports(graph: dict[str, set[str]], files: dict[str, Path]) -> list[str]:
    """``module → package`` for every module that imports the ``__init__`` of its own package."""
    out = []
    for name, targets in graph.items():
        package = name if is_package(name, files) else name.rpartition(".")[0]
        if not is_package(name, files) and package in targets:
            out.append(f"{name} imports its own package's __init__ ({package})")
    return out


def _child(module: str, package: str) -> str:
    """The child of ``package`` that holds ``module`` (``__init__`` for the package itself)."""
    if module == package:
        return f"{package}.__init__"
    return ".".join(module.split(".")[: len(package.split(".")) + 1])


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one node (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def cycles(graph: dict[str, set[str]], files: dict[str, Path]) -> list[str]:
    """Every cycle among the children of every package, with the imports that close it."""
    out = []
    for package in sorted(n for n in files if is_package(n, files)):
        inside = [m for m in graph if m == package or m.startswith(package + ".")]
        edges, why = {}, {}
        for m in inside:
            for t in graph[m]:
                if t != package and not t.startswith(package + "."):
                    continue
                a, b = _child(m, package), _child(t, package)
                if a != b:
                    edges.setdefault(a, set()).add(b)
                    why.setdefault((a, b), f"{m} → {t}")
        for component in _cycles(edges):
            arrows = [why[(a, b)] for a in component for b in component if (a, b) in why]
            out.append(f"cycle in {package} among {', '.join(component)}: {'; '.join(arrows)}")
    return out


def long_modules(files: dict[str, Path]) -> list[str]:
    out = []
    for name, path in files.items():
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            out.append(f"{name}: {lines} lines (at most {MAX_LINES})")
    return out


def layout_problems(files: dict[str, Path]) -> list[str]:
    graph = import_graph(files)
    return cycles(graph, files) + own_init_imports(graph, files) + long_modules(files)


def test_no_cycle_no_own_init_import_no_long_module():
    problems = layout_problems(module_files())
    assert not problems, "\n".join(problems)


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return module_files(root, "pkg")


def test_the_checks_find_a_cycle_an_arrow_back_up_an_own_init_import_and_a_long_module(tmp_path):
    files = _write(tmp_path, {
        "pkg/__init__.py": "X = 1\n",
        "pkg/plotting.py": "from .sub.env import profile\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/env.py": "def profile(): ...\n",
        "pkg/sub/figures.py": "from ..plotting import profile\n",                  # back up: sub → plotting → sub
        "pkg/sub/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
        "pkg/sub/b.py": "def f():\n    from pkg.sub import a\n",               # a ↔ b, lazily and for types
        "pkg/sub/c.py": "from . import env\nfrom pkg.sub import env as e2\n",  # submodules: fine
        "pkg/other/__init__.py": "Y = 2\n",
        "pkg/other/own.py": "from . import Y\n" + "\n" * MAX_LINES,            # own __init__, too long
    })
    problems = layout_problems(files)
    assert any(p.startswith("cycle in pkg among pkg.plotting, pkg.sub:") for p in problems), problems
    assert any(p.startswith("cycle in pkg.sub among pkg.sub.a, pkg.sub.b:") for p in problems), problems
    assert "pkg.other.own imports its own package's __init__ (pkg.other)" in problems
    assert f"pkg.other.own: {MAX_LINES + 1} lines (at most {MAX_LINES})" in problems
    assert not any("pkg.sub.c" in p for p in problems), problems
    assert len(problems) == 4, problems
