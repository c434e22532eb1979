"""Embedding speed: the eager Tiny-BioMoE vs the fast inference path, on this machine.

    python benchmarks/embedding.py                       # S = 224, batches 1 and 32
    python benchmarks/embedding.py --rounds 9 --onnx     # also ONNX Runtime (if installed)

Engines (``biomoe.model.inference``): ``eager`` is the published network as the pipeline ran it
before (``TinyBioMoE`` under ``torch.inference_mode``); ``fast`` the optimised copy (BatchNorm
folded, NHWC end to end, oneDNN-fused epilogues) on PyTorch's intra-op threads; ``threaded``
the same copy on single-threaded workers, one per core. ``--onnx`` adds the eager model exported
to ONNX and run by ONNX Runtime (``--compile`` adds ``torch.compile`` with Inductor's freezing
of the eager model and of the fast one, the latter traced through plain ops: minutes of
compilation on 2 cores). Every engine's embeddings are compared with eager's (max abs diff).

Timing: engines are timed in interleaved rounds (each round runs every engine once for at
least ``--min-time`` seconds), so a machine shared with other work slows them alike; the table
gives the best and the median round. The matmul peak is the best GFLOP/s of a 2048^3 float32
matmul measured in the same run, and "% peak" is the model's FLOPs (counted by
``torch.utils.flop_counter`` for one image) times images/s over that peak. On a CUDA device the
run also times eager and fast in float32 and under bfloat16 autocast. Prints a markdown table.

``--profile`` prints where the threaded engine's time goes instead: each of its workers runs the
fast model on one intra-op thread over chunks of 2 images, so the fast model is profiled
(``torch.profiler``) on one thread at that batch; ops are grouped by kind, ranked by self CPU
time, and convolutions and matrix products get their achieved GFLOP/s (FLOPs from the recorded
shapes) against the one-thread float32 matmul peak measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity
from torch.profiler import profile as torch_profile
from torch.utils.flop_counter import FlopCounterMode

from biomoe.model import TinyBioMoE, load_checkpoint
from biomoe.model.inference import FastTinyBioMoE, optimize_for_inference
from biomoe.model.workers import SingleThreadedWorkers

REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"
Embed = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Timing:
    """Seconds per image of each round."""

    rounds: list[float] = field(default_factory=list)

    def rate(self, best: bool) -> float:
        sec = min(self.rounds) if best else statistics.median(self.rounds)
        return 1.0 / sec


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(
    fn: Callable[[], object],
    min_time: float,
    device: torch.device,
    contention: Contention | None = None,
) -> float:
    """Seconds per call of ``fn``, averaged over as many calls as fill ``min_time``."""
    with contention.window() if contention else contextlib.nullcontext():
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            _sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                return elapsed / calls


def matmul_peak(workers: SingleThreadedWorkers, n: int = 2048, repeats: int = 3) -> float:
    """Best GFLOP/s of ``n^3`` float32 matmuls on the CPU: one split over PyTorch's threads,
    or one per single-threaded worker side by side, whichever is faster."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    cpu = torch.device("cpu")
    a @ b
    split = min(time_call(lambda: a @ b, 0.3, cpu) for _ in range(repeats))
    side_by_side = min(
        time_call(lambda: workers.map(lambda _: a @ b, range(workers.workers)), 0.3, cpu)
        for _ in range(repeats)
    )
    return 2 * n**3 / min(split, side_by_side / workers.workers) / 1e9


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _busy_cpu_seconds() -> float | None:
    """CPU-seconds all processes have spent busy since boot (Linux ``/proc/stat``)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class Contention:
    """How much of the CPU other processes used during the timed windows; with ``wait > 0``,
    each window first waits (up to ``wait`` seconds) for a moment when they use < 10 %."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self.others = 0.0
        self.wall = 0.0

    def _quiet(self) -> None:
        deadline = time.perf_counter() + self.wait
        while time.perf_counter() < deadline:
            busy, start = _busy_cpu_seconds(), time.perf_counter()
            time.sleep(0.25)
            after = _busy_cpu_seconds()
            if busy is None or after is None:
                return
            if after - busy < 0.1 * (time.perf_counter() - start) * (os.cpu_count() or 1):
                return

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        if self.wait > 0:
            self._quiet()
        busy, own, start = _busy_cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
        yield
        after = _busy_cpu_seconds()
        if busy is not None and after is not None:
            self.others += max(0.0, (after - busy) - (_own_cpu_seconds() - own))
            self.wall += time.perf_counter() - start

    def share(self) -> str:
        if not self.wall:
            return "unknown"
        return f"{100 * self.others / (self.wall * (os.cpu_count() or 1)):.0f} %"


def model_gflops(model: TinyBioMoE, size: int) -> float:
    """FLOPs of one image (convolutions and matmuls, 2 per multiply-add), in GFLOP."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 3, size, size))
    return counter.get_total_flops() / 1e9


def onnx_engine(model: TinyBioMoE, size: int, threads: int) -> tuple[Embed, float]:
    """``model`` exported to ONNX and run by ONNX Runtime; also the export seconds."""
    import onnxruntime as ort

    start = time.perf_counter()
    path = Path(tempfile.mkdtemp()) / "tiny_biomoe.onnx"
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        model,
        (torch.rand(2, 3, size, size),),
        str(path),
        dynamo=True,
        dynamic_shapes=({0: batch},),
        optimize=True,
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def embed(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {name: x.numpy()})[0])

    return embed, time.perf_counter() - start


def cpu_engines(model: TinyBioMoE, args: argparse.Namespace) -> dict[str, tuple[Embed, float]]:
    """Name -> (embed function, seconds it took to build)."""
    engines: dict[str, tuple[Embed, float]] = {}
    for name in ("eager", "fast", "threaded"):
        start = time.perf_counter()
        module = optimize_for_inference(model, name)
        engines[name] = (module, time.perf_counter() - start)
    if args.onnx:
        engines["onnxruntime"] = onnx_engine(model, args.size, torch.get_num_threads())
    if args.compile:
        import torch._inductor.config as inductor

        inductor.freezing = True  # weights as constants: folded, pre-packed, fused (inference)
        for name, base in (("compiled eager", model), ("compiled fast", engines["fast"][0])):
            start = time.perf_counter()
            compiled = torch.compile(base, dynamic=False)
            with torch.inference_mode():
                for batch in args.batches:
                    compiled(torch.rand(batch, 3, args.size, args.size))
            engines[name] = (compiled, time.perf_counter() - start)
    return engines


def run_rounds(
    engines: dict[str, Embed],
    batch: int,
    size: int,
    rounds: int,
    min_time: float,
    device: torch.device,
    contention: Contention,
    autocast: torch.dtype | None = None,
) -> tuple[dict[str, Timing], dict[str, float]]:
    """Interleaved timing of every engine at one batch size, and each engine's max abs diff
    from the first engine's embeddings."""
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    timings = {name: Timing() for name in engines}
    cast = torch.autocast(device.type, dtype=autocast) if autocast else contextlib.nullcontext()
    with torch.inference_mode(), cast:
        outputs = {name: embed(x).float() for name, embed in engines.items()}
        first = next(iter(outputs.values()))
        diffs = {name: (out - first).abs().max().item() for name, out in outputs.items()}
        for _ in range(rounds):
            for name, embed in engines.items():
                timings[name].rounds.append(
                    time_call(lambda e=embed: e(x), min_time, device, contention) / batch
                )
    return timings, diffs


def reference_diffs(engines: dict[str, Embed]) -> dict[str, float] | None:
    path = REFERENCE / "tiny_biomoe_seed0_io.pt"
    if not path.is_file():
        return None
    io = torch.load(path, weights_only=True)
    with torch.inference_mode():
        return {
            n: (e(io["input"]) - io["embedding"]).abs().max().item() for n, e in engines.items()
        }


def load_model(args: argparse.Namespace) -> tuple[TinyBioMoE, str]:
    checkpoint = args.checkpoint or REFERENCE / "tiny_biomoe_seed0.pth"
    if Path(checkpoint).is_file() and args.size == 224:
        return load_checkpoint(checkpoint, img_size=args.size), str(checkpoint)
    torch.manual_seed(0)
    return TinyBioMoE(args.size).eval(), "random init (seed 0)"


def table_rows(
    timings: dict[str, Timing],
    diffs: dict[str, float],
    batch: int,
    gflop: float,
    peak: float | None,
    label: str = "",
) -> list[str]:
    eager = timings[next(iter(timings))]
    rows = []
    for name, timing in timings.items():
        best, median = timing.rate(best=True), timing.rate(best=False)
        share = f"{100 * best * gflop / peak:.0f} %" if peak else "-"
        rows.append(
            f"| {name}{label} | {batch} | {best:.1f} | {median:.1f} | "
            f"{best / eager.rate(best=True):.2f}x | {median / eager.rate(best=False):.2f}x | "
            f"{best * gflop:.0f} | {share} | {diffs[name]:.1e} |"
        )
    return rows


HEADER = [
    "| engine | batch | images/s (best) | images/s (median) | x eager (best) | x eager (median) "
    "| GFLOP/s | % matmul peak | max abs diff vs eager |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]


def gpu_rows(model: TinyBioMoE, args: argparse.Namespace, gflop: float) -> list[str]:
    device = torch.device("cuda")
    fast = FastTinyBioMoE(model).to(device)
    engines: dict[str, Embed] = {"eager": model.to(device), "fast": fast}
    rows = []
    for batch in args.batches:
        for dtype, label in ((None, " fp32"), (torch.bfloat16, " bf16")):
            timings, diffs = run_rounds(
                engines, batch, args.size, args.rounds, args.min_time, device, Contention(0), dtype
            )
            rows += table_rows(timings, diffs, batch, gflop, None, f" (cuda{label})")
    return rows


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


def single_thread_peak(n: int = 2048) -> float:
    """Best GFLOP/s of an ``n^3`` float32 matmul on one intra-op thread."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        cpu = torch.device("cpu")
        return 2 * n**3 / min(time_call(lambda: a @ b, 0.5, cpu) for _ in range(3)) / 1e9
    finally:
        torch.set_num_threads(saved)


def profile_table(model: TinyBioMoE, size: int, batch: int = 2, iters: int = 5) -> str:
    """Markdown table: the fast model on one thread at ``batch``, ops grouped by kind."""
    fast = optimize_for_inference(model, "fast")
    x = torch.rand(batch, 3, size, size)
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            for _ in range(2):
                fast(x)
            with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                start = time.perf_counter()
                for _ in range(iters):
                    fast(x)
                wall = time.perf_counter() - start
    finally:
        torch.set_num_threads(saved)
    peak = single_thread_peak()
    kinds: dict[str, list[float]] = {}
    for event in prof.events():
        kind, flops = op_kind(event.name, event.input_shapes, list(event.concrete_inputs or []))
        row = kinds.setdefault(kind, [0.0, 0.0, 0.0])
        row[0] += event.self_cpu_time_total / 1e6
        row[1] += flops
        row[2] += 1
    images = iters * batch
    total = sum(row[0] for row in kinds.values())
    lines = [
        f"fast model on one thread, batch {batch} (one threaded-engine worker's chunk), "
        f"{iters} passes under torch.profiler: {1e3 * wall / images:.1f} ms/image wall, "
        f"{1e3 * total / images:.1f} ms/image of op self time; one-thread float32 matmul peak "
        f"{peak:.0f} GFLOP/s\n",
        "| op kind | calls/image | self ms/image | share | GFLOP/image | GFLOP/s "
        "| % 1-thread peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, (seconds, flops, calls) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        rate = flops / seconds / 1e9 if flops and seconds else 0.0
        lines.append(
            f"| {kind} | {calls / images:.1f} | {1e3 * seconds / images:.2f} "
            f"| {100 * seconds / total:.0f} % | "
            + (
                f"{flops / images / 1e9:.3f} | {rate:.0f} | {100 * rate / peak:.0f} % |"
                if flops
                else "- | - | - |"
            )
        )
    counted = sum(row[1] for row in kinds.values())
    lines.append(
        f"| all | | {1e3 * total / images:.2f} | 100 % | {counted / images / 1e9:.3f} "
        f"| {counted / total / 1e9:.0f} | {100 * counted / total / 1e9 / peak:.0f} % |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="default: the shared reference weights")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per timed round")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each timed window, wait up to this many seconds for other processes to "
        "go quiet (on a shared machine)",
    )
    parser.add_argument("--onnx", action="store_true", help="also time ONNX Runtime")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--profile", action="store_true", help="per-op profile (no timing table)")
    args = parser.parse_args()
    cpu = torch.device("cpu")

    model, source = load_model(args)
    if args.profile:
        print(f"CPU: {cpu_name()}, torch {torch.__version__}; weights: {source}; S = {args.size}")
        print(profile_table(model, args.size))
        return
    gflop = model_gflops(model, args.size)
    built = cpu_engines(model, args)
    engines = {name: embed for name, (embed, _) in built.items()}
    load_before = os.getloadavg()[0]
    contention = Contention(args.quiet_wait)
    workers = SingleThreadedWorkers(torch.get_num_threads())
    peak = matmul_peak(workers)
    results = [
        (batch, *run_rounds(engines, batch, args.size, args.rounds, args.min_time, cpu, contention))
        for batch in args.batches
    ]
    peak = max(peak, matmul_peak(workers))
    load_after = os.getloadavg()[0]
    rows = [row for batch, t, d in results for row in table_rows(t, d, batch, gflop, peak)]

    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} PyTorch threads; torch {torch.__version__}; weights: {source}"
    )
    print(
        f"S = {args.size}, {gflop:.2f} GFLOP/image; float32 matmul peak {peak:.0f} GFLOP/s; "
        f"load average {load_before:.1f} before, {load_after:.1f} after; other processes "
        f"used {contention.share()} of the CPU during the timed windows; "
        f"{args.rounds} rounds of >= {args.min_time:g} s per engine and batch\n"
    )
    print("\n".join(HEADER + rows))
    ref = reference_diffs(engines)
    if ref is not None:
        print("\nmax abs diff from the reference embeddings (tiny_biomoe_seed0_io.pt): ", end="")
        print(", ".join(f"{name} {diff:.1e}" for name, diff in ref.items()))
    print("build time: " + ", ".join(f"{name} {sec:.1f} s" for name, (_, sec) in built.items()))
    if torch.cuda.is_available():
        print(f"\nGPU: {torch.cuda.get_device_name()}\n")
        print("\n".join(HEADER + gpu_rows(model, args, gflop)))


if __name__ == "__main__":
    main()
