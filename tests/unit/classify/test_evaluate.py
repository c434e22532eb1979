"""The results table finds the modality that carries the pain, and lists every row it promises."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from biomoe.classify.evaluate import candidates, evaluate_candidates
from biomoe.classify.report import evaluation_markdown, save_evaluation_plot
from biomoe.config import Params

MODALITIES = ("Bvp", "Eda")
REPS = ("waveform", "spectrogram")
LEVEL = {"No": 0.0, "Low": 1.5, "High": 3.0}


def _tables(n_subjects: int = 9) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Eda embeddings carry the label, Bvp embeddings are noise; raw signals carry it weakly."""
    rng = np.random.default_rng(0)
    windows, embeddings, control = [], [], []
    for s in range(n_subjects):
        split = "train" if s < 6 else "validation"
        for label, level in LEVEL.items():
            for k in range(3):
                sample = f"S{s}/{label}_{k}"
                for modality in MODALITIES:
                    wid = f"{sample}/{modality}"
                    signal = rng.standard_normal(200).astype(np.float32) + level * 0.3
                    windows.append(
                        dict(
                            window_id=wid,
                            sample_id=sample,
                            subject=f"S{s}",
                            split=split,
                            label=label,
                            modality=modality,
                            signal=signal,
                            fs=20,
                        )
                    )
                    for rep in REPS:
                        vector = rng.standard_normal(16).astype(np.float32)
                        if modality == "Eda":
                            vector[:4] += level
                        embeddings.append(dict(window_id=wid, representation=rep, embedding=vector))
                        noise = rng.standard_normal(16).astype(np.float32)
                        control.append(dict(window_id=wid, representation=rep, embedding=noise))
    return pd.DataFrame(embeddings), pd.DataFrame(windows), pd.DataFrame(control)


def _params(tiny_params: Params) -> tuple:
    fusion = tiny_params.train.fusion.model_copy(
        update={"modalities": MODALITIES, "representations": REPS, "combine": "add"}
    )
    train = tiny_params.train.model_copy(update={"fusion": fusion, "head": "logistic"})
    evaluate = tiny_params.evaluate.model_copy(update={"protocol": "kfold", "folds": 3})
    return train, evaluate


def test_table_rows_and_the_signal_carrier(tiny_params: Params, tmp_path) -> None:
    embeddings, windows, control = _tables()
    train, evaluate = _params(tiny_params)
    rows = candidates(embeddings, windows, train, evaluate, control, fs=20)
    result = evaluate_candidates(rows, evaluate)
    by_name = {row.name: row for row in result.rows}
    assert list(by_name) == [
        "Bvp",
        "Eda",
        "waveform",
        "spectrogram",
        "all, representations concat",
        "all, representations add",
        "SVM on signal statistics",
        "neurokit2 features + logistic regression",
        "MiniRocket + ridge",
        "random-init backbone",
    ]
    assert result.configured.name == "all, representations add"
    assert by_name["Eda"].metrics["macro_f1"] > 0.8
    assert by_name["Bvp"].metrics["macro_f1"] < 0.6
    assert by_name["random-init backbone"].metrics["macro_f1"] < 0.6
    assert result.n_samples == 9 * 9 and result.n_subjects == 9
    for row in result.rows:
        low, high = row.intervals["macro_f1"]
        assert low <= row.metrics["macro_f1"] <= high
        assert row.matrix.sum() == 81
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload["rows"]["Eda"]["macro_f1_ci"][0] <= payload["rows"]["Eda"]["macro_f1"]
    table = evaluation_markdown(result)
    assert "| all, representations add * | fusion |" in table
    save_evaluation_plot(result, tmp_path / "evaluation.png")
    assert (tmp_path / "evaluation.png").stat().st_size > 10_000


def test_challenge_protocol_scores_validation_only(tiny_params: Params) -> None:
    embeddings, windows, _ = _tables()
    train, evaluate = _params(tiny_params)
    evaluate = evaluate.model_copy(update={"protocol": "challenge"})
    result = evaluate_candidates(
        candidates(embeddings, windows, train, evaluate, None, fs=20), evaluate
    )
    assert result.n_folds == 1
    assert result.n_subjects == 3 and result.n_samples == 27
    assert "random-init backbone" not in {row.name for row in result.rows}
