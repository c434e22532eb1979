"""``pain-classifier`` as an MLflow pyfunc: a DataFrame of raw windows in, probabilities out.

Input: one row per sample, one column per modality (``Bvp``, ``Eda``, ``Resp``, ``SpO2``), each
cell a 1-D array of the window at the training sampling rate, as long as the training windows
were (``serving.json``'s ``window``; rules in :mod:`biomoe.serve.inputs`). Malformed
input raises ``MlflowException`` with ``INVALID_PARAMETER_VALUE``, which ``mlflow models serve``
answers with HTTP 400 and the message. Output: one column per class (``No``, ``Low``, ``High``)
holding probabilities that sum to 1, one row per input row. The output carries no label column:
it stays a numeric table matching the signature, and the predicted class is its ``idxmax``
(``biomoe predict`` writes it to its CSV).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types.schema import Array, ColSpec, Schema

from biomoe.errors import DataError
from biomoe.imaging.params import ImageParams
from biomoe.serve.inputs import WindowSpec, check_windows
from biomoe.serve.predictor import PainPredictor


class PainClassifierModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        serving = json.loads(Path(context.artifacts["serving"]).read_text())
        self.window = WindowSpec.from_json(serving["window"])
        self.predictor = PainPredictor.from_files(
            Path(context.artifacts["backbone"]),
            Path(context.artifacts["classifier"]),
            ImageParams.model_validate(serving["images"]),
            int(serving["fs"]),
        )

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.predictor.layout.modalities)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        try:
            signals = check_windows(model_input, self.modalities, self.window)
            probabilities = self.predictor.predict_proba(signals)
        except DataError as exc:
            raise MlflowException.invalid_parameter_value(str(exc)) from exc
        return pd.DataFrame(probabilities, columns=list(self.predictor.labels))


def serving_config(images: ImageParams, window: WindowSpec) -> dict[str, Any]:
    """``serving.json``: how the pyfunc renders windows and which windows it accepts."""
    return {
        "images": images.model_dump(mode="json"),
        "fs": window.fs,
        "window": window.to_json(),
    }


def signature(modalities: list[str], labels: list[str]) -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec(Array("double"), m) for m in modalities]),
        outputs=Schema([ColSpec("double", label) for label in labels]),
    )


EXAMPLE_SECONDS = 10.0
"""Length of the input example: an AI4PAIN stimulus segment, clipped to the accepted range."""

_EXAMPLE_TRACES = {
    # modality: (offset, amplitude, frequency Hz) in the units of the AI4PAIN recordings
    "Bvp": (0.0, 1.0, 1.2),
    "Eda": (2.0, 0.1, 0.05),
    "Resp": (0.0, 1.0, 0.25),
    "SpO2": (97.0, 0.5, 0.1),
}


def input_example(modalities: list[str], window: WindowSpec) -> pd.DataFrame:
    """One plausible sample (a sine per modality at a physiological rate) that passes
    :func:`check_windows`; MLflow stores it as the payload a consumer can copy."""
    seconds = min(max(EXAMPLE_SECONDS, window.min_seconds), window.max_seconds)
    t = np.arange(round(window.fs * seconds)) / window.fs
    row = {}
    for modality in modalities:
        offset, amplitude, hz = _EXAMPLE_TRACES.get(modality, (0.0, 1.0, 1.0))
        row[modality] = np.round(offset + amplitude * np.sin(2 * np.pi * hz * t), 4).tolist()
    return pd.DataFrame([row])
