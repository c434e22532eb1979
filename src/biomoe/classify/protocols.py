"""Evaluation protocols: which labelled samples train and which test, fold by fold.

``challenge``: the AI4PAIN split, train -> validation (test labels are absent). ``kfold``:
subject-grouped, class-stratified folds over every labelled subject. ``loso``: leave one subject
out. A sample is one (subject, segment) with all its windows, and every fold is checked: no subject
with a window in a fold's test part has any sample in its training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from biomoe.classify.params import EvaluateParams
from biomoe.data.params import PAIN_LABELS
from biomoe.errors import DataError

LABELLED_SPLITS = ("train", "validation")


@dataclass(frozen=True)
class Fold:
    """Positions into the samples table."""

    name: str
    train: np.ndarray
    test: np.ndarray


def labelled_positions(samples: pd.DataFrame) -> np.ndarray:
    """Samples that may enter an evaluation: a pain label, and never the test split."""
    mask = samples["label"].isin(PAIN_LABELS) & samples["split"].isin(LABELLED_SPLITS)
    return np.flatnonzero(mask.to_numpy())


def check_no_subject_leak(samples: pd.DataFrame, fold: Fold) -> None:
    """Raise when a subject has samples on both sides of ``fold``."""
    train_subjects = set(samples["subject"].iloc[fold.train])
    shared = sorted(train_subjects & set(samples["subject"].iloc[fold.test]))
    if shared:
        raise DataError(
            f"{fold.name}: subjects {shared[:5]} have samples in both the training and the test "
            "part (rule: no window of a test subject reaches training)",
            hint="a subject must belong to exactly one split in data/raw",
        )


def make_folds(samples: pd.DataFrame, params: EvaluateParams) -> list[Fold]:
    labelled = labelled_positions(samples)
    subjects = samples["subject"].to_numpy(str)[labelled]
    labels = samples["label"].to_numpy(str)[labelled]
    if params.protocol == "challenge":
        split = samples["split"].to_numpy(str)[labelled]
        folds = [Fold("challenge", labelled[split == "train"], labelled[split == "validation"])]
    else:
        n_subjects = len(np.unique(subjects))
        n_splits = params.folds if params.protocol == "kfold" else n_subjects
        if n_subjects < max(n_splits, 2):
            raise DataError(
                f"{params.protocol} needs at least {max(n_splits, 2)} labelled subjects, "
                f"the data has {n_subjects}",
                hint="lower evaluate.folds or use evaluate.protocol: challenge",
            )
        splitter = (
            StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=params.seed)
            if params.protocol == "kfold"
            else LeaveOneGroupOut()
        )
        folds = [
            Fold(f"{params.protocol}-{i + 1}", labelled[train], labelled[test])
            for i, (train, test) in enumerate(splitter.split(labels, labels, groups=subjects))
        ]
    for fold in folds:
        if not len(fold.train) or not len(fold.test):
            raise DataError(f"{fold.name}: no labelled sample to train on or to test")
        check_no_subject_leak(samples, fold)
    return folds
