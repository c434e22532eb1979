"""Imaging speed: our renderers vs a plotting library and vs pyts, on the same windows.

    python benchmarks/imaging.py             # README "Imaging" table: 256 windows of 10 s, S = 224
    python benchmarks/imaging.py --profile   # README per-step table (cProfile, one thread)
    python benchmarks/imaging.py --windows 8 --matplotlib-windows 2 --size 64 --repeats 1  # smoke

For each representation the same windows are rendered

- by ``biomoe.imaging.render_batch`` with ``params.yaml``'s settings (``images.threads``: all
  cores unless set), and again on one thread, each image a 3 x S x S uint8 array, into a reused
  buffer as the shard writer does;
- by matplotlib as research code does it: one figure per window (``plot``, ``specgram``, or
  ``imshow`` of the transform computed with pyts / PyWavelets), ``fig.canvas.draw()``, the RGBA
  buffer copied out -- only ``--matplotlib-windows`` of them, the per-image rate extrapolated;
- by pyts where it has the same transform (RP of the PAA, GASF, GADF, MTF): its float
  matrices only, no colour mapping, so the pyts column flatters pyts.

Each timing is the best of ``--repeats`` runs after a warm-up (pyts' numba compilation is not
counted). Rates are wall-clock images per second; "CPU us/img" is process CPU time per image,
which a machine shared with other work inflates less than wall time.

``--profile`` instead profiles our renderers on one thread with cProfile and prints, per
representation, the ``--top`` steps (functions) by self time: a numpy operation written inline
counts towards the function it is written in.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import matplotlib
import numpy as np

from biomoe.config import load_params
from biomoe.imaging.params import ImageParams
from biomoe.imaging.render import REPRESENTATIONS, render_batch
from biomoe.imaging.scalogram import frequencies
from common import Timing, best_of, cpu_name, load_average, markdown_table, parser

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FS = 100
SECONDS = 10.0


def synthetic_windows(n: int, seconds: float = SECONDS, seed: int = 0) -> list[np.ndarray]:
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


COLUMNS = [
    "representation",
    "ours img/s",
    "ours img/s, 1 thread",
    "ours CPU us/img",
    "matplotlib img/s",
    "vs matplotlib (>= 100x?)",
    "pyts img/s",
    "vs pyts (>= 2x?)",
]


def run(args: argparse.Namespace) -> str:
    params = load_params(args.params).images.model_copy(update={"size": args.size})
    single = params.model_copy(update={"threads": 1})
    windows = synthetic_windows(args.windows)
    stacked = np.stack(windows).astype(np.float64)
    few = windows[: args.matplotlib_windows]
    pyts, plots = _pyts(), _matplotlib(params)
    buffer = np.empty((len(windows), 3, params.size, params.size), dtype=np.uint8)

    def ours(name: str, p: ImageParams) -> Timing:
        render = partial(render_batch, windows, FS, name, p, out=buffer)
        return best_of(render, len(windows), args.repeats)

    load_before = load_average()
    rows = []
    for name in args.representations:
        many, one = ours(name, params), ours(name, single)
        mpl = best_of(lambda d=plots[name]: [d(x) for x in few], len(few), max(1, args.repeats - 1))
        ref = None
        if name in pyts:
            ref = best_of(lambda f=pyts[name]: f(stacked, params), len(windows), args.repeats)
        ours_cells = [f"{many.per_second:,.0f}", f"{one.per_second:,.0f}", f"{many.cpu_us:,.0f}"]
        mpl_cells = [f"{mpl.per_second:,.1f}", _ratio(many, mpl, 100)]
        pyts_cells = [f"{ref.per_second:,.0f}" if ref else "n/a", _ratio(many, ref, 2)]
        rows.append([name, *ours_cells, *mpl_cells, *pyts_cells])
    threads = params.threads or len(os.sched_getaffinity(0))
    return (
        f"{args.windows} windows of {SECONDS:g} s at {FS} Hz, S = {args.size}; ours on "
        f"{threads} thread(s); matplotlib on {len(few)} windows (rate extrapolated), one "
        f"process; pyts: float matrices only, no colour. {os.cpu_count()} CPUs, load average "
        f"{load_before:.1f} -> {load_average():.1f}; {cpu_name()}, numpy {np.__version__}, "
        f"matplotlib {matplotlib.__version__}.\n\n" + markdown_table(COLUMNS, rows)
    )


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
    windows = synthetic_windows(args.windows)
    buffer = np.empty((len(windows), 3, params.size, params.size), dtype=np.uint8)
    rows = []
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
            head = [name, f"{total * per_image:,.0f}"] if rank == 0 else ["", ""]
            share = f"{100 * seconds / total:.0f} %"
            rows.append([*head, _step_name(key), f"{seconds * per_image:,.1f}", share])
    columns = ["representation", "total us/img", "step", "self us/img", "share"]
    return (
        f"{args.windows} windows, S = {args.size}, one thread, cProfile over {args.repeats} "
        "renders; self CPU time of each step in us per image (profiling overhead included).\n\n"
        + markdown_table(columns, rows, left=(0, 2))
    )


def main() -> None:
    cli = parser(__doc__, params=True)
    cli.add_argument("--windows", type=int, default=256)
    cli.add_argument("--size", type=int, default=224)
    cli.add_argument("--matplotlib-windows", type=int, default=16)
    cli.add_argument("--repeats", type=int, default=3)
    cli.add_argument(
        "--representations", nargs="+", default=list(REPRESENTATIONS), choices=REPRESENTATIONS
    )
    cli.add_argument("--profile", action="store_true", help="per-step profile, one thread")
    cli.add_argument("--top", type=int, default=6, help="steps per representation (--profile)")
    args = cli.parse_args()
    print(profile(args) if args.profile else run(args))


if __name__ == "__main__":
    main()
