"""Signal-space augmentations: the augmented views of the contrastive task.

A view of a corpus window is the raw window changed the ways a recording of the same physiology
could differ, then rendered like the corpus's images (``biomoe.imaging.render.render_batch``):

- ``shift``: a circular shift by up to ``shift_fraction`` of the window (where in the window the
  beats fall) of the window less its straight-line trend, the trend added back: a rising skin
  conductance stays rising, it does not wrap into a saw-tooth;
- ``gain``: a smooth gain envelope, ``exp(N(0, gain_std))`` at four knots linearly joined, on the
  window's excursions about its mean (the images are drawn at unit scale, so a constant gain
  would change nothing; scaling the level itself would turn a skin-conductance level into a
  trend far larger than its responses);
- ``lowpass``: a 4th-order zero-phase Butterworth low-pass at a cutoff drawn log-uniformly from
  ``lowpass_hz`` (skipped when it reaches 0.45 of the rate);
- ``noise``: white noise at an SNR drawn from ``noise_snr_db`` relative to the window's power;
- ``mask``: a span of up to ``mask_fraction`` of the window replaced by the straight line
  between its ends (a dropout of the sensor).

Each is applied with ``probability``, in that order, every draw from the generator it is given:
:func:`view_rng` seeds it from the run's seed, the epoch, the window's id and the view number,
so a view never depends on the batch, the process or the worker that draws it.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.signal import butter, sosfiltfilt

from biomoe.imaging.signals import clean_signal
from biomoe.pretrain.params import AugmentParams

_NYQUIST_SHARE = 0.45


def view_rng(seed: int, epoch: int, window_id: str, view: int) -> np.random.Generator:
    """The generator of one view of one window in one epoch."""
    key = int.from_bytes(hashlib.sha256(window_id.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, epoch, key, view])


def augment(
    signal: np.ndarray, fs: int, rng: np.random.Generator, params: AugmentParams
) -> np.ndarray:
    """One augmented view (float32) of ``signal`` (missing samples filled as the images fill
    them)."""
    x = clean_signal(signal)
    n = x.size
    if n < 4:
        return x.astype(np.float32)
    if params.shift_fraction > 0 and rng.random() < params.probability:
        trend = _trend(x)
        shift = int(rng.uniform(-params.shift_fraction, params.shift_fraction) * n)
        x = trend + np.roll(x - trend, shift)
    if params.gain_std > 0 and rng.random() < params.probability:
        knots = rng.normal(0.0, params.gain_std, 4)
        envelope = np.exp(np.interp(np.arange(n), np.linspace(0, n - 1, 4), knots))
        level = float(np.mean(x))
        x = level + (x - level) * envelope
    if params.lowpass_hz is not None and rng.random() < params.probability:
        low, high = params.lowpass_hz
        cutoff = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        if cutoff < _NYQUIST_SHARE * fs and n > 27:
            x = sosfiltfilt(butter(4, cutoff, fs=fs, output="sos"), x)
    if params.noise_snr_db is not None and rng.random() < params.probability:
        snr = rng.uniform(*params.noise_snr_db)
        x = x + rng.standard_normal(n) * float(np.std(x)) * 10 ** (-snr / 20)
    if params.mask_fraction > 0 and rng.random() < params.probability:
        span = int(rng.uniform(0, params.mask_fraction) * n)
        if span >= 2:
            start = int(rng.integers(0, n - span))
            end = start + span - 1
            x = x.copy()
            x[start : end + 1] = np.linspace(x[start], x[end], span)
    return x.astype(np.float32)


def _trend(x: np.ndarray) -> np.ndarray:
    """The least-squares straight line through ``x``."""
    t = np.arange(x.size, dtype=np.float64)
    slope, intercept = np.polyfit(t, x, 1)
    return slope * t + intercept
