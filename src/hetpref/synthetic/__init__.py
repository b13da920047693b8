"""The synthetic environment of §7.2 (docs/spec.md §7).

- :mod:`~hetpref.synthetic.environment`   the 40×40 three-type reward model and its exact answers
- :mod:`~hetpref.synthetic.data`          vectorised pairs and labels in three information settings
- :mod:`~hetpref.synthetic.methods`       method names and ids (no torch: the DAG is built from them)
- :mod:`~hetpref.synthetic.config`        the training configurations (no torch: the config checks build them)
- :mod:`~hetpref.synthetic.optim`         Adam and the mini-batch loop shared by every fit
- :mod:`~hetpref.synthetic.train`         the policy trainers (DPO, IPO, corrected DPO, consistent)
- :mod:`~hetpref.synthetic.variance`      corrected DPO's variance: Eq. 19's joint model, the oracle
- :mod:`~hetpref.synthetic.experiment`    one job's methods, oracles, metrics, empirical limits
- :mod:`~hetpref.synthetic.heterogeneity` the heterogeneity sweep
- :mod:`~hetpref.synthetic.checks`, :mod:`~hetpref.synthetic.figures`  §7.2's checks and figures (and
  the profile curves they draw)
"""
