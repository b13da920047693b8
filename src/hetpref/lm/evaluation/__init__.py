"""Evaluating and reporting LM runs (docs/spec.md §8 "Metric").

- :mod:`.evaluate` — agreement with the average reward's order on the test split, the length
  diagnostics, the evaluation of a trained run, the t-intervals across seeds;
- :mod:`.indirect` — §6's indirect method: per-type reward models averaged, the pairs relabelled;
- :mod:`.length_oracle` — the best length-only scorer per labelling, and DPO's length-prior bound;
- :mod:`.report` — the per-seed and summary tables and Figure 5.

Scores sequences with :mod:`hetpref.lm.training.scoring`, as in training.
"""
