"""``pain-classifier`` as an MLflow pyfunc: a DataFrame of raw windows in, probabilities out.

Input: one row per sample, one column per modality (``Bvp``, ``Eda``, ``Resp``, ``SpO2``), each
cell a 1-D array of the window at the training sampling rate, as long as the training windows
were (``serving.json``'s ``window``; rules in :mod:`biomoe.serve.inputs`). Malformed
input raises ``MlflowException`` with ``INVALID_PARAMETER_VALUE``, which ``mlflow models serve``
answers with HTTP 400 and the message. Output: one column per class (``No``, ``Low``, ``High``)
holding probabilities that sum to 1, one row per input row. The output carries no label column:
it stays a numeric table matching the signature, and the predicted class is its ``idxmax``
(``biomoe predict`` writes it to its CSV).

With the predict parameter ``output: embedding`` (MLflow ``params``, declared in the
signature's ``ParamSchema``) the output is instead one column ``embedding`` holding, per row,
the fused Tiny-BioMoE embedding the head reads (for teams that build their own heads).
A request of more than ``serve.max_rows`` rows is refused before any window is read.
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
from mlflow.types.schema import Array, ColSpec, ParamSchema, ParamSpec, Schema

from biomoe.errors import DataError
from biomoe.imaging.params import ImageParams
from biomoe.serve.inputs import WindowSpec, check_windows
from biomoe.serve.params import ServeParams
from biomoe.serve.predictor import PainPredictor

OUTPUTS = ("probabilities", "embedding")
"""What ``predict`` returns, chosen by its ``output`` parameter (the first is the default)."""

LEGACY_SERVE = {"engine": "eager", "precision": "fp32", "max_rows": 1000, "batch_rows": 1000}
"""How versions registered before ``serving.json`` held a serve section ran."""


class PainClassifierModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        serving = json.loads(Path(context.artifacts["serving"]).read_text())
        self.window = WindowSpec.from_json(serving["window"])
        self.serve = ServeParams.model_validate(serving.get("serve", LEGACY_SERVE))
        self.predictor = PainPredictor.from_files(
            Path(context.artifacts["backbone"]),
            Path(context.artifacts["classifier"]),
            ImageParams.model_validate(serving["images"]),
            int(serving["fs"]),
            self.serve,
        )

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.predictor.layout.modalities)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        try:
            output = _output(params)
            _check_size(model_input, self.serve.max_rows)
            signals = check_windows(model_input, self.modalities, self.window)
            if output == "embedding":
                features = self.predictor.features(signals)
                return pd.DataFrame({"embedding": [row.astype(np.float64) for row in features]})
            probabilities = self.predictor.predict_proba(signals)
        except DataError as exc:
            raise MlflowException.invalid_parameter_value(str(exc)) from exc
        return pd.DataFrame(probabilities, columns=list(self.predictor.labels))


def _output(params: Any) -> str:
    output = (params or {}).get("output", OUTPUTS[0])
    if output not in OUTPUTS:
        raise DataError(f"parameter output is {output!r}; expected one of {list(OUTPUTS)}")
    return str(output)


def _check_size(frame: object, max_rows: int) -> None:
    if isinstance(frame, pd.DataFrame) and len(frame) > max_rows:
        raise DataError(
            f"input has {len(frame)} rows; this model accepts at most {max_rows} per request "
            "(serve.max_rows)",
            hint="split the rows over several requests",
        )


def serving_config(images: ImageParams, window: WindowSpec, serve: ServeParams) -> dict[str, Any]:
    """``serving.json``: how the pyfunc renders windows, which windows it accepts, and how it
    runs (engine, precision, request size)."""
    return {
        "images": images.model_dump(mode="json"),
        "fs": window.fs,
        "window": window.to_json(),
        "serve": serve.model_dump(mode="json"),
    }


def signature(modalities: list[str], labels: list[str]) -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec(Array("double"), m) for m in modalities]),
        outputs=Schema([ColSpec("double", label) for label in labels]),
        params=ParamSchema([ParamSpec("output", "string", OUTPUTS[0])]),
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
