"""Your own annotators: real multi-annotator preference data in one judgement format.

- :mod:`.table`: the :class:`~.table.JudgementTable` (one row per judgement) and its validation;
- :mod:`.adapters`: readers for MultiPref, Community Alignment, collective-alignment-1, PRISM,
  HelpSteer3 and a generic column mapping; :mod:`.sources` loads local files, ``save_to_disk``
  folders or pinned hub ids;
- :mod:`.views`: the three views matching the paper's information settings (docs/spec.md §4):
  anonymous pairs (DPO), same-annotator pairs (the Eq. 19 variance estimator) and per-type labels
  (the consistent loss, Eq. 20);
- :mod:`.diagnostics` (feasibility, agreement, rankings), :mod:`.report` and :mod:`.cli`: the
  ``hetpref inspect`` command and its report; :mod:`.planted`: annotators of known types written
  in each real schema, for checking an adapter end to end;
- :mod:`.train` (training records of each loss, Eq. 19's V̂), :mod:`.evaluate` (the annotator split
  and agreement with held-out annotators) and :mod:`.pipeline` (the own-data workflow's steps);
  the TRL trainer with the same losses is :mod:`hetpref.integrations.trl`.

Identification caveat: the consistent loss targets the average reward only when the per-type
labels come from fixed types. k labels from random anonymous raters, filtered for unanimity,
bring back DPO's NBC target; so HelpSteer3's up to 3 anonymous ``individual_preference`` entries
do not make it consistent.

Nothing heavy is imported here.
"""
