"""What a physiologist or a time-series practitioner would use instead of the embedding.

- ``physiological``: the neurokit2 features of each modality's window
  (:mod:`biomoe.physio.features`: heart rate and HRV and pulse shape of the BVP, SCRs and tonic
  level of the EDA, breathing rate and depth, and the generic spectral and amplitude features
  of every signal), missing values imputed with the training median, standardised, then a
  logistic regression;
- ``minirocket``: MiniRocket (sktime's ``MiniRocketMultivariate``, the modalities as channels)
  on every window z-normalised and centre-cropped or edge-padded to one length, then a
  ridge classifier whose penalty is chosen by leave-one-out cross-validation on the training
  part (``RidgeClassifierCV``), MiniRocket's own recipe.

Both fit inside each fold of the evaluation, on the training part only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from biomoe.classify.baseline import per_window_features
from biomoe.classify.fusion import FusedSet
from biomoe.classify.heads import class_weights
from biomoe.classify.params import MiniRocketParams, PhysiologicalParams
from biomoe.data.params import signal_type_of
from biomoe.errors import DataError
from biomoe.imaging.signals import clean_signal
from biomoe.physio.features import applicable, window_features

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 10))


def physiological_features(windows: pd.DataFrame, modalities: Sequence[str]) -> FusedSet:
    """Per sample, the features that apply to each modality's signal type (NaN: not computed)."""

    def extractor(modality: str):
        names = applicable(signal_type_of(modality))

        def extract(signal: np.ndarray, fs: int) -> np.ndarray:
            values, _ = window_features(signal, fs, signal_type_of(modality))
            return np.array([values[name] for name in names])

        return extract

    return per_window_features(windows, modalities, {m: extractor(m) for m in modalities})


def fit_physiological(
    x: np.ndarray, y: np.ndarray, params: PhysiologicalParams, class_weight: str, n_classes: int
) -> Pipeline:
    weights = class_weights(y, n_classes, class_weight)
    model = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(
            C=params.C,
            max_iter=params.max_iter,
            class_weight={c: float(w) for c, w in enumerate(weights)},
        ),
    )
    return model.fit(x, y)


def fixed_length(signal: np.ndarray, n: int) -> np.ndarray:
    """``signal`` cleaned as the images clean it (``clean_signal``: edge NaN dropped, interior
    NaN interpolated), z-normalised, centre-cropped or edge-padded to ``n`` samples; a flat
    window becomes zeros."""
    finite = int(np.isfinite(np.asarray(signal, dtype=np.float64)).sum())
    if finite < 2:
        raise DataError(f"window has {finite} finite samples; MiniRocket needs 2")
    x = clean_signal(signal)
    spread = x.std()
    x = (x - x.mean()) / spread if spread > 1e-12 else np.zeros_like(x)
    if x.size >= n:
        start = (x.size - n) // 2
        return x[start : start + n]
    before = (n - x.size) // 2
    return np.pad(x, (before, n - x.size - before), mode="edge")


def raw_windows(
    windows: pd.DataFrame, modalities: Sequence[str], params: MiniRocketParams, fs: int
) -> FusedSet:
    """Per sample, every modality's window at one length (``params.seconds`` at ``fs``),
    flattened channel after channel: ``[n, modalities * length]``."""
    n = round(params.seconds * fs)
    crop = {m: (lambda signal, _fs: fixed_length(signal, n)) for m in modalities}
    return per_window_features(windows, modalities, crop)


class MiniRocketRidge:
    """MiniRocket features of ``channels`` channels, then a standardised ridge classifier."""

    def __init__(
        self, channels: int, params: MiniRocketParams, class_weight: str, n_classes: int
    ) -> None:
        from sktime.transformations.rocket import MiniRocketMultivariate

        self.channels = channels
        self.class_weight = class_weight
        self.n_classes = n_classes
        self.rocket = MiniRocketMultivariate(
            num_kernels=params.num_kernels, random_state=params.seed
        )
        self.head: Pipeline | None = None

    def _panel(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), self.channels, -1).astype(np.float32)

    def fit(self, x: np.ndarray, y: np.ndarray) -> MiniRocketRidge:
        features = np.asarray(self.rocket.fit_transform(self._panel(x)))
        weights = class_weights(y, self.n_classes, self.class_weight)
        ridge = RidgeClassifierCV(
            alphas=RIDGE_ALPHAS, class_weight={c: float(w) for c, w in enumerate(weights)}
        )
        self.head = make_pipeline(StandardScaler(), ridge).fit(features, y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.head is None:
            raise RuntimeError("MiniRocketRidge.predict before fit")
        return self.head.predict(np.asarray(self.rocket.transform(self._panel(x))))
