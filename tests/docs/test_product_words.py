"""The product speaks only of itself: no tracked file says how, by whom or on which machine it was
built. Every tracked text file (``git ls-files``) is searched for

* process words: issue numbers in prose (``issue 12``, ``issues 10–14``, ``(#12)``), "lent",
  "device tool", "not drawn", a development "session" ("this session", "other sessions", …),
  "agent", "the lead";
* paths outside the repository: ``../shared`` (cite ``docs/spec.md``; test data is found through
  ``tests/conftest.py``, the one file allowed to name its default place);
* absolute paths of the machine the test runs on: the checkout's parent folder and the home
  folder, computed here at run time (so a clone elsewhere checks its own paths).

The test fails listing every hit as ``file:line: text``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SELF = Path(__file__).resolve().relative_to(ROOT).as_posix()

PROCESS_WORDS = [
    re.compile(r"\bissues? \d+", re.IGNORECASE),                          # "issue 19", "issues 10, 11"
    re.compile(r"(?:^|[\s(\[,;])#\d+\b(?![\w.])"),                        # "(#27)", "see #12" — not "#1f77b4"
    re.compile(r"\blent\b", re.IGNORECASE),
    re.compile(r"\bdevice tool\b", re.IGNORECASE),
    # "not drawn" of a machine loan; a figure that is "not drawn" is the product's own word
    re.compile(r"(?=.*\b(?:status|device|GPU|machine|task)\b).*\bnot drawn\b", re.IGNORECASE),
    # a development session; a shell or test session (tmux, pytest, the SLURM test cluster) is fine
    re.compile(r"\b(?:this|that|another|other|each|earlier|previous|same|first|the lead's|"
               r"(?:two|three|four|five) other) sessions?\b"
               r"(?!.*\b(?:tmux|screen|logout|login|ssh|pytest|SLURM|cluster)\b)", re.IGNORECASE),
    re.compile(r"\b(?:an|the|other|another|coding|AI) agents?\b", re.IGNORECASE),
    re.compile(r"\bthe lead\b(?! time)"),
]
# The spec and the shared data are not beside a clone: cite docs/spec.md (not MATH.md), find data through
# tests/conftest.py (the one place that names the default beside the checkout).
OUTSIDE_THE_REPOSITORY = re.compile(r"\.\./shared\b|parent / \"shared\"|\bMATH\.md\b")
OUTSIDE_THE_REPOSITORY_ALLOWED = {"tests/conftest.py"}


def machine_paths() -> list[str]:
    """Absolute folders of this machine that no tracked file may name: the checkout's parent
    (where sibling checkouts and shared data live) and the home folder."""
    paths = {str(ROOT.parent)}
    home = Path.home()
    if len(home.parts) > 1:
        paths.add(str(home))
    return sorted(p.rstrip("/") + "/" for p in paths if p not in ("/", ""))


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (or git missing): the tracked tree cannot be listed")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name and name != SELF]


def hits(files: list[Path]) -> list[str]:
    paths = machine_paths()
    found = []
    for path in files:
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary files (figures, archives) carry no prose
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(text.splitlines(), start=1):
            what = [p.pattern for p in PROCESS_WORDS if p.search(line)] + [p for p in paths if p in line]
            if rel not in OUTSIDE_THE_REPOSITORY_ALLOWED and OUTSIDE_THE_REPOSITORY.search(line):
                what.append(OUTSIDE_THE_REPOSITORY.pattern)
            if what:
                found.append(f"{rel}:{number}: {line.strip()[:160]}")
    return found


def test_machine_paths_are_computed_here():
    assert str(ROOT.parent).rstrip("/") + "/" in machine_paths()


def test_patterns_catch_what_they_should():
    lines = ["fixed in issue 19", "see (#27) for more", "no GPU was lent", "the device tool said",
             "status: not drawn", "measured in this session", "five other sessions shared the cores",
             "an agent wrote it", "Re-measured by the lead", "the spec is ../shared/paper/MATH.md"]
    for line in lines:
        assert any(p.search(line) for p in PROCESS_WORDS) or OUTSIDE_THE_REPOSITORY.search(line), line
    for line in ["colour #1f77b4", "launch from a session that survives logout (tmux/screen)", "# comment 12",
                 "the lenticular", "issued 3 calls",
                 "- Q1: not drawn — its wave is not present", "another session still uses the local SLURM cluster",
                 "the hub's user agent", "the lead time"]:
        assert not any(p.search(line) for p in PROCESS_WORDS), line


def test_tracked_tree_speaks_only_of_itself():
    found = hits(tracked_files())
    assert not found, f"{len(found)} lines speak of how the project was made, or name this machine's paths:\n" + \
        "\n".join(found)
