"""Training records from the own-data views, Eq. 19's variance on tabular (prompt, response) cells,
and the evaluation on held-out annotators (docs/spec.md §4). The views are written here in their
documented columns, so these tests do not depend on how the views are built."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hetpref.annotators.evaluate import heldout_metrics, split_annotators
from hetpref.annotators.table import make_table
from hetpref.annotators.train import (
    VarianceConfig,
    anonymous_records,
    corrected_records,
    fit_variance_model,
    pair_variance,
    per_type_labels,
    prompt_text,
    unanimous_records,
)
from hetpref.annotators.views import per_type_view, same_annotator_pairs
from hetpref.runtime import InputError

torch.set_num_threads(1)


def planted_table(n_pairs=10, per_type=30, p=0.95, seed=0):
    """Two fixed types: both prefer response a on the first half of the pairs (consensus), type
    "y" prefers b on the second half (controversial). Every annotator judges every pair."""
    rng = np.random.default_rng(seed)
    k = np.arange(n_pairs)
    rows = []
    for t in ("x", "y"):
        p_a = np.where((t == "y") & (k >= n_pairs // 2), 1 - p, p)
        for i in range(per_type):
            wins = rng.random(n_pairs) < p_a
            rows.append(pd.DataFrame({
                "prompt_id": [f"q{j}" for j in k], "prompt": [f"question {j}?" for j in k],
                "response_a_id": "r1", "response_b_id": "r2",
                "response_a": [f"answer one to {j}" for j in k],
                "response_b": [f"answer two {j} longer text" for j in k],
                "annotator_id": f"{t}{i}", "label": np.where(wins, "a", "b"), "group": t,
                "source_row": k + 1}))
    frame = pd.concat(rows, ignore_index=True)
    return make_table(frame, ("group",), "planted.jsonl", "generic")


def same_pairs_of(table, seed=0):
    return same_annotator_pairs(table, seed=seed)


def per_type_of(table, attr="group"):
    """The per-type view's labels relative to (response_a, response_b), as the evaluation reads them."""
    per = per_type_view(table, attr)
    cols = [c for c in per.columns if c.startswith("label_")]
    return pd.DataFrame(per_type_labels(per, table), columns=cols).assign(pair_id=per["pair_id"].to_numpy())


def test_prompt_text_renders_conversations():
    assert prompt_text("hi") == "hi"
    conv = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}, {"role": "user", "content": "?"}]
    assert prompt_text(conv) == "user: hi\n\nassistant: yo\n\nuser: ?\n\nassistant:"

    class ChatTokenizer:  # a chat model's tokenizer: its template renders, without the leading bos
        chat_template, bos_token = "<template>", "<s>"

        def apply_chat_template(self, turns, tokenize, add_generation_prompt):
            assert not tokenize and add_generation_prompt
            return "<s>" + "".join(f"[{t['role']}]{t['content']}" for t in turns) + "[assistant]"

    assert prompt_text(conv, ChatTokenizer()) == "[user]hi[assistant]yo[user]?[assistant]"
    assert prompt_text("hi", ChatTokenizer()) == "hi"


def test_unanimous_records_orient_towards_the_shared_winner():
    table = planted_table(per_type=3, p=1.0)
    per = per_type_view(table, "group")
    records, k = unanimous_records(per, table)
    assert k == 2 and len(records) == 5  # consensus half only: type y prefers b on the rest
    for r in records:
        assert r["chosen"].startswith("answer one") and r["rejected"].startswith("answer two")
    # labels relative to (a, b) (no chosen_id): everyone prefers b on the consensus half: b is chosen
    a_rel = per_type_of(table)
    flipped = a_rel.assign(label_x=-a_rel.label_x, label_y=-a_rel.label_y)
    records, _ = unanimous_records(flipped, table)
    assert len(records) == 5 and all(r["chosen"].startswith("answer two") for r in records)
    with pytest.raises(InputError, match="no unanimous pair"):
        unanimous_records(a_rel.assign(label_x=0), table)
    # the view's own orientation (chosen = b where all prefer b) leads to the same records
    b_first = planted_table(per_type=3, p=1.0)
    b_first.frame["label"] = b_first.frame["label"].map({"a": "b", "b": "a"})
    records, _ = unanimous_records(per_type_view(b_first, "group"), b_first)
    assert len(records) == 5 and all(r["chosen"].startswith("answer two") for r in records)


def test_eq19_variance_separates_controversial_pairs():
    table = planted_table(per_type=60)
    vm = fit_variance_model(same_pairs_of(table), table, VarianceConfig(latent_types=2, steps=1500, lr=0.05))
    pairs = table.frame.drop_duplicates("pair_id").sort_values("prompt_id", key=lambda s: s.str[1:].astype(int))
    v = pair_variance(vm, table, pairs["pair_id"])
    true = (0.95 - 0.05) ** 2 / 4  # Var of σ over two equal types at 0.95 and 0.05
    consensus, controversial = v[:5], v[5:]
    assert controversial.mean() > 0.5 * true and consensus.max() < 0.2 * true, (consensus, controversial)
    assert controversial.min() > consensus.max()
    assert vm.info["n_cells"] == 20 and vm.info["n_fit_pairs"] == len(same_pairs_of(table))
    view = pd.DataFrame({"pair_id": pairs.pair_id, "prompt": pairs.prompt, "chosen": pairs.response_b,
                         "rejected": pairs.response_a})  # oriented b-first: V̂ is symmetric
    rec = corrected_records(view, vm, table)
    assert np.allclose([r["variance"] for r in rec], v) and rec[0]["chosen"].startswith("answer two")
    assert anonymous_records(view)[0].keys() == {"id", "prompt", "chosen", "rejected"}


def test_split_is_by_annotator_within_each_type_and_seeded():
    table = planted_table(per_type=10)
    train, test, split = split_annotators(table, "group", 0.3, seed=1)
    assert not set(train.frame.annotator_id) & set(test.frame.annotator_id)
    assert split.groupby("group")["split"].apply(lambda s: (s == "test").sum()).tolist() == [3, 3]
    again = split_annotators(table, "group", 0.3, seed=1)[2]
    other = split_annotators(table, "group", 0.3, seed=2)[2]
    assert split.equals(again) and not split.equals(other)
    with pytest.raises(InputError, match="not an annotator attribute"):
        split_annotators(table, "nope")


def test_a_large_test_share_still_keeps_a_training_annotator_of_each_type():
    table = planted_table(per_type=2)
    split = split_annotators(table, "group", 0.9, seed=0)[2]
    assert split.groupby("group")["split"].apply(lambda s: sorted(s)).tolist() == [["test", "train"]] * 2


def test_heldout_metrics_per_type_worst_unanimous_and_length_prior():
    table = planted_table(per_type=4, p=1.0)
    pairs = table.frame.drop_duplicates("pair_id")
    # a model that always prefers a: right for type x everywhere, for y on the consensus half only;
    # response b is the longer one, so "longer wins" is right exactly where the label is b
    scores = pd.DataFrame({"pair_id": pairs.pair_id, "h": 1.0, "tokens_a": 3, "tokens_b": 5})
    m = heldout_metrics(table, scores, "group", per_type_of(table))
    assert m["agreement_x"] == 1.0 and m["agreement_y"] == 0.5 and m["n_x"] == 40
    assert m["worst_type"] == "y" and m["worst_type_agreement"] == 0.5
    assert m["prior_x"] == 0.0 and m["prior_y"] == 0.5 and m["agreement_all"] == 0.75
    assert m["agreement_unanimous"] == 1.0 and m["n_unanimous"] == 5 and m["prior_unanimous"] == 0.0
    assert m["agreement_prior_wrong_y"] == 1.0  # where b (longer) lost, the model (a) was right
    tie = heldout_metrics(table, scores.assign(h=0.0), "group", None)
    assert tie["agreement_all"] == 0.0 and np.isnan(tie["agreement_unanimous"]) and tie["n_unanimous"] == 0


def test_a_type_with_one_annotator_cannot_hold_one_out():
    table = planted_table(per_type=1)
    with pytest.raises(InputError, match=r"a type needs 2 or more annotators .*'x': 1, 'y': 1"):
        split_annotators(table, "group")


def test_a_loss_the_data_cannot_support_is_one_clear_error(tmp_path):
    """A type attribute with one value gives no per-type view: the consistent loss is refused with
    the view's counts and the config key to change; PRISM's fixture, one participant per age group,
    cannot hold an annotator of a type out."""
    from hetpref.annotators.adapters import fixture, read
    from hetpref.annotators.pipeline import prepare

    names = ("dpo", "consistent", "corrected_dpo", "test", "test_per_type", "split", "variance", "summary",
             "tokenizer")
    out = {k: str(tmp_path / k) for k in names}
    views, evaluation = {"seed": 0, "multiple": "majority", "missing": "drop"}, {"test_share": 0.5, "seed": 0}
    table = planted_table(per_type=4)
    table.frame.loc[table.frame["group"] == "y", "group"] = "x"  # one type only: no per-type view
    with pytest.raises(InputError, match=r"one value only.*own_data.losses lists 'consistent'"):
        prepare(table, out, "group", ["dpo", "consistent"], views, evaluation, {}, "tiny")
    prism = read("prism", fixture("prism"))
    with pytest.raises(InputError, match="a type needs 2 or more annotators"):
        prepare(prism, out, "age", ["consistent"], views, evaluation, {}, "tiny")
