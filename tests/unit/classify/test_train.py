"""Behaviour of the pain head: it learns a separable signal and its outputs are well formed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biomoe.classify.fusion import FeatureLayout
from biomoe.classify.params import TrainParams
from biomoe.classify.train import (
    load_classifier,
    save_classifier,
    train_classifier,
    validation_data_sha256,
)
from biomoe.config import Params

LAYOUT = FeatureLayout(("Bvp", "Eda"), ("waveform",))
CENTRES = {"No": 0.0, "Low": 1.5, "High": 3.0}


def _tables(n_subjects: int = 12) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    windows, embeddings = [], []
    for s in range(n_subjects):
        split = "train" if s < 8 else "validation"
        for label, centre in CENTRES.items():
            for k in range(3):
                sample = f"S{s:02d}/{label}_{k}"
                for modality in LAYOUT.modalities:
                    wid = f"{sample}/{modality}"
                    windows.append(
                        dict(
                            window_id=wid,
                            sample_id=sample,
                            subject=f"S{s:02d}",
                            split=split,
                            label=label,
                            modality=modality,
                        )
                    )
                    vector = rng.standard_normal(192).astype(np.float32)
                    vector[:32] += centre
                    embeddings.append(
                        dict(window_id=wid, representation="waveform", embedding=vector)
                    )
    return pd.DataFrame(embeddings), pd.DataFrame(windows)


def _with(params: TrainParams, head: str, **mlp: object) -> TrainParams:
    return params.model_copy(update={"head": head, "mlp": params.mlp.model_copy(update=mlp)})


@pytest.mark.parametrize("head", ["mlp", "logistic"])
def test_head_learns_a_pain_signal_on_unseen_subjects(tiny_params: Params, head: str) -> None:
    """32 of 384 dims carry the pain level: held-out subjects score far above chance (1/3)."""
    embeddings, windows = _tables()
    params = _with(tiny_params.train, head, max_epochs=60, patience=0)
    result, matrices = train_classifier(embeddings, windows, LAYOUT, params)
    assert result.metrics["validation"]["macro_f1"] > 0.7
    assert matrices["validation"].sum() == 4 * 3 * 3
    if head == "mlp":
        assert result.curves.train[-1] < result.curves.train[0]


@pytest.mark.parametrize("head", ["mlp", "logistic"])
def test_saved_classifier_round_trips(tiny_params: Params, tmp_path: Path, head: str) -> None:
    embeddings, windows = _tables()
    result, _ = train_classifier(embeddings, windows, LAYOUT, _with(tiny_params.train, head))
    save_classifier(result, LAYOUT, "f" * 64, "e" * 64, tmp_path)
    loaded, layout, card = load_classifier(tmp_path)
    assert layout == LAYOUT
    assert card["labels"] == ["No", "Low", "High"]
    assert card["head"] == head
    x = np.random.default_rng(1).standard_normal((5, card["in_dim"])).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_proba(x), result.head.predict_proba(x), atol=1e-6)
    card = json.loads((tmp_path / "classifier.json").read_text())
    assert (card["backbone_sha256"], card["validation_data_sha256"]) == ("f" * 64, "e" * 64)


def test_switching_heads_leaves_no_stale_weights(tiny_params: Params, tmp_path: Path) -> None:
    embeddings, windows = _tables()
    for head in ("mlp", "logistic"):
        result, _ = train_classifier(embeddings, windows, LAYOUT, _with(tiny_params.train, head))
        save_classifier(result, LAYOUT, "f" * 64, "e" * 64, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classifier.json", "head.npz"]


def test_validation_data_version_follows_validation_windows_only() -> None:
    _, windows = _tables()
    windows["signal"] = [np.arange(4, dtype=np.float32)] * len(windows)
    before = validation_data_sha256(windows)
    train_row = windows.index[windows["split"] == "train"][0]
    windows.at[train_row, "signal"] = np.ones(4, dtype=np.float32)
    assert validation_data_sha256(windows) == before
    val_row = windows.index[windows["split"] == "validation"][0]
    windows.at[val_row, "signal"] = np.ones(4, dtype=np.float32)
    assert validation_data_sha256(windows) != before
