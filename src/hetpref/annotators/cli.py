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
from importlib import resources
from pathlib import Path

import yaml

from hetpref.runtime import InputError

log = logging.getLogger("hetpref.inspect")
EXIT_INPUT = 2


def fixture_path(dataset: str) -> Path:
    """The shipped fixture of adapter ``dataset``: the one data file (or ``datasets`` folder) in
    ``hetpref/annotators/fixtures/<dataset>/``."""
    root = Path(str(resources.files("hetpref.annotators") / "fixtures"))
    folder = root / dataset
    if not folder.is_dir():
        known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise InputError(f"--example {dataset!r}: no shipped fixture of that name; expected one of {known}")
    entries = sorted(p for p in folder.iterdir() if p.name not in ("README.md",) and not p.name.startswith("."))
    data = [p for p in entries if p.is_dir() or p.suffix in (".jsonl", ".json", ".csv", ".parquet")]
    if len(data) != 1:
        raise InputError(f"fixture folder {folder.name!r} holds {len(data)} data entries; expected exactly one")
    return data[0]


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
    from hetpref.annotators.adapters import ADAPTERS, read
    from hetpref.annotators.diagnostics import inspect_table
    from hetpref.annotators.report import write_report

    name = args.format or args.example
    if not name:
        raise InputError("--format is required with --input; expected one of " + ", ".join(sorted(ADAPTERS)))
    if name not in ADAPTERS:
        raise InputError(f"--format {name!r}: unknown adapter; expected one of {sorted(ADAPTERS)}")
    source = fixture_path(args.example) if args.example else args.input
    table = read(name, source, **_options(args.option))
    attribute = args.type_attribute
    if attribute is None:
        if len(table.attributes) != 1:
            raise InputError(f"{table.source}: --type-attribute is required; the table's annotator attributes are "
                             f"{list(table.attributes)}")
        attribute = table.attributes[0]
    result = inspect_table(table, attribute, seed=args.seed)
    paths = write_report(result, args.out)
    log.info("wrote %s, %s and %d figure file(s)", paths["report"], paths["json"], len(paths["figures"]))
    return paths


def main(argv=None) -> int:
    """Entry point of the ``hetpref`` console script; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parser().parse_args(argv)
    try:
        if args.command == "inspect":
            run_inspect(args)
    except (InputError, OSError) as exc:
        print(f"hetpref {args.command}: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
