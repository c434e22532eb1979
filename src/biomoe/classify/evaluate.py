"""The results table: which signals and fusions carry the pain, under one evaluation protocol.

Rows: every modality alone, every representation alone, both fusions of representations (concat,
add), and side by side the baselines: the challenge-style SVM on raw-signal statistics, what a
physiologist would fit (neurokit2 features + logistic regression) and what a time-series
practitioner would (MiniRocket + ridge; :mod:`.reference`), and the same head on a random-init
backbone's embeddings. Every row sees the same folds (``protocols``);
predictions of all folds are pooled, scored, and given subject-bootstrap intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich.progress import track

from biomoe.classify.baseline import fit_svm, statistics_features
from biomoe.classify.bootstrap import bootstrap_intervals
from biomoe.classify.fusion import FeatureLayout, FusedSet, fuse
from biomoe.classify.heads import fit_head
from biomoe.classify.metrics import confusion, label_ids, metrics_from_confusion
from biomoe.classify.params import EvaluateParams, TrainParams
from biomoe.classify.protocols import make_folds
from biomoe.classify.reference import (
    MiniRocketRidge,
    fit_physiological,
    physiological_features,
    raw_windows,
)
from biomoe.classify.train import layout_of
from biomoe.data.params import PAIN_LABELS
from biomoe.errors import DataError

FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(x_train, y_train, subjects_train, x_test) -> predicted label ids of x_test."""

GROUPS = ("modality", "representation", "fusion", "baseline")


@dataclass(frozen=True)
class Candidate:
    name: str
    group: str
    features: FusedSet
    fit_predict: FitPredict
    configured: bool = False


@dataclass
class Row:
    name: str
    group: str
    configured: bool
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    matrix: np.ndarray

    def as_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "configured": self.configured,
            **{k: round(v, 6) for k, v in self.metrics.items()},
            **{f"{k}_ci": [round(lo, 6), round(hi, 6)] for k, (lo, hi) in self.intervals.items()},
            "confusion": self.matrix.tolist(),
        }


@dataclass
class Evaluation:
    protocol: str
    n_folds: int
    n_samples: int
    n_subjects: int
    confidence: float
    rows: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "folds": self.n_folds,
            "samples": self.n_samples,
            "subjects": self.n_subjects,
            "confidence": self.confidence,
            "rows": {row.name: row.as_dict() for row in self.rows},
        }

    @property
    def configured(self) -> Row:
        return next(row for row in self.rows if row.configured)


def head_fit_predict(params: TrainParams) -> FitPredict:
    def run(x: np.ndarray, y: np.ndarray, subjects: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        head, _ = fit_head(x, y, subjects, params, len(PAIN_LABELS))
        return head.predict_proba(x_test).argmax(1)

    return run


def svm_fit_predict(params: EvaluateParams, train: TrainParams) -> FitPredict:
    def run(x: np.ndarray, y: np.ndarray, _: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        return fit_svm(x, y, params.svm, train.class_weight, len(PAIN_LABELS)).predict(x_test)

    return run


def physiological_fit_predict(params: EvaluateParams, train: TrainParams) -> FitPredict:
    def run(x: np.ndarray, y: np.ndarray, _: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        model = fit_physiological(x, y, params.physiological, train.class_weight, len(PAIN_LABELS))
        return model.predict(x_test)

    return run


def minirocket_fit_predict(params: EvaluateParams, train: TrainParams, channels: int) -> FitPredict:
    def run(x: np.ndarray, y: np.ndarray, _: np.ndarray, x_test: np.ndarray) -> np.ndarray:
        model = MiniRocketRidge(channels, params.minirocket, train.class_weight, len(PAIN_LABELS))
        return model.fit(x, y).predict(x_test)

    return run


def candidates(
    embeddings: pd.DataFrame,
    windows: pd.DataFrame,
    train: TrainParams,
    evaluate: EvaluateParams,
    random_embeddings: pd.DataFrame | None,
    fs: int,
) -> list[Candidate]:
    """The rows of the table, in display order; the one ``train.fusion`` names is ``configured``.
    ``fs``: the windows' rate (``ingest.fs``), for MiniRocket's fixed window length."""
    fusion = train.fusion
    head = head_fit_predict(train)
    configured = layout_of(train)
    layouts: list[tuple[str, str, FeatureLayout]] = [
        (m, "modality", FeatureLayout((m,), fusion.representations, fusion.combine))
        for m in fusion.modalities
    ]
    if len(fusion.representations) > 1:
        layouts += [
            (r, "representation", FeatureLayout(fusion.modalities, (r,)))
            for r in fusion.representations
        ]
        for combine in ("concat", "add"):
            layout = FeatureLayout(fusion.modalities, fusion.representations, combine)
            layouts.append((f"all, representations {combine}", "fusion", layout))
    elif len(fusion.modalities) > 1:
        layouts.append(("all modalities", "fusion", configured))
    rows = [
        Candidate(name, group, fuse(embeddings, windows, layout), head, layout == configured)
        for name, group, layout in layouts
    ]
    if not any(row.configured for row in rows):
        rows.append(
            Candidate("configured", "fusion", fuse(embeddings, windows, configured), head, True)
        )
    rows.append(
        Candidate(
            "SVM on signal statistics",
            "baseline",
            statistics_features(windows, fusion.modalities),
            svm_fit_predict(evaluate, train),
        )
    )
    rows.append(
        Candidate(
            "neurokit2 features + logistic regression",
            "baseline",
            physiological_features(windows, fusion.modalities),
            physiological_fit_predict(evaluate, train),
        )
    )
    rows.append(
        Candidate(
            "MiniRocket + ridge",
            "baseline",
            raw_windows(windows, fusion.modalities, evaluate.minirocket, fs),
            minirocket_fit_predict(evaluate, train, len(fusion.modalities)),
        )
    )
    if random_embeddings is not None:
        rows.append(
            Candidate(
                "random-init backbone",
                "baseline",
                fuse(random_embeddings, windows, configured),
                head,
            )
        )
    return rows


def _aligned(candidates_: list[Candidate]) -> pd.DataFrame:
    samples = candidates_[0].features.samples
    for candidate in candidates_[1:]:
        if not candidate.features.samples["sample_id"].equals(samples["sample_id"]):
            raise DataError(
                f"row '{candidate.name}' covers other samples than '{candidates_[0].name}'",
                hint="re-run the images and embed stages so every window has every embedding",
            )
    return samples


def evaluate_candidates(candidates_: list[Candidate], params: EvaluateParams) -> Evaluation:
    """Run every candidate on the same folds; pool out-of-fold predictions; score with CIs."""
    samples = _aligned(candidates_)
    folds = make_folds(samples, params)
    y_all = label_ids(samples["label"])
    subjects = samples["subject"].to_numpy(str)
    tested = np.concatenate([fold.test for fold in folds])
    result = Evaluation(
        params.protocol,
        len(folds),
        len(tested),
        len(np.unique(subjects[tested])),
        params.bootstrap.confidence,
    )
    for candidate in track(candidates_, description=f"evaluate ({params.protocol})"):
        x = candidate.features.features
        predicted = np.full(len(samples), -1, dtype=np.int64)
        for fold in folds:
            predicted[fold.test] = candidate.fit_predict(
                x[fold.train], y_all[fold.train], subjects[fold.train], x[fold.test]
            )
        y_true, y_pred = y_all[tested], predicted[tested]
        matrix = confusion(y_true, y_pred, len(PAIN_LABELS))
        intervals = bootstrap_intervals(
            y_true, y_pred, subjects[tested], PAIN_LABELS, params.bootstrap, params.seed
        )
        result.rows.append(
            Row(
                candidate.name,
                candidate.group,
                candidate.configured,
                metrics_from_confusion(matrix, PAIN_LABELS),
                {k: intervals[k] for k in ("accuracy", "macro_f1")},
                matrix,
            )
        )
    return result
