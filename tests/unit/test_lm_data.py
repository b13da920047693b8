"""LM-data layer (docs/spec.md §8): HH-RLHF sources and parsing, token counts and the 512 filter,
relabelling by length types, the dataset writer, and the exact length oracle.

Real data: the HH-RLHF harmless-base test split that tests/conftest.py finds (skipped cleanly
otherwise); everything else runs on generated data at tiny sizes.
"""
from __future__ import annotations

import gzip
import json
import math
import runpy
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from hetpref.lm.data.hh_rlhf import (
    PROMPT_MISMATCH,
    ChecksumError,
    DownloadError,
    PairTable,
    download_hh_rlhf,
    generate_demo_pairs,
    local_files,
    read_pairs,
    split_pair,
    write_demo,
)
from hetpref.lm.data.jsonl import read_jsonl
from hetpref.lm.data.relabel import (
    DATASETS,
    NOT_UNANIMOUS,
    TIE,
    average_reward,
    example_keys,
    example_uniforms,
    label_probability,
    record_lines,
    relabel,
    reward_long,
    reward_mid,
    reward_short,
    type_rewards,
    write_dataset,
)
from hetpref.lm.data.tokenization import (
    TOO_LONG,
    TokenizerUnavailable,
    count_pair_tokens,
    filter_max_length,
    load_tokenizer,
    tokenizer_training_texts,
    train_tiny_tokenizer,
)
from hetpref.lm.evaluation.length_oracle import distinct_length_pairs, fit_length_scorer, oracle_table, order_agreement
from tests.conftest import hh_rlhf_path, hh_rlhf_skip_reason
from tests.snakemake_stub import Names

ROOT = Path(__file__).resolve().parents[2]
REAL = hh_rlhf_path()
SHARED = REAL.parent
needs_real = pytest.mark.skipif(hh_rlhf_skip_reason() is not None, reason=hh_rlhf_skip_reason() or "")
ASSISTANT = "\n\nAssistant:"


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def hand_rewards(n: int) -> tuple[float, float, float]:
    """docs/spec.md §8, written out per count (independent of the vectorised library)."""
    return (min(4.0, math.exp(n / 80) / 100), min(4.0, math.exp((512 - n) / 80) / 100),
            math.exp(1 / (((n - 256) / 64) ** 2 + 1)) - 1)


def table_from_counts(n_c, n_r, split="train", prefix="demo") -> PairTable:
    """A PairTable with short texts and the given token counts (for label-only tests)."""
    n = len(n_c)

    def obj(xs):
        return np.array(xs, dtype=object)

    return PairTable(split, np.array([f"{prefix}/{split}/{i:06d}" for i in range(n)]),
                     obj([f"\n\nHuman: q{i}?\n\nAssistant:" for i in range(n)]),
                     obj([f" yes {i}" for i in range(n)]), obj([f" no {i}" for i in range(n)]),
                     np.asarray(n_c, np.int64), np.asarray(n_r, np.int64),
                     [{"stage": "parse", "n_in": n, "n_out": n, "dropped": {}}])


@pytest.fixture(scope="module")
def real_rows():
    if hh_rlhf_skip_reason():
        pytest.skip(hh_rlhf_skip_reason())
    with gzip.open(REAL, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def real_tokenized(real_rows, tmp_path_factory):
    """The real split parsed, a tiny tokenizer trained on a small sample, counts and the filter."""
    table = read_pairs(local_files(SHARED, ["harmless-base"], ["test"], verify=False), "test")
    tok_dir = tmp_path_factory.mktemp("tok")
    tok = train_tiny_tokenizer(tokenizer_training_texts(table, 400), tok_dir, vocab_size=800)
    counted = count_pair_tokens(tok, table, batch_size=300)
    return table, tok_dir, counted, filter_max_length(counted, 512)


# ------------------------------------------------------------------ parsing (real data)


@needs_real
def test_prompt_split_on_real_data(real_rows):
    table = read_pairs(local_files(SHARED, ["harmless-base"], ["test"], verify=False), "test")
    # independent: the prompt ends at the chosen transcript's last assistant turn, and the
    # rejected transcript must have that same prefix and no later assistant turn
    expect, mismatched = {}, 0
    for i, r in enumerate(real_rows):
        end = r["chosen"].rindex(ASSISTANT) + len(ASSISTANT)
        prompt = r["chosen"][:end]
        if r["rejected"].startswith(prompt) and ASSISTANT not in r["rejected"][end:]:
            expect[f"harmless-base/test/{i:06d}"] = (prompt, r["chosen"][end:], r["rejected"][end:])
        else:
            mismatched += 1
    assert mismatched == 5  # the README: "in almost every pair both share the prompt"
    assert table.stages == [{"stage": "parse", "n_in": len(real_rows), "n_out": len(expect),
                             "dropped": {PROMPT_MISMATCH: 5}}]
    assert list(table.ids) == sorted(expect)
    for k, i in enumerate(table.ids):
        assert (table.prompt[k], table.chosen[k], table.rejected[k]) == expect[i]
        assert table.prompt[k].endswith(ASSISTANT) and table.prompt[k].startswith("\n\nHuman:")
    # prompt + response is the original transcript exactly
    row = int(table.ids[7].rsplit("/", 1)[1])
    assert table.texts("chosen")[7] == real_rows[row]["chosen"]
    assert table.texts("rejected")[7] == real_rows[row]["rejected"]


def test_split_pair_reasons():
    assert split_pair("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: a\n\nAssistant: c") == (
        "\n\nHuman: a\n\nAssistant:", " b", " c")
    assert split_pair("\n\nHuman: a", "\n\nHuman: a") == "no_assistant_turn"
    assert split_pair("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: z\n\nAssistant: c") == PROMPT_MISMATCH
    # same prefix but the rejected transcript goes on with another turn: not a single response
    assert split_pair("\n\nHuman: a\n\nAssistant: b",
                      "\n\nHuman: a\n\nAssistant: c\n\nHuman: d\n\nAssistant: e") == PROMPT_MISMATCH


# ------------------------------------------------------------------ token counts and filter (real data)


@needs_real
def test_filter_counts_against_independent_tokenisation(real_rows, real_tokenized):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    table, tok_dir, counted, kept = real_tokenized
    # the saved directory is a Hugging Face fast tokenizer with bos/eos/pad
    hf = AutoTokenizer.from_pretrained(str(tok_dir))
    assert (hf.bos_token, hf.eos_token, hf.pad_token) == ("<s>", "</s>", "<pad>")
    assert len(hf) == 800
    # independent counts: the raw tokenizers library, one transcript at a time, no truncation
    raw = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    n = {}
    for i, r in enumerate(real_rows):
        n[f"harmless-base/test/{i:06d}"] = (len(raw.encode(r["chosen"]).ids), len(raw.encode(r["rejected"]).ids))
    assert [n[i] for i in counted.ids] == list(zip(counted.n_chosen, counted.n_rejected))
    assert max(max(v) for v in n.values()) > 1000  # nothing was truncated at model_max_length
    too_long = sum(max(n[i]) > 512 for i in table.ids)
    assert too_long > 0
    assert kept.stages[-1] == {"stage": "length", "n_in": len(table), "n_out": len(table) - too_long,
                               "dropped": {TOO_LONG: too_long}}
    assert kept.dropped() == {PROMPT_MISMATCH: 5, TOO_LONG: too_long}
    assert set(kept.ids) == {i for i in table.ids if max(n[i]) <= 512}


@needs_real
def test_label_shares_on_real_data_against_independent_draws(real_tokenized, tmp_path):
    """Every label recomputed per example with numpy's own Philox generator and scalar formulas."""
    *_, kept = real_tokenized
    kept.split = "train"  # label the real pairs as a training split
    seed = 11
    keys = example_keys(seed, "train", kept.ids)
    want = {k: [] for k in ("anonymous", "unanimous", "average", "unanimous_filtered", "per_type")}
    for k in range(len(kept)):
        u = np.random.Generator(np.random.Philox(key=keys[:, k])).random(8)
        rc, rr = hand_rewards(int(kept.n_chosen[k])), hand_rewards(int(kept.n_rejected[k]))
        d = [a - b for a, b in zip(rc, rr)]
        votes = [u[3 + t] < sigmoid(d[t]) for t in range(3)]  # each type's own BT draw
        want["anonymous"].append(votes[min(int(3 * u[0]), 2)])
        want["unanimous"].append(u[1] < sigmoid(sum(d)))
        want["average"].append(u[2] < sigmoid(sum(d) / 3))
        if all(votes) or not any(votes):
            want["unanimous_filtered"].append(votes[0])
        want["per_type"].extend(votes)
    for kind, labels in want.items():
        lab = relabel(kind, kept, seed)
        m = write_dataset(tmp_path / f"{kind}.jsonl", lab, kept)
        assert list(lab.original_wins) == labels, kind
        assert m["label_balance"] == pytest.approx(np.mean(labels))
        assert m["size"] == len(labels)
    lab = relabel("unanimous_filtered", kept, seed)
    assert lab.dropped == {NOT_UNANIMOUS: len(kept) - len(want["unanimous_filtered"])}
    # the records say which response won: chosen/rejected swapped when the original lost
    recs = read_jsonl(tmp_path / "unanimous.jsonl")
    by_id = {i: k for k, i in enumerate(kept.ids)}
    for rec, won in zip(recs, relabel("unanimous", kept, seed).original_wins):
        k = by_id[rec["id"]]
        assert rec["prompt"] == kept.prompt[k]
        assert (rec["chosen"], rec["n_chosen"]) == ((kept.chosen[k], kept.n_chosen[k]) if won
                                                    else (kept.rejected[k], kept.n_rejected[k]))


# ------------------------------------------------------------------ relabelling


def test_reward_formulas_hand_values():
    n = np.array([0, 80, 256, 320, 400, 512])
    assert reward_long(n) == pytest.approx([0.01, math.e / 100, math.exp(3.2) / 100, math.exp(4) / 100,
                                            math.exp(5) / 100, 4.0])
    assert reward_short(n) == pytest.approx([4.0, math.exp(5.4) / 100, math.exp(3.2) / 100, math.exp(2.4) / 100,
                                             math.exp(1.4) / 100, 0.01])
    assert reward_mid(n) == pytest.approx([math.exp(1 / 17) - 1, math.exp(1 / (2.75 ** 2 + 1)) - 1, math.e - 1,
                                           math.exp(0.5) - 1, math.exp(1 / (2.25 ** 2 + 1)) - 1,
                                           math.exp(1 / 17) - 1])
    for k in range(0, 513, 37):
        assert type_rewards(np.array([k]))[:, 0] == pytest.approx(hand_rewards(k))
    # r̄(n) = r̄(512 − n) exactly: those pairs are genuine ties of the test labels
    k = np.arange(513)
    assert np.array_equal(average_reward(k), average_reward(512 - k))
    with pytest.raises(ValueError, match="max_length"):
        reward_long(np.array([513]))
    # exact label laws at one pair
    d = [a - b for a, b in zip(hand_rewards(100), hand_rewards(300))]
    p, w = label_probability("unanimous_filtered", np.array([100]), np.array([300]))
    prod, anti = np.prod([sigmoid(x) for x in d]), np.prod([sigmoid(-x) for x in d])
    assert p[0] == pytest.approx(prod / (prod + anti)) and p[0] == pytest.approx(sigmoid(sum(d)))
    assert w[0] == pytest.approx(prod + anti)
    assert label_probability("anonymous", np.array([100]), np.array([300]))[0][0] == pytest.approx(
        np.mean([sigmoid(x) for x in d]))


def test_example_uniforms_are_numpy_philox():
    ids = np.array(["a", "harmless-base/train/000001", "helpful-online/test/123456", "ünï/cødé/7"])
    keys = example_keys(5, "train", ids)
    u = example_uniforms(5, "train", ids)
    for k in range(len(ids)):
        assert np.array_equal(u[k], np.random.Generator(np.random.Philox(key=keys[:, k])).random(8))
    # keyed by (seed, split, id) only: a subset or another order gives the same rows
    assert np.array_equal(example_uniforms(5, "train", ids[::-1]), u[::-1])
    assert not np.array_equal(example_uniforms(6, "train", ids), u)
    assert not np.array_equal(example_uniforms(5, "test", ids), u)


def test_label_shares_match_exact_expectations():
    rng = np.random.default_rng(0)
    n_c, n_r = rng.integers(10, 513, 20000), rng.integers(10, 513, 20000)
    table = table_from_counts(n_c, n_r)
    for kind in ("anonymous", "unanimous", "average", "unanimous_filtered"):
        lab = relabel(kind, table, seed=3)
        p, keep = label_probability(kind, n_c, n_r)
        if kind == "unanimous_filtered":
            # kept share vs its exact expectation E[Πσ(Δ_u) + Πσ(−Δ_u)]
            share, se = len(lab) / len(table), np.sqrt((keep * (1 - keep)).sum()) / len(table)
            assert lab.stats["expected_kept_share"] == pytest.approx(keep.mean())
            assert abs(share - keep.mean()) < 4 * se
            p = p[lab.pair_index]
        assert abs(lab.original_wins.mean() - p.mean()) < 4 * np.sqrt((p * (1 - p)).sum()) / len(p), kind
    anon = relabel("anonymous", table, seed=3)
    assert all(abs(c / len(table) - 1 / 3) < 0.015 for c in anon.stats["type_counts"].values())
    per_type = relabel("per_type", table, seed=3)
    assert len(per_type) == 3 * len(table) and list(per_type.types[:6]) == [1, 2, 3, 1, 2, 3]


def test_test_labels_order_by_average_reward_and_drop_ties(tmp_path):
    n_c = np.array([100, 200, 300, 256, 40, 472, 500])
    n_r = np.array([100, 312, 212, 300, 472, 40, 30])  # ties: equal counts, and n_c + n_r = 512
    table = table_from_counts(n_c, n_r, split="test")
    lab = relabel("test", table, seed=0)
    assert lab.dropped == {TIE: 5}
    assert list(lab.pair_index) == [3, 6]
    hand = [sum(hand_rewards(int(a))) - sum(hand_rewards(int(b))) for a, b in zip(n_c, n_r)]
    assert list(lab.original_wins) == [hand[3] > 0, hand[6] > 0] == [True, False]  # both orientations
    write_dataset(tmp_path / "test.jsonl", lab, table)
    recs = read_jsonl(tmp_path / "test.jsonl")
    assert [(r["n_chosen"], r["n_rejected"]) for r in recs] == [(256, 300), (30, 500)]
    assert relabel("test", table, seed=1).original_wins.tolist() == lab.original_wins.tolist()


# ------------------------------------------------------------------ writer and determinism


def test_record_lines_equal_json_dumps():
    table = table_from_counts([10, 20], [30, 5])
    table.prompt[0] = '\n\nHuman: "quote" \\ back’slash ünïcode 😀\n\nAssistant:'
    table.chosen[1] = ' tab\there "x"\n\nnew'
    for kind in ("unanimous", "per_type"):
        lab = relabel(kind, table, seed=0)
        for k, line in enumerate(record_lines(lab, table)):
            i, won = lab.pair_index[k], lab.original_wins[k]
            rec = {"id": table.ids[i], "prompt": table.prompt[i],
                   "chosen": table.chosen[i] if won else table.rejected[i],
                   "rejected": table.rejected[i] if won else table.chosen[i],
                   "n_chosen": int(table.n_chosen[i] if won else table.n_rejected[i]),
                   "n_rejected": int(table.n_rejected[i] if won else table.n_chosen[i])}
            if kind == "per_type":
                rec["type"] = int(lab.types[k])
            assert line == json.dumps(rec, sort_keys=True) + "\n"


@pytest.fixture(scope="module")
def demo_table(tmp_path_factory):
    files = write_demo(tmp_path_factory.mktemp("demo"), seed=1, subsets=["harmless-base", "helpful-base"],
                       n_pairs={"train": 150, "test": 60})
    table = read_pairs(files, "train")

    def words(texts):  # a count proxy
        return np.array([len(t.split()) for t in texts], np.int64)

    table.n_chosen, table.n_rejected = words(table.texts("chosen")), words(table.texts("rejected"))
    return filter_max_length(table, 400)


def _write_all(table, seed, out, chunk_size=None):
    for kind in DATASETS:
        write_dataset(out / f"{kind}.jsonl", relabel(kind, table, seed, chunk_size=chunk_size), table)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_same_seed_same_bytes_whatever_order_and_chunking(demo_table, tmp_path):
    table = demo_table
    a = _write_all(table, 7, tmp_path / "a")
    perm = np.random.default_rng(0).permutation(len(table))
    b = _write_all(table.take(perm), 7, tmp_path / "b", chunk_size=13)
    assert a == b and len(a) == 2 * len(DATASETS)  # datasets and manifests
    c = _write_all(table, 8, tmp_path / "c")
    for kind in ("anonymous", "unanimous", "unanimous_filtered", "per_type", "average"):
        assert a[f"{kind}.jsonl"] != c[f"{kind}.jsonl"], kind
    assert a["test.jsonl"] == c["test.jsonl"]  # deterministic labels
    m = json.loads(a["per_type.manifest.json"])
    assert m["sha256"] == __import__("hashlib").sha256(a["per_type.jsonl"]).hexdigest()
    assert m["size"] == 3 * len(table) and m["seed"] == 7 and m["record_keys"][-1] == "type"
    assert m["kept_share"]["length"] == pytest.approx(len(table) / table.stages[0]["n_out"])
    recs = read_jsonl(tmp_path / "a" / "per_type.jsonl")
    assert [r["id"] for r in recs] == sorted(r["id"] for r in recs)


# ------------------------------------------------------------------ length oracle


def _brute_force_scores(pairs_a, pairs_b, labelling):
    """The oracle's problem written out pair by pair (every training pair, not the distinct
    ones) with scalar formulas, solved by BFGS with the first length pinned to 0."""
    lengths = sorted(set(pairs_a) | set(pairs_b))
    pos = {n: k for k, n in enumerate(lengths)}

    def law(a, b):
        d = [x - y for x, y in zip(hand_rewards(a), hand_rewards(b))]
        if labelling == "anonymous":
            return np.mean([sigmoid(x) for x in d]), 1.0
        if labelling == "unanimous":
            return sigmoid(sum(d)), 1.0
        if labelling == "average":
            return sigmoid(sum(d) / 3), 1.0
        prod, anti = np.prod([sigmoid(x) for x in d]), np.prod([sigmoid(-x) for x in d])
        return prod / (prod + anti), prod + anti

    laws = [law(a, b) for a, b in zip(pairs_a, pairs_b)]
    total = sum(w for _, w in laws)

    def f(free):
        s = np.concatenate([[0.0], free])
        out = 0.0
        for (a, b), (p, w) in zip(zip(pairs_a, pairs_b), laws):
            d = s[pos[a]] - s[pos[b]]
            out -= w * (p * math.log(sigmoid(d)) + (1 - p) * math.log(sigmoid(-d)))
        return out / total

    res = minimize(f, np.zeros(len(lengths) - 1), method="BFGS", options={"gtol": 1e-10})
    return np.array(lengths), np.concatenate([[0.0], res.x]), res.fun


@pytest.mark.parametrize("labelling", ["anonymous", "unanimous", "unanimous_filtered", "average"])
def test_length_oracle_matches_brute_force(labelling):
    rng = np.random.default_rng(1)
    grid = np.array([30, 120, 200, 256, 300, 390, 480])
    a, b = rng.choice(grid, 60), rng.choice(grid, 60)
    sc = fit_length_scorer(a, b, labelling)
    lengths, s_bf, f_bf = _brute_force_scores(list(a), list(b), labelling)
    assert sc.info["converged"] and sc.info["n_components"] == 1
    assert np.array_equal(sc.lengths, lengths)
    assert (sc.scores - sc.scores[0]) == pytest.approx(s_bf, abs=1e-5)
    assert sc.info["cross_entropy"] == pytest.approx(f_bf, abs=1e-10)
    if labelling != "anonymous":  # a BT in r̄: the optimum is the reward itself, KL 0
        scale = 1.0 if labelling == "average" else 3.0
        rbar = average_reward(lengths)
        assert sc.scores - sc.scores[0] == pytest.approx(scale * (rbar - rbar[0]), abs=1e-8)
        assert sc.info["kl"] == pytest.approx(0.0, abs=1e-12)
        assert order_agreement(sc, a, b)["agreement"] == 1.0
    else:
        assert sc.info["kl"] > 1e-6  # a mixture of BTs is no BT (docs/spec.md §1)


def test_length_oracle_table_and_distinct_pairs():
    lengths, i, j, counts = distinct_length_pairs([5, 9, 5, 9, 7], [9, 5, 5, 7, 9])
    assert list(lengths) == [5, 7, 9] and list(zip(i, j, counts)) == [(0, 0, 1.0), (0, 2, 2.0), (1, 2, 2.0)]
    rng = np.random.default_rng(2)
    tr_a, tr_b = rng.integers(20, 500, 3000), rng.integers(20, 500, 3000)
    te_a, te_b = rng.integers(20, 500, 500), rng.integers(20, 500, 500)
    table, scorers = oracle_table(tr_a, tr_b, te_a, te_b)
    row = table.set_index("labelling")
    assert row.loc["unanimous", "agreement"] == 1.0 and row.loc["average", "agreement"] == 1.0
    assert 0.5 < row.loc["anonymous", "agreement"] < 1.0  # the anonymous ceiling is below 100%
    assert row.loc["unanimous_filtered", "kept_share"] < 1.0
    ties = np.isclose(average_reward(te_a), average_reward(te_b), rtol=0, atol=1e-12).sum()
    assert (row["n_test"] == 500 - ties).all()


# ------------------------------------------------------------------ sources


def test_demo_source_round_trips_through_the_parser(tmp_path):
    files = write_demo(tmp_path / "d", seed=3, subsets=["harmless-base"], n_pairs={"train": 400, "test": 20})
    assert files[("harmless-base", "train")] == tmp_path / "d" / "harmless-base" / "train.jsonl.gz"
    raw = [json.loads(x) for x in gzip.open(files[("harmless-base", "train")], "rt")]
    assert raw == generate_demo_pairs(400, 3, "harmless-base", "train")
    assert all(set(r) == {"chosen", "rejected"} and r["chosen"].startswith("\n\nHuman: ") for r in raw)
    table = read_pairs(local_files(tmp_path / "d", ["harmless-base"], ["train", "test"]), "train")
    assert len(table) == 400 and table.dropped() == {}
    for k in range(len(table)):
        r = raw[int(table.ids[k].rsplit("/", 1)[1])]
        assert table.texts("chosen")[k] == r["chosen"] and table.texts("rejected")[k] == r["rejected"]
    turns = np.array([p.count("\n\nHuman:") for p in table.prompt])
    words = np.array([len(x.split()) for x in np.concatenate([table.chosen, table.rejected])])
    assert turns.min() == 1 and turns.max() >= 3 and (turns > 1).mean() > 0.3
    assert words.min() <= 3 and words.max() >= 200
    # deterministic: same seed → same bytes, another seed → other data; reruns keep the files
    again = write_demo(tmp_path / "e", seed=3, subsets=["harmless-base"], n_pairs={"train": 400, "test": 20})
    assert again[("harmless-base", "train")].read_bytes() == files[("harmless-base", "train")].read_bytes()
    other = write_demo(tmp_path / "f", seed=4, subsets=["harmless-base"], n_pairs={"train": 400, "test": 20})
    assert other[("harmless-base", "train")].read_bytes() != files[("harmless-base", "train")].read_bytes()
    # a realistic share of pairs is longer than 512 tokens under a tokenizer trained on the demo
    tok = train_tiny_tokenizer(tokenizer_training_texts(table, 400), tmp_path / "tok", vocab_size=2000)
    counted = count_pair_tokens(tok, table)
    too_long = (np.maximum(counted.n_chosen, counted.n_rejected) > 512).mean()
    assert 0.005 < too_long < 0.15


def test_offline_download_error_names_the_manual_layout(tmp_path):
    with pytest.raises(DownloadError) as err:
        download_hh_rlhf(tmp_path / "hh", ["harmless-base"], ["test"], base_url="http://127.0.0.1:9/",
                         retries=1, backoff_s=0, timeout_s=5)
    msg = str(err.value)
    assert "2 attempt(s)" in msg and "<dir>/<subset>/<split>.jsonl.gz" in msg
    assert str(tmp_path / "hh" / "harmless-base" / "test.jsonl.gz") in msg
    assert not list((tmp_path / "hh").rglob("*.part"))  # no half file left behind


def test_checksums_recorded_then_verified(tmp_path):
    dest = tmp_path / "hh"
    f = dest / "my-subset" / "train.jsonl.gz"
    f.parent.mkdir(parents=True)
    f.write_bytes(gzip.compress(b'{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b", '
                                b'"rejected": "\\n\\nHuman: a\\n\\nAssistant: c"}\n'))
    # placed by hand: nothing is fetched, the checksum is recorded on first use ...
    out = download_hh_rlhf(dest, ["my-subset"], ["train"], base_url="http://127.0.0.1:9/", retries=0)
    manifest = json.loads((dest / "manifest.json").read_text())
    assert out == {("my-subset", "train"): f}
    assert manifest["files"]["my-subset/train.jsonl.gz"]["sha256"] == __import__("hashlib").sha256(
        f.read_bytes()).hexdigest()
    # ... and verified on later runs, by both sources
    f.write_bytes(gzip.compress(b"changed\n"))
    with pytest.raises(ChecksumError, match="python -m hetpref.lm.data.accept"):
        download_hh_rlhf(dest, ["my-subset"], ["train"], base_url="http://127.0.0.1:9/", retries=0)
    with pytest.raises(ChecksumError):
        local_files(dest, ["my-subset"], ["train"])
    with pytest.raises(FileNotFoundError, match="<dir>/<subset>/<split>.jsonl.gz"):
        local_files(dest, ["my-subset"], ["test"])


@needs_real
def test_known_checksum_of_the_real_file(tmp_path):
    dest = tmp_path / "hh" / "harmless-base"
    dest.mkdir(parents=True)
    (dest / "test.jsonl.gz").write_bytes(REAL.read_bytes())
    download_hh_rlhf(tmp_path / "hh", ["harmless-base"], ["test"], base_url="http://127.0.0.1:9/", retries=0)
    (dest / "test.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    (tmp_path / "hh" / "manifest.json").unlink()
    with pytest.raises(ChecksumError, match="known"):
        local_files(tmp_path / "hh", ["harmless-base"], ["test"])


def test_tokenizer_spec_errors(tmp_path):
    with pytest.raises(TokenizerUnavailable, match="no-such-tokenizer' is not a folder here"):
        load_tokenizer(str(tmp_path / "no-such-tokenizer"))
    with pytest.raises(TokenizerUnavailable, match="train_texts"):
        load_tokenizer("tiny", tmp_path / "empty")


# ------------------------------------------------------------------ workflow scripts


class _Snakemake:
    def __init__(self, rule, params, input, output, log):
        self.rule, self.threads, self.wildcards = rule, 1, {}
        self.params, self.input, self.output = Names(**params), Names(**input), Names(**output)
        self.log = Names(log=log)


def test_workflow_scripts_on_demo_data(tmp_path):
    out = {k: str(tmp_path / "data" / f"{k}.jsonl") for k in DATASETS}
    out.update(lengths=str(tmp_path / "data" / "lengths.csv"), tokenizer=str(tmp_path / "data" / "tokenizer"),
               summary=str(tmp_path / "data" / "summary.json"))
    params = dict(source="auto", data_dir=str(tmp_path / "nothing-here"), demo_dir=str(tmp_path / "demo"),
                  subsets=["harmless-base", "helpful-base"], seed=0, tokenizer="tiny", max_length=512,
                  demo_pairs={"train": 120, "test": 40}, demo_seed=0, vocab_size=700, retries=3,
                  max_malformed_share=0.05, local_split=None)
    smk = _Snakemake("lm_data", params, {}, out, str(tmp_path / "lm_data.log"))
    runpy.run_path(str(ROOT / "workflow_scripts" / "lm_data.py"), init_globals={"snakemake": smk})
    summary = json.loads(Path(out["summary"]).read_text())
    assert summary["source"] == "demo" and summary["splits"]["train"]["stages"][0]["n_in"] == 240
    for kind in DATASETS:
        m = json.loads((tmp_path / "data" / f"{kind}.manifest.json").read_text())
        assert m["size"] == summary["datasets"][kind]["size"] > 0
    log = (tmp_path / "lm_data.log").read_text()
    assert "dropped" in log and "not_unanimous" in log and "tie_in_average_reward" in log

    oracle_out = {"table": str(tmp_path / "oracle.csv"), "scores": str(tmp_path / "scores.csv"),
                  "ceilings": str(tmp_path / "ceilings.json")}
    smk = _Snakemake("lm_oracle", {}, {"lengths": out["lengths"]}, oracle_out, str(tmp_path / "oracle.log"))
    runpy.run_path(str(ROOT / "workflow_scripts" / "lm_oracle.py"), init_globals={"snakemake": smk})
    import pandas as pd

    table = pd.read_csv(oracle_out["table"])
    assert list(table.labelling) == ["anonymous", "unanimous", "unanimous_filtered", "average"]
    assert set(json.loads(Path(oracle_out["ceilings"]).read_text())) == {
        f"length ceiling ({k})" for k in table.labelling}
