"""Bad-input matrix, LM rows: the config, the HH-RLHF files and the model.

One parametrised test per input kind and failure mode; each asserts the exit status (or the
exception), that the message names the file or key (and the 1-based line where there is one),
and that the good inputs' outputs are intact. Kept cheap: config and model-path mistakes are
DAG-build failures (``snakemake -n``); parsing and checksums are library calls on tiny
generated files; hub behaviour runs in two short subprocesses against a local stand-in for the
hub; two real ``snakemake lm_data`` runs cover a corrupt file that is then replaced, with a hub
id read offline from the cache.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import runpy
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from hetpref.lm.data.hh_rlhf import (
    INVALID_JSON,
    INVALID_UTF8,
    NO_ASSISTANT,
    NOT_A_PAIR,
    PROMPT_MISMATCH,
    ChecksumError,
    DownloadError,
    HHRLHFFileError,
    download_hh_rlhf,
    local_files,
    read_source,
)
from hetpref.lm.data.relabel import DATASETS
from tests.conftest import hh_rlhf_path, hh_rlhf_skip_reason
from tests.snakemake_stub import Names

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SMOKE = ROOT / "tests" / "workflow" / "config.yaml"
PROBE = ROOT / "tests" / "workflow" / "hub_probe.py"
REAL = hh_rlhf_path()
SUBSET = "helpful-base"  # no known checksum: files written here are recorded on first use
CACHED_ID = "hetpref-test/tiny-llama"  # put in a Hugging Face cache by the hub_home fixture
HF_VARS = ("HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN",
           "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT")


def snakemake(*args, workdir, config, env=None, timeout=600):
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--configfile", str(config), "--directory", str(workdir)]
    return subprocess.run(cmd + list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in HF_VARS}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra)
    return env


WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango").split()


def hh_lines(n: int, split: str, seed: int = 7) -> list[str]:
    """``n`` HH-RLHF records (one JSON line each): a 20-word prompt and two responses of 1–59
    words, well under 512 tokens with any tokenizer trained on them."""
    rng = np.random.default_rng([seed, len(split)])
    out = []
    for _ in range(n):
        prompt = "\n\nHuman: " + " ".join(rng.choice(WORDS, 20)) + "?\n\nAssistant:"
        chosen, rejected = (" " + " ".join(rng.choice(WORDS, rng.integers(1, 60))) for _ in range(2))
        out.append(json.dumps({"chosen": prompt + chosen, "rejected": prompt + rejected}))
    return out


def write_hh(path: Path, lines: list[str], raw: bytes | None = None) -> Path:
    """A gzipped JSONL file from ``lines`` (or exactly ``raw`` bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw if raw is not None else gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ config and model path: DAG build


def _lm_config(tmp_path, lm):
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["lm"].update(lm)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


TOKEN = "hf_" + "Q" * 34


@pytest.mark.workflow
@pytest.mark.parametrize("lm, needles, secret", [
    ({"model": "/some/missing/dir"}, ["lm.model", "/some/missing/dir does not exist"], None),
    ({"model": "./models/x"}, ["lm.model", "models/x does not exist", "working directory"], None),
    ({"model": "EMPTY_DIR"}, ["lm.model", "not a Hugging Face model folder", "no config.json", "no weights"], None),
    ({"hf_token": TOKEN}, ["lm.hf_token", "never read from the config", "HF_TOKEN"], TOKEN),
    ({"model": TOKEN}, ["lm.model", "looks like a Hugging Face access token", "HF_TOKEN"], TOKEN),
    ({"max_malformed_share": 1.5}, ["lm.max_malformed_share = 1.5", "maximum"], None),
], ids=["model-missing-absolute", "model-missing-relative", "model-folder-without-model", "token-key-in-config",
        "token-as-value", "malformed-share-out-of-range"])
def test_config_and_model_path_fail_at_dag_build(tmp_path, lm, needles, secret):
    if lm.get("model") == "EMPTY_DIR":
        (tmp_path / "empty-model").mkdir()
        lm = {"model": str(tmp_path / "empty-model")}
    res = snakemake("-n", workdir=tmp_path, config=_lm_config(tmp_path, lm), env=clean_env())
    out = res.stdout + res.stderr
    assert res.returncode != 0
    for needle in needles:
        assert needle in out, (needle, out[-2000:])
    if secret:
        assert secret not in out  # a credential is never echoed
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()  # nothing ran


# ------------------------------------------------------------------ HH-RLHF records: located, counted


@pytest.mark.parametrize("bad, reason, detail", [
    ('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b", "rejected": }', INVALID_JSON, "Expecting value (column 56)"),
    (json.dumps({"chosen": "\n\nHuman: a\n\nAssistant: b"}), NOT_A_PAIR, "'rejected' missing"),
    (json.dumps({"chosen": 3, "rejected": "\n\nHuman: a\n\nAssistant: c"}), NOT_A_PAIR, "'chosen' not a string"),
    (json.dumps(["\n\nHuman: a\n\nAssistant: b", "x"]), NOT_A_PAIR, "a JSON list"),
    (json.dumps({"chosen": "\n\nHuman: a b c", "rejected": "\n\nHuman: a b d"}), NO_ASSISTANT, ""),
    (json.dumps({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: z\n\nAssistant: c"}),
     PROMPT_MISMATCH, ""),
    (b'{"chosen": "\xff\xfe", "rejected": "x"}', INVALID_UTF8, "can't decode byte 0xff"),
], ids=["broken-json", "no-rejected", "chosen-not-text", "not-an-object", "no-assistant-turn", "prompts-differ",
        "not-utf8"])
def test_dropped_record_is_counted_and_located_by_its_line(tmp_path, bad, reason, detail):
    lines = [x.encode() for x in hh_lines(40, "train")]
    lines.insert(5, b"")  # a blank line: skipped, but file lines are still counted
    lines[17] = bad if isinstance(bad, bytes) else bad.encode()
    path = write_hh(tmp_path / "hh" / SUBSET / "train.jsonl.gz", [], raw=gzip.compress(b"\n".join(lines) + b"\n"))
    tables, reports = read_source({(SUBSET, "train"): path}, manifest_dir=tmp_path / "hh")
    rep = reports[(SUBSET, "train")]
    assert rep.records == 40 and rep.pairs == 39 and dict(rep.dropped) == {reason: 1}
    assert rep.located[0]["at"] == f"{path}:18"  # 1-based line number, the blank line counted
    assert rep.located[0]["reason"] == reason and detail in rep.located[0].get("detail", "")
    assert f"{path}:18 ({reason}" in rep.describe()
    assert tables["train"].stages[0]["dropped"] == {reason: 1}
    # the good records are intact: every other line gives its pair, under its line's id
    expected = {f"{SUBSET}/train/{k:06d}" for k in range(41) if k not in (5, 17)}
    assert set(tables["train"].ids) == expected
    # below the threshold the file is used, so its checksum is recorded (read to the end)
    manifest = json.loads((tmp_path / "hh" / "manifest.json").read_text())
    assert manifest["files"][f"{SUBSET}/train.jsonl.gz"]["sha256"] == sha(path)


def test_first_drops_are_located_and_all_counted(tmp_path):
    lines = hh_lines(200, "train")
    bad_lines = [3, 9, 10, 50, 77, 120, 150, 199]  # 8 of 200 = 4 %: below the 5 % default
    for k in bad_lines:
        lines[k] = "{not json"
    path = write_hh(tmp_path / SUBSET / "train.jsonl.gz", lines)
    _, reports = read_source({(SUBSET, "train"): path})
    rep = reports[(SUBSET, "train")]
    assert dict(rep.dropped) == {INVALID_JSON: 8}
    assert [d["at"] for d in rep.located] == [f"{path}:{k + 1}" for k in bad_lines[:5]]  # the first five
    assert rep.to_dict()["first_dropped"] == rep.located and rep.to_dict()["dropped_share"] == 0.04


# ------------------------------------------------------------------ HH-RLHF files: unreadable or mostly garbage


def _truncated(lines):
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    return data[: len(data) // 2]


def _corrupt_crc(lines):
    data = bytearray(gzip.compress(("\n".join(lines) + "\n").encode()))
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    return bytes(data)


@pytest.mark.parametrize("make, needles", [
    (_truncated, ["cannot be read to the end", "EOFError", "truncated or corrupt"]),
    (_corrupt_crc, ["cannot be read to the end", "CRC check failed"]),
    (lambda lines: ("\n".join(lines) + "\n").encode(), ["not a gzip file"]),
    (lambda lines: bytes(range(256)) * 40, ["cannot be read to the end"]),
    (lambda lines: gzip.compress(("\n".join(lines[:5] + ["garbage"] * 45) + "\n").encode()),
     ["50 records → 5 pairs", "invalid_json 45", "lm.max_malformed_share = 0.05", ":6 (invalid_json"]),
], ids=["truncated-gzip", "bad-crc", "plain-text-named-gz", "binary", "mostly-garbage"])
def test_unusable_file_is_named_and_never_recorded(tmp_path, make, needles):
    dest = tmp_path / "hh"
    good = write_hh(dest / SUBSET / "test.jsonl.gz", hh_lines(12, "test"))
    lines = hh_lines(60, "train")
    bad = write_hh(dest / SUBSET / "train.jsonl.gz", [], raw=make(lines))
    files = local_files(dest, [SUBSET], ["train", "test"])  # nothing recorded yet: nothing to verify
    with pytest.raises(HHRLHFFileError) as err:
        read_source(files, manifest_dir=dest)
    msg = str(err.value)
    assert str(bad) in msg and "HH-RLHF file cannot be used (no checksum recorded)" in msg and str(good) not in msg
    assert "\n" not in msg  # one file, one line
    for needle in needles:
        assert needle in msg, msg
    assert not (dest / "manifest.json").exists()  # a run that stops pins nothing
    # the user puts a good copy in its place: it is read, used and recorded like any new file
    write_hh(bad, lines)
    tables, _ = read_source(local_files(dest, [SUBSET], ["train", "test"]), manifest_dir=dest)
    assert len(tables["train"]) == 60 and len(tables["test"]) == 12
    recorded = json.loads((dest / "manifest.json").read_text())["files"]
    assert recorded[f"{SUBSET}/train.jsonl.gz"]["sha256"] == sha(bad)
    assert recorded[f"{SUBSET}/test.jsonl.gz"]["sha256"] == sha(good)


def test_threshold_is_per_file_and_configurable(tmp_path):
    lines = hh_lines(20, "train")
    lines[4] = lines[7] = "{"  # 2 of 20 = 10 %
    path = write_hh(tmp_path / SUBSET / "train.jsonl.gz", lines)
    with pytest.raises(HHRLHFFileError, match=r"more than lm.max_malformed_share = 0.05"):
        read_source({(SUBSET, "train"): path})
    tables, _ = read_source({(SUBSET, "train"): path}, max_malformed_share=0.1)
    assert len(tables["train"]) == 18


# ------------------------------------------------------------------ checksums: a replaced file, accepted by command


def _accept(*args):
    return subprocess.run([sys.executable, "-m", "hetpref.lm.data.accept", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("case", ["recorded", pytest.param("known", marks=pytest.mark.skipif(
    hh_rlhf_skip_reason() is not None, reason=hh_rlhf_skip_reason() or ""))])
def test_replaced_file_is_refused_until_accepted_by_command(tmp_path, case):
    dest = tmp_path / "hh"
    if case == "recorded":  # pinned on first use, then replaced
        path = write_hh(dest / SUBSET / "train.jsonl.gz", hh_lines(30, "train", seed=1))
        read_source(local_files(dest, [SUBSET], ["train"]), manifest_dir=dest)
        write_hh(path, hh_lines(30, "train", seed=2))
        subsets, split, needle = [SUBSET], "train", "recorded in"
    else:  # the published file, known by its checksum, replaced by a trimmed copy
        with gzip.open(REAL, "rt", encoding="utf-8") as f:
            path = write_hh(dest / "harmless-base" / "test.jsonl.gz", f.read().splitlines()[:50])
        subsets, split, needle = ["harmless-base"], "test", "known checksum"
    before = (dest / "manifest.json").read_bytes() if (dest / "manifest.json").exists() else None
    with pytest.raises(ChecksumError) as err:
        local_files(dest, subsets, [split])
    msg = str(err.value)
    assert str(path) in msg and needle in msg and f"python -m hetpref.lm.data.accept {path}" in msg
    # a broken file is not accepted, and the manifest is untouched
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    res = _accept(path)
    assert res.returncode == 1 and "not accepted" in res.stderr and str(path) in res.stderr
    assert (before is None and not (dest / "manifest.json").exists()) or (dest / "manifest.json").read_bytes() == before
    # the good replacement is accepted, and later runs use it
    path.write_bytes(good)
    res = _accept(path)
    assert res.returncode == 0, res.stderr
    assert f"accepted {path}" in res.stdout
    entry = json.loads((dest / "manifest.json").read_text())["files"][f"{subsets[0]}/{split}.jsonl.gz"]
    assert entry["sha256"] == sha(path) and entry["accepted"] is True
    tables, _ = read_source(local_files(dest, subsets, [split]), manifest_dir=dest)
    assert len(tables[split]) > 0


class _TruncatingHost(http.server.BaseHTTPRequestHandler):
    """Serves half a gzip file with a matching Content-Length: a transfer that 'succeeded'."""
    payload = b""
    hits = 0

    def do_GET(self):
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


def test_download_that_does_not_read_to_the_end_is_retried_and_never_recorded(tmp_path):
    _TruncatingHost.payload = _truncated(hh_lines(60, "train"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TruncatingHost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DownloadError) as err:
            download_hh_rlhf(tmp_path / "hh", [SUBSET], ["train"], base_url=f"http://127.0.0.1:{server.server_address[1]}",
                             retries=1, backoff_s=0)
    finally:
        server.shutdown()
    msg = str(err.value)
    assert _TruncatingHost.hits == 2 and "2 attempt(s)" in msg and "cannot be read to the end" in msg
    assert str(tmp_path / "hh" / SUBSET / "train.jsonl.gz") in msg
    assert not (tmp_path / "hh" / SUBSET / "train.jsonl.gz").exists()
    assert json.loads((tmp_path / "hh" / "manifest.json").read_text())["files"] == {}


# ------------------------------------------------------------------ no pair left: one line, pointing to the report


def _run_lm_data(tmp_path, files: dict[str, list[str]], max_length=512):
    """workflow_scripts/lm_data.py in-process on local files ``{subset/split: lines}``."""
    data = tmp_path / "hh"
    for name, lines in files.items():
        write_hh(data / f"{name}.jsonl.gz", lines)
    out = {k: str(tmp_path / "data" / f"{k}.jsonl") for k in DATASETS}
    out.update(lengths=str(tmp_path / "data" / "lengths.csv"), tokenizer=str(tmp_path / "data" / "tokenizer"),
               summary=str(tmp_path / "data" / "summary.json"))
    smk = type("Smk", (), {})()
    smk.rule, smk.threads, smk.wildcards, smk.input = "lm_data", 1, {}, Names()
    smk.params = Names(source="local", data_dir=str(data), subsets=sorted({n.split("/")[0] for n in files}), seed=0,
                        tokenizer="tiny", max_length=max_length, vocab_size=400, demo_dir=str(tmp_path / "demo"),
                        demo_seed=0, demo_pairs=1000, retries=3, max_malformed_share=0.05, local_split=None)
    smk.output = Names(**out)
    smk.log = Names(log=str(tmp_path / "data.log"), report=str(tmp_path / "data_report.json"))
    (tmp_path / "data").mkdir(exist_ok=True)
    runpy.run_path(str(ROOT / "workflow_scripts" / "lm_data.py"), init_globals={"snakemake": smk})
    return data


@pytest.mark.parametrize("case", ["all-too-long", "all-train-files-empty", "one-of-two-empty"])
def test_no_training_pair_fails_with_one_line_naming_the_inputs(tmp_path, capfd, case):
    other = "helpful-online"  # a second subset (harmless-base/test has a known checksum)
    files = {f"{SUBSET}/train": hh_lines(20, "train"), f"{SUBSET}/test": hh_lines(10, "test"),
             f"{other}/train": hh_lines(20, "train", seed=3), f"{other}/test": hh_lines(10, "test", seed=3)}
    max_length = 16 if case == "all-too-long" else 512
    if case != "all-too-long":
        files[f"{SUBSET}/train"] = []  # valid gzip, no records
    if case == "all-train-files-empty":
        files[f"{other}/train"] = []
    if case == "one-of-two-empty":  # some usable input: the run goes on, the empty file is reported
        data = _run_lm_data(tmp_path, files, max_length)
        summary = json.loads((tmp_path / "data" / "summary.json").read_text())
        assert summary["files"][f"{SUBSET}/train"]["records"] == 0
        assert summary["splits"]["train"]["pairs"] == 20
        assert "holds no records" in (tmp_path / "data.log").read_text()
        assert (data / "manifest.json").exists()
        return
    with pytest.raises(SystemExit) as exit_:
        _run_lm_data(tmp_path, files, max_length)
    assert exit_.value.code == 1
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    line = errors[0]
    train_files = [str(tmp_path / "hh" / f"{s}/train.jsonl.gz") for s in sorted((SUBSET, other))]
    assert "no training pair is left from " + ", ".join(train_files) in line
    assert f"per-file counts in {tmp_path / 'data_report.json'}" in line
    if case == "all-too-long":
        assert "(40 records; dropped: 40 longer than lm.max_length = 16 tokens)" in line
    else:
        assert "(0 records)" in line
    report = json.loads((tmp_path / "data_report.json").read_text())  # a log: kept although the job failed
    assert set(report["files"]) == {f"{s}/{sp}" for s in (SUBSET, other) for sp in ("train", "test")}
    assert not (tmp_path / "data" / "summary.json").exists()


# ------------------------------------------------------------------ the model: hub ids, cache, token, offline


@pytest.fixture(scope="module")
def hub_home(tmp_path_factory):
    """A Hugging Face cache (HF_HOME) holding a tiny Llama under a hub id, laid out as
    ``hf download`` leaves it (refs/main → snapshots/<commit>/), plus one id whose weights are
    missing (config and tokenizer only)."""
    from hetpref.lm.data.tokenization import train_tiny_tokenizer
    from hetpref.lm.models import build_tiny_llama

    home = tmp_path_factory.mktemp("hf_home")
    texts = [json.loads(x)["chosen"] for x in hh_lines(100, "train", seed=0)]
    for repo, weights in ((CACHED_ID, True), ("hetpref-test/no-weights", False)):
        commit = hashlib.sha1(repo.encode()).hexdigest()
        cache = home / "hub" / f"models--{repo.replace('/', '--')}"
        snap = cache / "snapshots" / commit
        tok = train_tiny_tokenizer(texts, snap, vocab_size=400)
        model = build_tiny_llama(len(tok), hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16,
                                 pad_token_id=tok.pad_token_id)
        if weights:
            model.save_pretrained(snap)
        else:
            model.config.save_pretrained(snap)
        (cache / "refs").mkdir(parents=True, exist_ok=True)
        (cache / "refs" / "main").write_text(commit)
    return home


FAKE_TOKEN = "hf_" + "T" * 34  # what a user exports as HF_TOKEN


def _probe(home, *specs, offline, fake_hub=False, token=None):
    env = clean_env(HF_HOME=str(home), PYTHONPATH=str(ROOT / "src"))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    if token:
        env["HF_TOKEN"] = token
    res = subprocess.run([sys.executable, str(PROBE), *(["--fake-hub"] if fake_hub else []), *specs],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def online_probe(hub_home):
    """With a network hub (a local stand-in, HF_ENDPOINT) and HF_TOKEN exported: gated, unknown
    and cached ids."""
    return _probe(hub_home, "gated/llama", "hetpref-test/misspelt", CACHED_ID, f"{CACHED_ID}:config",
                  offline=False, fake_hub=True, token=FAKE_TOKEN)


@pytest.fixture(scope="module")
def offline_probe(hub_home):
    """A GPU node without internet: HF_HUB_OFFLINE=1 and the cache."""
    return _probe(hub_home, "meta-llama/Meta-Llama-3-8B", CACHED_ID, f"{CACHED_ID}:config",
                  "hetpref-test/no-weights:config", offline=True)


@pytest.mark.workflow
@pytest.mark.parametrize("probe, spec, needles", [
    ("online_probe", "gated/llama", ["lm.model = 'gated/llama'", "gated model", "export HF_TOKEN",
                                     "HF_TOKEN is set", "never put the token in the config"]),
    ("online_probe", "hetpref-test/misspelt", ["lm.model = 'hetpref-test/misspelt'", "check the spelling",
                                               "https://huggingface.co/hetpref-test/misspelt"]),
    ("offline_probe", "meta-llama/Meta-Llama-3-8B", ["lm.model = 'meta-llama/Meta-Llama-3-8B'",
                                                     "not in the Hugging Face cache", "HF_HUB_OFFLINE=1",
                                                     "hf download meta-llama/Meta-Llama-3-8B", "local folder"]),
    ("offline_probe", "hetpref-test/no-weights:config", ["lm.model = 'hetpref-test/no-weights'", "not its weights",
                                                         "HF_HUB_OFFLINE=1"]),
], ids=["gated", "misspelt", "offline-not-cached", "offline-weights-missing"])
def test_hub_model_that_cannot_be_loaded_gives_one_message(request, hub_home, probe, spec, needles):
    got = request.getfixturevalue(probe)[spec]
    assert not got["ok"] and got["type"] in ("TokenizerUnavailable", "ModelUnavailable")
    msg = got["message"]
    assert "\n" not in msg and "Traceback" not in msg  # one message, not a chain
    assert str(hub_home) in msg  # says which cache it looked in
    for needle in needles:
        assert needle in msg, msg
    assert FAKE_TOKEN not in msg
    if probe == "online_probe":  # the token was read from the environment and sent to the hub
        assert got["requests"] and got["authorization"] == [f"Bearer {FAKE_TOKEN}"]


@pytest.mark.workflow
@pytest.mark.parametrize("probe", ["online_probe", "offline_probe"])
def test_cached_hub_id_loads_without_asking_the_hub(request, probe):
    got = request.getfixturevalue(probe)
    for spec in (CACHED_ID, f"{CACHED_ID}:config"):
        assert got[spec] == {"ok": True, "requests": [], "authorization": []}, got[spec]  # cache first: hub never asked


# ------------------------------------------------------------------ two real lm_data runs: corrupt, then replaced


@pytest.mark.workflow
def test_corrupt_file_fails_the_run_then_its_good_copy_is_used_offline(tmp_path, hub_home):
    cfg = tmp_path / "lm.yaml"
    cfg.write_text(yaml.safe_dump({"lm": {"source": "local", "data_dir": "hh", "subsets": [SUBSET],
                                          "model": CACHED_ID}}))
    env = clean_env(HF_HOME=str(hub_home), HF_HUB_OFFLINE="1")  # a GPU node without internet
    target = f"results/lm/local_{CACHED_ID.replace('/', '-')}/data/summary.json"
    lines = hh_lines(60, "train")
    lines[8] = '{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: yes"}'  # no rejected: line 9
    lines[40] = "{oops"                                             # broken JSON: line 41
    test_file = write_hh(tmp_path / "hh" / SUBSET / "test.jsonl.gz", hh_lines(12, "test"))
    train_file = write_hh(tmp_path / "hh" / SUBSET / "train.jsonl.gz", [], raw=_truncated(lines))

    res = snakemake("--cores", "1", target, workdir=tmp_path, config=cfg, env=env)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "Error in rule lm_data" in out
    errors = [line for line in out.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in out, out[-3000:]
    assert f"hh/{SUBSET}/train.jsonl.gz: cannot be read to the end (EOFError" in errors[0]
    assert "Its checksum is not recorded" in out
    assert not (tmp_path / "hh" / "manifest.json").exists()  # the corrupt file is not pinned
    assert not (tmp_path / target).exists()

    write_hh(train_file, lines)  # the good copy, in the same place
    res = snakemake("--cores", "1", target, workdir=tmp_path, config=cfg, env=env)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    summary = json.loads((tmp_path / target).read_text())
    train = summary["files"][f"{SUBSET}/train"]
    assert train["dropped"] == {INVALID_JSON: 1, NOT_A_PAIR: 1} and train["pairs"] == 58
    assert [d["at"] for d in train["first_dropped"]] == [f"hh/{SUBSET}/train.jsonl.gz:9",
                                                         f"hh/{SUBSET}/train.jsonl.gz:41"]
    assert summary["files"][f"{SUBSET}/test"]["pairs"] == 12 and summary["splits"]["test"]["pairs"] == 12
    assert summary["tokenizer"] == CACHED_ID
    log = (tmp_path / f"logs/lm/local_{CACHED_ID.replace('/', '-')}/data.log").read_text()
    assert f"hh/{SUBSET}/train.jsonl.gz:41 (invalid_json" in log and "HF_HUB_OFFLINE on" in log
    manifest = json.loads((tmp_path / "hh" / "manifest.json").read_text())["files"]
    assert manifest[f"{SUBSET}/train.jsonl.gz"]["sha256"] == sha(train_file)
    assert manifest[f"{SUBSET}/test.jsonl.gz"]["sha256"] == sha(test_file)


# ------------------------------------------------------------------ staging the weights once


@pytest.mark.workflow
def test_staging_records_the_cached_snapshot_offline_and_fails_clearly(hub_home):
    """``hetpref.lm.data.stage`` (the lm_stage_model rule): offline it records the snapshot the cache
    holds; a model the cache lacks, or a hub that refuses the id, is one message saying what to do."""
    offline = _probe(hub_home, f"{CACHED_ID}:stage", "meta-llama/Meta-Llama-3-8B:stage", offline=True)
    snap = next((hub_home / "hub" / f"models--{CACHED_ID.replace('/', '--')}" / "snapshots").iterdir())
    got = offline[f"{CACHED_ID}:stage"]
    assert got["ok"], got
    rec = got["record"]
    assert (rec["repo_id"], rec["commit"], rec["folder"], rec["staged"]) == (CACHED_ID, snap.name, str(snap), True)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(rec["files"])
    assert rec["bytes"] == sum(p.stat().st_size for p in snap.rglob("*") if p.is_file())
    missing = offline["meta-llama/Meta-Llama-3-8B:stage"]
    assert not missing["ok"] and missing["type"] == "ModelUnavailable"
    for needle in ("not in the Hugging Face cache", "HF_HUB_OFFLINE=1", "hf download meta-llama/Meta-Llama-3-8B"):
        assert needle in missing["message"] and "\n" not in missing["message"]
    online = _probe(hub_home, "gated/llama:stage", "hetpref-test/misspelt:stage", offline=False, fake_hub=True)
    assert "gated model" in online["gated/llama:stage"]["message"]
    assert "check the spelling" in online["hetpref-test/misspelt:stage"]["message"]
    # the fake hub was asked for the repository's file list: staging is the one step that uses the network
    assert online["hetpref-test/misspelt:stage"]["requests"]


# ------------------------------------------------------------------ no network once the job runs

NO_NETWORK = ROOT / "tests" / "workflow" / "no_network_probe.py"


@pytest.mark.workflow
def test_training_and_evaluation_of_a_cached_hub_id_attempt_no_connection(tmp_path, hub_home):
    """A firewalled GPU node whose environment lacks HF_HUB_OFFLINE=1: a hub id served from the
    cache trains (a checkpoint at every step, both objectives), saves and evaluates with every
    socket connection and name lookup blocked; none may be attempted (peft's default
    ``save_embedding_layers="auto"`` asks the hub at every save)."""
    snap = next((hub_home / "hub" / f"models--{CACHED_ID.replace('/', '--')}" / "snapshots").iterdir())
    env = clean_env(HF_HOME=str(hub_home), PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    assert "HF_HUB_OFFLINE" not in env
    res = subprocess.run([sys.executable, str(NO_NETWORK), CACHED_ID, str(snap), str(tmp_path / "runs")],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-4000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["attempts"] == [], json.dumps(got["attempts"], indent=1)[:4000]
    for objective in ("reward", "dpo"):
        assert got[objective]["steps"] == 4 and got[objective]["eval_pairs"] == 8
        # provenance names the snapshot (commit) of the weights: the cache's refs/main
        assert got[objective]["weights_snapshot"] == {"repo_id": CACHED_ID, "commit": snap.name,
                                                      "source": "hugging face cache"}
    # a checkpoint was written after every step but the last (the adapter is saved then)
    assert got["checkpoints_saved"] == [[f"checkpoint-{s}"] for s in (1, 2, 3, 3)] * 2
