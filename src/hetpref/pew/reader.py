"""One way to read any Pew input (docs/spec.md §6): a ``.sav`` wave (:mod:`hetpref.pew.sav`) or an
aggregated counts table (:mod:`hetpref.pew.counts`), by the inventory's ``kind``.

:func:`load_input` reads the file once; :func:`read_questions` turns it into kept and skipped
questions for one set of type columns, through the same filters for both kinds, so a wave can be
analysed under several type partitions without reading it again.
"""
from __future__ import annotations

from .counts import parse_counts_table, read_counts_table
from .sav import read_sav, read_wave

#: The question filters every input kind takes (config ``pew``: refused codes and labels, minimum
#: options, minimum answers per option).
FILTER_KEYS = ("refused_codes", "refused_labels", "min_options", "min_answers_per_option")


def load_input(kind: str, path, type_columns, partitions=None):
    """The input read once: a parsed :class:`~hetpref.pew.counts.CountsTable` (``kind="counts"``;
    rows without a partition stand for ``type_columns``) or the ``.sav`` frame and metadata
    (any other kind: ``sav``, ``demo``)."""
    if kind == "counts":
        return parse_counts_table(path, type_columns, partitions)
    return read_sav(path)


def read_questions(kind: str, path, data, wave: str, type_columns, partitions, filters: dict):
    """``(questions, skipped, info)`` of one input for the types of ``type_columns``, from the
    ``data`` of :func:`load_input`. ``wave`` names a counts table's rows without a wave and is the
    expected wave of a ``.sav`` (its ``WEIGHT_<wave>`` column). ``filters`` holds
    :data:`FILTER_KEYS` (a ``.sav`` has codes, not labels: ``refused_labels`` is not used there).
    Raises :class:`~hetpref.pew.questions.SurveyFileError` when the input cannot give these types."""
    f = {k: filters[k] for k in FILTER_KEYS}
    if kind == "counts":
        return read_counts_table(None, type_columns, partitions, default_wave=wave, parsed=data, **f)
    return read_wave(path, wave=wave, type_columns=type_columns, frame=data, refused_codes=f["refused_codes"],
                     min_options=f["min_options"], min_answers_per_option=f["min_answers_per_option"])
