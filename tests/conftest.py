"""Where the tests find shared data that the repository does not carry.

One setting: the real HH-RLHF harmless-base test split (``harmless-base_test.jsonl.gz``, MIT
licensed, never copied into the repository) is the file named by the environment variable
``HETPREF_HH_RLHF_FILE``; without it, the file is looked for beside the checkout, at
``<checkout>/../shared/data/hh-rlhf/harmless-base_test.jsonl.gz``. A test that needs the file
takes the ``hh_rlhf_file`` fixture (or ``hh_rlhf_dir`` for the folder holding it) and is skipped,
with one reason naming the variable and the path looked at, when the file is absent. When the file
is found, the variable is set for the whole test run, so the tools the tests start (the bench
scripts, subprocesses) find the same file.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HH_RLHF_ENV = "HETPREF_HH_RLHF_FILE"
HH_RLHF_NAME = "harmless-base_test.jsonl.gz"
HH_RLHF_DEFAULT = ROOT.parent / "shared" / "data" / "hh-rlhf" / HH_RLHF_NAME


def hh_rlhf_path() -> Path:
    """The real HH-RLHF file's path: ``$HETPREF_HH_RLHF_FILE``, else the default beside the checkout.

    The path may not exist; ``hh_rlhf_file`` skips when it does not."""
    given = os.environ.get(HH_RLHF_ENV, "").strip()
    return Path(given).expanduser() if given else HH_RLHF_DEFAULT


def hh_rlhf_skip_reason() -> str | None:
    """Why a test of the real file cannot run, or None when it can (for ``pytest.mark.skipif``)."""
    path = hh_rlhf_path()
    if path.is_file():
        return None
    given = os.environ.get(HH_RLHF_ENV, "").strip()
    source = f"${HH_RLHF_ENV}" if given else f"the default (set ${HH_RLHF_ENV} to change it)"
    return f"real HH-RLHF file not found at {path} ({source}); the test needs {HH_RLHF_NAME}"


def pytest_configure(config) -> None:
    if hh_rlhf_skip_reason() is None:
        os.environ[HH_RLHF_ENV] = str(hh_rlhf_path())


@pytest.fixture(scope="session")
def hh_rlhf_file() -> Path:
    """The real harmless-base test split; skips the test with one clear reason when it is absent."""
    reason = hh_rlhf_skip_reason()
    if reason:
        pytest.skip(reason)
    return hh_rlhf_path()


@pytest.fixture(scope="session")
def hh_rlhf_dir(hh_rlhf_file: Path) -> Path:
    """The folder holding the real file (the layout ``lm.data_dir`` reads: ``<subset>_<split>.jsonl.gz``)."""
    return hh_rlhf_file.parent
