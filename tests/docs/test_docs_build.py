"""The documentation site builds with ``mkdocs build --strict``: a broken link, a missing page in
the navigation or an API reference that does not resolve fails here, as it fails ``make docs``."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def mkdocs_command() -> list[str]:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the docs extra is not installed ({exc.name} missing): pip install -e '.[docs]'")
    return [sys.executable, "-m", "mkdocs"]


def test_site_builds_strictly(tmp_path):
    cmd = mkdocs_command() + ["build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                              "-d", str(tmp_path / "site")]
    path = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=path)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    assert done.returncode == 0, f"mkdocs build --strict failed ({wall:.1f} s):\n{done.stdout}\n{done.stderr}"
    for page in ("index", "synthetic", "pew", "lm", "cluster", "own-data", "findings", "spec", "api"):
        assert (tmp_path / "site" / page / "index.html").is_file() or (
            page == "index" and (tmp_path / "site" / "index.html").is_file()), f"page {page}.md was not built"
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for module in ("hetpref.losses", "hetpref.oracles", "hetpref.aggregation", "hetpref.config"):
        assert module in api, f"api.md does not render {module}"


def test_every_page_is_in_the_navigation():
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]

    def pages(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from pages(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from pages(value)

    listed = set(pages(nav))
    present = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert present - listed == set(), f"pages not in mkdocs.yml's nav: {sorted(present - listed)}"
    assert listed - present == set(), f"nav entries without a page: {sorted(listed - present)}"
