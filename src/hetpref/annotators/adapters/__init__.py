"""Adapters from the real schemas to the :class:`~hetpref.annotators.table.JudgementTable`.

``ADAPTERS`` maps a name to a reader ``read(source, **options) -> JudgementTable``; :func:`read`
dispatches on the name. Each module's docstring says which fields it reads and how it maps them.
"""
from __future__ import annotations

from typing import Callable

from ..table import JudgementTable
from . import multipref

ADAPTERS: dict[str, Callable[..., JudgementTable]] = {
    "multipref": multipref.read,
}


def read(name: str, source, **options) -> JudgementTable:
    """Read ``source`` (a local file/folder or a hub id) with the adapter ``name``."""
    try:
        reader = ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown adapter {name!r}; expected one of {sorted(ADAPTERS)}") from None
    return reader(source, **options)
