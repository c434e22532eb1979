"""The registry of representations and the batch entry points every stage calls.

``render_batch`` renders chunks of windows on ``images.threads`` threads; each chunk's windows
are checked against the shared input rules (``signals.prepare``: no all-NaN or infinite
windows, at least ``min_samples`` samples, magnitude rescaled) before a representation sees
them, on the same thread. Each image depends on its own window only, so neither chunking nor
threads change a byte.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Protocol

import numpy as np
from threadpoolctl import ThreadpoolController

from biomoe.imaging import recurrence, scalogram
from biomoe.imaging.gramian import render_gadf, render_gasf
from biomoe.imaging.markov import render_mtf
from biomoe.imaging.params import ImageParams
from biomoe.imaging.phase import render_phase
from biomoe.imaging.recurrence import render_recurrence
from biomoe.imaging.scalogram import render_scalogram
from biomoe.imaging.signals import as_rates, prepare
from biomoe.imaging.spectrogram import render_spectrogram
from biomoe.imaging.waveform import render_waveform


class RenderFn(Protocol):
    """``(signals, fs [N] int64, params, out=None) -> uint8 [N, 3, S, S]`` (written into ``out``
    when given); each window is rendered from its own samples only, so an image never depends on
    the other windows in the batch."""

    def __call__(
        self,
        signals: Sequence[np.ndarray],
        fs: np.ndarray,
        params: ImageParams,
        *,
        out: np.ndarray | None = None,
    ) -> np.ndarray: ...


REPRESENTATIONS: dict[str, RenderFn] = {
    "waveform": render_waveform,
    "spectrogram": render_spectrogram,
    "phase": render_phase,
    "recurrence": render_recurrence,
    "gasf": render_gasf,
    "gadf": render_gadf,
    "mtf": render_mtf,
    "scalogram": render_scalogram,
}

CHUNK = 64
"""Windows a worker renders at once: large enough to spread each vectorised step's Python
overhead (which holds the GIL) over many images, small enough to balance two workers; the
representations keep their large temporaries to cache-sized blocks inside a chunk. Results do
not depend on it (images are per window)."""


def min_samples(representation: str, params: ImageParams, fs: int) -> tuple[int, str]:
    """The fewest samples a window at ``fs`` Hz needs for ``representation``, and why."""
    if representation in ("spectrogram", "phase"):
        return params.spectrogram.n_fft, f"images.spectrogram.n_fft = {params.spectrogram.n_fft}"
    if representation == "scalogram":
        need = scalogram.min_samples(params.scalogram, fs)
        return need, (
            f"one period of images.scalogram.min_freq_hz = {params.scalogram.min_freq_hz} "
            f"at {fs} Hz"
        )
    if representation == "recurrence":
        return recurrence.min_samples(params.recurrence), (
            "two states of images.recurrence.dimension x time_delay"
        )
    if representation == "mtf":
        n_bins = params.markov.n_bins
        return n_bins + 1, f"images.markov.n_bins + 1 = {n_bins + 1} (a transition per bin)"
    return 2, "a line needs two samples"


SWITCH_INTERVAL = 2e-4
"""GIL switch interval (s) while rendering. Workers alternate short numpy calls (which release
the GIL) with Python glue (which holds it); with CPython's default 5 ms, a worker coming back
from numpy can wait a whole interval for the other to let go, which costs two threads 20-35 %
of their throughput on 2 cores."""

_LOCK = threading.Lock()
_renders = 0
_blas_limit: object = None
_switch_interval = 0.0


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def _rendering() -> Iterator[None]:
    """While any render runs: BLAS on one thread (we parallelise over windows instead) and a
    short GIL switch interval (``SWITCH_INTERVAL``); the first render in sets both, the last
    one out restores them."""
    global _renders, _blas_limit, _switch_interval
    with _LOCK:
        if _renders == 0:
            _blas_limit = _blas().limit(limits=1, user_api="blas")
            _switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_interval, SWITCH_INTERVAL))
        _renders += 1
    try:
        yield
    finally:
        with _LOCK:
            _renders -= 1
            if _renders == 0:
                _blas_limit.restore_original_limits()  # type: ignore[attr-defined]
                sys.setswitchinterval(_switch_interval)


def threads(params: ImageParams) -> int:
    """Worker threads: ``images.threads``, or one per available core when 0."""
    if params.threads:
        return params.threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _checked(
    signals: list[object],
    rates: np.ndarray,
    representation: str,
    params: ImageParams,
    window_ids: list[object] | None,
    source_files: list[object] | None,
) -> list[np.ndarray]:
    """``signals.prepare`` for windows at any mix of rates (each rate sets its own minimum)."""
    clean: list[np.ndarray] = [np.empty(0)] * len(signals)
    for rate in np.unique(rates):
        members = np.flatnonzero(rates == rate)
        need, why = min_samples(representation, params, int(rate))
        checked = prepare(
            [signals[i] for i in members],
            need,
            representation,
            why,
            None if window_ids is None else [window_ids[i] for i in members],
            None if source_files is None else [source_files[i] for i in members],
        )
        for i, signal in zip(members, checked, strict=True):
            clean[i] = signal
    return clean


def render_batch(
    signals: Sequence[object],
    fs: int | Sequence[int] | np.ndarray,
    representation: str,
    params: ImageParams,
    window_ids: Sequence[object] | None = None,
    source_files: Sequence[object] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Render every signal (float array, any length, NaN = missing) as uint8 ``[N, 3, S, S]``
    (into ``out`` when given: a caller rendering many batches saves a fresh 150 kB per image).

    Raises ``DataError`` naming the window (``window_ids[i]``, else its position) and its
    ``source_files[i]`` when a window breaks an input rule (``signals.prepare``)."""
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"unknown image representation {representation!r}; known: {sorted(REPRESENTATIONS)}"
        )
    render = REPRESENTATIONS[representation]
    signals = list(signals)
    rates = as_rates(fs, len(signals))
    ids = None if window_ids is None else list(window_ids)
    files = None if source_files is None else list(source_files)
    shape = (len(signals), 3, params.size, params.size)
    if out is not None and (out.shape != shape or out.dtype != np.uint8):
        raise ValueError(f"out must be uint8 {shape}, not {out.dtype} {out.shape}")
    images = np.empty(shape, dtype=np.uint8) if out is None else out
    workers = max(1, min(threads(params), -(-len(signals) // 8)))
    chunk = min(CHUNK, max(1, -(-len(signals) // workers)))

    def work(start: int) -> None:
        part = slice(start, min(start + chunk, len(signals)))
        clean = _checked(
            signals[part],
            rates[part],
            representation,
            params,
            None if ids is None else ids[part],
            None if files is None else files[part],
        )
        render(clean, rates[part], params, out=images[part])

    starts = range(0, len(signals), chunk)
    with _rendering():
        if workers == 1:
            for start in starts:
                work(start)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(work, starts))
    return images


def render_all(
    signals: Sequence[object],
    fs: int | Sequence[int] | np.ndarray,
    params: ImageParams,
    window_ids: Sequence[object] | None = None,
    source_files: Sequence[object] | None = None,
) -> dict[str, np.ndarray]:
    """``render_batch`` for each of ``params.representations``."""
    return {
        rep: render_batch(signals, fs, rep, params, window_ids, source_files)
        for rep in params.representations
    }
