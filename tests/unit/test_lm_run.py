"""One LM run as one typed value (hetpref.lm.training.run.LMRun): built from the workflow's
params, read back by torchrun's ranks from JSON, its kind and loss derived from the objective."""
import pytest

from hetpref.lm.names import OBJECTIVE_SPECS
from hetpref.lm.training.config import LMTrainConfig
from hetpref.lm.training.run import LMRun

PARAMS = {"model": "tiny", "tiny": {"hidden_size": 32}, "train": {"lr": 1e-2, "loss": "ipo"}, "device": "cpu",
          "eval": {"batch_size": 4}, "processes": 1}


def test_from_params_builds_the_run_and_json_reads_it_back(tmp_path):
    run = LMRun.from_params("ipo", "anonymous", "3", PARAMS, records=tmp_path / "a.jsonl", tokenizer_dir=tmp_path,
                            out_dir=tmp_path / "run", keep_checkpoint=True)
    assert run.seed == 3 and run.train == LMTrainConfig(lr=1e-2, loss="ipo") and run.tiny == {"hidden_size": 32}
    assert run.kind == "causal_lm" and run.loss == ("ipo", {"tau": 0.1}) and run.scoring == "response_sum"
    assert run.records == str(tmp_path / "a.jsonl") and run.out_dir == str(tmp_path / "run") and run.keep_checkpoint
    back = LMRun.from_json(run.to_json())
    assert back == run and isinstance(back.train, LMTrainConfig)
    with pytest.raises(ValueError, match=r"lack \['device'\]"):
        LMRun.from_params("dpo", "anonymous", 0, {k: v for k, v in PARAMS.items() if k != "device"}, out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown keys \['job'\]"):
        LMRun.from_json(run.to_json()[:-2] + ', "job": 1}')


@pytest.mark.parametrize("objective", list(OBJECTIVE_SPECS))
def test_kind_loss_and_scoring_follow_the_objective(objective):
    run = LMRun(objective=objective, dataset="unanimous", seed=0, model="tiny")
    kind, scoring, loss = OBJECTIVE_SPECS[objective]
    assert run.kind == ("reward" if objective == "reward" else "causal_lm") == kind
    # the dataset's loss, unless the objective has its own (ipo); the objective's scoring (the DPO variants)
    assert run.loss == (("ipo", {"tau": 0.1}) if loss == "ipo" else ("consistent", {"n_types": 3}))
    assert run.scoring == (scoring or "response_sum")
    assert LMRun(objective=objective, dataset="anonymous", seed=0, model="tiny").loss[0] == \
        {"reward": "bt_reward", "ipo": "ipo"}.get(objective, "dpo")


def test_a_train_config_that_contradicts_the_objective_is_refused():
    with pytest.raises(ValueError, match="objective 'ipo' trains with loss 'ipo'"):
        LMRun(objective="ipo", dataset="anonymous", seed=0, model="tiny", train=LMTrainConfig(loss="consistent"))
    with pytest.raises(ValueError, match="objective 'dpo_ref' scores with 'reference_code'"):
        LMRun(objective="dpo_ref", dataset="anonymous", seed=0, model="tiny",
              train=LMTrainConfig(dpo_scoring="response_mean"))
    # plain dpo leaves the scoring to the config (the own-data runs use the base reference)
    assert LMRun(objective="dpo", dataset="anonymous", seed=0, model="tiny",
                 train=LMTrainConfig(dpo_scoring="base_reference")).scoring == "base_reference"


def test_a_bad_run_is_one_clear_error():
    with pytest.raises(ValueError, match="objective must be one of"):
        LMRun(objective="causal_lm", dataset="anonymous", seed=0, model="tiny")
    with pytest.raises(ValueError, match="not a training set"):
        LMRun(objective="dpo", dataset="test", seed=0, model="tiny")
    with pytest.raises(ValueError, match="applies to policies"):
        LMRun(objective="reward", dataset="anonymous", seed=0, model="tiny",
              train=LMTrainConfig(dpo_scoring="response_mean"))
    with pytest.raises(ValueError, match="seed must be an integer"):
        LMRun(objective="dpo", dataset="anonymous", seed=0.5, model="tiny")
