"""hetpref: direct alignment with heterogeneous preferences (Shirali et al., 2025).

The library behind the reproduction workflow. Every formula of the paper has one
definition here (see ``docs/spec.md`` for the spec):

- :mod:`hetpref.preferences`  Bradley–Terry models and vectorised label sampling
- :mod:`hetpref.aggregation`  average reward, normalized Borda count, rankings
- :mod:`hetpref.losses`       DPO, IPO, first-order corrected DPO, consistent losses
- :mod:`hetpref.oracles`      exact population limits (π*, NBC, DPO / corrected / consistent limits,
  single-pair minimisers and the unanimity weights of the consistent losses)
- :mod:`hetpref.metrics`      total variation, KL, rank correlations
- :mod:`hetpref.synthetic`    the 40×40 three-type environment of §7.2: environment, data, methods
  (names), config (training configurations), optim (Adam loop), train (policy trainers), variance
  (Eq. 19 joint model, oracle variance), experiment, heterogeneity, checks, figures
- :mod:`hetpref.pew`          Pew surveys (§4.3, §7.1, App. E): questions, sav, counts, reader (one
  read function), inventory, analysis, flip (min-TV LP), waves (one input's tables), combine
  (stage tables and reports), figures, demo
- :mod:`hetpref.lm`           HH-RLHF relabelling, LoRA reward models and direct alignment (§7.3, App. F):
  data (names, hh_rlhf/, split, data, relabel, tokenization, length_oracle), models (models, hub,
  stage, resources), training (config, pairs, scoring, trainer, callbacks, checkpoints, train,
  launch, variants), evaluation (evaluate, indirect, report); its docstring maps them
- :mod:`hetpref.claims`       the paper's worked examples and propositions, computed and checked
  (claims in ``aggregation`` and ``identification``, the run order in ``registry``, the report in
  ``render``)
- :mod:`hetpref.config`, :mod:`hetpref.config_checks`, :mod:`hetpref.provenance`, :mod:`hetpref.runtime`,
  :mod:`hetpref.plotting`  config validation (the schema; the checks across keys), run provenance,
  the workflow scripts' logging and threads, figure helpers
"""

__version__ = "0.1.0"
