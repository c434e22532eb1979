"""A small physiological model of one subject's pain-stimulation session (demo data only).

Each subject gets a :class:`SubjectProfile` (resting heart rate, skin-conductance level,
breathing rate, SpO2, and how strongly they respond; some subjects barely respond). A stimulus of
intensity ``i`` drives a latent arousal curve that starts a second or two after onset, rises
while the stimulus lasts and decays afterwards. Arousal raises heart rate and lowers pulse
amplitude (vasoconstriction) in the BVP, evokes skin-conductance responses after a latency,
speeds up breathing and changes its depth, and dips SpO2 slightly. The waveforms come from the
neurokit2 simulators; time-varying rates are imposed by warping a constant-rate simulation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import neurokit2 as nk
import numpy as np
from scipy.signal import lfilter

INTENSITY: dict[str, float] = {"No": 0.0, "Low": 0.45, "High": 1.0}
"""Stimulus strength per label: the response scales with it (No < Low < High)."""

_MAX_SEED = 2**31 - 1
_SCR_SECONDS = 20


@dataclass(frozen=True)
class SubjectProfile:
    """Per-subject physiology: resting levels and gains of the pain response."""

    responsiveness: float
    heart_rate: float
    hr_gain: float
    ppg_amplitude: float
    vasoconstriction: float
    eda_tonic: float
    scr_gain: float
    spontaneous_scr_per_min: float
    spontaneous_scr_amplitude: float
    resp_rate: float
    resp_amplitude: float
    resp_rate_gain: float
    resp_depth_gain: float
    spo2: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SubjectProfile:
        """A random subject; about one in five is a weak responder."""
        weak = rng.random() < 0.2
        return cls(
            responsiveness=rng.uniform(0.05, 0.25) if weak else rng.uniform(0.6, 1.4),
            heart_rate=rng.uniform(58.0, 88.0),
            hr_gain=rng.uniform(8.0, 16.0),
            ppg_amplitude=float(np.exp(rng.normal(0.0, 0.3))),
            vasoconstriction=rng.uniform(0.15, 0.4),
            eda_tonic=float(np.clip(np.exp(rng.normal(np.log(4.0), 0.5)), 0.5, 20.0)),
            scr_gain=rng.uniform(0.15, 0.9),
            spontaneous_scr_per_min=rng.uniform(0.5, 3.0),
            spontaneous_scr_amplitude=rng.uniform(0.03, 0.15),
            resp_rate=rng.uniform(11.0, 19.0),
            resp_amplitude=float(np.exp(rng.normal(0.0, 0.25))),
            resp_rate_gain=rng.uniform(0.05, 0.3),
            resp_depth_gain=rng.uniform(-0.15, 0.35),
            spo2=rng.uniform(95.5, 98.5),
        )


@dataclass(frozen=True)
class Stimulus:
    """A painful stimulus: first sample, length in samples, intensity (see :data:`INTENSITY`)."""

    onset: int
    length: int
    intensity: float


def simulate_session(
    profile: SubjectProfile,
    stimuli: Sequence[Stimulus],
    n_samples: int,
    fs: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Continuous Bvp, Eda, Resp and SpO2 recordings (float64, ``n_samples`` each) at ``fs``.

    Deterministic given the state of ``rng``: every draw, including the simulators' seeds,
    comes from it in a fixed order.
    """
    trial_gain = profile.responsiveness * np.exp(rng.normal(0.0, 0.3, size=len(stimuli)))
    amplitudes = np.array([s.intensity for s in stimuli]) * trial_gain
    cardio = _arousal(stimuli, amplitudes, rng.uniform(1.0, 2.5, len(stimuli)), n_samples, fs)
    breathing = _arousal(stimuli, amplitudes, rng.uniform(0.5, 2.0, len(stimuli)), n_samples, fs)
    return {
        "Bvp": _bvp(profile, cardio, fs, rng),
        "Eda": _eda(profile, stimuli, amplitudes, cardio, fs, rng),
        "Resp": _resp(profile, breathing, fs, rng),
        "SpO2": _spo2(profile, cardio, fs, rng),
    }


def _arousal(
    stimuli: Sequence[Stimulus],
    amplitudes: np.ndarray,
    latencies_s: np.ndarray,
    n_samples: int,
    fs: int,
    rise_s: float = 2.0,
    decay_s: float = 5.0,
) -> np.ndarray:
    """Sum of per-stimulus responses: zero until onset + latency, rise, then decay after offset."""
    t = np.arange(n_samples) / fs
    drive = np.zeros(n_samples)
    for stimulus, amplitude, latency in zip(stimuli, amplitudes, latencies_s, strict=True):
        if amplitude == 0.0:
            continue
        since = t - (stimulus.onset / fs + latency)
        duration = stimulus.length / fs
        rise = 1.0 - np.exp(-np.clip(since, 0.0, duration) / rise_s)
        decay = np.exp(-np.clip(since - duration, 0.0, None) / decay_s)
        drive += amplitude * rise * decay
    return drive


def _ou(rng: np.random.Generator, n: int, fs: int, sigma: float, tau_s: float) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck noise: slow drift with standard deviation ``sigma``."""
    a = np.exp(-1.0 / (fs * tau_s))
    steps = rng.standard_normal(n) * sigma * np.sqrt(1.0 - a * a)
    start = a * sigma * rng.standard_normal()
    return lfilter([1.0], [1.0, -a], steps, zi=[start])[0]


def _warp(
    simulate: Callable[[int], np.ndarray], rate: np.ndarray, fs: int, rng: np.random.Generator
) -> np.ndarray:
    """Play a constant-rate simulation at the instantaneous relative ``rate`` (1 = unchanged).

    Playback starts at a random point of the simulation, so the session does not begin at the
    same phase (first beat, first inhalation) for every subject.
    """
    start = rng.uniform(0.0, 10.0 * fs)
    phase = start + np.concatenate(([0.0], np.cumsum(rate[:-1])))
    seconds = int(np.ceil(phase[-1] / fs)) + 3
    base = simulate(seconds)
    while base.size < phase[-1] + 2:  # breathmetrics builds whole breaths and may stop short
        seconds *= 2
        base = simulate(seconds)
    return np.interp(phase, np.arange(base.size), base)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(_MAX_SEED))


def _bvp(
    profile: SubjectProfile, drive: np.ndarray, fs: int, rng: np.random.Generator
) -> np.ndarray:
    n = drive.size
    t = np.arange(n) / fs
    sinus_arrhythmia = rng.uniform(1.0, 4.0) * np.sin(
        2 * np.pi * profile.resp_rate / 60.0 * t + rng.uniform(0.0, 2 * np.pi)
    )
    heart_rate = (
        profile.heart_rate + profile.hr_gain * drive + sinus_arrhythmia + _ou(rng, n, fs, 2.0, 15.0)
    )
    ibi, seed = rng.uniform(0.05, 0.15), _seed(rng)

    def simulate(seconds: int) -> np.ndarray:
        return nk.ppg_simulate(
            duration=seconds,
            sampling_rate=fs,
            heart_rate=profile.heart_rate,
            frequency_modulation=0.0,
            ibi_randomness=ibi,
            drift=0.05,
            motion_amplitude=0.05,
            powerline_amplitude=0.0,
            burst_number=0,
            random_state=seed,
        )

    pulse = _warp(simulate, heart_rate / profile.heart_rate, fs, rng)
    pulse = (pulse - np.median(pulse)) * np.clip(1.0 - profile.vasoconstriction * drive, 0.3, None)
    return profile.ppg_amplitude * (pulse + rng.normal(0.0, 0.02, n))


def _eda(
    profile: SubjectProfile,
    stimuli: Sequence[Stimulus],
    amplitudes: np.ndarray,
    drive: np.ndarray,
    fs: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Skin conductance in microsiemens: tonic level + spontaneous and evoked SCRs; never < 0."""
    n = drive.size
    eda = profile.eda_tonic * (1.0 + _ou(rng, n, fs, 0.05, 60.0)) + 0.15 * profile.scr_gain * drive
    lead_in = _SCR_SECONDS * fs
    n_spontaneous = rng.poisson(profile.spontaneous_scr_per_min * (n + lead_in) / fs / 60.0)
    for _ in range(int(n_spontaneous)):
        start = int(rng.integers(-lead_in, n))
        scr = nk.eda_simulate(
            duration=_SCR_SECONDS,
            sampling_rate=fs,
            noise=0.0,
            scr_number=1,
            drift=0.0,
            random_state=_seed(rng),
        )
        scr = (scr - 1.0) / (scr.max() - 1.0)
        amplitude = profile.spontaneous_scr_amplitude * rng.uniform(0.5, 1.5)
        _add_at(eda, amplitude * scr, start)
    for stimulus, amplitude in zip(stimuli, amplitudes, strict=True):
        latency, rise_s, decay_s = rng.uniform(1.5, 3.5), rng.uniform(0.5, 1.0), rng.uniform(3, 6)
        start = stimulus.onset + round(latency * fs)
        if amplitude == 0.0 or start >= n:
            continue
        t = np.arange(n - start) / fs
        kernel = np.exp(-t / decay_s) - np.exp(-t / rise_s)
        eda[start:] += profile.scr_gain * amplitude * kernel / kernel.max()
    eda += rng.laplace(0.0, 0.003, n)
    return np.clip(eda, 0.0, None)


def _add_at(signal: np.ndarray, event: np.ndarray, start: int) -> None:
    """Add ``event`` into ``signal`` from sample ``start`` (which may be negative), clipped."""
    begin, end = max(start, 0), min(start + event.size, signal.size)
    if begin < end:
        signal[begin:end] += event[begin - start : end - start]


def _resp(
    profile: SubjectProfile, drive: np.ndarray, fs: int, rng: np.random.Generator
) -> np.ndarray:
    n = drive.size
    rate = 1.0 + profile.resp_rate_gain * drive + _ou(rng, n, fs, 0.05, 30.0)
    seed = _seed(rng)

    def simulate(seconds: int) -> np.ndarray:
        return nk.rsp_simulate(
            duration=seconds,
            sampling_rate=fs,
            respiratory_rate=profile.resp_rate,
            noise=0.02,
            method="breathmetrics",
            random_state=seed,
        )

    breath = _warp(simulate, np.clip(rate, 0.5, None), fs, rng)
    depth = np.clip(1.0 + profile.resp_depth_gain * drive, 0.3, None)
    return profile.resp_amplitude * (breath * depth + rng.normal(0.0, 0.01, n))


def _spo2(
    profile: SubjectProfile, drive: np.ndarray, fs: int, rng: np.random.Generator
) -> np.ndarray:
    """Oxygen saturation in %: slow drift, occasional small dips, 0.1 % quantisation, 50..100."""
    n = drive.size
    spo2 = profile.spo2 + _ou(rng, n, fs, 0.35, 30.0) - 0.25 * drive
    for _ in range(int(rng.poisson(0.5 * n / fs / 60.0))):
        length = round(rng.uniform(4.0, 12.0) * fs)
        start = int(rng.integers(n))
        _add_at(spo2, -rng.uniform(0.5, 2.5) * np.hanning(length), start)
    spo2 += rng.normal(0.0, 0.05, n)
    return np.clip(np.round(spo2, 1), 50.0, 100.0)
