"""Embedding speed: the eager Tiny-BioMoE vs the fast inference engines, on this machine's CPU.

    python benchmarks/embedding.py              # README "Embedding" table: S = 224, batches 1, 32
    python benchmarks/embedding.py --compile    # also torch.compile (README: measured, rejected)
    python benchmarks/embedding.py --profile    # README per-op table of one threaded worker
    python benchmarks/embedding.py --size 64 --batches 1 --rounds 1 --min-time 0.1   # smoke run
    python benchmarks/embedding.py --bf16 --batches 8 64 --chunks 2 4 8   # chunk sizes, bf16

Engines: ``eager`` is the published network (``TinyBioMoE`` under ``torch.inference_mode``);
``fast`` the optimised copy (BatchNorm folded, NHWC end to end, oneDNN-fused epilogues) on
PyTorch's intra-op threads; ``threaded`` the same copy on single-threaded workers, one per core.
``--compile`` adds ``torch.compile`` (Inductor, freezing) of the eager and of the fast model:
minutes of compilation on 2 cores. ``--bf16`` adds ``threaded bf16``, the threaded engine with
its experts in bfloat16 (serving's opt-in ``serve.precision: bf16``; needs oneDNN's bfloat16
kernels), and ``--chunks`` the threaded engines at other chunk sizes (``threaded c4``).
Weights: the shared reference checkpoint at S = 224 (then every engine is also compared with
the reference embeddings), else a random init.

Engines are timed in interleaved rounds (each round runs every engine once for at least
``--min-time`` seconds), so a machine shared with other work slows them alike; the table gives
the best and the median round, and the share of the CPU other processes used while timing. The
matmul peak is the best GFLOP/s of a 2048^3 float32 matmul in the same run; "% matmul peak" is
the model's FLOPs (``torch.utils.flop_counter``, one image) times images/s over that peak.

``--profile`` prints where the threaded engine's time goes instead: each of its workers runs the
fast model on one intra-op thread over chunks of 2 images, so that is profiled
(``torch.profiler``); ops are grouped by kind, ranked by self CPU time, and convolutions and
matrix products get their GFLOP/s (from the recorded shapes) against the one-thread peak.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity
from torch.profiler import profile as torch_profile
from torch.utils.flop_counter import FlopCounterMode

from biomoe.model.checkpoint import load_checkpoint
from biomoe.model.inference import FastTinyBioMoE, ThreadedTinyBioMoE, build_engine
from biomoe.model.inference.kernels import onednn_bfloat16
from biomoe.model.inference.workers import SingleThreadedWorkers
from biomoe.model.tiny_biomoe import TinyBioMoE
from common import OtherLoad, cpu_name, load_average, markdown_table, parser, per_call

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
ENGINES = ("eager", "fast", "threaded")
Embed = Callable[[torch.Tensor], torch.Tensor]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    saved = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def matmul_peak(workers: SingleThreadedWorkers | None = None, n: int = 2048) -> float:
    """Best GFLOP/s of ``n^3`` float32 matmuls: one split over PyTorch's threads or, with
    ``workers``, one per single-threaded worker side by side, whichever is faster."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    seconds = min(per_call(lambda: a @ b, 0.3) for _ in range(3))
    if workers is not None:
        many = range(workers.workers)
        side = min(per_call(lambda: workers.map(lambda _: a @ b, many), 0.3) for _ in range(3))
        seconds = min(seconds, side / workers.workers)
    return 2 * n**3 / seconds / 1e9


def model_gflops(model: TinyBioMoE, size: int) -> float:
    """FLOPs of one image (convolutions and matmuls, 2 per multiply-add), in GFLOP."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, size, size))
    return counter.get_total_flops() / 1e9


def load_model(size: int) -> tuple[TinyBioMoE, str]:
    checkpoint = REFERENCE / "tiny_biomoe_seed0.pth"
    if checkpoint.is_file() and size == 224:
        return load_checkpoint(checkpoint, img_size=size), str(checkpoint)
    torch.manual_seed(0)
    return TinyBioMoE(size).eval(), "random init (seed 0)"


def build_engines(model: TinyBioMoE, args: argparse.Namespace) -> dict[str, tuple[Embed, float]]:
    """Name -> (embed function, seconds it took to build, compilation included)."""
    built: dict[str, tuple[Embed, float]] = {}
    for name in ENGINES:
        start = time.perf_counter()
        built[name] = (build_engine(model, name), time.perf_counter() - start)
    threaded = {"threaded": torch.float32}
    if args.bf16:
        if onednn_bfloat16():
            threaded["threaded bf16"] = torch.bfloat16
        else:
            print("no threaded bf16: oneDNN's bfloat16 kernels are not available here")
    for name, dtype in threaded.items():
        start = time.perf_counter()
        fast = FastTinyBioMoE(model, dtype)
        if name != "threaded":
            built[name] = (ThreadedTinyBioMoE(fast, torch.get_num_threads()), 0.0)
        for chunk in args.chunks:
            engine = ThreadedTinyBioMoE(fast, torch.get_num_threads(), chunk)
            built[f"{name} c{chunk}"] = (engine, time.perf_counter() - start)
    if args.compile:
        import torch._inductor.config as inductor

        inductor.freezing = True  # weights as constants: folded, pre-packed, fused
        for name, base in (("compiled eager", model), ("compiled fast", built["fast"][0])):
            start = time.perf_counter()
            compiled = torch.compile(base, dynamic=False)
            with torch.inference_mode():
                for batch in args.batches:
                    compiled(torch.rand(batch, 3, args.size, args.size))
            built[name] = (compiled, time.perf_counter() - start)
    return built


def run_rounds(
    engines: dict[str, Embed], batch: int, args: argparse.Namespace, load: OtherLoad
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds per image of every engine in each interleaved round at one batch size, and each
    engine's max abs diff from eager's embeddings."""
    x = torch.rand(batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    rounds: dict[str, list[float]] = {name: [] for name in engines}
    with torch.inference_mode():
        outputs = {name: embed(x) for name, embed in engines.items()}
        diffs = {name: (out - outputs["eager"]).abs().max().item() for name, out in outputs.items()}
        for _ in range(args.rounds):
            for name, embed in engines.items():
                seconds = per_call(lambda e=embed: e(x), args.min_time, load)
                rounds[name].append(seconds / batch)
    return rounds, diffs


def reference_diffs(engines: dict[str, Embed]) -> str:
    io = torch.load(REFERENCE / "tiny_biomoe_seed0_io.pt", weights_only=True)
    with torch.inference_mode():
        return ", ".join(
            f"{name} {(embed(io['input']) - io['embedding']).abs().max().item():.1e}"
            for name, embed in engines.items()
        )


def table_rows(
    rounds: dict[str, list[float]], diffs: dict[str, float], batch: int, gflop: float, peak: float
) -> list[list[str]]:
    eager_best, eager_median = 1 / min(rounds["eager"]), 1 / statistics.median(rounds["eager"])
    rows = []
    for name, seconds in rounds.items():
        best, median = 1 / min(seconds), 1 / statistics.median(seconds)
        rows.append(
            [
                name,
                str(batch),
                f"{best:.1f}",
                f"{median:.1f}",
                f"{best / eager_best:.2f}x",
                f"{median / eager_median:.2f}x",
                f"{best * gflop:.0f}",
                f"{100 * best * gflop / peak:.0f} %",
                f"{diffs[name]:.1e}",
            ]
        )
    return rows


COLUMNS = [
    "engine",
    "batch",
    "images/s (best)",
    "images/s (median)",
    "x eager (best)",
    "x eager (median)",
    "GFLOP/s",
    "% matmul peak",
    "max abs diff vs eager",
]


def _conv_kind(shapes: list[list[int]], values: list[object]) -> tuple[str, float]:
    (b, c, h, w), (o, per_group, kh, kw) = shapes[0], shapes[1]
    padding, stride, dilation, groups = values[3:7]
    out_h = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1  # type: ignore[index]
    out_w = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1  # type: ignore[index]
    kind = f"conv {kh}x{kw} depth-wise" if groups == c and c > 1 else f"conv {kh}x{kw} dense"
    return kind, 2.0 * b * o * out_h * out_w * per_group * kh * kw


def op_kind(name: str, shapes: list[list[int]], values: list[object]) -> tuple[str, float]:
    """(kind, FLOPs) of one profiled op call; FLOPs 0 where none are counted."""
    if name == "mkldnn::_convolution_pointwise":
        return _conv_kind(shapes, values)
    if name == "mkldnn::_linear_pointwise":
        x, weight = shapes[0], shapes[1] if len(shapes) == 6 else shapes[2]
        return "linear (1x1 conv, MLP; fused epilogue)", 2.0 * math.prod(x[:-1]) * math.prod(weight)
    if name in ("aten::bmm", "aten::baddbmm"):
        (b, n, k), (_, _, m) = shapes[-2:] if name == "aten::bmm" else shapes[1:3]
        return "attention matmul (bmm)", 2.0 * b * n * k * m
    if name.startswith("aten::_scaled_dot_product"):
        (b, heads, n, d), (_, _, m, _) = shapes[0], shapes[1]
        return "attention (fused SDPA)", 4.0 * b * heads * n * m * d
    if name.startswith("aten::_fft"):
        return "FFT (rfft2 / irfft2)", 0.0
    if name == "aten::copy_":
        return "copy_ (layout changes)", 0.0
    if name in ("aten::native_layer_norm", "aten::layer_norm"):
        return "layer norm", 0.0
    return "other (elementwise, views, glue)", 0.0


def profile_table(model: TinyBioMoE, size: int, batch: int = 2, iters: int = 5) -> str:
    """The fast model on one thread at ``batch`` under ``torch.profiler``, ops grouped by kind."""
    fast = build_engine(model, "fast")
    x = torch.rand(batch, 3, size, size)
    with torch_threads(1):
        with torch.inference_mode():
            for _ in range(2):
                fast(x)
            with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                start = time.perf_counter()
                for _ in range(iters):
                    fast(x)
                wall = time.perf_counter() - start
        peak = matmul_peak()
    kinds: dict[str, list[float]] = {}  # kind -> [self seconds, FLOPs, calls]
    for event in prof.events():
        kind, flops = op_kind(event.name, event.input_shapes, list(event.concrete_inputs or []))
        row = kinds.setdefault(kind, [0.0, 0.0, 0.0])
        row[0] += event.self_cpu_time_total / 1e6
        row[1] += flops
        row[2] += 1
    images = iters * batch
    total = sum(row[0] for row in kinds.values())
    rows = []
    for kind, (seconds, flops, calls) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        rate = flops / seconds / 1e9 if flops and seconds else 0.0
        counted = [f"{flops / images / 1e9:.3f}", f"{rate:.0f}", f"{100 * rate / peak:.0f} %"]
        time_cells = [f"{1e3 * seconds / images:.2f}", f"{100 * seconds / total:.0f} %"]
        rows.append(
            [kind, f"{calls / images:.1f}", *time_cells, *(counted if flops else ["-"] * 3)]
        )
    counted = sum(row[1] for row in kinds.values())
    rate = counted / total / 1e9
    total_cells = [f"{1e3 * total / images:.2f}", "100 %", f"{counted / images / 1e9:.3f}"]
    rows.append(["all", "", *total_cells, f"{rate:.0f}", f"{100 * rate / peak:.0f} %"])
    columns = ["op kind", "calls/image", "self ms/image", "share", "GFLOP/image", "GFLOP/s"]
    return (
        f"fast model on one thread, batch {batch} (one threaded-engine worker's chunk), "
        f"{iters} passes under torch.profiler: {1e3 * wall / images:.1f} ms/image wall, "
        f"{1e3 * total / images:.1f} ms/image of op self time; one-thread float32 matmul peak "
        f"{peak:.0f} GFLOP/s\n\n" + markdown_table([*columns, "% 1-thread peak"], rows)
    )


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--size", type=int, default=224)
    cli.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    cli.add_argument("--rounds", type=int, default=5)
    cli.add_argument("--min-time", type=float, default=1.0, help="seconds per timed round")
    cli.add_argument("--compile", action="store_true", help="also time torch.compile")
    cli.add_argument("--profile", action="store_true", help="per-op profile (no timing table)")
    cli.add_argument("--bf16", action="store_true", help="also the threaded engine in bfloat16")
    cli.add_argument("--chunks", type=int, nargs="*", default=[], help="threaded chunk sizes")
    args = cli.parse_args()

    model, source = load_model(args.size)
    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} PyTorch "
        f"threads; torch {torch.__version__}; weights: {source}; S = {args.size}"
    )
    if args.profile:
        print(profile_table(model, args.size))
        return
    gflop = model_gflops(model, args.size)
    built = build_engines(model, args)
    engines = {name: embed for name, (embed, _) in built.items()}
    load_before, load = load_average(), OtherLoad()
    workers = SingleThreadedWorkers(torch.get_num_threads())
    peak = matmul_peak(workers)
    results = [(batch, *run_rounds(engines, batch, args, load)) for batch in args.batches]
    peak = max(peak, matmul_peak(workers))
    rows = [row for batch, r, d in results for row in table_rows(r, d, batch, gflop, peak)]
    print(
        f"{gflop:.2f} GFLOP/image; float32 matmul peak {peak:.0f} GFLOP/s; load average "
        f"{load_before:.1f} before, {load_average():.1f} after; other processes used "
        f"{load.share()} of the CPU during the timed windows; {args.rounds} rounds of "
        f">= {args.min_time:g} s per engine and batch\n"
    )
    print(markdown_table(COLUMNS, rows))
    if not source.startswith("random"):
        print(f"\nmax abs diff from the reference embeddings: {reference_diffs(engines)}")
    print("build time: " + ", ".join(f"{name} {sec:.1f} s" for name, (_, sec) in built.items()))


if __name__ == "__main__":
    main()
