"""The shard key's ``RENDERING_VERSION`` moves exactly when the pixels do.

Every representation renders a fixed set of windows (gaps, padding, a constant, odd lengths,
three rates, two sizes); the digests of those images are recorded in
``rendering_digests.json`` with the version they belong to. When imaging code changes a
pixel, this test fails until ``RENDERING_VERSION`` gets a new value and the digests are
re-recorded (``python tests/unit/imaging/test_rendering_version.py --update``), so cached shards
of the old images are never reused for the new code.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from biomoe.imaging.params import REPRESENTATION_NAMES, ImageParams
from biomoe.imaging.render import render_batch
from biomoe.imaging.shards import RENDERING_VERSION

DIGESTS = Path(__file__).with_name("rendering_digests.json")
SIZES = (64, 96)
RATES = [100, 100, 50, 100, 200, 100, 100, 100]

IMAGE_PARAMS = ImageParams.model_validate(
    {
        "size": 64,
        "representations": list(REPRESENTATION_NAMES),
        "shard_size": 256,
        "threads": 1,
        "waveform": {"line_width": 0.01, "clip_quantile": 0.01, "slope_span": 0.04},
        "spectrogram": {
            "n_fft": 128,
            "hop_length": 8,
            "max_freq_hz": 25.0,
            "top_db": 60.0,
            "colormap": "viridis",
        },
        "phase": {"mask_below_db": 40.0, "colormap": "twilight"},
        "recurrence": {
            "dimension": 1,
            "time_delay": 1,
            "threshold": "none",
            "percentage": 10.0,
            "colormap": "viridis",
        },
        "gramian": {"colormap": "viridis"},
        "markov": {"n_bins": 8, "colormap": "viridis"},
        "scalogram": {
            "min_freq_hz": 0.5,
            "max_freq_hz": 25.0,
            "n_scales": 64,
            "omega0": 6.0,
            "top_db": 60.0,
            "colormap": "viridis",
        },
        "gallery_per_representation": 12,
    }
)


def _windows() -> list[np.ndarray]:
    rng = np.random.default_rng(2025)
    t = np.arange(1000) / 100.0
    noisy = [np.cumsum(rng.normal(size=int(n))).astype(np.float32) for n in (513, 777, 1000)]
    noisy[1][50:80] = np.nan
    noisy[2] = np.r_[[np.nan] * 7, noisy[2], [np.nan] * 20]
    pulse = (np.sin(2 * np.pi * 1.2 * t) ** 7 + 0.05 * rng.normal(size=t.size)).astype(np.float32)
    breath = np.sin(2 * np.pi * 0.25 * t) + 0.2 * np.sin(2 * np.pi * 3.0 * t)
    eda = 2.0 + np.cumsum(rng.exponential(0.002, size=t.size)) + 0.1 * (t > 4.0)
    return [*noisy, pulse, breath, eda, np.full(400, 2.5), rng.normal(size=999)]


def rendered_digests() -> dict[str, str]:
    """sha256 of every representation's images of :func:`_windows`, per size."""
    windows = _windows()
    digests = {}
    for size in SIZES:
        params = IMAGE_PARAMS.model_copy(update={"size": size})
        for representation in REPRESENTATION_NAMES:
            images = render_batch(windows, RATES, representation, params)
            digests[f"{representation}@{size}"] = hashlib.sha256(images.tobytes()).hexdigest()
    return digests


def test_pixels_match_the_recorded_digests_of_this_rendering_version() -> None:
    recorded = json.loads(DIGESTS.read_text())
    changed = sorted(k for k, v in rendered_digests().items() if recorded["digests"].get(k) != v)
    if changed:
        assert recorded["version"] != RENDERING_VERSION, (
            f"images changed ({', '.join(changed)}) but RENDERING_VERSION did not: give "
            "biomoe.imaging.shards.RENDERING_VERSION a new value, then re-record with "
            "`python tests/unit/imaging/test_rendering_version.py --update`"
        )
        pytest.fail(
            f"images changed ({', '.join(changed)}) with the new RENDERING_VERSION: re-record "
            "with `python tests/unit/imaging/test_rendering_version.py --update`"
        )
    assert recorded["version"] == RENDERING_VERSION, (
        "RENDERING_VERSION changed but no pixel did: keep the old value (every cached shard "
        "stays valid), or re-record with --update if the change is meant"
    )


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    record = {"version": RENDERING_VERSION, "digests": rendered_digests()}
    DIGESTS.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"recorded {len(record['digests'])} digests for {RENDERING_VERSION} in {DIGESTS}")
