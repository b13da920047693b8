"""Pew American Trends Panel surveys (paper §4.3, §7.1, App. E; docs/spec.md §6).

- :mod:`hetpref.pew.questions`  the question model and the question filters shared by every input
- :mod:`hetpref.pew.sav`        read one ``.sav`` wave into questions
- :mod:`hetpref.pew.counts`     parse and read an aggregated counts CSV into the same questions
- :mod:`hetpref.pew.reader`     one read function for any input kind (``sav``, ``demo``, ``counts``)
- :mod:`hetpref.pew.inventory`  which inputs are present, usable or broken, and the data report
- :mod:`hetpref.pew.analysis`   per-question NBC vs r̄, min-TV flips, bootstrap, partition summaries
- :mod:`hetpref.pew.flip`       the min-TV flip linear programs (App. E)
- :mod:`hetpref.pew.waves`      one input → its per-wave tables (main types, every partition)
- :mod:`hetpref.pew.combine`    per-wave tables → the stage's tables and markdown reports
- :mod:`hetpref.pew.figures`    Figures 1, 2, 6–10 and the partition figure
- :mod:`hetpref.pew.demo`       deterministic demo waves in the real Pew schema, for tests and
  for running the pipeline without the (non-redistributable) Pew files
"""
