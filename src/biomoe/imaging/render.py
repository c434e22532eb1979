"""The registry of representations and the batch entry points every stage calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from biomoe.config import ImageParams
from biomoe.imaging.signals import as_rates
from biomoe.imaging.spectrogram import render_spectrogram
from biomoe.imaging.waveform import render_waveform

RenderFn = Callable[[Sequence[np.ndarray], np.ndarray, ImageParams], np.ndarray]
"""``(signals, fs [N] int64, params) -> uint8 [N, 3, S, S]``; each window is rendered from its
own samples only, so an image never depends on the other windows in the batch."""

REPRESENTATIONS: dict[str, RenderFn] = {
    "waveform": render_waveform,
    "spectrogram": render_spectrogram,
}

CHUNK = 64
"""Windows rendered at once: bounds memory; results do not depend on it (images are per window)."""


def render_batch(
    signals: Sequence[np.ndarray],
    fs: int | Sequence[int] | np.ndarray,
    representation: str,
    params: ImageParams,
) -> np.ndarray:
    """Render every signal (float array, any length, NaNs allowed) as uint8 ``[N, 3, S, S]``."""
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"unknown image representation {representation!r}; known: {sorted(REPRESENTATIONS)}"
        )
    render = REPRESENTATIONS[representation]
    signals = list(signals)
    rates = as_rates(fs, len(signals))
    images = np.empty((len(signals), 3, params.size, params.size), dtype=np.uint8)
    for start in range(0, len(signals), CHUNK):
        stop = min(start + CHUNK, len(signals))
        images[start:stop] = render(signals[start:stop], rates[start:stop], params)
    return images


def render_all(
    signals: Sequence[np.ndarray], fs: int | Sequence[int] | np.ndarray, params: ImageParams
) -> dict[str, np.ndarray]:
    """``render_batch`` for each of ``params.representations``."""
    return {rep: render_batch(signals, fs, rep, params) for rep in params.representations}
