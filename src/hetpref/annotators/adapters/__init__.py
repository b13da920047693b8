"""Adapters from the real schemas to the :class:`~hetpref.annotators.table.JudgementTable`.

``ADAPTERS`` maps a name to a reader ``read(source, **options) -> JudgementTable``; :func:`read`
dispatches on the name. Each module's docstring says which fields it reads and how it maps them.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Callable

from ..table import JudgementTable
from . import collective_alignment, community_alignment, generic, helpsteer3, multipref, prism
from ._common import AdapterOptionError

ADAPTERS: dict[str, Callable[..., JudgementTable]] = {
    "multipref": multipref.read,
    "community_alignment": community_alignment.read,
    "collective_alignment": collective_alignment.read,
    "prism": prism.read,
    "helpsteer3": helpsteer3.read,
    "generic": generic.read,
}

# The shipped fixture of each adapter (package data), in the real schema with invented content.
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIXTURE_FILES = {
    "multipref": "multipref/multipref.jsonl",
    "community_alignment": "community_alignment/community_alignment.csv",
    "collective_alignment": "collective_alignment/comparisons.jsonl",
    "prism": "prism/utterances.jsonl",
    "helpsteer3": "helpsteer3/preference.jsonl",
    "generic": "generic/judgements.csv",
}
# The options the generic fixture needs (its own column names and label values).
GENERIC_FIXTURE_OPTIONS = {
    "columns": {"prompt_id": "question_id", "prompt": "question", "response_a": "answer_1", "response_b": "answer_2",
                "annotator_id": "rater", "label": "winner", "strength": "confidence"},
    "labels": {"1": "a", "2": "b", "0": "tie"}, "attributes": ["rater_group"],
}


def fixture(name: str) -> Path:
    """The path of adapter ``name``'s shipped fixture."""
    try:
        return FIXTURES / FIXTURE_FILES[name]
    except KeyError:
        raise ValueError(f"unknown adapter {name!r}; expected one of {sorted(FIXTURE_FILES)}") from None


def read(name: str, source, **options) -> JudgementTable:
    """Read ``source`` (a local file/folder or a hub id) with the adapter ``name``; an option the
    adapter does not take, by name or by value, is an :class:`AdapterOptionError`."""
    try:
        reader = ADAPTERS[name]
    except KeyError:
        raise AdapterOptionError(f"unknown adapter {name!r}; expected one of {sorted(ADAPTERS)}") from None
    try:
        inspect.signature(reader).bind(source, **options)
    except TypeError as exc:
        takes = [p for p in inspect.signature(reader).parameters if p != "source"]
        if not takes:
            raise AdapterOptionError(f"{name} takes no options, got {sorted(options)}") from None
        raise AdapterOptionError(f"adapter {name!r}: {exc}; its options are {takes}") from None
    return reader(source, **options)


def read_fixture(name: str, **options) -> JudgementTable:
    """Read adapter ``name``'s shipped fixture (the generic one with the column options it needs)."""
    if name == "generic":
        options = {**GENERIC_FIXTURE_OPTIONS, **options}
    return read(name, fixture(name), **options)
