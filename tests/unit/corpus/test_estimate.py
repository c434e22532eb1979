"""Rate and SNR estimates on signals whose truth is known, and the bins they fall in."""

from __future__ import annotations

import math

import neurokit2 as nk
import numpy as np
import pytest
from scipy.signal import resample_poly
from scipy.stats import spearmanr

from biomoe.config import Params
from biomoe.corpus.estimate import estimate_snr_db
from biomoe.corpus.simulate import simulate_windows
from biomoe.corpus.tasks import UNLABELLED, bin_index
from biomoe.physio.rhythm import estimate_rate_hz


def _ecg(bpm: float, seed: int) -> np.ndarray:
    """10 s of ECGSYN at 250 Hz (the rate it is fast and stable at), resampled to 100 Hz."""
    ecg = nk.ecg_simulate(duration=10, sampling_rate=250, heart_rate=bpm, random_state=seed)
    return resample_poly(ecg, 2, 5)


def test_ecg_at_60_and_120_bpm_get_different_rate_bins(params: Params) -> None:
    cfg = params.corpus
    bins = []
    for bpm in (60, 120):
        ecg = _ecg(bpm, seed=1)
        rate = estimate_rate_hz(ecg, 100, cfg.estimate["ecg"].rate_hz)
        assert rate == pytest.approx(bpm / 60, rel=0.05)
        bins.append(bin_index(rate, cfg.rate_bin_edges_hz))
    assert bins[0] != bins[1] and UNLABELLED not in bins


def test_quality_bins_order_with_noise(params: Params) -> None:
    cfg = params.corpus
    ecg = _ecg(70, seed=2)
    noise = np.random.default_rng(0).standard_normal(ecg.size) * np.std(ecg)
    snrs = [
        estimate_snr_db(ecg + level * noise, 100, cfg.estimate["ecg"].band_hz, 50)
        for level in (0.01, 0.1, 0.3, 1.0)
    ]
    assert snrs == sorted(snrs, reverse=True)
    assert snrs[-1] == pytest.approx(0.0, abs=3.0)
    bins = [bin_index(s, cfg.quality_bin_edges_db) for s in snrs]
    assert bins == sorted(bins, reverse=True) and bins[0] > bins[-1]


def test_estimates_track_the_simulations_truth(params: Params) -> None:
    cfg = params.corpus
    sim = cfg.simulated.model_copy(
        update={  # stationary windows: a transient's window has no single rate
            "signal_types": ("ecg", "ppg"),
            "windows_per_signal": 12,
            "transient_probability": 0.0,
        }
    )
    fs = params.ingest.fs
    windows = simulate_windows(sim, fs, cfg.window_seconds, seed=3)
    for signal_type, group in windows.groupby("signal_type"):
        estimate = cfg.estimate[signal_type]
        rates = [estimate_rate_hz(s, fs, estimate.rate_hz) for s in group["signal"]]
        snrs = [estimate_snr_db(s, fs, estimate.band_hz, fs / 2) for s in group["signal"]]
        hits = np.isclose(rates, group["rate_hz"], rtol=0.1)
        assert hits.mean() >= 0.75, signal_type
        assert spearmanr(snrs, group["snr_db"]).statistic > 0.7, signal_type


def test_no_rhythm_and_no_noise_floor_give_unknown() -> None:
    rng = np.random.default_rng(0)
    assert math.isnan(estimate_rate_hz(rng.standard_normal(1000), 100, (0.6, 3.5)))
    assert math.isnan(estimate_rate_hz(np.zeros(1000), 100, (0.6, 3.5)))
    assert math.isnan(estimate_snr_db(rng.standard_normal(1000), 100, (0.5, 30.0), nyquist=5.0))
