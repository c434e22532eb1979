"""Percentile bootstrap intervals of the metrics, over subjects or samples.

Resampling whole subjects (the default) respects that the windows of one person are correlated;
per-unit confusion matrices make a thousand resamples cost milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomoe.classify.metrics import metrics_from_confusion
from biomoe.classify.params import BootstrapParams


def unit_confusions(
    y_true: np.ndarray, y_pred: np.ndarray, units: np.ndarray, n_classes: int
) -> np.ndarray:
    """[n_units, classes, classes] confusion counts, one matrix per unit (sorted unit order)."""
    _, unit_index = np.unique(units, return_inverse=True)
    counts = np.zeros((unit_index.max() + 1, n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (unit_index, y_true, y_pred), 1)
    return counts


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    subjects: np.ndarray,
    labels: Sequence[str],
    params: BootstrapParams,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """(low, high) per metric of ``metrics_from_confusion`` at ``params.confidence``."""
    units = subjects if params.unit == "subject" else np.arange(len(y_true))
    per_unit = unit_confusions(y_true, y_pred, units, len(labels))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(per_unit), size=(params.resamples, len(per_unit)))
    samples: dict[str, list[float]] = {}
    for draw in draws:
        for key, value in metrics_from_confusion(per_unit[draw].sum(0), labels).items():
            samples.setdefault(key, []).append(value)
    tail = (1 - params.confidence) / 2 * 100
    return {
        key: (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
        for key, values in samples.items()
    }
