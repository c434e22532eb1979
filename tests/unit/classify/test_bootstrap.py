from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from biomoe.classify.bootstrap import bootstrap_intervals, unit_confusions
from biomoe.classify.metrics import confusion, metrics_from_confusion
from biomoe.classify.params import BootstrapParams

LABELS = ("No", "Low", "High")


def _predictions(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
    subjects = np.array([f"S{i % 12}" for i in range(n)])
    return y, pred, subjects


def test_metrics_from_confusion_equal_scikit_learn() -> None:
    y, pred, _ = _predictions()
    metrics = metrics_from_confusion(confusion(y, pred, 3), LABELS)
    assert np.isclose(metrics["accuracy"], accuracy_score(y, pred))
    assert np.isclose(metrics["macro_f1"], f1_score(y, pred, average="macro"))
    per_class = f1_score(y, pred, average=None)
    assert np.allclose([metrics[f"f1_{label}"] for label in LABELS], per_class)


def test_unit_confusions_add_up() -> None:
    y, pred, subjects = _predictions()
    per_unit = unit_confusions(y, pred, subjects, 3)
    assert per_unit.shape == (12, 3, 3)
    assert np.array_equal(per_unit.sum(0), confusion(y, pred, 3))


def test_intervals_bracket_the_estimate_and_are_seeded() -> None:
    y, pred, subjects = _predictions()
    params = BootstrapParams(resamples=500, confidence=0.95, unit="subject")
    intervals = bootstrap_intervals(y, pred, subjects, LABELS, params, seed=0)
    point = metrics_from_confusion(confusion(y, pred, 3), LABELS)
    for key in ("accuracy", "macro_f1"):
        low, high = intervals[key]
        assert low < point[key] < high
    assert intervals == bootstrap_intervals(y, pred, subjects, LABELS, params, seed=0)


def test_subject_resampling_is_wider_than_sample_resampling_when_subjects_differ() -> None:
    """Correlated windows: whole subjects either right or wrong widen the honest interval."""
    rng = np.random.default_rng(1)
    subjects = np.repeat([f"S{i}" for i in range(10)], 30)
    y = rng.integers(0, 3, len(subjects))
    good = np.isin(subjects, [f"S{i}" for i in range(5)])
    pred = np.where(good, y, (y + 1) % 3)
    width = {}
    for unit in ("subject", "sample"):
        params = BootstrapParams(resamples=400, confidence=0.9, unit=unit)
        low, high = bootstrap_intervals(y, pred, subjects, LABELS, params, seed=0)["accuracy"]
        width[unit] = high - low
    assert width["subject"] > 2 * width["sample"]
