"""The HH-RLHF record format: what a file of the release holds, and how one record becomes a pair.

A file is gzipped JSONL ``<dir>/<subset>/<split>.jsonl.gz``, one ``{"chosen": …, "rejected": …}``
object per line, each value a whole transcript (``"\\n\\nHuman: …\\n\\nAssistant: …"``).
:func:`split_pair` cuts a record into its shared prompt and its two final responses;
:func:`read_file` reads a file to the end, dropping and counting (by reason, the first few
located as ``file:line``) the records that cannot be a pair, into a :class:`FileReport`;
:class:`PairTable` holds the pairs of one split. Nothing here touches the network or a manifest.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from hetpref.runtime import InputError

SUBSETS = ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled")
SPLITS = ("train", "test")
HH_RLHF_URL = "https://huggingface.co/datasets/Anthropic/hh-rlhf/resolve/main"
# Pairs per split of Anthropic HH-RLHF (the published files; what source download/local reads;
# the resource model of hetpref.lm.resources sizes the jobs by them).
HH_RLHF_PAIRS = {
    "train": {"harmless-base": 42537, "helpful-base": 43835, "helpful-online": 22007,
              "helpful-rejection-sampled": 52421},
    "test": {"harmless-base": 2312, "helpful-base": 2354, "helpful-online": 1137, "helpful-rejection-sampled": 2749},
}
HH_RLHF_PAGE = "https://huggingface.co/datasets/Anthropic/hh-rlhf"

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"

# Reasons a record is dropped while parsing (counted, never silent; the first few located).
INVALID_JSON = "invalid_json"          # the line is not JSON
INVALID_UTF8 = "invalid_utf8"          # the line is not UTF-8 text
NOT_A_PAIR = "not_a_pair_record"       # not an object with string fields "chosen" and "rejected"
NO_ASSISTANT = "no_assistant_turn"     # the chosen transcript has no "\n\nAssistant:" turn
PROMPT_MISMATCH = "prompt_mismatch"    # the two transcripts do not share the prompt

# Per file, the share of records that may be dropped at parsing before the file is refused.
# The real harmless-base test split loses 5 of 2,312 records (0.22 %, prompt mismatches): 5 % is
# over 20 times that, so a real release file never trips it, while a file that is damaged or
# of another format (most lines unusable) stops the job instead of silently shrinking the data
# (and shifting the label shares). Config: lm.max_malformed_share.
MAX_MALFORMED_SHARE = 0.05
N_LOCATED = 5  # dropped records located as file:line per file (log and summary.json)


class HHRLHFFileError(InputError):
    """A file cannot be read to the end, or too many of its records cannot be used; the message
    names each such file (its checksum is not recorded)."""


def relative_path(subset: str, split: str) -> str:
    """The layout every source shares: ``<subset>/<split>.jsonl.gz``."""
    return f"{subset}/{split}.jsonl.gz"


def split_pair(chosen: str, rejected: str) -> tuple[str, str, str] | str:
    """(prompt, chosen response, rejected response), or the reason the pair is dropped.

    The prompt is the chosen transcript up to and including its last ``"\\n\\nAssistant:"``; the
    rejected transcript must start with the same prompt and have no later assistant turn (so the
    two differ only in the final response). Responses keep their leading space, so
    ``prompt + response`` is the original transcript exactly (and token counts are those of it).
    """
    cut = chosen.rfind(ASSISTANT)
    if cut < 0:
        return NO_ASSISTANT
    end = cut + len(ASSISTANT)
    if rejected.rfind(ASSISTANT) != cut or rejected[:end] != chosen[:end]:
        return PROMPT_MISMATCH
    return chosen[:end], chosen[end:], rejected[end:]


@dataclass
class PairTable:
    """Parsed pairs of one split in canonical order (sorted by ``ids``), in HH-RLHF's own
    orientation: ``chosen`` / ``rejected`` are the responses the original annotators preferred /
    did not. ``n_chosen`` / ``n_rejected`` (token counts of prompt + response) are filled by
    :mod:`hetpref.lm.data.tokenization`. ``stages`` records every filtering step with its counts."""

    split: str
    ids: np.ndarray
    prompt: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    n_chosen: np.ndarray | None = None
    n_rejected: np.ndarray | None = None
    stages: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index) -> "PairTable":
        """Rows ``index`` (an integer array or boolean mask), stages kept."""
        def pick(a):
            return None if a is None else a[index]
        return PairTable(self.split, self.ids[index], self.prompt[index], self.chosen[index],
                         self.rejected[index], pick(self.n_chosen), pick(self.n_rejected), list(self.stages))

    def filter(self, keep: np.ndarray, stage: str, reason: str) -> "PairTable":
        """Keep the rows where ``keep``; the others are recorded as dropped for ``reason``."""
        keep = np.asarray(keep, bool)
        out = self.take(keep)
        dropped = int((~keep).sum())
        out.stages.append({"stage": stage, "n_in": len(self), "n_out": len(out),
                           "dropped": {reason: dropped} if dropped else {}})
        return out

    def dropped(self) -> dict[str, int]:
        """Every drop reason so far with its count."""
        total = Counter()
        for s in self.stages:
            total.update(s["dropped"])
        return dict(sorted(total.items()))

    def texts(self, which: str) -> np.ndarray:
        """``prompt + response`` for ``which`` in {'chosen', 'rejected'}: the original transcript."""
        return self.prompt + getattr(self, which)

    def canonical(self) -> "PairTable":
        """The same rows sorted by id: what every output is written in."""
        return self.take(np.argsort(self.ids, kind="stable"))


class _HashingReader(io.RawIOBase):
    """A binary file whose bytes are hashed as they are read: the checksum recorded for a file
    is that of exactly the bytes that were parsed."""

    def __init__(self, raw):
        self.raw, self.sha, self.bytes = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = self.raw.readinto(buf)
        if n:
            self.sha.update(memoryview(buf)[:n])
            self.bytes += n
        return n


@dataclass
class FileReport:
    """What reading one HH-RLHF file gave: records (non-blank lines), pairs kept, drops per
    reason and the first :data:`N_LOCATED` drops located by 1-based line number."""

    path: str
    subset: str
    split: str
    records: int = 0
    pairs: int = 0
    dropped: Counter = field(default_factory=Counter)
    located: list = field(default_factory=list)
    sha256: str | None = None
    bytes: int | None = None

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def dropped_share(self) -> float:
        return self.n_dropped / self.records if self.records else 0.0

    def name(self) -> str:
        return relative_path(self.subset, self.split)

    def drop(self, line: int, reason: str, detail: str = "") -> None:
        self.dropped[reason] += 1
        if len(self.located) < N_LOCATED:
            self.located.append({"at": f"{self.path}:{line}", "reason": reason,
                                 **({"detail": detail} if detail else {})})

    def describe(self) -> str:
        """One line for the log: counts, drops per reason, where the first drops are."""
        text = f"{self.path}: {self.records} records → {self.pairs} pairs"
        if self.n_dropped:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.dropped.items()))
            where = "; ".join(f"{d['at']} ({d['reason']}{': ' + d['detail'] if 'detail' in d else ''})"
                              for d in self.located)
            text += f"; dropped {self.n_dropped} ({100 * self.dropped_share:.2f} %: {reasons}); first at {where}"
        return text

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "records": self.records,
                "pairs": self.pairs, "dropped": dict(sorted(self.dropped.items())),
                "dropped_share": round(self.dropped_share, 6), "first_dropped": list(self.located)}


def _record_problem(line: bytes) -> tuple[str, str, dict | None]:
    """(reason, detail, record): reason empty when the line holds a pair record."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return INVALID_UTF8, str(e)[:120], None
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as e:
        return INVALID_JSON, f"{e.msg} (column {e.colno})", None
    if not isinstance(rec, dict):
        return NOT_A_PAIR, f"a JSON {type(rec).__name__}, not an object", None
    bad = [k for k in ("chosen", "rejected") if not isinstance(rec.get(k), str)]
    if bad:
        return NOT_A_PAIR, " and ".join(f"{k!r} {'missing' if k not in rec else 'not a string'}" for k in bad), None
    return "", "", rec


def read_file(path, subset: str, split: str) -> tuple[list[tuple[str, str, str, str]], FileReport]:
    """Read one (gzipped) JSONL file of HH-RLHF to the end: ``[(id, prompt, chosen, rejected)]``
    for the usable records and its :class:`FileReport` (with the sha256 of the bytes read).
    Records that cannot be a pair are dropped and counted by reason; a file that cannot be read
    to the end (not gzip, truncated, corrupt) raises :class:`HHRLHFFileError` naming it."""
    path = Path(path)
    report = FileReport(str(path), subset, split)
    rows, n = [], 0
    with open(path, "rb") as raw:  # a missing file is a FileNotFoundError, not a read failure
        hashing = _HashingReader(raw)
        buffered = io.BufferedReader(hashing, 1 << 20)
        stream = gzip.GzipFile(fileobj=buffered, mode="rb") if path.name.endswith(".gz") else buffered
        try:
            for n, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                report.records += 1
                reason, detail, rec = _record_problem(line)
                if not reason:
                    parts = split_pair(rec["chosen"], rec["rejected"])
                    if isinstance(parts, str):
                        reason = parts
                if reason:
                    report.drop(n, reason, detail)
                    continue
                rows.append((pair_id(subset, split, n - 1), *parts))
            while buffered.read(1 << 20):  # whatever follows the data is part of the checksum too
                pass
        except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            last = f"after line {n}" if n else "before the first line"
            hint = ("it is not a gzip file" if isinstance(e, gzip.BadGzipFile) and "Not a gzipped file" in str(e)
                    else "it is truncated or corrupt (an interrupted download or copy?)")
            raise HHRLHFFileError(f"{path}: cannot be read to the end ({type(e).__name__}: {e}; {last}): {hint}. "
                                  "Its checksum is not recorded; put a good copy in its place (with lm.source: "
                                  "download, delete it to fetch it again) and rerun.") from e
    report.pairs = len(rows)
    report.sha256, report.bytes = hashing.sha.hexdigest(), hashing.bytes
    return rows, report


def check_malformed_share(report: FileReport, max_share: float | None,
                          key: str = "lm.max_malformed_share") -> str | None:
    """Why ``report``'s file is refused (more than ``max_share`` of its records unusable), or None."""
    if max_share is None or report.dropped_share <= max_share:
        return None
    return (f"{report.describe()}. That is more than {key} = {max_share:g} of its records: is it an HH-RLHF "
            'file (one JSON object with the transcripts "chosen" and "rejected" per line)? Fix or replace '
            f"it, or raise {key} to use the records that can be read")


def pair_id(subset: str, split: str, line: int) -> str:
    """Stable example id: source file and 0-based line index (line number − 1), zero-padded so
    that string order is file order."""
    return f"{subset}/{split}/{line:06d}"


def pair_table(split: str, rows: list) -> PairTable:
    def obj(x):
        a = np.empty(len(x), dtype=object)
        a[:] = x
        return a

    ids = [r[0] for r in rows]
    return PairTable(split, np.array(ids, dtype=str) if ids else np.array([], dtype="U1"),
                     obj([r[1] for r in rows]), obj([r[2] for r in rows]), obj([r[3] for r in rows]))


def data_report(reports: Mapping[tuple[str, str], FileReport], tables: Mapping[str, PairTable]) -> dict:
    """Per file (records, pairs, drops per reason, the first drops as ``file:line``, checksum) and
    per split (stages with their counts): the data part of ``summary.json`` and the job's report."""
    return {"files": {f"{s}/{sp}": r.to_dict() for (s, sp), r in sorted(reports.items())},
            "splits": {s: {"pairs": len(tb), "stages": tb.stages, "dropped": tb.dropped()}
                       for s, tb in sorted(tables.items())}}


def no_pairs_message(split: str, table: PairTable, reports: Mapping[tuple[str, str], FileReport], see,
                     max_length: int | None = None) -> str:
    """The one line a run gets when no pair of ``split`` is left: which files, what dropped
    everything, where the per-file counts are."""
    from ..tokenization import TOO_LONG

    files = [r.path for (_, sp), r in sorted(reports.items()) if sp == split]
    read = sum(r.records for (_, sp), r in reports.items() if sp == split)
    why = Counter()
    for st in table.stages:
        why.update(st["dropped"])
    parts = [f"{n} {f'longer than lm.max_length = {max_length} tokens' if r == TOO_LONG and max_length else r}"
             for r, n in sorted(why.items())]
    use = "training" if split == "train" else "test (evaluation)"
    return (f"no {use} pair is left from {', '.join(files) or 'no file'} ({read} records"
            + (f"; dropped: {', '.join(parts)}" if parts else "") + f"); per-file counts in {see}")
