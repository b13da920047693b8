"""The prepared GPU command for Figure 5 (bench/gpu_fig5.py), on the CPU: its smoke
runs the same ``snakemake fig5`` command with configs/gpu_fig5.yaml and a tiny model; the GGUF's
two-call transport (split, join, sha256) is checked on a small file. The GPU path itself is
exercised only on a GPU."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import hh_rlhf_path

ROOT = Path(__file__).resolve().parents[2]
REAL = hh_rlhf_path()
pytestmark = pytest.mark.workflow


def load_runner():
    spec = importlib.util.spec_from_file_location("gpu_fig5", ROOT / "bench" / "gpu_fig5.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gguf_parts_join_to_the_recorded_checksum(tmp_path):
    g = load_runner()
    src = tmp_path / "model.gguf"
    src.write_bytes(bytes(range(256)) * 1000)
    digest = g.split_file(src, tmp_path / "a" / "p0", tmp_path / "b" / "p1", 100_000)
    assert (tmp_path / "a" / "p0").stat().st_size == 100_000
    g.join_parts([tmp_path / "a" / "p0", tmp_path / "b" / "p1"], tmp_path / "joined", digest)
    assert (tmp_path / "joined").read_bytes() == src.read_bytes()
    with pytest.raises(SystemExit, match="sha256"):  # the parts in the wrong order
        g.join_parts([tmp_path / "b" / "p1", tmp_path / "a" / "p0"], tmp_path / "bad", digest)
    assert not (tmp_path / "bad").exists()


def test_gpu_config_is_the_issue_grid():
    lm = yaml.safe_load((ROOT / "configs" / "gpu_fig5.yaml").read_text())["lm"]
    assert lm["seeds"] == [0, 1, 2, 3, 4] and set(lm["objectives"]) == {"reward", "dpo"}
    assert set(lm["datasets"]) == {"anonymous", "unanimous"} and lm["gpu"] and lm["model"] == "smollm2-135m"
    assert set(lm["dpo_variants"]) == {"reference_scoring", "base_reference", "length_normalised"}


def test_cpu_smoke_of_the_gpu_command(tmp_path):
    if REAL.exists():
        data = REAL.parent
    else:  # the same local + split path on generated text in the shared file's layout
        from hetpref.lm.data.hh_rlhf import write_demo
        data = tmp_path / "data"
        write_demo(data, 0, ["harmless-base"], ["test"], 80)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_fig5.py"), "run", "--smoke", "--out", str(out),
                          "--data-dir", str(data), "--workdir", str(tmp_path / "work"), "--cores", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    info = json.loads((out / "gpu_fig5.json").read_text())
    assert info["returncode"] == 0 and info["smoke"] and "--resources" in info["command"]
    table = pd.read_csv(out / "seed_table.csv")
    table = table[table.metric == "agreement"]  # the seed table also holds the length diagnostics, a row each
    # one row per objective × labelling, the smoke's one seed filled in
    assert {(o, d) for o, d in zip(table.objective, table.dataset)} == {
        (o, d) for o in ("reward", "dpo") for d in ("anonymous", "unanimous")} and len(table) == 4
    assert table["seed 0"].between(0, 100).all() and (table.n_seeds == 1).all()
    assert (out / "fig5.png").stat().st_size > 0 and (out / "fig5.pdf").stat().st_size > 0
    assert len(info["job_seconds"]) >= 4  # one benchmark per training job at least
    work_lm = tmp_path / "work" / "results" / "lm" / "local_tiny"  # the smoke's model is tiny
    summary = json.loads((work_lm / "data" / "summary.json").read_text())
    assert summary["local_split"]["enabled"] and summary["source"] == "local"
