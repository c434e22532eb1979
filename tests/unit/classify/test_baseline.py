from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from biomoe.classify.baseline import STATISTICS, fit_svm, statistics_features, window_statistics
from biomoe.config import Params
from biomoe.errors import DataError


def test_window_statistics_ignore_nan() -> None:
    x = np.array([1.0, 2.0, np.nan, 4.0, 8.0])
    values = dict(zip(STATISTICS, window_statistics(x), strict=True))
    finite = x[np.isfinite(x)]
    assert values["mean"] == pytest.approx(finite.mean())
    assert values["max"] == 8.0
    assert values["skewness"] == pytest.approx(stats.skew(finite))
    assert values["mean_abs_diff"] == pytest.approx(np.abs(np.diff(finite)).mean())


def test_flat_window_has_zero_shape_terms() -> None:
    values = dict(zip(STATISTICS, window_statistics(np.full(50, 3.0)), strict=True))
    assert values["std"] == values["skewness"] == values["kurtosis"] == values["slope"] == 0.0


def _windows(signal: np.ndarray | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for s in range(6):
        for k, label in enumerate(["No", "Low", "High"] * 3):
            for modality in ("Bvp", "Eda"):
                level = {"No": 0.0, "Low": 1.0, "High": 2.0}[label]
                rows.append(
                    dict(
                        sample_id=f"S{s}/{k}",
                        subject=f"S{s}",
                        split="train",
                        label=label,
                        modality=modality,
                        signal=rng.standard_normal(300).astype(np.float32) + level,
                        fs=30,
                    )
                )
    if signal is not None:
        rows[3]["signal"] = signal
    return pd.DataFrame(rows)


def test_svm_separates_levels(tiny_params: Params) -> None:
    fused = statistics_features(_windows(), ("Bvp", "Eda"))
    assert fused.features.shape == (54, 2 * len(STATISTICS))
    y = fused.samples["label"].map({"No": 0, "Low": 1, "High": 2}).to_numpy()
    model = fit_svm(fused.features, y, tiny_params.evaluate.svm, "balanced", 3)
    assert (model.predict(fused.features) == y).mean() > 0.9


def test_unusable_window_is_named() -> None:
    with pytest.raises(DataError, match=r"S0/1, Eda.*2 finite samples"):
        statistics_features(_windows(np.array([1.0, np.nan, 2.0])), ("Bvp", "Eda"))
