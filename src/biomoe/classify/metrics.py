"""Classification metrics as plain floats, ready for JSON and MLflow, all from confusion counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from biomoe.data.params import PAIN_LABELS


def label_ids(labels: pd.Series) -> np.ndarray:
    """Pain label names -> class ids in ``PAIN_LABELS`` order; -1 for anything else (the test
    split's hidden labels)."""
    index = {name: i for i, name in enumerate(PAIN_LABELS)}
    return labels.map(index).fillna(-1).to_numpy(np.int64)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))


def metrics_from_confusion(matrix: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
    """accuracy, macro_f1 and f1_<label> of ``matrix`` [true, predicted] (F1 0 when undefined)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    denominator = matrix.sum(0) + matrix.sum(1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    total = matrix.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "macro_f1": float(f1.mean()),
        **{f"f1_{name}": float(v) for name, v in zip(labels, f1, strict=True)},
    }


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]
) -> dict[str, float]:
    """``metrics_from_confusion`` of the predictions, rounded to 6 digits."""
    matrix = confusion(y_true, y_pred, len(labels))
    return {k: round(v, 6) for k, v in metrics_from_confusion(matrix, labels).items()}
