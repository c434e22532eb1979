"""Pretraining throughput (training images/s) for 1 and 2 processes, through the real launcher.

    python benchmarks/pretrain_throughput.py                      # S = 224 and 64, CPU (+ GPU)
    python benchmarks/pretrain_throughput.py --sizes 224 --nprocs 1 2 4 --batch-size 32

For each image size a simulated corpus is built once (``build_corpus``, simulated sources
only); each configuration then runs ``launch_pretraining`` (torchrun, gloo on CPU / NCCL on
GPU) for one epoch with ``batch_size`` images per process, so the global batch grows with the
processes (weak scaling). The trainer's own log gives images/s per window of steps (training
only: no start-up, evaluation or checkpointing); the first window is warm-up and left out,
the median of the rest is reported. CPU processes share the machine's cores (torchrun
workers get ``cores // nproc`` threads each). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import tempfile
from pathlib import Path

import torch

from biomoe.config import Params, load_params
from biomoe.paths import ProjectPaths
from biomoe.pretrain.corpus import build_corpus
from biomoe.pretrain.launch import launch_pretraining

SPEED = re.compile(r"^step\s+\d+/\d+ .*\|\s*([\d.]+) img/s$")
LOG_EVERY = 4


def bench_params(base: Params, size: int, windows: int, **pretrain: object) -> Params:
    data = base.model_dump(by_alias=True)
    data["images"].update(size=size)
    data["model"].update(img_size=size)
    corpus = data["pretrain"]["corpus"]
    corpus["simulated"].update(windows_per_signal=windows)
    corpus["packaged"].update(datasets=[], required=False)
    corpus["user"] = []
    data["pretrain"].update(
        epochs=1, warmup_steps=2, log_every=LOG_EVERY, checkpoint_every=10_000, **pretrain
    )
    return Params.model_validate(data)


def measure(params: Params, paths: ProjectPaths) -> float:
    """Median images/s over the trainer's log windows after the first (warm-up)."""
    speeds: list[float] = []

    def collect(line: str) -> None:
        match = SPEED.match(line.strip())
        if match:
            speeds.append(float(match.group(1)))

    launch_pretraining(params, paths, echo=collect)
    return statistics.median(speeds[1:] or speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 64])
    parser.add_argument("--nprocs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=16, help="images per process")
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps at most nproc")
    parser.add_argument("--repeats", type=int, default=1, help="runs per configuration")
    parser.add_argument("--batchnorm", choices=["sync", "local"], default="sync")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    base = load_params(args.params)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pretrain-bench-"))
    n_types = len(base.pretrain.corpus.simulated.signal_types)
    n_reps = len(base.images.representations)
    most = max(args.nprocs) * args.batch_size * args.steps
    windows = math.ceil(most / (n_types * n_reps * (1 - base.pretrain.val_fraction))) + 1

    rows = []
    for size in args.sizes:
        root = workdir / f"s{size}"
        corpus = root / "data" / "corpus"
        if not corpus.exists():
            build_corpus(bench_params(base, size, windows), corpus, progress=False)
        for device in devices:
            single = None
            for nproc in args.nprocs:
                if device == "cuda" and nproc > torch.cuda.device_count():
                    continue
                params = bench_params(
                    base,
                    size,
                    windows,
                    nproc=nproc,
                    batch_size=args.batch_size,
                    device=device,
                    batchnorm=args.batchnorm,
                )
                runs = [measure(params, ProjectPaths.at(root)) for _ in range(args.repeats)]
                speed = statistics.median(runs)
                spread = f"{min(runs):.1f}-{max(runs):.1f}"
                single = speed if single is None else single
                rows.append((device, size, nproc, args.batch_size, speed, speed / single, spread))
                print(f"{device} S={size} nproc={nproc}: {speed:.1f} img/s ({spread})", flush=True)

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    print(
        f"\ntorch {torch.__version__}, {os.cpu_count()} CPU cores{gpu}, batchnorm "
        f"{args.batchnorm}, median of {args.repeats} run(s)\n"
    )
    print("| device | S | processes | batch/process | global batch | images/s | range | speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for device, size, nproc, batch, speed, speedup, spread in rows:
        print(
            f"| {device} | {size} | {nproc} | {batch} | {nproc * batch} | {speed:.1f} "
            f"| {spread} | {speedup:.2f}x |"
        )


if __name__ == "__main__":
    main()
