"""Imaging speed: our renderers vs a plotting library and vs pyts, on the same windows.

    python benchmarks/imaging.py                  # 256 windows of 10 s at 100 Hz, S = 224
    python benchmarks/imaging.py --windows 64 --matplotlib-windows 8 --size 128

For each representation the same windows are rendered

- by ``biomoe.imaging.render_batch`` with ``params.yaml``'s settings (``images.threads``: all
  cores unless set), each image a 3 x S x S uint8 array, into a reused buffer as the shard
  writer does;
- by matplotlib as research code does it: one figure per window (``plot``, ``specgram``, or
  ``imshow`` of the transform computed with pyts / PyWavelets), ``fig.canvas.draw()``, the RGBA
  buffer copied out -- only ``--matplotlib-windows`` of them, the per-image rate extrapolated;
- by pyts where it has the same transform (RP of the PAA, GASF, GADF, MTF): its float
  matrices only, no colour mapping, so the pyts column flatters pyts.

Each timing is the best of ``--repeats`` runs after a warm-up (pyts' numba compilation is not
counted). Rates are wall-clock images per second; "CPU us/img" is process CPU time per image,
which a machine shared with other work inflates less than wall time. Prints a markdown table.

``--profile`` instead profiles our renderers on one thread with cProfile and prints, per
representation, the steps (functions) with the most self time: a numpy operation written inline
counts towards the function it is written in, so each row is one step of the pipeline
(normalisation, transform, resize, colour mapping, rasterising...).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np

from biomoe.config import ImageParams, load_params
from biomoe.imaging import REPRESENTATIONS, render_batch
from biomoe.imaging.scalogram import frequencies

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
FS = 100


@dataclass(frozen=True)
class Timing:
    per_second: float
    cpu_us: float


def synthetic_windows(n: int, seconds: float, seed: int = 0) -> list[np.ndarray]:
    """Biosignal-like windows: pulse, slow drift, breathing and quantised saturation, each
    with noise, cycling through the four."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    windows = []
    for i in range(n):
        kind, rate = i % 4, rng.uniform(0.8, 1.2)
        if kind == 0:
            x = np.sin(2 * np.pi * 1.2 * rate * t) ** 3 + 0.3 * np.sin(2 * np.pi * 2.4 * rate * t)
        elif kind == 1:
            x = np.cumsum(rng.normal(size=t.size)) * 0.05 + np.exp(-((t - 5 * rate) ** 2))
        elif kind == 2:
            x = np.sin(2 * np.pi * 0.3 * rate * t) + 0.1 * np.sin(2 * np.pi * 0.05 * t)
        else:
            x = np.round(97 + np.cumsum(rng.normal(size=t.size)) * 0.05)
        windows.append((x + 0.05 * rng.normal(size=t.size)).astype(np.float32))
    return windows


def best(run: Callable[[], object], n: int, repeats: int) -> Timing:
    run()
    wall, cpu = np.inf, np.inf
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return Timing(n / wall, cpu / n * 1e6)


def _figure_rgb(draw: Callable[[plt.Axes], object], size: int) -> np.ndarray:
    figure = plt.figure(figsize=(size / 100, size / 100), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    draw(axes)
    figure.canvas.draw()
    rgb = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    return rgb


def _pyts() -> dict[str, Callable[[np.ndarray, ImageParams], np.ndarray]]:
    from pyts.approximation import PiecewiseAggregateApproximation
    from pyts.image import GramianAngularField, MarkovTransitionField, RecurrencePlot

    def paa(x: np.ndarray, size: int) -> np.ndarray:
        return PiecewiseAggregateApproximation(
            window_size=None, output_size=size, overlapping=False
        ).transform(x)

    def mtf(x: np.ndarray, p: ImageParams) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MarkovTransitionField(image_size=p.size, n_bins=p.markov.n_bins).transform(x)

    return {
        "recurrence": lambda x, p: RecurrencePlot().transform(paa(x, p.size)),
        "gasf": lambda x, p: GramianAngularField(image_size=p.size).transform(x),
        "gadf": lambda x, p: GramianAngularField(image_size=p.size, method="d").transform(x),
        "mtf": mtf,
    }


def _matplotlib(params: ImageParams) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """One research-style figure per window, as each representation is usually drawn."""
    import pywt

    pyts = _pyts()
    spec, size = params.spectrogram, params.size
    overlap = spec.n_fft - spec.hop_length
    scales = pywt.central_frequency("cmor1.5-1.0") * FS / frequencies(params.scalogram)

    def scalogram(ax: plt.Axes, x: np.ndarray) -> object:
        coefficients, _ = pywt.cwt(x, scales, "cmor1.5-1.0", sampling_period=1 / FS)
        return ax.imshow(np.abs(coefficients), aspect="auto")

    def matrix(name: str) -> Callable[[plt.Axes, np.ndarray], object]:
        return lambda ax, x: ax.imshow(pyts[name](x[None], params)[0])

    draws: dict[str, Callable[[plt.Axes, np.ndarray], object]] = {
        "waveform": lambda ax, x: ax.plot(x),
        "spectrogram": lambda ax, x: ax.specgram(x, NFFT=spec.n_fft, Fs=FS, noverlap=overlap),
        "phase": lambda ax, x: ax.specgram(
            x, NFFT=spec.n_fft, Fs=FS, noverlap=overlap, mode="phase"
        ),
        "recurrence": matrix("recurrence"),
        "gasf": matrix("gasf"),
        "gadf": matrix("gadf"),
        "mtf": matrix("mtf"),
        "scalogram": scalogram,
    }
    return {
        name: (lambda x, draw=draw: _figure_rgb(lambda ax: draw(ax, x), size))
        for name, draw in draws.items()
    }


def _ratio(ours: Timing, theirs: Timing | None, target: float) -> str:
    if theirs is None:
        return "n/a"
    wall = ours.per_second / theirs.per_second
    cpu = theirs.cpu_us / ours.cpu_us
    mark = "yes" if wall >= target else "**no**"
    return f"{wall:,.0f}x ({cpu:,.0f}x CPU) {mark}"


def run(args: argparse.Namespace) -> str:
    params = load_params(args.params).images.model_copy(update={"size": args.size})
    if args.threads is not None:
        params = params.model_copy(update={"threads": args.threads})
    windows = synthetic_windows(args.windows, args.seconds)
    stacked = np.stack(windows).astype(np.float64)
    few = windows[: args.matplotlib_windows]
    pyts = _pyts()
    plots = _matplotlib(params)
    single = params.model_copy(update={"threads": 1})
    load_before = os.getloadavg()[0]
    rows = []
    buffer = np.empty((len(windows), 3, params.size, params.size), dtype=np.uint8)

    def ours_with(p: ImageParams, name: str) -> Callable[[], object]:
        return lambda: render_batch(windows, FS, name, p, out=buffer)

    for name in args.representations:
        ours = best(ours_with(params, name), len(windows), args.repeats)
        one = best(ours_with(single, name), len(windows), args.repeats)
        draw = plots[name]
        mpl = best(lambda d=draw: [d(x) for x in few], len(few), max(1, args.repeats - 1))
        ref = None
        if name in pyts:
            ref = best(lambda f=pyts[name]: f(stacked, params), len(windows), args.repeats)
        rows.append(
            f"| {name} | {ours.per_second:,.0f} | {one.per_second:,.0f} | {ours.cpu_us:,.0f} "
            f"| {mpl.per_second:,.1f} | {_ratio(ours, mpl, 100)} "
            f"| {f'{ref.per_second:,.0f}' if ref else 'n/a'} | {_ratio(ours, ref, 2)} |"
        )
    threads = params.threads or len(os.sched_getaffinity(0))
    header = (
        f"{args.windows} windows of {args.seconds:g} s at {FS} Hz, S = {args.size}; "
        f"ours on {threads} thread(s); matplotlib on {len(few)} windows (rate extrapolated), "
        f"one process; pyts: float matrices only, no colour. {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}; "
        f"{platform.processor() or platform.machine()}, numpy {np.__version__}, "
        f"matplotlib {matplotlib.__version__}.\n\n"
        "| representation | ours img/s | ours img/s, 1 thread | ours CPU us/img "
        "| matplotlib img/s | vs matplotlib (>= 100x?) | pyts img/s | vs pyts (>= 2x?) |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    return header + "\n".join(rows)


def _step_name(key: tuple[str, int, str]) -> str:
    file, _, function = key
    if file == "~":
        return function.replace("<", "").replace(">", "").replace("'", "")
    path = Path(file)
    module = path.stem if "biomoe" in path.parts else f"{path.parent.name}/{path.stem}"
    return f"{module}.{function}"


def profile(args: argparse.Namespace) -> str:
    """Markdown table: per representation, the ``--top`` steps by self time on one thread."""
    params = load_params(args.params).images.model_copy(update={"size": args.size, "threads": 1})
    windows = synthetic_windows(args.windows, args.seconds)
    buffer = np.empty((len(windows), 3, params.size, params.size), dtype=np.uint8)
    lines = [
        f"{args.windows} windows, S = {args.size}, one thread, cProfile over {args.repeats} "
        "renders; self CPU time of each step in us per image (profiling overhead included).\n",
        "| representation | total us/img | step | self us/img | share |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for name in args.representations:
        render_batch(windows, FS, name, params, out=buffer)
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.repeats):
            render_batch(windows, FS, name, params, out=buffer)
        profiler.disable()
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        per_image = 1e6 / (args.repeats * len(windows))
        own = sorted(((row[2], key) for key, row in stats.items()), reverse=True)
        total = sum(seconds for seconds, _ in own)
        for rank, (seconds, key) in enumerate(own[: args.top]):
            head = f"{name} | {total * per_image:,.0f}" if rank == 0 else " | "
            lines.append(
                f"| {head} | {_step_name(key)} | {seconds * per_image:,.1f} "
                f"| {100 * seconds / total:.0f} % |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--matplotlib-windows", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="override images.threads")
    parser.add_argument(
        "--representations", nargs="+", default=list(REPRESENTATIONS), choices=REPRESENTATIONS
    )
    parser.add_argument("--profile", action="store_true", help="per-step profile, one thread")
    parser.add_argument("--top", type=int, default=6, help="steps per representation (--profile)")
    args = parser.parse_args(argv)
    print(profile(args) if args.profile else run(args))


if __name__ == "__main__":
    main()
