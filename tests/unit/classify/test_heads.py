"""The heads' contracts: logistic equals scikit-learn, class weights, early stopping, seeds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from biomoe.classify.heads import (
    class_weights,
    early_stopping_subjects,
    fit_logistic,
    fit_mlp,
)
from biomoe.classify.params import TrainParams
from biomoe.config import Params


def _data(n: int = 90, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.standard_normal((n, d)).astype(np.float32)
    x[:, :3] += 2.0 * np.eye(3)[y]
    groups = np.array([f"S{i % 9}" for i in range(n)])
    return x, y, groups


def _params(tiny_params: Params, **update: object) -> TrainParams:
    mlp = tiny_params.train.mlp.model_copy(update=update.pop("mlp", {}))
    return tiny_params.train.model_copy(update={"mlp": mlp, **update})


def test_logistic_head_equals_scikit_learn(tiny_params: Params) -> None:
    x, y, _ = _data()
    head = fit_logistic(x, y, _params(tiny_params, class_weight="none"), 3)
    z = (x - x.mean(0)) / x.std(0)
    reference = LogisticRegression(C=1.0, max_iter=2000, random_state=0).fit(z, y)
    np.testing.assert_allclose(head.predict_proba(x), reference.predict_proba(z), atol=1e-5)


def test_balanced_weights_follow_scikit_learn_rule() -> None:
    y = np.array([0, 1, 1, 1, 2, 2])
    np.testing.assert_allclose(class_weights(y, 3, "balanced"), [2.0, 2 / 3, 1.0])
    np.testing.assert_allclose(class_weights(y, 3, "none"), [1.0, 1.0, 1.0])


def test_class_weighting_lifts_the_rare_class(tiny_params: Params) -> None:
    """With one class 10x rarer, balanced weights predict it more often than no weighting."""
    x, y, _ = _data(n=300, d=6, seed=3)
    x[:, :3] -= 1.5 * np.eye(3)[y]  # overlapping classes: the prior matters
    keep = (y != 0) | (np.arange(len(y)) % 10 == 0)
    x, y = x[keep], y[keep]
    counts = {}
    for mode in ("none", "balanced"):
        head = fit_logistic(x, y, _params(tiny_params, class_weight=mode), 3)
        counts[mode] = int((head.predict_proba(x).argmax(1) == 0).sum())
    assert counts["balanced"] > counts["none"]


def test_early_stopping_holds_out_whole_subjects() -> None:
    groups = np.array(["A", "A", "B", "B", "C", "C", "D", "E"])
    held = early_stopping_subjects(groups, 0.4, seed=0)
    assert set(groups[held]).isdisjoint(groups[~held])
    assert len(set(groups[held])) == 2
    assert not early_stopping_subjects(np.array(["A", "A"]), 0.5, seed=0).any()


def test_early_stopping_keeps_the_best_epoch_and_stops(tiny_params: Params) -> None:
    x, y, groups = _data()
    params = _params(tiny_params, mlp={"max_epochs": 300, "patience": 5, "lr": 0.05})
    _, curves = fit_mlp(x, y, groups, params, 3)
    assert len(curves.train) < 300
    assert len(curves.train) == curves.best_epoch + 5
    assert curves.early_stopping[curves.best_epoch - 1] == min(curves.early_stopping)


def test_mlp_is_seeded(tiny_params: Params) -> None:
    x, y, groups = _data()
    first, _ = fit_mlp(x, y, groups, _params(tiny_params), 3)
    second, _ = fit_mlp(x, y, groups, _params(tiny_params), 3)
    other, _ = fit_mlp(x, y, groups, _params(tiny_params, seed=7), 3)
    assert np.array_equal(first.predict_proba(x), second.predict_proba(x))
    assert not np.array_equal(first.predict_proba(x), other.predict_proba(x))


@pytest.mark.parametrize("combine", ["concat", "add"])
def test_fusion_assembles_blocks(combine: str) -> None:
    from biomoe.classify.fusion import FeatureLayout

    layout = FeatureLayout(("Bvp", "Eda"), ("waveform", "spectrogram"), combine)
    blocks = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    features = layout.assemble(blocks)
    if combine == "concat":
        assert np.array_equal(features, blocks.reshape(2, 12))
    else:
        assert np.array_equal(features[:, :3], blocks[:, 0] + blocks[:, 1])
        assert np.array_equal(features[:, 3:], blocks[:, 2] + blocks[:, 3])
