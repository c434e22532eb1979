"""The simulated pretraining corpus: shape, types, determinism and variety."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biomoe.config import CorpusParams, Params
from biomoe.data.corpus import CORPUS_COLUMNS, SIGNAL_TYPES, simulate_corpus, simulate_window


@pytest.fixture(scope="module")
def corpus_params(tiny_params: Params) -> CorpusParams:
    return tiny_params.pretrain.corpus


@pytest.fixture(scope="module")
def corpus(corpus_params: CorpusParams, tiny_params: Params) -> pd.DataFrame:
    return simulate_corpus(corpus_params, tiny_params.pretrain.seed)


def test_shape_columns_and_dtypes(corpus: pd.DataFrame, corpus_params: CorpusParams) -> None:
    n = corpus_params.windows_per_signal
    assert tuple(corpus.columns) == CORPUS_COLUMNS
    assert len(corpus) == n * len(corpus_params.signal_types)
    assert list(corpus["signal_type"]) == [t for t in corpus_params.signal_types for _ in range(n)]
    assert corpus["sample_id"].is_unique
    assert corpus["sample_id"].iloc[0] == f"{corpus_params.signal_types[0]}-0000"
    assert corpus["fs"].dtype == np.int64 and (corpus["fs"] == corpus_params.fs).all()
    length = round(corpus_params.window_seconds * corpus_params.fs)
    for signal in corpus["signal"]:
        assert signal.dtype == np.float32 and signal.shape == (length,)
        assert np.isfinite(signal).all() and signal.std() > 1e-4


def test_deterministic(
    corpus: pd.DataFrame, corpus_params: CorpusParams, tiny_params: Params
) -> None:
    again = simulate_corpus(corpus_params, tiny_params.pretrain.seed)
    assert all(np.array_equal(a, b) for a, b in zip(corpus["signal"], again["signal"], strict=True))


def test_seed_changes_the_windows(corpus: pd.DataFrame, corpus_params: CorpusParams) -> None:
    other = simulate_corpus(corpus_params, seed=12345)
    assert not any(
        np.array_equal(a, b) for a, b in zip(corpus["signal"], other["signal"], strict=True)
    )


def test_windows_vary_within_a_type(corpus: pd.DataFrame) -> None:
    for _, group in corpus.groupby("signal_type"):
        signals = np.stack(group["signal"].to_list())
        assert len({s.tobytes() for s in signals}) == len(signals)
        assert np.ptp(signals.std(axis=1)) > 0


def test_a_window_does_not_depend_on_the_other_types(
    corpus: pd.DataFrame, corpus_params: CorpusParams, tiny_params: Params
) -> None:
    only_eda = corpus_params.model_copy(update={"signal_types": ("eda",), "windows_per_signal": 2})
    eda = simulate_corpus(only_eda, tiny_params.pretrain.seed)
    expected = corpus[corpus.signal_type == "eda"]["signal"].iloc[:2]
    assert all(np.array_equal(a, b) for a, b in zip(eda["signal"], expected, strict=True))


def test_signal_types_look_like_their_physiology(corpus: pd.DataFrame) -> None:
    def dominant_hz(signal: np.ndarray, fs: int) -> float:
        spectrum = np.abs(np.fft.rfft(signal - signal.mean(), 4096))
        freqs = np.fft.rfftfreq(4096, 1 / fs)
        band = freqs > 0.05
        return float(freqs[band][np.argmax(spectrum[band])])

    fs = int(corpus["fs"].iloc[0])
    rsp = [dominant_hz(s, fs) for s in corpus[corpus.signal_type == "rsp"]["signal"]]
    ppg = [dominant_hz(s, fs) for s in corpus[corpus.signal_type == "ppg"]["signal"]]
    assert np.median(rsp) < 0.7 < np.median(ppg)
    eda = corpus[corpus.signal_type == "eda"]["signal"]
    assert all(s.min() > 0 for s in eda)


@pytest.mark.parametrize("signal_type", SIGNAL_TYPES)
def test_other_sampling_rates(signal_type: str) -> None:
    for fs in (64, 250):
        window = simulate_window(signal_type, np.random.default_rng(0), 3 * fs, fs)
        assert window.shape == (3 * fs,) and np.isfinite(window).all()


def test_a_short_breathmetrics_record_still_fills_the_window() -> None:
    rng = np.random.default_rng([0, SIGNAL_TYPES.index("rsp"), 18])  # stops 1.7 s short of 13 s
    window = simulate_window("rsp", rng, 1000, 100)
    assert window.shape == (1000,) and np.ptp(window[-100:]) > 0
