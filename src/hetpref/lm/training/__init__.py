"""Training one LM run (docs/spec.md §8): LoRA policies (direct alignment) and reward models with
the losses of :mod:`hetpref.losses` (docs/spec.md §4).

- :mod:`.run` — :class:`~.run.LMRun`, one run (objective, dataset, seed, model, train config,
  device, paths), built once from the workflow's params;
- :mod:`.config` — :class:`~.config.LMTrainConfig` and the loss per dataset (:func:`~.config.loss_for`);
- :mod:`.pairs` — tokenised pairs, padded batches, the (seed, epoch) pair order, data hashes;
- :mod:`.scoring` — sequence scores (``log π(y|x)`` and its arms, the reward head), ``PairScorer``;
- :mod:`.trainer` — ``PreferenceTrainer`` (a ``transformers.Trainer``) and its ``TrainingArguments``;
- :mod:`.callbacks` — ``train_log.csv``, the log-history file, progress, the step clock;
- :mod:`.checkpoints` — completion markers, which checkpoint to resume, the saved log history;
- :mod:`.train` — :func:`~.train.train`, one run end to end (outputs, metrics, provenance);
- :mod:`.launch` — one run in this process or in N data-parallel (torchrun) processes.

Imports from :mod:`hetpref.lm.data` (records, tokenizers) but never from :mod:`hetpref.lm.evaluation`.
"""
