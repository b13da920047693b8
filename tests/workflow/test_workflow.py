"""Real snakemake runs of the workflow on the smoke config (tests/workflow/config.yaml)."""
import json
import re
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


# (config, training runs at least, batched training jobs exactly, the two sweeps planned): one job
# per (n, seed) fits every method of that dataset, one per heterogeneity point every seed of it;
# the default config leaves both beyond-the-paper sweeps out (configs/sweep.yaml and
# configs/heterogeneity.yaml add them)
@pytest.mark.parametrize("config, min_runs, jobs, sweeps", [(ROOT / "config.yaml", 11, 1, False),
                                                            (ROOT / "configs" / "paper.yaml", 100, 5 + 20 + 12, True)])
def test_dry_run_plans_the_full_dag(tmp_path, config, min_runs, jobs, sweeps):
    res = snakemake("-n", workdir=tmp_path, config=config)
    assert res.returncode == 0, res.stderr[-3000:]
    stats = res.stdout[res.stdout.index("Job stats:"):]
    counts = {line.split()[0]: int(line.split()[1]) for line in stats.splitlines()[:80]
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    runs = set(re.findall(r"results/synthetic/(?:sweep/)?n\d+/[\w.]+/seed\d+/metrics\.json", res.stdout))
    assert len(runs) >= min_runs, len(runs)
    trained = (counts["synthetic_train"] + counts.get("synthetic_sweep_train", 0)
               + counts.get("synthetic_heterogeneity", 0))
    assert trained == jobs, counts
    for rule in ("synthetic_oracles", "fig3", "fig4a", "fig4b", "fig4c", "synthetic_table",
                 "synthetic_empirical_limits"):
        assert counts.get(rule) == 1, (rule, counts)
    for rule in ("fig_sweep", "synthetic_sweep_table", "fig_heterogeneity", "synthetic_heterogeneity_table"):
        assert counts.get(rule) == (1 if sweeps else None), (rule, counts)


@pytest.mark.parametrize("figure, key, overlay, jobs", [
    ("fig_heterogeneity", "synthetic.heterogeneity.enabled", "heterogeneity.yaml", "synthetic_heterogeneity\\s+6\\n"),
    ("fig_sweep", "synthetic.sweep.enabled", "sweep.yaml", "synthetic_sweep_train\\s+5\\n")])
def test_beyond_the_paper_sweeps_are_opt_in_with_a_clear_error(tmp_path, figure, key, overlay, jobs):
    """Off in config.yaml (make reproduce's time budget): the figure as a target names the key and
    the overlay; with the overlay it plans the sweep of the default grid (the sample-size sweep:
    3 sizes × 2 seeds, less the main run it reuses)."""
    res = snakemake("-n", figure, workdir=tmp_path, config=ROOT / "config.yaml")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert key in out and f"configs/{overlay}" in out, out[-2000:]
    res = snakemake("-n", figure, "--configfile", str(ROOT / "configs" / overlay), workdir=tmp_path,
                    config=ROOT / "config.yaml")
    assert res.returncode == 0, res.stderr[-3000:]
    assert re.search(jobs, res.stdout), res.stdout[-2000:]


def test_smoke_outputs(smoke_run):
    cfg = yaml.safe_load(SMOKE.read_text())["synthetic"]
    table = pd.read_csv(smoke_run / "results/synthetic/table.csv")
    expected = {"dpo", "ipo", "consistent", "nbc_counts", "cdpo_alpha0", "cdpo_alpha1", "cdpo_alpha0_oracle",
                "cdpo_alpha1_oracle"}
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
    est = table[table.method == "cdpo_alpha1"]
    assert est["variance_correlation"].between(-1, 1).all() and est["joint_heldout_loss"].gt(0).all()
    assert (table.loc[table.method == "cdpo_alpha1_oracle", "variance_source"] == "oracle").all()
    joint = json.loads((smoke_run / "results/synthetic/n4000/joint_model/seed0/provenance.json").read_text())
    assert joint["n_heldout_pairs"] > 0 and joint["selected_step"] in [s for s, _ in joint["heldout_trajectory"]]
    sweep = pd.read_csv(smoke_run / "results/synthetic/sweep.csv")
    assert set(sweep["n_preferences"]) == {1000, 4000}
    assert set(sweep["method"]) == {"dpo", "cdpo_alpha1", "cdpo_alpha1_oracle", "consistent"}
    het = pd.read_csv(smoke_run / "results/synthetic/heterogeneity.csv")
    assert set(het["point"]) == {"shift0_outer4", "shift3_outer4", "shift3_outer1.5"}
    assert len(het) == 3 * 4 and het.loc[het.method == "consistent", "exact_tv_to_optimal"].max() < 1e-6
    limits = pd.read_csv(smoke_run / "results/synthetic/empirical_limits.csv")
    assert list(limits["method"]) == ["dpo", "cdpo_alpha1_oracle"]
    checks = (smoke_run / "results/synthetic/checks.md").read_text()
    assert "oracle-variance arm" in checks and "heterogeneity sweep" in checks and "FINDING" in checks
    oracles = json.loads((smoke_run / "results/synthetic/oracles.json").read_text())
    assert oracles["consistent_limit"]["tv_to_optimal"] < 1e-6
    for name in ("fig3", "fig4a", "fig4b", "fig4c", "fig_sweep", "fig_heterogeneity"):
        assert (smoke_run / f"results/figures/{name}.pdf").read_bytes()[:4] == b"%PDF"
        assert (smoke_run / f"results/figures/{name}.png").read_bytes()[:4] == b"\x89PNG"
    log = (smoke_run / "logs/synthetic/n4000/seed0.log").read_text()
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
    (lambda c: c["corrected_dpo"].update(joint_holdout=0), "synthetic.corrected_dpo.joint_early_stopping"),
    (lambda c: c["heterogeneity"].update(shifts=[0, 7]), "shifts [7] are outside 0..n/2 = 0..6"),
])
def test_bad_config_fails_at_dag_build_naming_the_key(tmp_path, edit, needle):
    res = _bad_config(tmp_path, edit)
    assert res.returncode != 0
    assert needle in res.stdout + res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------- Pew stage
def test_pew_demo_outputs_and_summary_recomputed_independently(smoke_run):
    pew = smoke_run / "results/pew/demo"
    table = pd.read_csv(pew / "questions.csv")
    summary = pd.read_csv(pew / "summary.csv").set_index("statistic")["value"]
    # independent recomputation from the per-question table
    can = table["can_change"].astype(bool)
    assert int(summary["questions_analysed"]) == len(table) > 20
    assert int(summary["ranking_can_change"]) == can.sum()
    assert float(summary["share_ranking_can_change"]) == pytest.approx(can.mean())
    assert int(summary["top_choice_can_change"]) == table["top_can_change"].astype(bool).sum()
    assert float(summary["median_min_tv"]) == pytest.approx(np.median(table.loc[can, "min_tv"]))
    assert summary["data"] == "demo"
    assert "DEMO DATA" in (pew / "summary.md").read_text()
    # skipped questions carry reason codes, never silently dropped
    skipped = pd.read_csv(pew / "skipped.csv")
    assert {"all_refused", "too_few_options", "too_few_answers", "non_numeric"} <= set(skipped["reason"])
    # the demo EV question: NBC and r̄ disagree on the top choice
    ev = table.set_index("question").loc["EVCAR2_W901"]
    assert ev["nbc_top"] == "Not too likely" and ev["rbar_top"] == "Not at all likely"
    for name in ("fig1_demo", "fig2_demo", "fig8_demo"):
        assert (smoke_run / f"results/figures/{name}.pdf").read_bytes()[:4] == b"%PDF"
    assert (smoke_run / "results/figures/fig6-10_demo/index.md").exists()
    boot = pd.read_csv(pew / "bootstrap.csv")
    assert len(boot) == len(table) and boot["share_can_change"].between(0, 1).all()
    assert set(boot["method"]) == {"respondent"} and int(summary["intervals_respondent_bootstrap"]) == len(table)
    # type partitions: the party partition is the main analysis; the others ran on the same waves
    parts = pd.read_csv(pew / "partitions.csv").set_index("partition")
    assert list(parts.index) == ["party", "party_age", "party_education", "ideology"]
    assert parts.loc["party", "questions_analysed"] == len(table)
    assert parts.loc["party", "share_ranking_can_change"] == pytest.approx(float(summary["share_ranking_can_change"]))
    assert parts.loc["party", "median_min_tv"] == pytest.approx(float(summary["median_min_tv"]))
    assert parts["types"].astype(str).tolist() == ["3", "12", "9", "5"] and (parts["waves"] == 2).all()
    assert (parts["common_questions"] > 20).all()
    assert (smoke_run / "results/figures/fig_partitions_demo.pdf").read_bytes()[:4] == b"%PDF"


# Real-mode Pew runs with bad inputs beside good ones: tests/workflow/test_bad_inputs_pew.py


def test_claims_report(smoke_run):
    claims = json.loads((smoke_run / "results/claims/claims.json").read_text())
    assert [c["id"] for c in claims] == list(range(1, 15))
    assert all(c["passed"] for c in claims), [c["title"] for c in claims if not c["passed"]]
    md = (smoke_run / "results/claims/claims.md").read_text()
    assert md.count("PASS") >= 14 and "FAIL" not in md.replace("PASS/FAIL", "")
    assert (smoke_run / "results/claims/claims.pdf").read_bytes()[:4] == b"%PDF"


def test_html_report_builds_with_captions(smoke_run):
    res = snakemake("--report", "results/report.html", workdir=smoke_run)
    assert res.returncode == 0, res.stderr[-3000:]
    html = (smoke_run / "results/report.html").read_text(errors="replace")
    for needle in ("Paper Figure 3", "Paper Figure 4(a)", "Paper Figure 1", "Claims report", "demo data"):
        assert needle in html, needle


# ---------------------------------------------------------------- LM stage
def test_paper_config_plans_20_gpu_training_jobs(tmp_path):
    res = snakemake("-n", workdir=tmp_path, config=ROOT / "configs" / "paper.yaml")
    assert res.returncode == 0, res.stderr[-3000:]
    blocks = [b for b in res.stdout.split("\nrule ")[1:] if b.startswith("lm_train:")]
    assert len(blocks) == 20  # 2 objectives × 2 datasets × 5 seeds
    assert all("gpu=1" in b for b in blocks)
    combos = {re.search(r"wildcards: objective=(\w+), dataset=(\w+), seed=(\d+)", b).groups() for b in blocks}
    assert len(combos) == 20


def test_paper_config_plans_the_optional_lm_runs_when_switched_on(tmp_path):
    cfg = tmp_path / "paper_ipo.yaml"
    paper = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    paper["lm"]["ipo"] = True
    paper["lm"]["indirect"] = True
    cfg.write_text(yaml.safe_dump(paper))
    res = snakemake("-n", workdir=tmp_path, config=cfg)
    assert res.returncode == 0, res.stderr[-3000:]
    blocks = [b for b in res.stdout.split("\nrule ")[1:] if b.startswith("lm_train:")]
    # + 5 IPO, + 5 × 3 per-type reward models and 5 DPO on the indirect relabelling
    assert len(blocks) == 20 + 5 + 15 + 5 and all("gpu=1" in b for b in blocks)
    assert sum("objective=ipo" in b for b in blocks) == 5
    assert sum("dataset=indirect" in b for b in blocks) == 5


def _job_blocks(stdout):
    """(rule, wildcards dict, threads, resources dict) of every job of a dry run's output."""
    jobs = []
    for block in stdout.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0]
        wc = re.search(r"^    wildcards: (.*)$", block, re.M)
        th = re.search(r"^    threads: (\d+)$", block, re.M)
        res = re.search(r"^    resources: (.*)$", block, re.M)
        jobs.append((rule, dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {},
                     int(th.group(1)) if th else 1,
                     dict(kv.split("=", 1) for kv in res.group(1).split(", ")) if res else {}))
    return jobs


@pytest.mark.parametrize("indirect_and_2_gpus", [False, True])
def test_paper_dry_run_with_the_profile_requests_the_resource_model(tmp_path, indirect_and_2_gpus):
    """Every job that loads the base model (and lm_data) gets what hetpref.lm.resources derives for
    configs/paper.yaml: its GPUs on one node, cores per GPU, mem_mb and the attempt-1 runtime."""
    import hetpref.lm.resources as lm_res
    from hetpref.config import deep_merge

    lm = yaml.safe_load((ROOT / "config.yaml").read_text())["lm"]
    paper = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    config = ROOT / "configs" / "paper.yaml"
    if indirect_and_2_gpus:  # the optional relabelling job, and data parallel training on 2 GPUs
        paper["lm"].update(indirect=True, gpus_per_job=2)
        config = tmp_path / "paper.yaml"
        config.write_text(yaml.safe_dump(paper))
    lm = deep_merge(lm, paper["lm"])
    est = lm_res.lm_job_estimates(lm)
    # --cores only lets the dry run show each job's threads (the SLURM executor does not cap them)
    res = snakemake("-n", "--profile", str(ROOT / "profiles" / "slurm"), "--cores", "64", "fig5",
                    workdir=tmp_path, config=config)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = _job_blocks(res.stdout)
    seen = {}
    gpus = 2 if indirect_and_2_gpus else 1
    for rule, wc, threads, r in jobs:
        if rule not in ("lm_train", "lm_indirect_relabel", "lm_data"):
            continue
        seen[rule] = seen.get(rule, 0) + 1
        e = est[rule][wc["objective"]] if rule == "lm_train" else est[rule]
        assert (int(r["mem_mb"]), int(r["runtime"])) == (e.mem_mb, e.runtime(1)), (rule, wc, r)
        if rule == "lm_data":
            assert "gpu" not in r and threads == 2
            continue
        n = gpus if rule == "lm_train" else 1
        assert (int(r["gpu"]), int(r["nodes"]), int(r["cpus_per_gpu"]), threads) == (n, 1, 8, 8 * n), (rule, r, threads)
        # limits that hold on an A100 at the assumed MFU, and host RAM for the bf16 copy of the weights
        assert int(r["runtime"]) > 60 * e.compute_hours / n and int(r["mem_mb"]) > n * 16_000
    runs = 20 + (20 if indirect_and_2_gpus else 0)  # + 15 per-type reward models and 5 DPO on the relabelling
    # training and test evaluation are one job (rules/lm.smk): no separate evaluation jobs
    assert seen == {"lm_data": 1, "lm_train": runs, **({"lm_indirect_relabel": 5} if indirect_and_2_gpus else {})}, seen


def test_dpo_variants_are_planned_as_their_own_objectives_when_switched_on(tmp_path):
    cfg = tmp_path / "variants.yaml"
    variants = ["reference_scoring", "base_reference", "length_normalised"]
    cfg.write_text(yaml.safe_dump({"lm": {"dpo_variants": variants}}))
    res = snakemake("-n", "fig5", workdir=tmp_path, config=cfg)
    assert res.returncode == 0, res.stderr[-3000:]
    blocks = [b for b in res.stdout.split("\nrule ")[1:] if b.startswith("lm_train:")]
    combos = {re.search(r"wildcards: objective=(\w+), dataset=(\w+), seed=(\d+)", b).groups() for b in blocks}
    # default config: 2 labellings × 3 seeds per objective, trained and evaluated
    for objective in ("reward", "dpo", "dpo_ref", "dpo_base", "dpo_norm"):
        assert sum(c[0] == objective for c in combos) == 6, (objective, combos)
    assert len(blocks) == 5 * 6
    # off by default: the default DAG has none of them
    res = snakemake("-n", "fig5", workdir=tmp_path, config=ROOT / "config.yaml")
    assert res.returncode == 0 and "objective=dpo_" not in res.stdout


def test_lm_smoke_outputs(smoke_run):
    lm = smoke_run / "results/lm/demo_tiny"
    table = pd.read_csv(lm / "seed_table.csv")
    assert {(o, d) for o, d in zip(table["objective"], table["dataset"])} == {
        ("reward", "anonymous"), ("reward", "unanimous"), ("dpo", "anonymous"), ("dpo", "unanimous"),
        ("ipo", "anonymous"), ("dpo", "indirect")}
    info = json.loads((lm / "indirect/seed0/info.json").read_text())
    assert info["n_out"] + info["n_ties_dropped"] == info["n_in"] > 0
    assert "paper mean" in table.columns
    metrics = json.loads((lm / "runs/dpo/unanimous/seed0/test_metrics.json").read_text())
    assert 0 <= metrics["agreement"] <= 1 and metrics["n"] > 0
    prov = json.loads((lm / "runs/reward/anonymous/seed0/provenance.json").read_text())
    assert prov["seed"] == 0 and prov["git_sha"] and len(prov["loss_trajectory"]) > 0 and prov["tokens_per_second"]
    assert (smoke_run / "results/figures/fig5_demo.pdf").read_bytes()[:4] == b"%PDF"
    oracle = pd.read_csv(lm / "length_oracle.csv")
    assert set(oracle["labelling"]) >= {"anonymous", "unanimous", "unanimous_filtered"}
    for name in ("anonymous", "unanimous", "unanimous_filtered", "per_type", "test"):
        manifest = json.loads((lm / f"data/{name}.manifest.json").read_text())
        assert manifest["sha256"]


def test_lm_download_offline_fails_with_manual_instructions(tmp_path):
    cfg = tmp_path / "download.yaml"
    cfg.write_text(yaml.safe_dump({"lm": {"source": "download", "subsets": ["harmless-base", "helpful-base"]}}))
    placed = tmp_path / "resources/hh-rlhf/helpful-base/train.jsonl.gz"  # one file already placed by hand
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"placed by hand")
    res = snakemake("--cores", "1", "results/lm/download_tiny/data/summary.json", workdir=tmp_path, config=cfg,
                    timeout=300)
    if res.returncode == 0:
        pytest.skip("this machine reached the HH-RLHF host; the offline path was not exercised")
    out = res.stdout + res.stderr
    assert "place them by hand" in out and "resources/hh-rlhf/harmless-base/train.jsonl.gz" in out
    assert "Error in rule lm_download" in out
    assert not (tmp_path / "results/lm").exists()  # nothing downstream ran
    assert placed.read_bytes() == b"placed by hand"  # Snakemake did not delete it as an output of the job


# The kill hook: a sitecustomize.py on PYTHONPATH, active only in the lm_train job's Python, that
# SIGKILLs the job's whole process group (snakemake included, as a node failure or a SLURM time
# limit would) right after the first checkpoint is complete. No test hook lives in the library.
KILL_HOOK = '''
import os
import sys

if os.environ.get("HETPREF_TEST_KILL_AFTER_CHECKPOINT") and sys.argv and sys.argv[0].endswith("lm_train.py"):
    import signal

    from hetpref.lm.training.trainer import PreferenceTrainer

    save = PreferenceTrainer._save_checkpoint

    def save_then_die(self, model, trial):
        save(self, model, trial)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    PreferenceTrainer._save_checkpoint = save_then_die
'''


def test_killed_lm_job_resumes_with_rerun_incomplete(smoke_run, tmp_path):
    """Last in this file: it reruns one training job of the smoke run (same numbers, newer files)."""
    import os
    import shutil

    run_dir = "results/lm/demo_tiny/runs/dpo/anonymous/seed0"
    target = f"{run_dir}/metrics.json"
    uninterrupted = json.loads((smoke_run / target).read_text())
    assert json.loads((smoke_run / run_dir / "provenance.json").read_text())["resumed_from_step"] is None
    assert uninterrupted["steps"] > 5  # the smoke config checkpoints every 5 steps
    (tmp_path / "sitecustomize.py").write_text(KILL_HOOK)
    # the kill hook first on the path, then whatever the session's path was (a checkout run with PYTHONPATH=src)
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "HETPREF_TEST_KILL_AFTER_CHECKPOINT": "1"}
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(SMOKE), "--directory", str(smoke_run)]
    killed = subprocess.run(cmd + ["--cores", "1", "-f", target], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300, start_new_session=True)
    assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-3000:]
    ck = smoke_run / run_dir / "checkpoint"
    assert sorted(p.name for p in ck.iterdir()) == ["checkpoint-5", "log_history.jsonl"]  # the per-step log beside it
    assert not (smoke_run / target).exists()
    assert (smoke_run / ".snakemake" / "incomplete").exists()
    # the killed run's lock, removed as `snakemake --unlock` does (one DAG build less for the test)
    shutil.rmtree(smoke_run / ".snakemake" / "locks")
    res = snakemake("--cores", "1", "--rerun-incomplete", target, workdir=smoke_run)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert json.loads((smoke_run / target).read_text()) == uninterrupted
    prov = json.loads((smoke_run / run_dir / "provenance.json").read_text())
    assert prov["resumed_from_step"] == 5 and not ck.exists()  # removed once the job's evaluation succeeded
    assert json.loads((smoke_run / run_dir / "test_metrics.json").read_text())["n"] > 0
    log = (smoke_run / "logs/lm/demo_tiny/train/dpo_anonymous_seed0.log").read_text()
    assert "resuming from" in log and f"{uninterrupted['steps']}/{uninterrupted['steps']}" in log
