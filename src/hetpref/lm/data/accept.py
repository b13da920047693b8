"""Accept a replaced HH-RLHF file: ``python -m hetpref.lm.data.accept FILE [FILE ...]``.

Use it when a run stops because a file's sha256 differs from the one recorded in its folder's
``manifest.json`` (or from the published file's known checksum) and you replaced the file on
purpose, e.g. by a good copy after a broken download, or by another version of the data. Each
file is read to the end and parsed with the workflow's checks (the share of unusable records
at most ``--max-malformed-share``); only then is its checksum recorded in place of the old one.
A file that fails is named and nothing is recorded. Never edit ``manifest.json`` by hand.
"""
from __future__ import annotations

import argparse
import sys

from .hh_rlhf import MAX_MALFORMED_SHARE, ChecksumError, HHRLHFFileError, accept_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hetpref.lm.data.accept", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="<dir>/<subset>/<split>.jsonl.gz (or <dir>/<subset>_<split>.jsonl.gz)")
    parser.add_argument("--max-malformed-share", type=float, default=MAX_MALFORMED_SHARE,
                        help="refuse a file with more unusable records than this share "
                             f"(default {MAX_MALFORMED_SHARE}, as lm.max_malformed_share)")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.files:
        try:
            report = accept_file(path, args.max_malformed_share, log=print)
        except (HHRLHFFileError, ChecksumError, OSError) as e:
            print(f"not accepted: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"accepted {report.describe()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
