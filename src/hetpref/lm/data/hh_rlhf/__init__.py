"""Anthropic HH-RLHF for the semi-synthetic LM experiment (docs/spec.md §8): where the files come
from (download, a local folder, or a generated demo) and how a pair is split into its shared
prompt and its two responses. One job per module:

- :mod:`.format`: the record format, :func:`split_pair`, :func:`read_file` and its
  :class:`FileReport` (drops per reason, located as ``file:line``), :class:`PairTable`;
- :mod:`.manifest`: the checksums in ``<dir>/manifest.json``, trust on first use, and
  :func:`accept_file` (``python -m hetpref.lm.data.accept FILE``) for a replaced copy;
- :mod:`.sources`: :func:`download_hh_rlhf` (retries), :func:`local_files`, :func:`get_source`,
  and :func:`read_source`, which reads every file to the end before recording new checksums;
- :mod:`.demo`: :func:`write_demo`, the offline stand-in in exactly the release's format.

Every source ends as gzipped JSONL ``<dir>/<subset>/<split>.jsonl.gz``, so one reader serves all.
The names below are re-exported so that ``from hetpref.lm.data.hh_rlhf import X`` keeps working.
"""
from .demo import generate_demo_pairs, write_demo
from .format import (
    ASSISTANT,
    HH_RLHF_PAGE,
    HH_RLHF_PAIRS,
    HH_RLHF_URL,
    HUMAN,
    INVALID_JSON,
    INVALID_UTF8,
    MAX_MALFORMED_SHARE,
    N_LOCATED,
    NO_ASSISTANT,
    NOT_A_PAIR,
    PROMPT_MISMATCH,
    SPLITS,
    SUBSETS,
    FileReport,
    HHRLHFFileError,
    PairTable,
    check_malformed_share,
    data_report,
    no_pairs_message,
    pair_id,
    pair_table,
    read_file,
    relative_path,
    split_pair,
)
from .manifest import ACCEPT_COMMAND, KNOWN_SHA256, MANIFEST, ChecksumError, accept_file, record_checksums, verify_files
from .sources import (
    SOURCES,
    DownloadError,
    HHRLHFFilesMissing,
    download_hh_rlhf,
    get_source,
    local_files,
    manual_layout_hint,
    read_pairs,
    read_source,
)

__all__ = [
    "ACCEPT_COMMAND", "ASSISTANT", "HH_RLHF_PAGE", "HH_RLHF_PAIRS", "HH_RLHF_URL", "HUMAN", "INVALID_JSON",
    "INVALID_UTF8",
    "KNOWN_SHA256", "MANIFEST", "MAX_MALFORMED_SHARE", "N_LOCATED", "NO_ASSISTANT", "NOT_A_PAIR", "PROMPT_MISMATCH",
    "SOURCES", "SPLITS", "SUBSETS", "ChecksumError", "DownloadError", "FileReport", "HHRLHFFileError",
    "HHRLHFFilesMissing", "PairTable", "accept_file", "check_malformed_share", "data_report", "download_hh_rlhf",
    "generate_demo_pairs", "get_source", "local_files", "manual_layout_hint", "no_pairs_message", "pair_id",
    "pair_table", "read_file", "read_pairs", "read_source", "record_checksums", "relative_path", "split_pair",
    "verify_files", "write_demo",
]
