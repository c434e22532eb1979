"""No window of a test subject ever reaches training, whatever the protocol."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biomoe.classify.params import EvaluateParams
from biomoe.classify.protocols import Fold, check_no_subject_leak, make_folds
from biomoe.config import Params
from biomoe.errors import DataError


def _samples(n_train: int = 8, n_val: int = 4, n_test: int = 3) -> pd.DataFrame:
    rows = []
    for s in range(n_train + n_val + n_test):
        split = "train" if s < n_train else "validation" if s < n_train + n_val else "test"
        for k, label in enumerate(["No", "Low", "Low", "High", "High"]):
            rows.append(
                dict(
                    sample_id=f"S{s:02d}/{k}",
                    subject=f"S{s:02d}",
                    split=split,
                    label=label if split != "test" else "unknown",
                )
            )
    return pd.DataFrame(rows)


def _params(tiny_params: Params, **update: object) -> EvaluateParams:
    return tiny_params.evaluate.model_copy(update=update)


@pytest.mark.parametrize(("protocol", "n_folds"), [("challenge", 1), ("kfold", 4), ("loso", 12)])
def test_folds_never_share_a_subject_and_never_touch_test(
    tiny_params: Params, protocol: str, n_folds: int
) -> None:
    samples = _samples()
    folds = make_folds(samples, _params(tiny_params, protocol=protocol, folds=4))
    assert len(folds) == n_folds
    tested: list[int] = []
    for fold in folds:
        train_subjects = set(samples["subject"].iloc[fold.train])
        test_subjects = set(samples["subject"].iloc[fold.test])
        assert train_subjects.isdisjoint(test_subjects)
        used = samples.iloc[np.concatenate([fold.train, fold.test])]
        assert (used["split"] != "test").all()
        tested.extend(fold.test)
    if protocol != "challenge":
        labelled = np.flatnonzero((samples["split"] != "test").to_numpy())
        assert sorted(tested) == list(labelled)  # each labelled sample tested exactly once


def test_kfold_is_seeded(tiny_params: Params) -> None:
    samples = _samples()
    first = make_folds(samples, _params(tiny_params, protocol="kfold", folds=4, seed=1))
    again = make_folds(samples, _params(tiny_params, protocol="kfold", folds=4, seed=1))
    assert all(np.array_equal(a.test, b.test) for a, b in zip(first, again, strict=True))


def test_a_subject_in_two_splits_is_refused(tiny_params: Params) -> None:
    samples = _samples()
    samples.loc[samples["sample_id"] == "S09/0", "subject"] = "S00"  # S00 now also in validation
    with pytest.raises(DataError, match=r"subjects \['S00'\] have samples in both"):
        make_folds(samples, _params(tiny_params, protocol="challenge"))


def test_the_leak_check_names_the_fold() -> None:
    samples = _samples()
    fold = Fold("kfold-2", np.array([0, 1, 5]), np.array([2, 3]))
    with pytest.raises(DataError, match="kfold-2: subjects \\['S00'\\]"):
        check_no_subject_leak(samples, fold)


def test_too_few_subjects_for_kfold(tiny_params: Params) -> None:
    with pytest.raises(DataError, match="kfold needs at least 5 labelled subjects, the data has 3"):
        make_folds(_samples(2, 1, 0), _params(tiny_params, protocol="kfold", folds=5))
