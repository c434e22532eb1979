"""Simulated pretraining windows: ECG, EMG, PPG, respiration and EDA from neurokit2, EEG from a
1/f background with a waxing and waning theta/alpha rhythm.

Each window draws its own rate, morphology, baseline wander, white-noise level and (sometimes)
an artefact, and records the truth it was drawn from: the dominant rhythm's rate in Hz (None
for EMG and EDA, which have none; the window's mean rate) and the window's SNR in dB (clean
power over the power of the noise and artefact added to it). ECG, PPG and respiration windows
(sometimes) hold a transient, as real recordings do and stationary simulators do not: the
rhythm speeds up or slows down smoothly within the window (an arousal, an orienting
response), and the pulse or breath amplitude grows or shrinks with it; the record is played
at the changing rate (time-warped), so every beat keeps its simulated shape.

Window ``i`` of a signal type is simulated from the seed sequence ``[seed, SEED_CODES[type],
i]``, so it does not depend on which other types or how many windows are asked for. Signals
are simulated at a rate each simulator handles well (ECG 250 Hz, EMG 1 kHz) and resampled to
``fs`` with an anti-aliasing polyphase filter; each window is cut from a longer record at a
random offset, away from the simulators' edge effects.

The types and their order are :data:`biomoe.corpus.params.SIMULATED_TYPES` (the order of the
``signal_type`` class ids); :data:`SEED_CODES` is not an order but a fixed number per type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import gcd

import neurokit2 as nk
import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from biomoe.corpus.params import SimulatedSourceParams, SimulatedType

SEED_CODES: dict[SimulatedType, int] = {"ecg": 0, "emg": 1, "ppg": 2, "rsp": 3, "eda": 4, "eeg": 5}
"""Each type's code in its windows' seed sequence: permanent (changing one changes every
simulated window of that type, and so the corpus bytes); a new type takes the next free code."""

SIMULATED_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "signal_type",
    "fs",
    "start",
    "rate_hz",
    "snr_db",
    "artefact",
    "signal",
)

ARTEFACTS: tuple[str, ...] = ("burst", "step", "blink")
"""Motion burst (smoothed noise), electrode pop (decaying step), eye blink (EEG only)."""

TRANSIENT_RATE_CHANGE = (-0.15, 0.25)
"""A transient's relative change of the rhythm's rate (a heart rate of 70 bpm: 60-88 bpm)."""
TRANSIENT_AMPLITUDE_CHANGE = (-0.4, 0.3)
"""... and of the pulse (PPG) or breath (respiration) amplitude; ECG keeps its amplitude."""
TRANSIENT_RISE_S = (0.5, 2.0)
"""Time constant of the transient's logistic step."""
_TRANSIENT_TYPES = frozenset({"ecg", "ppg", "rsp"})
_AMPLITUDE_TYPES = frozenset({"ppg", "rsp"})

_NATIVE_FS: dict[str, int] = {"ecg": 250, "emg": 1000, "ppg": 100, "rsp": 50, "eda": 50, "eeg": 250}
_MAX_SEED = 2**31 - 1

Simulator = Callable[[np.random.Generator, int, int], tuple[np.ndarray, float | None]]
"""``(rng, seconds, fs) -> (clean record, true rhythm rate in Hz or None)``."""


@dataclass(frozen=True)
class SimulatedWindow:
    """``signal`` float32; ``start`` its offset in the simulated record (samples at ``fs``)."""

    signal: np.ndarray
    rate_hz: float | None
    snr_db: float
    start: int
    artefact: str | None


def simulate_windows(
    params: SimulatedSourceParams, fs: int, window_seconds: float, seed: int
) -> pd.DataFrame:
    """``params.windows_per_signal`` windows per type in ``params.signal_types``, in that order.

    Columns :data:`SIMULATED_COLUMNS`: ``sample_id`` (``<type>-<nnnn>``), ``signal_type``, ``fs``
    and ``start`` (int64), ``rate_hz`` (float64, NaN when the type has no rhythm), ``snr_db``
    (float64), ``artefact`` (str or None) and ``signal`` (float32, ``round(window_seconds * fs)``).
    """
    chunks = list(simulate_chunks(params, fs, window_seconds, seed, chunk=1 << 30))
    return chunks[0] if chunks else _frame([])


def simulate_chunks(
    params: SimulatedSourceParams, fs: int, window_seconds: float, seed: int, chunk: int
) -> Iterator[pd.DataFrame]:
    """The windows of :func:`simulate_windows`, in its order, as frames of at most ``chunk``
    rows; only one chunk is in memory at a time."""
    n_samples = round(window_seconds * fs)
    rows: list[dict[str, object]] = []
    for signal_type in params.signal_types:
        code = SEED_CODES[signal_type]
        for i in range(params.windows_per_signal):
            rng = np.random.default_rng([seed, code, i])
            window = simulate_window(
                signal_type,
                rng,
                n_samples,
                fs,
                snr_db=params.snr_db,
                artefact_probability=params.artefact_probability,
                transient_probability=params.transient_probability,
            )
            rows.append(
                {
                    "sample_id": f"{signal_type}-{i:04d}",
                    "signal_type": signal_type,
                    "fs": fs,
                    "start": window.start,
                    "rate_hz": np.nan if window.rate_hz is None else window.rate_hz,
                    "snr_db": window.snr_db,
                    "artefact": window.artefact,
                    "signal": window.signal,
                }
            )
            if len(rows) == chunk:
                yield _frame(rows)
                rows = []
    if rows:
        yield _frame(rows)


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(SIMULATED_COLUMNS))
    return frame.astype({"fs": np.int64, "start": np.int64, "rate_hz": float, "snr_db": float})


def simulate_window(
    signal_type: str,
    rng: np.random.Generator,
    n_samples: int,
    fs: int,
    snr_db: tuple[float, float] = (0.0, 35.0),
    artefact_probability: float = 0.2,
    transient_probability: float = 0.0,
) -> SimulatedWindow:
    """One window of ``n_samples`` at ``fs``, every random choice drawn from ``rng``.

    White noise is scaled to an SNR drawn uniformly from ``snr_db``; an artefact (drawn with
    ``artefact_probability``) lowers the recorded SNR further. An ECG, PPG or respiration
    window holds a transient with ``transient_probability``.
    """
    sim_fs = max(fs, _NATIVE_FS[signal_type])
    seconds = int(np.ceil(n_samples / fs)) + 3
    transient = (  # no draw at probability 0: the windows of a corpus without transients
        signal_type in _TRANSIENT_TYPES
        and transient_probability > 0
        and rng.random() < transient_probability
    )
    if transient:  # a faster rhythm consumes the record faster
        seconds = int(np.ceil(seconds * (1.0 + TRANSIENT_RATE_CHANGE[1])))
    raw, rate_hz = _SIMULATORS[signal_type](rng, seconds, sim_fs)
    rate = np.ones(raw.size)
    if transient:
        raw, rate = _transient(rng, raw, sim_fs, amplitude=signal_type in _AMPLITUDE_TYPES)
    raw = raw + _wander(rng, raw.size, sim_fs, scale=float(np.std(raw)))
    if sim_fs != fs:
        common = gcd(sim_fs, fs)
        raw = resample_poly(raw, fs // common, sim_fs // common)
    if raw.size <= n_samples + 2 * fs:
        raise RuntimeError(f"{signal_type} simulator returned {raw.size} samples, too few")
    start = int(rng.integers(fs, raw.size - n_samples - fs))
    clean = raw[start : start + n_samples]
    if rate_hz is not None:
        rate_hz *= float(np.mean(rate[start * sim_fs // fs : (start + n_samples) * sim_fs // fs]))
    scale = float(np.std(clean)) or 1.0
    target_db = rng.uniform(*snr_db)
    noise = rng.standard_normal(n_samples) * scale * 10 ** (-target_db / 20)
    artefact = None
    if rng.random() < artefact_probability:
        kinds = ARTEFACTS if signal_type == "eeg" else ARTEFACTS[:2]
        artefact = str(rng.choice(kinds))
        noise = noise + _ARTEFACT_SHAPES[artefact](rng, n_samples, fs) * scale
    snr = 10 * np.log10(np.var(clean) / max(float(np.var(noise)), 1e-30))
    gain = np.exp(rng.normal(0.0, 0.3))
    signal = (gain * (clean + noise)).astype(np.float32)
    return SimulatedWindow(signal, rate_hz, float(snr), start, artefact)


def _transient(
    rng: np.random.Generator, raw: np.ndarray, fs: int, amplitude: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``raw`` played at a rate that changes by a logistic step (centred in the record's middle
    half), its excursions scaled by a step of the same shape when ``amplitude``; the warped
    record (shorter or longer than ``raw`` by the change) and its relative rate per sample."""
    t = np.arange(raw.size) / fs
    centre = rng.uniform(0.25, 0.75) * t[-1]
    step = 1.0 / (1.0 + np.exp(-(t - centre) / rng.uniform(*TRANSIENT_RISE_S)))
    rate = 1.0 + rng.uniform(*TRANSIENT_RATE_CHANGE) * step
    gain = 1.0 + rng.uniform(*TRANSIENT_AMPLITUDE_CHANGE) * step if amplitude else None
    phase = np.concatenate(([0.0], np.cumsum(rate[:-1])))
    played = phase <= raw.size - 1
    warped = np.interp(phase[played], np.arange(raw.size), raw)
    if gain is not None:
        level = float(np.median(warped))
        warped = level + (warped - level) * gain[played]
    return warped, rate[played]


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(_MAX_SEED))


def _ecg(rng: np.random.Generator, seconds: int, fs: int) -> tuple[np.ndarray, float]:
    """ECGSYN with jittered wave timings and amplitudes (P, Q, R, S, T), varied rate and HRV."""
    ti = np.array([-70.0, -15.0, 0.0, 15.0, 100.0]) + rng.normal(0.0, [6.0, 2.0, 0.0, 2.0, 8.0])
    ai = np.array([1.2, -5.0, 30.0, -7.5, 0.75]) * np.exp(rng.normal(0.0, 0.25, 5))
    heart_rate = rng.uniform(45.0, 140.0)
    signal = nk.ecg_simulate(
        duration=seconds,
        sampling_rate=fs,
        heart_rate=heart_rate,
        heart_rate_std=rng.uniform(0.5, 6.0),
        noise=0.0,
        method="ecgsyn",
        random_state=_seed(rng),
        ti=tuple(ti),
        ai=tuple(ai),
    )
    return (-signal if rng.random() < 0.1 else signal), heart_rate / 60.0


def _emg(rng: np.random.Generator, seconds: int, fs: int) -> tuple[np.ndarray, None]:
    signal = nk.emg_simulate(
        duration=seconds,
        sampling_rate=fs,
        noise=rng.uniform(0.005, 0.05),
        burst_number=int(rng.integers(0, 5)),
        burst_duration=rng.uniform(0.3, 2.0),
        random_state=_seed(rng),
    )
    return signal, None


def _ppg(rng: np.random.Generator, seconds: int, fs: int) -> tuple[np.ndarray, float]:
    heart_rate = rng.uniform(50.0, 130.0)
    signal = nk.ppg_simulate(
        duration=seconds,
        sampling_rate=fs,
        heart_rate=heart_rate,
        frequency_modulation=rng.uniform(0.0, 0.4),
        ibi_randomness=rng.uniform(0.0, 0.25),
        drift=rng.uniform(0.0, 0.5),
        motion_amplitude=0.0,
        powerline_amplitude=0.0,
        burst_number=0,
        random_state=_seed(rng),
    )
    return signal, heart_rate / 60.0


def _rsp(rng: np.random.Generator, seconds: int, fs: int) -> tuple[np.ndarray, float]:
    """Twice the duration asked for: breathmetrics builds whole breaths and may stop short."""
    rate = rng.uniform(8.0, 30.0)
    signal = nk.rsp_simulate(
        duration=2 * seconds,
        sampling_rate=fs,
        respiratory_rate=rate,
        noise=0.0,
        method=str(rng.choice(["breathmetrics", "sinusoidal"])),
        random_state=_seed(rng),
    )
    return signal, rate / 60.0


def _eda(rng: np.random.Generator, seconds: int, fs: int) -> tuple[np.ndarray, None]:
    tonic = np.exp(rng.normal(np.log(4.0), 0.5))
    phasic = nk.eda_simulate(
        duration=seconds,
        sampling_rate=fs,
        noise=0.0,
        scr_number=int(rng.integers(0, 6)),
        drift=rng.uniform(-0.05, 0.05),
        random_state=_seed(rng),
    )
    return tonic + rng.uniform(0.1, 1.0) * (phasic - 1.0), None


def _eeg(rng: np.random.Generator, seconds: int, fs: int) -> tuple[np.ndarray, float]:
    """A 1/f^beta background (beta 1-2) plus a theta/alpha rhythm (4-13 Hz) whose amplitude
    waxes and wanes and whose frequency wobbles slightly, with a weak second harmonic."""
    n = seconds * fs
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    shaped = np.fft.rfft(rng.standard_normal(n)) * np.maximum(freqs, freqs[1]) ** (
        -rng.uniform(1.0, 2.0) / 2
    )
    background = np.fft.irfft(shaped, n)
    background /= np.std(background)
    t = np.arange(n) / fs
    rate = rng.uniform(4.0, 13.0)
    wobble = np.convolve(rng.standard_normal(n), np.ones(fs) / fs, mode="same")
    phase = 2 * np.pi * np.cumsum(rate + 0.3 * wobble / (np.std(wobble) or 1.0)) / fs
    envelope = 1.0 + rng.uniform(0.3, 0.9) * np.sin(
        2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0.0, 2 * np.pi)
    )
    rhythm = rng.uniform(1.0, 3.0) * envelope * (np.sin(phase) + 0.2 * np.sin(2 * phase))
    return background + rhythm, rate


def _wander(rng: np.random.Generator, n: int, fs: int, scale: float) -> np.ndarray:
    """Baseline wander: a slow sinusoid (0.05-0.5 Hz) of random size and phase."""
    t = np.arange(n) / fs
    frequency, phase = rng.uniform(0.05, 0.5), rng.uniform(0.0, 2 * np.pi)
    return rng.uniform(0.0, 0.3) * scale * np.sin(2 * np.pi * frequency * t + phase)


def _burst(rng: np.random.Generator, n: int, fs: int) -> np.ndarray:
    """A short burst (0.2-1 s) of large smoothed noise, as from a moving electrode or sensor."""
    length = min(n, max(2, round(rng.uniform(0.2, 1.0) * fs)))
    start = int(rng.integers(0, n - length + 1))
    burst = np.convolve(rng.standard_normal(length), np.ones(3) / 3, mode="same")
    out = np.zeros(n)
    out[start : start + length] = rng.uniform(1.0, 4.0) * burst * np.hanning(length)
    return out


def _step(rng: np.random.Generator, n: int, fs: int) -> np.ndarray:
    """An electrode pop: a baseline jump that decays back over 0.3-2 s."""
    start = int(rng.integers(0, n))
    decay = rng.uniform(0.3, 2.0) * fs
    out = np.zeros(n)
    out[start:] = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 3.0)
    out[start:] *= np.exp(-np.arange(n - start) / decay)
    return out


def _blink(rng: np.random.Generator, n: int, fs: int) -> np.ndarray:
    """An eye blink seen on frontal EEG: a smooth positive bump of 0.2-0.5 s."""
    width = rng.uniform(0.2, 0.5) * fs
    centre = rng.uniform(0, n)
    return rng.uniform(3.0, 6.0) * np.exp(-0.5 * ((np.arange(n) - centre) / (width / 4)) ** 2)


_SIMULATORS: dict[str, Simulator] = {
    "ecg": _ecg,
    "emg": _emg,
    "ppg": _ppg,
    "rsp": _rsp,
    "eda": _eda,
    "eeg": _eeg,
}

_ARTEFACT_SHAPES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "burst": _burst,
    "step": _step,
    "blink": _blink,
}
