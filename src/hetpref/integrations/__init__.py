"""hetpref's losses inside other training libraries.

- :mod:`hetpref.integrations.trl`: :class:`~hetpref.integrations.trl.HetprefDPOTrainer`, a
  ``trl.DPOTrainer`` whose loss is one of :mod:`hetpref.losses` (``consistent``, Eq. 20;
  ``corrected_dpo``; plain ``dpo``), with the annotator and type columns kept through the collator
  and a uniform reference. Needs the optional extra: ``pip install hetpref[trl]``.

Importing this package imports nothing heavy: ``trl`` is imported when
``hetpref.integrations.trl`` (or one of the names below) is first used.
"""
from __future__ import annotations

_TRL_NAMES = ("HetprefDPOConfig", "HetprefDPOTrainer", "CarryColumnsCollator")

__all__ = list(_TRL_NAMES)


def __getattr__(name: str):
    if name in _TRL_NAMES:
        from . import trl

        return getattr(trl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
