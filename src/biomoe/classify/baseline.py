"""The challenge-style baseline: an RBF SVM on simple statistics of each raw signal window.

Eleven NaN-aware statistics per modality (level, spread, shape, and change), concatenated over the
modalities; features are standardised inside the pipeline, so the fitted object is self-contained.
``per_window_features`` builds any such per-window feature matrix (the other baselines too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from biomoe.classify.fusion import FusedSet, sample_table
from biomoe.classify.heads import class_weights
from biomoe.classify.params import SvmBaselineParams
from biomoe.errors import DataError

STATISTICS = (
    "mean",
    "std",
    "min",
    "max",
    "median",
    "iqr",
    "skewness",
    "kurtosis",
    "mean_abs_diff",
    "std_diff",
    "slope",
)


def window_statistics(signal: np.ndarray) -> np.ndarray:
    """The ``STATISTICS`` of one window, ignoring NaN samples (a flat window has 0 shape terms)."""
    values = np.asarray(signal, dtype=np.float64)
    finite = np.isfinite(values)
    x = values[finite]
    if x.size < 3:
        raise DataError(f"window has {x.size} finite samples; the statistics need 3")
    diff = np.diff(x)
    t = np.flatnonzero(finite).astype(np.float64)
    spread = x.std()
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    flat = spread < 1e-12
    return np.array(
        [
            x.mean(),
            spread,
            x.min(),
            x.max(),
            median,
            q3 - q1,
            0.0 if flat else stats.skew(x),
            0.0 if flat else stats.kurtosis(x),
            np.abs(diff).mean(),
            diff.std(),
            0.0 if flat else np.polyfit(t, x, 1)[0],
        ]
    )


WindowFeatures = Callable[[np.ndarray, int], np.ndarray]
"""``(signal, fs) -> features [w]`` of one window of one modality (raises ``DataError``)."""


def per_window_features(
    windows: pd.DataFrame, modalities: Sequence[str], extract: Mapping[str, WindowFeatures]
) -> FusedSet:
    """One row per sample (sorted by sample_id, as ``fuse``): ``extract[modality]`` of each of
    its windows, the modalities' blocks side by side in ``modalities`` order."""
    table = windows[windows["modality"].isin(modalities)]
    samples = sample_table(table)
    position = {sid: i for i, sid in enumerate(samples["sample_id"])}
    blocks: dict[str, dict[int, np.ndarray]] = {m: {} for m in modalities}
    for sid, modality, signal, fs in zip(
        table["sample_id"], table["modality"], table["signal"], table["fs"], strict=True
    ):
        try:
            blocks[modality][position[sid]] = extract[modality](np.asarray(signal), int(fs))
        except DataError as exc:
            raise DataError(str(exc), segment=f"{sid}, {modality}") from exc
    for modality in modalities:
        absent = sorted(set(range(len(samples))) - set(blocks[modality]))
        if absent:
            raise DataError(
                f"no {modality} window for this sample; the baseline needs every modality",
                segment=samples["sample_id"].iloc[absent[0]],
            )
    features = np.concatenate(
        [np.stack([blocks[m][i] for i in range(len(samples))]) for m in modalities], axis=1
    )
    return FusedSet(features.astype(np.float32), samples)


def statistics_features(windows: pd.DataFrame, modalities: Sequence[str]) -> FusedSet:
    """The :data:`STATISTICS` of every modality's window, per sample."""
    statistics = {m: lambda signal, _fs: window_statistics(signal) for m in modalities}
    return per_window_features(windows, modalities, statistics)


def fit_svm(
    x: np.ndarray, y: np.ndarray, params: SvmBaselineParams, class_weight: str, n_classes: int
) -> Pipeline:
    weights = class_weights(y, n_classes, class_weight)
    model = make_pipeline(
        StandardScaler(),
        SVC(
            kernel="rbf",
            C=params.C,
            gamma=params.gamma,
            class_weight={c: float(w) for c, w in enumerate(weights)},
        ),
    )
    return model.fit(x, y)


def random_backbone(path: Path, img_size: int, seed: int) -> Path:
    """A random-init Tiny-BioMoE checkpoint from ``seed`` (the evaluation's untrained control);
    the same seed writes the same bytes, so its embeddings are cached like any backbone's."""
    import torch

    from biomoe.model.checkpoint import save_checkpoint
    from biomoe.model.tiny_biomoe import TinyBioMoE

    torch.manual_seed(seed)
    return save_checkpoint(TinyBioMoE(img_size=img_size), path)
