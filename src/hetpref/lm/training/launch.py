"""Run one LM training run in one process or, data parallel, in N processes (docs/spec.md §8 training).

A run is an :class:`~hetpref.lm.training.run.LMRun` naming everything
:func:`hetpref.lm.training.train.train` needs (its ``records`` and ``tokenizer_dir`` included).
:func:`run_job` trains in-process for one process; for N > 1 it writes the run to
``<out_dir>/launch_run.json`` (:meth:`~hetpref.lm.training.run.LMRun.to_json`) and starts
``python -m torch.distributed.run --standalone --nproc-per-node N -m hetpref.lm.training.launch
<run.json>``: every rank runs :func:`main`, which reads the run back and calls ``train`` (the
Trainer joins the process group torchrun set up: NCCL on GPUs, one GPU per rank; gloo on CPU, for
testing). The ranks' output (the main rank's log lines and progress bar, the others' warnings) is
relayed line by line into the caller's log handlers, i.e. the job's log file.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

from .run import LMRun

log = logging.getLogger("hetpref.lm.training.launch")



def train_in_process(run: LMRun, progress: bool = True):
    """``train`` on the run's records (``run.records``) in this process (also what each torchrun
    rank runs)."""
    from ..data.jsonl import read_jsonl
    from ..data.tokenization import load_tokenizer
    from .train import train

    if run.records is None:
        raise ValueError("LMRun.records must name the training JSONL to launch the run")
    tokenizer = load_tokenizer(run.model, run.tokenizer_dir)
    return train(run, read_jsonl(run.records), tokenizer, progress=progress)


def _relay(line: str, logger: logging.Logger) -> None:
    """Write a rank's output line unchanged to the logger's handlers (file and stderr): the
    ranks format their own lines, so no second timestamp."""
    handlers = [h for h in logger.handlers if hasattr(h, "stream")]
    if not handlers and logger.parent is not None and logger.propagate:
        return _relay(line, logger.parent)
    if not handlers:
        sys.stderr.write(line)
        return
    for h in handlers:
        h.acquire()
        try:
            h.stream.write(line)
            h.flush()
        finally:
            h.release()


def run_job(run: LMRun, processes: int = 1, logger: logging.Logger | None = None, threads: int = 1):
    """Train the run with ``processes`` data-parallel processes (1: in this process) and return
    its :class:`~hetpref.lm.training.train.TrainResult`. ``threads`` are the job's CPU threads, split
    evenly over the processes (at least one each)."""
    from .train import TrainResult

    logger = logger or log
    processes = int(processes)
    if processes < 1:
        raise ValueError(f"processes must be ≥ 1, got {processes!r} (lm.gpus_per_job)")
    if processes == 1:
        return train_in_process(run)
    out_dir = Path(run.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    job_path = out_dir / "launch_run.json"
    job_path.write_text(run.to_json())
    per_process = max(1, int(threads) // processes)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
           "-m", "hetpref.lm.training.launch", str(job_path)]
    env = {**os.environ, "OMP_NUM_THREADS": str(per_process), "MKL_NUM_THREADS": str(per_process),
           "PYTHONUNBUFFERED": "1"}
    logger.info("launching %d processes (%d threads each): %s", processes, per_process, " ".join(cmd))
    tail = deque(maxlen=20)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          bufsize=1) as proc:
        for line in proc.stdout:
            tail.append(line.rstrip())
            _relay(line, logger)
    if proc.returncode != 0:
        raise RuntimeError(f"training with {processes} processes (torchrun) failed with exit status "
                           f"{proc.returncode}; the ranks' output is in the job log, its end:\n" + "\n".join(tail))
    job_path.unlink()
    metrics = json.loads((out_dir / "metrics.json").read_text())
    prov = json.loads((out_dir / "provenance.json").read_text())
    return TrainResult(out_dir / "adapter", metrics, prov)


def main(argv=None) -> int:
    """Entry point of every torchrun rank: ``python -m hetpref.lm.training.launch run.json``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: python -m hetpref.lm.training.launch <run.json> (run by torchrun on every rank)")
    import torch

    from ...runtime import set_torch_threads

    rank = int(os.environ.get("RANK", "0"))
    logger = logging.getLogger("hetpref")
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [rank {rank}] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    logger.propagate = False
    set_torch_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    run = LMRun.from_json(Path(argv[0]).read_text())
    try:
        train_in_process(run, progress=rank == 0)
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
