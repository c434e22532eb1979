"""Pretraining throughput (training images/s) for 1 and 2 processes, through the real launcher.

    python benchmarks/pretrain_throughput.py        # README "Pretraining throughput": S = 224, 64
    python benchmarks/pretrain_throughput.py --sizes 64 --nprocs 1 --batch-size 2 --steps 8  # smoke

For each image size a simulated corpus is built once (``build_corpus``, simulated sources
only); each configuration then runs ``launch_pretraining`` (torchrun, gloo on CPU / NCCL on
GPU: with a GPU the table gains cuda rows) for one epoch with ``--batch-size`` images per
process, so the global batch grows with the processes (weak scaling). The trainer's own log
gives images/s per window of steps (training only: no start-up, evaluation or checkpointing);
the first window is warm-up and left out, the median of the rest is reported. CPU processes
share the machine's cores (torchrun workers get ``cores // nproc`` threads each).
"""

from __future__ import annotations

import math
import os
import re
import statistics
from pathlib import Path

import torch

from biomoe.config import Params, load_params
from biomoe.corpus.build import build_corpus
from biomoe.paths import ProjectPaths
from biomoe.pretrain.launch import launch_pretraining
from biomoe.pretrain.params import PretrainJob
from common import markdown_table, parser, with_updates, workdir

SPEED = re.compile(r"^step\s+\d+/\d+ .*\|\s*([\d.]+) img/s$")
LOG_EVERY = 4
COLUMNS = ["device", "S", "processes", "batch/process", "global batch", "images/s", "speed-up"]


def bench_params(base: Params, size: int, windows: int, **pretrain: object) -> Params:
    """params.yaml at image size ``size``, with a corpus of ``windows`` simulated windows per
    signal type (no packaged or user sources) and one epoch of ``pretrain`` settings."""
    simulated_only = {
        "simulated": {"windows_per_signal": windows},
        "packaged": {"datasets": [], "required": False},
        "user": [],
    }
    one_epoch = {"corpus_scale": 1, "epochs": 1, "warmup_steps": 2}
    schedule = {
        "recipe": "bench",
        "recipes": {"bench": one_epoch},
        "log_every": LOG_EVERY,
        "checkpoint_every": 10_000,
    }
    updates = {"images": {"size": size}, "corpus": simulated_only}
    return with_updates(base, {**updates, "pretrain": {**schedule, **pretrain}})


def measure(params: Params, root: Path) -> float:
    """Median images/s over the trainer's log windows after the first (warm-up)."""
    speeds: list[float] = []

    def collect(line: str) -> None:
        match = SPEED.match(line.strip())
        if match:
            speeds.append(float(match.group(1)))

    launch_pretraining(
        PretrainJob(pretrain=params.pretrain, img_size=params.images.size),
        ProjectPaths.at(root),
        echo=collect,
    )
    if not speeds:
        raise SystemExit(f"no speed lines in the trainer's log: raise --steps (> {LOG_EVERY})")
    return statistics.median(speeds[1:] or speeds)


def main() -> None:
    cli = parser(__doc__, params=True, workdir=True)
    cli.add_argument("--sizes", type=int, nargs="+", default=[224, 64])
    cli.add_argument("--nprocs", type=int, nargs="+", default=[1, 2])
    cli.add_argument("--batch-size", type=int, default=16, help="images per process")
    cli.add_argument("--steps", type=int, default=12, help="optimizer steps at most nproc")
    args = cli.parse_args()

    base = load_params(args.params)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    work = workdir(args, "pretrain-bench-")
    n_types = len(base.corpus.simulated.signal_types)
    n_reps = len(base.images.representations)
    most = max(args.nprocs) * args.batch_size * args.steps
    windows = math.ceil(most / (n_types * n_reps * (1 - base.pretrain.val_fraction))) + 1

    rows = []
    for size in args.sizes:
        root = work / f"s{size}"
        corpus = root / "data" / "corpus"
        if not corpus.exists():
            bench = bench_params(base, size, windows)
            build_corpus(bench.corpus, bench.images, bench.ingest.fs, corpus, progress=False)
        for device in devices:
            single = None
            for nproc in args.nprocs:
                if device == "cuda" and nproc > torch.cuda.device_count():
                    continue
                params = bench_params(
                    base, size, windows, nproc=nproc, batch_size=args.batch_size, device=device
                )
                speed = measure(params, root)
                single = single or speed
                batch = args.batch_size
                print(f"{device} S={size} nproc={nproc}: {speed:.1f} img/s", flush=True)
                setup = [device, size, nproc, batch, nproc * batch]
                rows.append([*setup, f"{speed:.1f}", f"{speed / single:.2f}x"])

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    print(f"\ntorch {torch.__version__}, {os.cpu_count()} CPU cores{gpu}\n")
    print(markdown_table(COLUMNS, rows))


if __name__ == "__main__":
    main()
