"""The images section: image size, the representations drawn, and each one's settings.

The representation and colour-table names are owned here; :mod:`biomoe.imaging.render` and
:mod:`biomoe.imaging.colormap` implement exactly these (a test holds them equal).
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from biomoe.model.spec import IMG_SIZE_MULTIPLE
from biomoe.section import Section

Colormap = Literal["viridis", "twilight"]
"""Colour tables defined in ``biomoe.imaging.colormap`` (twilight is cyclic, for angles)."""

Representation = Literal[
    "waveform", "spectrogram", "phase", "recurrence", "gasf", "gadf", "mtf", "scalogram"
]
REPRESENTATION_NAMES: tuple[str, ...] = get_args(Representation)
COLORMAP_NAMES: tuple[str, ...] = get_args(Colormap)


class SpectrogramParams(Section):
    """STFT (Hann window) cropped to ``max_freq_hz``, log-power over ``top_db`` of dynamic range.
    The window needs at least ``n_fft`` samples (one full frame)."""

    n_fft: int = Field(gt=1)
    hop_length: int = Field(ge=1)
    max_freq_hz: float = Field(gt=0)
    top_db: float = Field(gt=0)
    colormap: Colormap


class PhaseParams(Section):
    """Angle of the spectrogram's STFT (same ``n_fft``, ``hop_length``, ``max_freq_hz``);
    bins more than ``mask_below_db`` under the window's peak power carry no reliable phase
    and are drawn grey. ``colormap`` should be cyclic."""

    mask_below_db: float = Field(gt=0)
    colormap: Colormap


class WaveformParams(Section):
    """Line plot: ``line_width`` as a fraction of the image size (at least one pixel);
    per-window scaling clips the ``clip_quantile`` tails on each side; the slope is a central
    difference over ``slope_span`` of the window (smooths sensor noise; at least 2 columns)."""

    line_width: float = Field(gt=0, lt=0.5)
    clip_quantile: float = Field(ge=0, lt=0.5)
    slope_span: float = Field(gt=0, le=0.5)


class RecurrenceParams(Section):
    """Recurrence plot of the window's ``size``-point PAA, delay-embedded in ``dimension``
    dimensions ``time_delay`` points apart. ``threshold``: ``none`` draws the distance itself
    (scaled to the window's largest); ``point`` marks the ``percentage`` % closest pairs;
    ``distance`` marks pairs closer than ``percentage`` % of the largest distance."""

    dimension: int = Field(ge=1)
    time_delay: int = Field(ge=1)
    threshold: Literal["none", "point", "distance"]
    percentage: float = Field(ge=0, le=100)
    colormap: Colormap


class GramianParams(Section):
    """Gramian angular fields (``gasf``: summation, ``gadf``: difference) of the window's
    ``size``-point PAA min-max scaled to [-1, 1]; colours span [-1, 1]."""

    colormap: Colormap


class MarkovParams(Section):
    """Markov transition field over ``n_bins`` quantile bins of the window's samples
    (needs ``n_bins + 1`` samples); colours are relative to the window's likeliest transition."""

    n_bins: int = Field(ge=2, le=64)
    colormap: Colormap


class ScalogramParams(Section):
    """Morlet continuous wavelet transform magnitude (``omega0``: centre frequency in radians
    per unit scale; about omega0 / 2 pi cycles per envelope width) at ``n_scales`` frequencies
    log-spaced from ``max_freq_hz`` (top row) to ``min_freq_hz`` (bottom), over ``top_db`` of
    dynamic range. The window needs one period of ``min_freq_hz``."""

    min_freq_hz: float = Field(gt=0)
    max_freq_hz: float = Field(gt=0)
    n_scales: int = Field(ge=2)
    omega0: float = Field(ge=5.0)
    top_db: float = Field(gt=0)
    colormap: Colormap

    @model_validator(mode="after")
    def _band(self) -> ScalogramParams:
        if self.min_freq_hz >= self.max_freq_hz:
            raise ValueError("images.scalogram.min_freq_hz must be below max_freq_hz")
        return self


class ImageParams(Section):
    """``size``: images are ``size`` x ``size`` pixels, the size the backbone is built for (a
    multiple of 32, ``biomoe.model.spec``). ``threads``: windows rendered in parallel (0: one
    per available core); the images never depend on it."""

    size: int = Field(ge=IMG_SIZE_MULTIPLE)
    representations: tuple[Representation, ...] = Field(min_length=1)
    shard_size: int = Field(ge=1)
    threads: int = Field(ge=0)
    waveform: WaveformParams
    spectrogram: SpectrogramParams
    phase: PhaseParams
    recurrence: RecurrenceParams
    gramian: GramianParams
    markov: MarkovParams
    scalogram: ScalogramParams
    gallery_per_representation: int = Field(ge=1)

    @field_validator("size")
    @classmethod
    def _fits_the_model(cls, size: int) -> int:
        if size % IMG_SIZE_MULTIPLE:
            raise ValueError(
                f"images.size ({size}) must be a multiple of {IMG_SIZE_MULTIPLE}: Tiny-BioMoE's "
                f"experts downsample by {IMG_SIZE_MULTIPLE}"
            )
        return size
