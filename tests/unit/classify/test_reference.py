"""The physiologist's and the time-series practitioner's baselines find what they should."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pandas as pd
import pytest

from biomoe.classify.params import MiniRocketParams, PhysiologicalParams
from biomoe.classify.reference import (
    MiniRocketRidge,
    fit_physiological,
    fixed_length,
    physiological_features,
    raw_windows,
)
from biomoe.errors import DataError
from biomoe.physio.features import applicable

FS = 50
RATE = {"No": 60, "High": 110}


def _windows(n_per_class: int = 12) -> pd.DataFrame:
    """A BVP whose heart rate rises with pain, and an EDA that is noise only."""
    rng = np.random.default_rng(1)
    rows = []
    for label, bpm in RATE.items():
        for k in range(n_per_class):
            sample = f"S{k}/{label}"
            ppg = nk.ppg_simulate(
                duration=10, sampling_rate=FS, heart_rate=bpm + rng.normal(0, 3), random_state=k
            )
            eda = rng.standard_normal(10 * FS) + 5
            for modality, signal in (("Bvp", ppg), ("Eda", eda)):
                rows.append(
                    dict(
                        window_id=f"{sample}/{modality}",
                        sample_id=sample,
                        subject=f"S{k}",
                        split="train",
                        label=label,
                        modality=modality,
                        signal=np.asarray(signal, dtype=np.float32),
                        fs=FS,
                    )
                )
    return pd.DataFrame(rows)


def test_physiological_features_read_the_heart_rate() -> None:
    windows = _windows()
    fused = physiological_features(windows, ("Bvp", "Eda"))
    width = len(applicable("ppg")) + len(applicable("eda"))
    assert fused.features.shape == (24, width)
    heart_rate = fused.features[:, list(applicable("ppg")).index("heart_rate")]
    high = fused.samples["label"].to_numpy() == "High"
    assert heart_rate[high].min() > heart_rate[~high].max()
    y = high.astype(int)
    model = fit_physiological(
        fused.features, y, PhysiologicalParams(C=1.0, max_iter=500), "balanced", 2
    )
    assert (model.predict(fused.features) == y).mean() > 0.95


def test_minirocket_separates_the_rhythms() -> None:
    windows = _windows()
    params = MiniRocketParams(num_kernels=840, seed=0, seconds=8.0)
    fused = raw_windows(windows, ("Bvp", "Eda"), params, FS)
    assert fused.features.shape == (24, 2 * 8 * FS)
    y = (fused.samples["label"].to_numpy() == "High").astype(int)
    subject = fused.samples["subject"].str[1:].astype(int).to_numpy()
    train = subject < 8  # both classes of subjects 0-7 train, of 8-11 test
    model = MiniRocketRidge(2, params, "balanced", 2).fit(fused.features[train], y[train])
    assert (model.predict(fused.features[~train]) == y[~train]).mean() > 0.9


def test_windows_are_normalised_and_cut_or_padded_to_one_length() -> None:
    x = np.arange(10.0) * 3 + 7
    z = (x - x.mean()) / x.std()
    np.testing.assert_allclose(fixed_length(x, 6), z[2:8])  # the centre 6 samples
    padded = fixed_length(np.array([np.nan, 1.0, np.nan, 3.0, np.nan]), 7)
    a = 1.0 / np.std([1.0, 2.0, 3.0])  # edge NaN dropped, the gap interpolated to 2
    np.testing.assert_allclose(padded, [-a, -a, -a, 0.0, a, a, a])
    assert (fixed_length(np.full(20, 98.0), 10) == 0).all()
    with pytest.raises(DataError, match="1 finite samples"):
        fixed_length(np.array([np.nan, 2.0, np.nan]), 5)
