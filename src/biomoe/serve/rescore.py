"""Score a registered pain-classifier version on the current validation windows, end to end.

Used when a champion was validated on other data than its challenger: the champion's own pyfunc
(imaging, backbone, head) predicts the challenger's validation samples from their raw windows.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from biomoe.classify.metrics import classification_metrics, label_ids
from biomoe.data.params import PAIN_LABELS
from biomoe.errors import DataError
from biomoe.registry.params import PromotionParams
from biomoe.registry.promote import Rescore
from biomoe.serve.batch import sample_table


def validation_samples(windows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per labelled validation sample, one column per modality (the pyfunc's input),
    and the label ids."""
    rows = windows[(windows["split"] == "validation") & windows["label"].isin(PAIN_LABELS)]
    if rows.empty:
        raise DataError("no labelled validation window to score a model on")
    modalities = tuple(rows["modality"].unique())
    samples = sample_table(rows, modalities)
    return samples[list(modalities)], label_ids(samples["label"])


def rescorer(model_name: str, windows: pd.DataFrame, policy: PromotionParams) -> Rescore:
    frame, y = validation_samples(windows)

    def score(version: str) -> float:
        model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
        probabilities = model.predict(frame)
        predicted = probabilities[list(PAIN_LABELS)].to_numpy().argmax(1)
        return classification_metrics(y, predicted, PAIN_LABELS)[policy.metric]

    return score
