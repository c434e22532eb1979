"""Score a registered pain-classifier version on the current validation windows, end to end.

Used when a champion was validated on other data than its challenger: the champion's own pyfunc
(imaging, backbone, head) predicts the challenger's validation samples from their raw windows.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from biomoe.classify.metrics import classification_metrics
from biomoe.config import PAIN_LABELS, PromotionParams
from biomoe.errors import DataError
from biomoe.registry.promote import Rescore


def validation_samples(windows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per labelled validation sample, one column per modality (the pyfunc's input),
    and the label ids."""
    rows = windows[(windows["split"] == "validation") & windows["label"].isin(PAIN_LABELS)]
    if rows.empty:
        raise DataError("no labelled validation window to score a model on")
    frame = rows.pivot(index="sample_id", columns="modality", values="signal").sort_index()
    labels = rows.drop_duplicates("sample_id").set_index("sample_id").loc[frame.index, "label"]
    index = {name: i for i, name in enumerate(PAIN_LABELS)}
    return frame.reset_index(drop=True), labels.map(index).to_numpy(np.int64)


def rescorer(model_name: str, windows: pd.DataFrame, policy: PromotionParams) -> Rescore:
    frame, y = validation_samples(windows)

    def score(version: str) -> float:
        model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
        probabilities = model.predict(frame)
        predicted = probabilities[list(PAIN_LABELS)].to_numpy().argmax(1)
        return classification_metrics(y, predicted, PAIN_LABELS)[policy.metric]

    return score
