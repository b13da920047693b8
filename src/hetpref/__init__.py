"""hetpref: direct alignment with heterogeneous preferences (Shirali et al., 2025).

The library behind the reproduction workflow. Every formula of the paper has one
definition here (see ``../shared/paper/MATH.md`` for the spec):

- :mod:`hetpref.preferences`  Bradley–Terry models and vectorised label sampling
- :mod:`hetpref.aggregation`  average reward, normalized Borda count, rankings
- :mod:`hetpref.losses`       DPO, IPO, first-order corrected DPO, consistent losses
- :mod:`hetpref.oracles`      exact population limits (π*, NBC, DPO / corrected / consistent limits)
- :mod:`hetpref.synthetic`    the 40×40 three-type environment of §7.2
"""

__version__ = "0.1.0"
