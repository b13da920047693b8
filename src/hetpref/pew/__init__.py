"""Pew American Trends Panel survey I/O (MATH.md §6).

- :mod:`hetpref.pew.reader`  parse one ``.sav`` wave (or an aggregated counts CSV) into
  per-question weighted type × option counts, with an explicit record of skipped questions
- :mod:`hetpref.pew.demo`    deterministic demo waves in the real Pew schema, for tests and
  for running the pipeline without the (non-redistributable) Pew files
"""
