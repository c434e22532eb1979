"""Task classes: bins of the rate and SNR labels and their names, class order, class ids."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from biomoe.config import Params
from biomoe.corpus.params import TASKS
from biomoe.corpus.tasks import (
    UNLABELLED,
    WINDOW_TASKS,
    bin_index,
    bin_names,
    task_classes,
    window_labels,
)


def test_bins_and_their_names() -> None:
    edges = (0.5, 1.0, 2.0)
    assert bin_names(edges, "Hz") == ("<0.5Hz", "0.5-1Hz", "1-2Hz", ">=2Hz")
    assert [bin_index(v, edges) for v in (0.1, 0.5, 1.5, 2.0, 9.0)] == [0, 1, 2, 3, 3]
    assert bin_index(math.nan, edges) == UNLABELLED


def test_classes_follow_simulated_types_then_sorted_others(params: Params) -> None:
    windows = pd.DataFrame(
        {
            "signal_type": ["motion", "eda", "ecg", "custom", "eeg"],
            "dataset": ["d", "simulated", "simulated", "u", "simulated"],
            "label": ["walk", None, None, "b", None],
            "rate_hz": [1.0, math.nan, 1.2, 0.1, 9.0],
            "snr_db": [math.nan, 10.0, 30.0, 0.0, 20.0],
        }
    )
    classes = task_classes(windows, params.corpus, ("waveform", "mtf"))
    assert tuple(classes) == TASKS
    assert classes["signal_type"] == ("ecg", "eeg", "eda", "custom", "motion")
    assert classes["dataset_label"] == ("d:walk", "u:b")
    assert classes["representation"] == ("waveform", "mtf")
    labels = window_labels(windows, classes, params.corpus)
    assert list(labels.columns) == [f"task_{t}" for t in WINDOW_TASKS]
    assert WINDOW_TASKS == ("signal_type", "rate_bin", "quality_bin", "dataset_label")
    assert list(labels["task_signal_type"]) == [4, 2, 0, 3, 1]
    assert list(labels["task_dataset_label"]) == [0, UNLABELLED, UNLABELLED, 1, UNLABELLED]
    assert labels["task_quality_bin"].iloc[0] == UNLABELLED
    assert (labels.dtypes == np.int64).all()
