"""hetpref: direct alignment with heterogeneous preferences (Shirali et al., 2025).

The library behind the reproduction workflow. Every formula of the paper has one
definition here (see ``../shared/paper/MATH.md`` for the spec):

- :mod:`hetpref.preferences`  Bradley–Terry models and vectorised label sampling
- :mod:`hetpref.aggregation`  average reward, normalized Borda count, rankings
- :mod:`hetpref.losses`       DPO, IPO, first-order corrected DPO, consistent losses
- :mod:`hetpref.oracles`      exact population limits (π*, NBC, DPO / corrected / consistent limits)
- :mod:`hetpref.synthetic`    the 40×40 three-type environment of §7.2
- :mod:`hetpref.pew`          Pew survey reading, NBC vs r̄, the min-TV flip problem (§4.3, §7.1, App. E)
- :mod:`hetpref.lm`           HH-RLHF relabelling, LoRA reward models and direct alignment (§7.3, App. F)
- :mod:`hetpref.claims`       the paper's worked examples and propositions, computed and checked
  (claims in ``aggregation`` and ``identification``, the run order in ``registry``, the report in
  ``render``)
"""

__version__ = "0.1.0"
