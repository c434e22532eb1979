"""The ``morphology`` regression targets: the corpus's window features, robust-scaled.

Each feature is centred on its median and divided by its interquartile range over the training
images (NaN ignored), so a heart rate in bpm and an EEG band share weigh alike in the loss and
an outlier does not set the scale. A feature with no spread (or no value) in the training split
keeps a scale of 1. NaN (the feature does not apply, or failed on that window) stays NaN: the
loss masks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MORPHOLOGY = "morphology"
"""The pretraining task that regresses the window features (``pretrain.tasks``)."""


@dataclass(frozen=True)
class TargetScaling:
    """``(value - center) / scale`` per feature, in ``columns`` order."""

    columns: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, rows: pd.DataFrame, columns: Sequence[str]) -> TargetScaling:
        values = rows[list(columns)].to_numpy(dtype=np.float64)
        centers, scales = [], []
        for column in values.T:
            finite = column[np.isfinite(column)]
            if finite.size == 0:
                centers.append(0.0)
                scales.append(1.0)
                continue
            q25, q50, q75 = np.quantile(finite, [0.25, 0.5, 0.75])
            centers.append(float(q50))
            scales.append(float(q75 - q25) if q75 - q25 > 0 else 1.0)
        return cls(tuple(columns), tuple(centers), tuple(scales))

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        """float32 ``[N, F]``; NaN where a row has no value."""
        values = rows[list(self.columns)].to_numpy(dtype=np.float64)
        return ((values - np.asarray(self.center)) / np.asarray(self.scale)).astype(np.float32)

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{feature column: {"center": c, "scale": s}}``: what the model card records."""
        return {
            column: {"center": center, "scale": scale}
            for column, center, scale in zip(self.columns, self.center, self.scale, strict=True)
        }
