"""Real snakemake runs of the workflow on the smoke config (tests/workflow/config.yaml)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SMOKE = ROOT / "tests" / "workflow" / "config.yaml"
pytestmark = pytest.mark.workflow


def snakemake(*args, workdir=None, config=SMOKE, timeout=900):
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(config)]
    if workdir is not None:
        cmd += ["--directory", str(workdir)]
    return subprocess.run(cmd + list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("smoke")
    res = snakemake("--cores", "2", workdir=work)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return work


def test_lint_is_clean():
    res = subprocess.run([SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr, res.stdout + res.stderr


@pytest.mark.parametrize("config, min_train_jobs", [(ROOT / "config.yaml", 20), (ROOT / "configs" / "paper.yaml", 100)])
def test_dry_run_plans_the_full_dag(tmp_path, config, min_train_jobs):
    res = snakemake("-n", "--quiet", "rules", workdir=tmp_path, config=config)
    assert res.returncode == 0, res.stderr[-3000:]
    counts = {line.split()[0]: int(line.split()[1]) for line in res.stdout.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts["synthetic_train"] >= min_train_jobs
    for rule in ("synthetic_oracles", "fig3", "fig4a", "fig4b", "fig4c", "fig_sweep", "synthetic_table"):
        assert counts.get(rule) == 1, (rule, counts)


def test_smoke_outputs(smoke_run):
    cfg = yaml.safe_load(SMOKE.read_text())["synthetic"]
    table = pd.read_csv(smoke_run / "results/synthetic/table.csv")
    expected = {"dpo", "ipo", "consistent", "nbc_counts", "cdpo_alpha0", "cdpo_alpha1"}
    assert set(table["method"]) == expected
    assert len(table) == len(expected) * len(cfg["seeds"])
    trained = table[table.method != "nbc_counts"]
    assert trained["tv_to_optimal"].between(0, 1).all()
    assert (table.loc[table.method == "consistent", "fraction_used"] < 1).all()
    run = smoke_run / "results/synthetic/n4000/consistent/seed1"
    policy = np.load(run / "policy.npy")
    np.testing.assert_allclose(policy.sum(-1), 1.0)
    prov = json.loads((run / "provenance.json").read_text())
    assert prov["seed"] == 1 and len(prov["config_hash"]) == 64 and prov["git_sha"]
    assert prov["versions"]["torch"] and prov["threads"] == 1
    assert [step for step, _ in prov["loss_trajectory"]] == [50, 100, 150]
    sweep = pd.read_csv(smoke_run / "results/synthetic/sweep.csv")
    assert set(sweep["n_preferences"]) == {1000, 4000}
    oracles = json.loads((smoke_run / "results/synthetic/oracles.json").read_text())
    assert oracles["consistent_limit"]["tv_to_optimal"] < 1e-6
    for name in ("fig3", "fig4a", "fig4b", "fig4c", "fig_sweep"):
        assert (smoke_run / f"results/figures/{name}.pdf").read_bytes()[:4] == b"%PDF"
        assert (smoke_run / f"results/figures/{name}.png").read_bytes()[:4] == b"\x89PNG"
    log = (smoke_run / "logs/synthetic/n4000/dpo/seed0.log").read_text()
    assert "done in" in log


def test_rerun_has_nothing_to_do(smoke_run):
    res = snakemake("-n", workdir=smoke_run)
    assert res.returncode == 0
    assert "Nothing to be done" in res.stdout + res.stderr


def test_one_figure_builds_only_what_it_needs(tmp_path):
    res = snakemake("--cores", "2", "fig3", workdir=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "results/figures/fig3.pdf").exists()
    made = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    assert made == {"results/figures/fig3.pdf", "results/figures/fig3.png",
                    "results/synthetic/oracles.npz", "results/synthetic/oracles.json"}


def _bad_config(tmp_path, edit):
    cfg = yaml.safe_load(SMOKE.read_text())
    edit(cfg["synthetic"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    # --configfile merges onto config.yaml; replace it instead so removed keys stay removed
    return snakemake("-n", workdir=tmp_path, config=path)


@pytest.mark.parametrize("edit, needle", [
    (lambda c: c.update(n_preferencs=10), "n_preferencs"),
    (lambda c: c["train"].update(lr=-0.1), "synthetic.train.lr = -0.1"),
    (lambda c: c["train"].update(policy="cnn"), "synthetic.train.policy = 'cnn'"),
    (lambda c: c.update(seeds=[-1]), "synthetic.seeds.0 = -1"),
    (lambda c: c["corrected_dpo"].update(warmup_steps=10_000), "synthetic.corrected_dpo.warmup_steps"),
    (lambda c: c["environment"].update(slopes=[0.1]), "synthetic.environment"),
])
def test_bad_config_fails_at_dag_build_naming_the_key(tmp_path, edit, needle):
    res = _bad_config(tmp_path, edit)
    assert res.returncode != 0
    assert needle in res.stdout + res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "results").exists()
