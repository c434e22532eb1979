"""Behaviour of the pain head: it learns a separable signal and its outputs are well formed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from biomoe.classify.fusion import FeatureLayout
from biomoe.classify.train import load_classifier, save_classifier, train_classifier
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


def test_head_learns_a_pain_signal_on_unseen_subjects(tiny_params: Params) -> None:
    """32 of 384 dims carry the pain level: held-out subjects score far above chance (1/3)."""
    embeddings, windows = _tables()
    params = tiny_params.train.model_copy(update={"epochs": 60})
    result, matrices = train_classifier(embeddings, windows, LAYOUT, params)
    assert result.metrics["validation"]["macro_f1"] > 0.7
    assert matrices["validation"].sum() == 4 * 3 * 3
    assert result.loss_curve[-1] < result.loss_curve[0]


def test_saved_classifier_round_trips(tiny_params: Params, tmp_path: Path) -> None:
    embeddings, windows = _tables()
    result, _ = train_classifier(embeddings, windows, LAYOUT, tiny_params.train)
    save_classifier(result, LAYOUT, tiny_params.train, "f" * 64, tmp_path)
    head, layout, card = load_classifier(tmp_path)
    assert layout == LAYOUT
    assert card["labels"] == ["No", "Low", "High"]
    x = torch.randn(5, card["in_dim"])
    torch.testing.assert_close(head(x), result.head(x))
    assert json.loads((tmp_path / "classifier.json").read_text())["backbone_sha256"] == "f" * 64
