"""The own-data workflow (rules/own_data.smk): a real run of the own_data target on the shipped
MultiPref fixture with the tiny model, offline; the SLURM profile's dry run, whose training jobs
request the GPUs of lm_train's resource model; and the default workflow, which it leaves alone."""
import json
import math

import pandas as pd
import pytest
import yaml

from tests.workflow.test_workflow import ROOT, _job_blocks, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]
OWN_DATA = ROOT / "configs" / "own_data.yaml"
LOSSES = ("dpo", "consistent", "corrected_dpo")


@pytest.fixture(scope="module")
def own_data_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("own_data")
    res = snakemake("--cores", "2", "own_data", workdir=work, config=OWN_DATA, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return work / "results" / "own_data" / "multipref"


def test_own_data_trains_three_losses_and_reports_held_out_agreement(own_data_run):
    out = own_data_run
    summary = json.loads((out / "views" / "summary.json").read_text())
    assert summary["n_types"] == 2 and set(summary["records"]) == set(LOSSES)
    split = pd.read_csv(out / "views" / "annotator_split.csv")
    test_ids = set(split.loc[split.split == "test", "annotator_id"])
    assert test_ids and set(split.groupby("worker_type").split.apply(lambda s: (s == "test").sum())) == {1}
    held_out = pd.read_json(out / "views" / "test_judgements.jsonl", lines=True)
    assert set(held_out.annotator_id) == test_ids  # the test judgements are exactly the held-out annotators'
    corrected = pd.read_json(out / "views" / "corrected_dpo.jsonl", lines=True)
    assert "variance" in corrected and corrected["variance"].between(0, 0.25).all()
    for loss in LOSSES:
        run = out / "runs" / loss / "seed0"
        assert (run / "adapter" / "adapter_model.safetensors").is_file()
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["loss"] == loss and all(math.isfinite(x) for x in metrics["loss_history"])
        ev = json.loads((run / "evaluation.json").read_text())
        assert ev["loss"] == loss and ev["n_all"] > 0
        for key in ("agreement", "prior"):
            for part in ("all", "expert", "normal", "unanimous"):
                if ev[f"n_{part}"]:
                    assert 0 <= ev[f"{key}_{part}"] <= 1, (loss, key, part, ev)
        assert ev["worst_type_agreement"] == min(ev["agreement_expert"], ev["agreement_normal"])
    table = pd.read_csv(out / "results.csv")
    assert table["loss"].tolist() == list(LOSSES) and table["agreement_all"].notna().all()
    inspect = json.loads((out / "inspect" / "inspect.json").read_text())  # the diagnostics came first
    assert inspect["type_attribute"] == "worker_type" and (out / "inspect" / "report.md").is_file()
    report = (out / "report.md").read_text()
    assert "(inspect/report.md)" in report and "longer response wins" in report and "fixed" in report
    assert all(f"| {loss} |" in report for loss in LOSSES)


def test_own_data_dry_run_with_the_profile_requests_the_gpus(tmp_path):
    """With own_data.gpu a training job asks SLURM for lm_train's resource model of the model and
    sizing bounds: GPUs on one node, cores per GPU, mem_mb and the attempt-1 runtime."""
    from hetpref.lm import resources as lm_res

    own = yaml.safe_load(OWN_DATA.read_text())
    own["own_data"].update(model="meta-llama/Meta-Llama-3-8B", gpu=True, gpus_per_job=2, reference="base")
    config = tmp_path / "own_data_gpu.yaml"
    config.write_text(yaml.safe_dump(own))
    res = snakemake("-n", "--profile", str(ROOT / "profiles" / "slurm"), "--cores", "64", "own_data",
                    workdir=tmp_path, config=config)
    assert res.returncode == 0, res.stderr[-3000:]
    shape = lm_res.KNOWN_SHAPES["meta-llama/Meta-Llama-3-8B"]
    sizing = {"train_pairs": 100000, "test_pairs": 20000}  # the schema's defaults
    t = own["own_data"]["train"]
    est = lm_res.with_evaluation(
        lm_res.train_job(shape, "causal_lm", sizing["train_pairs"], t["batch_size"], 2, 1, 512, t["epochs"], False, 8,
                         reference_forward=True),
        lm_res.score_job(shape, "causal_lm", sizing["test_pairs"], 2, 512))
    jobs = [(wc, th, r) for rule, wc, th, r in _job_blocks(res.stdout) if rule == "own_data_train"]
    assert sorted(wc["loss"] for wc, _, _ in jobs) == sorted(LOSSES)
    for _, threads, r in jobs:
        assert (int(r["gpu"]), int(r["nodes"]), int(r["cpus_per_gpu"]), threads) == (2, 1, 8, 16), r
        assert (int(r["mem_mb"]), int(r["runtime"])) == (est.mem_mb, est.runtime(1)), r
        assert int(r["mem_mb"]) > 2 * 16_000  # both processes hold the bf16 weights


def test_the_default_workflow_plans_no_own_data_job(tmp_path):
    res = snakemake("-n", workdir=tmp_path, config=ROOT / "config.yaml")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "own_data" not in res.stdout
