"""The HH-RLHF package, one test group per module (format, manifest, sources, demo), on
hand-written records in tmp_path: nothing here needs the network or the shared data."""
from __future__ import annotations

import gzip
import json

import pytest

import hetpref.lm.data.hh_rlhf as hh
from hetpref.lm.data.hh_rlhf import demo, format, manifest, sources

H, A = "\n\nHuman:", "\n\nAssistant:"
PROMPT = f"{H} Is the sky blue?{A} Mostly.{H} Why?{A}"


def write_gz(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def record(chosen=" Rayleigh scattering.", rejected=" No idea.", prompt=PROMPT):
    return json.dumps({"chosen": prompt + chosen, "rejected": prompt + rejected})


# ---------------------------------------------------------------- format


def test_split_pair_cuts_at_the_last_assistant_turn_and_keeps_the_transcripts():
    prompt, chosen, rejected = format.split_pair(PROMPT + " Rayleigh scattering.", PROMPT + " No idea.")
    assert prompt == PROMPT and chosen == " Rayleigh scattering." and rejected == " No idea."
    assert prompt + chosen == PROMPT + " Rayleigh scattering."
    assert format.split_pair(f"{H} hi", f"{H} hi") == format.NO_ASSISTANT
    # the rejected transcript has one more assistant turn: not the same prompt
    assert format.split_pair(PROMPT + " a", PROMPT + f" b{H} more?{A} c") == format.PROMPT_MISMATCH


def test_read_file_counts_and_locates_each_drop_by_line(tmp_path):
    path = write_gz(tmp_path / "s" / "train.jsonl.gz",
                    [record(), "{not json", "", json.dumps({"chosen": "x"}), record(prompt=f"{H} q?{A}")])
    rows, rep = format.read_file(path, "s", "train")
    assert [r[0] for r in rows] == ["s/train/000000", "s/train/000004"]  # ids: 0-based line index
    assert rep.records == 4 and rep.pairs == 2  # the blank line is no record
    assert dict(rep.dropped) == {format.INVALID_JSON: 1, format.NOT_A_PAIR: 1}
    assert [d["at"] for d in rep.located] == [f"{path}:2", f"{path}:4"]
    assert rep.sha256 == hh.manifest.sha256_file(path) and rep.bytes == path.stat().st_size
    assert format.check_malformed_share(rep, 0.5) is None and "0.4" in format.check_malformed_share(rep, 0.4)


def test_read_file_names_a_file_that_is_not_gzip(tmp_path):
    path = tmp_path / "s" / "train.jsonl.gz"
    path.parent.mkdir()
    path.write_text(record() + "\n")
    with pytest.raises(format.HHRLHFFileError, match="not a gzip file"):
        format.read_file(path, "s", "train")


# ---------------------------------------------------------------- manifest


def test_checksums_round_trip_and_a_changed_file_is_refused(tmp_path):
    path = write_gz(tmp_path / "s" / "train.jsonl.gz", [record()])
    _, rep = format.read_file(path, "s", "train")
    assert manifest.record_checksums(tmp_path, [rep]) == ["s/train.jsonl.gz"]
    assert manifest.record_checksums(tmp_path, [rep]) == []  # recorded once, never overwritten
    entry = json.loads((tmp_path / manifest.MANIFEST).read_text())["files"]["s/train.jsonl.gz"]
    assert entry == {"sha256": rep.sha256, "bytes": rep.bytes, "records": 1}
    assert manifest.verify_files(tmp_path, {("s", "train"): path}) == {("s", "train"): rep.sha256}
    write_gz(path, [record(), record(chosen=" Because.")])
    with pytest.raises(manifest.ChecksumError, match="changed since"):
        manifest.verify_files(tmp_path, {("s", "train"): path})
    new = manifest.accept_file(path)  # accepting the new copy records it in place of the old one
    assert manifest.verify_files(tmp_path, {("s", "train"): path}) == {("s", "train"): new.sha256}
    entry = json.loads((tmp_path / manifest.MANIFEST).read_text())["files"]["s/train.jsonl.gz"]
    assert entry["accepted"] and entry["previous_sha256"] == rep.sha256


# ---------------------------------------------------------------- sources


def test_local_files_finds_both_layouts_and_read_source_records_on_first_use(tmp_path):
    write_gz(tmp_path / "a" / "train.jsonl.gz", [record(), record(chosen=" Light.")])
    write_gz(tmp_path / "b_train.jsonl.gz", [record(chosen=" Air.")])
    files = sources.local_files(tmp_path, ["a", "b"], ["train"])
    assert files == {("a", "train"): tmp_path / "a" / "train.jsonl.gz", ("b", "train"): tmp_path / "b_train.jsonl.gz"}
    assert not (tmp_path / manifest.MANIFEST).exists()  # finding records nothing
    tables, reports = sources.read_source(files, manifest_dir=tmp_path)
    assert list(tables["train"].ids) == ["a/train/000000", "a/train/000001", "b/train/000000"]
    assert tables["train"].stages == [{"stage": "parse", "n_in": 3, "n_out": 3, "dropped": {}}]
    recorded = json.loads((tmp_path / manifest.MANIFEST).read_text())["files"]
    assert {k: v["sha256"] for k, v in recorded.items()} == {
        f"{s}/train.jsonl.gz": reports[(s, "train")].sha256 for s in ("a", "b")}
    with pytest.raises(sources.HHRLHFFilesMissing, match="c/train.jsonl.gz"):
        sources.local_files(tmp_path, ["a", "c"], ["train"])


# ---------------------------------------------------------------- demo


def test_demo_is_deterministic_parses_and_is_rewritten_only_on_change(tmp_path):
    records = demo.generate_demo_pairs(30, seed=1, subset="x", split="train")
    assert records == demo.generate_demo_pairs(30, seed=1, subset="x", split="train")
    assert records != demo.generate_demo_pairs(30, seed=2, subset="x", split="train")
    assert all(isinstance(format.split_pair(r["chosen"], r["rejected"]), tuple) for r in records)
    files = demo.write_demo(tmp_path, seed=1, subsets=["x"], splits=["train"], n_pairs=30)
    mtime = files[("x", "train")].stat().st_mtime_ns
    assert demo.write_demo(tmp_path, seed=1, subsets=["x"], splits=["train"], n_pairs=30) == files
    assert files[("x", "train")].stat().st_mtime_ns == mtime
    m = json.loads((tmp_path / manifest.MANIFEST).read_text())
    assert m["source"] == "demo" and m["files"]["x/train.jsonl.gz"]["n_pairs"] == 30
    rows, _ = format.read_file(files[("x", "train")], "x", "train")
    assert [r[1] + r[2] for r in rows] == [r["chosen"] for r in records]


def test_package_re_exports_the_module_names():
    for name in hh.__all__:
        assert getattr(hh, name) is not None
    assert hh.read_source is sources.read_source and hh.write_demo is demo.write_demo
    assert hh.accept_file is manifest.accept_file and hh.PairTable is format.PairTable
    assert not hasattr(hh, "PARSE_REASONS")
