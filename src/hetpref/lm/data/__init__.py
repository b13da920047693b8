"""The LM data step (docs/spec.md §8): HH-RLHF → shared prompt + two responses → token counts →
relabelled datasets.

- :mod:`.hh_rlhf` — the source files (download, local folder, generated demo), their parsing,
  checksums and manifests;
- :mod:`.tokenization` — tokenizers of the model specs, token counts, the max-length filter;
- :mod:`.split` — the hash split of a local file into train and test, and the pair caps;
- :mod:`.relabel` — the length-based user types, the labellings and their dataset files;
- :mod:`.jsonl` — JSONL records;
- :mod:`.build` — :func:`~.build.build_datasets`, the whole step (what ``lm_data`` runs);
- :mod:`.accept` — ``python -m hetpref.lm.data.accept FILE``: accept a replaced source file;
- :mod:`.stage` — ``python -m hetpref.lm.data.stage SPEC``: stage a hub model's files once.

Imports nothing from :mod:`hetpref.lm.training` or :mod:`hetpref.lm.evaluation`.
"""
