"""A short LoRA training run (with a checkpoint at every step), then an evaluation, of a model
given as a **hub id** and served from the Hugging Face cache of the environment (HF_HOME), with
every socket connection blocked and recorded. HF_HUB_OFFLINE is deliberately not required: this
is the firewalled GPU node whose environment forgot it.

    python no_network_probe.py HUB_ID TOKENIZER_DIR OUT_DIR

Prints one JSON object: ``attempts`` (each blocked connection or name lookup, with its target
and the innermost project / library frame that asked), ``steps``, ``checkpoints_saved`` and the
evaluation's pair count. Run in a fresh process: huggingface_hub reads HF_HOME once, at import.
"""
import json
import socket
import sys
import traceback

ATTEMPTS = []


def _record(kind, target):
    frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno} {f.name}"
              for f in traceback.extract_stack()[:-2]
              if not any(http in f.filename for http in ("httpx", "httpcore", "urllib3", "requests", "socket"))]
    ATTEMPTS.append({"kind": kind, "target": repr(target)[:200], "stack": frames[-22:]})
    raise OSError(f"network blocked by no_network_probe ({kind} {target!r})")


def _blocked_connect(self, address):
    _record("connect", address)


def _blocked_create_connection(address, *args, **kwargs):
    _record("create_connection", address)


def _blocked_getaddrinfo(host, *args, **kwargs):
    _record("getaddrinfo", host)


socket.socket.connect = _blocked_connect
socket.socket.connect_ex = _blocked_connect
socket.create_connection = _blocked_create_connection
socket.getaddrinfo = _blocked_getaddrinfo


def main(hub_id, tokenizer_dir, out_dir):
    from pathlib import Path

    import torch

    from hetpref.lm.data.tokenization import load_tokenizer
    from hetpref.lm.evaluation.evaluate import evaluate_run
    from hetpref.lm.training.config import LMTrainConfig
    from hetpref.lm.training.run import LMRun
    from hetpref.lm.training.train import train

    torch.set_num_threads(1)
    tok = load_tokenizer(hub_id, tokenizer_dir)  # the training and evaluation jobs' (a local folder)
    words = "alpha bravo charlie delta echo foxtrot golf hotel".split()
    records = [{"id": f"r{i}", "prompt": "\n\nHuman: " + " ".join(words[i % 8:i % 8 + 3]) + "?\n\nAssistant:",
                "chosen": " " + " ".join(words[:1 + i % 7]), "rejected": " " + words[i % 8]} for i in range(8)]
    saved = []
    out = {}
    for objective in ("reward", "dpo"):
        run_dir = Path(out_dir) / objective
        cfg = LMTrainConfig(lr=1e-3, batch_size=2, checkpoint_every=1, log_every=1, max_length=128)
        run = LMRun(objective=objective, dataset="anonymous", seed=0, model=hub_id, train=cfg, out_dir=str(run_dir),
                    tokenizer_dir=tokenizer_dir, device="cpu", keep_checkpoint=True)
        res = train(run, records, tok, progress=False,
                    callback=lambda step, loss, d=run_dir: saved.append(
                        sorted(p.name for p in (d / "checkpoint").iterdir() if p.name.startswith("checkpoint-"))))
        metrics, _ = evaluate_run(res.adapter_dir, tok, records, device="cpu")
        out[objective] = {"steps": res.metrics["steps"], "eval_pairs": metrics["n"],
                          "weights_snapshot": res.provenance.get("weights_snapshot")}
    load_tokenizer(hub_id, pad=False)  # the data job's, from the hub id (cache first)
    out["checkpoints_saved"] = saved
    out["attempts"] = ATTEMPTS
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
