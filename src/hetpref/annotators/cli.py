"""The ``hetpref`` command. ``hetpref inspect`` reads annotator data with one adapter and writes the
diagnostics report (``report.md``, ``inspect.json``, figures) into a folder::

    hetpref inspect --format multipref --input data.jsonl --type-attribute worker_type --out report/
    hetpref inspect --example multipref --out report/

A mistake in the input (a bad file, field, value or option) prints one message and exits with
status 2, without a traceback."""
from __future__ import annotations

import argparse
import logging
import sys

import yaml

from hetpref.runtime import InputError

log = logging.getLogger("hetpref.inspect")
EXIT_INPUT = 2


#: The type attribute ``--example`` uses when none is given (HelpSteer3 has no annotator attributes).
EXAMPLE_TYPE_ATTRIBUTE = {"multipref": "worker_type", "community_alignment": "annotator_political",
                          "collective_alignment": "age_group", "prism": "age", "helpsteer3": None,
                          "generic": "rater_group"}


def _options(pairs) -> dict:
    out = {}
    for item in pairs or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--option {item!r}: expected KEY=VALUE (for example margin=5)")
        out[key] = yaml.safe_load(value)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hetpref", description="Diagnostics of multi-annotator preference data.")
    sub = p.add_subparsers(dest="command", required=True)
    ins = sub.add_parser("inspect", help="feasibility, agreement and NBC vs average reward of annotator data")
    src = ins.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="a local file (JSONL, CSV, Parquet), a datasets folder, or a hub id")
    src.add_argument("--example", metavar="DATASET", help="run on the shipped fixture of this adapter")
    ins.add_argument("--format", help="adapter name (default with --example: the example's name)")
    ins.add_argument("--type-attribute", help="annotator attribute that defines the types "
                                              "(default: the table's only attribute)")
    ins.add_argument("--out", required=True, help="output folder")
    ins.add_argument("--option", action="append", metavar="KEY=VALUE", help="adapter option (repeatable)")
    ins.add_argument("--seed", type=int, default=0, help="seed of the views' sampling")
    return p


def run_inspect(args) -> dict:
    from hetpref.annotators.adapters import ADAPTERS, FIXTURE_FILES, fixture, read, read_fixture
    from hetpref.annotators.diagnostics import inspect_table
    from hetpref.annotators.report import write_report

    name = args.format or args.example
    if not name:
        raise InputError("--format is required with --input; expected one of " + ", ".join(sorted(ADAPTERS)))
    if name not in ADAPTERS:
        raise InputError(f"--format {name!r}: unknown adapter; expected one of {sorted(ADAPTERS)}")
    options = _options(args.option)
    if args.example:
        if args.example not in FIXTURE_FILES:
            raise InputError(f"--example {args.example!r}: no shipped fixture; expected one of {sorted(FIXTURE_FILES)}")
        table = (read_fixture(args.example, **options) if name == args.example
                 else read(name, fixture(args.example), **options))
    else:
        table = read(name, args.input, **options)  # an option it cannot take: an InputError naming it
    attribute = args.type_attribute
    if attribute is None:
        if args.example:
            attribute = EXAMPLE_TYPE_ATTRIBUTE.get(args.example)
        elif len(table.attributes) == 1:
            attribute = table.attributes[0]
        elif table.attributes:
            raise InputError(f"{table.source}: --type-attribute is required; the table's annotator attributes are "
                             f"{list(table.attributes)}")
    result = inspect_table(table, attribute, seed=args.seed)
    paths = write_report(result, args.out)
    log.info("wrote %s, %s and %d figure file(s)", paths["report"], paths["json"], len(paths["figures"]))
    return paths


def main(argv=None) -> int:
    """Entry point of the ``hetpref`` console script; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its INFO lines are about plotting, not the data
    args = parser().parse_args(argv)
    try:
        if args.command == "inspect":
            run_inspect(args)
    except (InputError, OSError) as exc:  # a bad input, option or file: one message, no traceback
        print(f"hetpref {args.command}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
