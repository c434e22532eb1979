"""``pain-classifier`` as an MLflow pyfunc: a DataFrame of raw windows in, probabilities out.

Input: one row per sample, one column per modality (``Bvp``, ``Eda``, ``Resp``, ``SpO2``), each
cell a 1-D array of the window at the training sampling rate. Output: one column per class
(``No``, ``Low``, ``High``) holding probabilities that sum to 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import Array, ColSpec, Schema

from biomoe.classify.predict import PainPredictor
from biomoe.config import ImageParams


class PainClassifierModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        serving = json.loads(Path(context.artifacts["serving"]).read_text())
        self.predictor = PainPredictor.from_files(
            Path(context.artifacts["backbone"]),
            Path(context.artifacts["classifier"]),
            ImageParams.model_validate(serving["images"]),
            int(serving["fs"]),
        )

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        signals = {
            m: [np.asarray(v, dtype=np.float32) for v in model_input[m]]
            for m in self.predictor.layout.modalities
            if m in model_input
        }
        probabilities = self.predictor.predict_proba(signals)
        return pd.DataFrame(probabilities, columns=list(self.predictor.labels))


def signature(modalities: list[str], labels: list[str]) -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec(Array("double"), m) for m in modalities]),
        outputs=Schema([ColSpec("double", label) for label in labels]),
    )
