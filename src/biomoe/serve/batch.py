"""Score a folder in the AI4PAIN layout with a registered ``pain-classifier`` into a CSV.

The model is the pyfunc that ``mlflow models serve`` would serve (loaded by URI, signature
enforced), so the CSV holds the probabilities a deployment would answer. Files are read with
the ingest reader (its ``DataError`` names the file, segment and rule) and every window is
checked against what the model accepts before any is scored, the error naming its file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from biomoe.data.ai4pain import LAYOUT_HINT, read_ai4pain_split
from biomoe.data.params import SPLITS, IngestParams
from biomoe.errors import DataError
from biomoe.io import atomic_path
from biomoe.serve.inputs import WindowSpec, check_windows

SAMPLE_COLUMNS = ("sample_id", "subject", "split", "segment", "label")
"""Per sample, before the probabilities; ``label`` is the segment's own (empty in test)."""

_REGISTERED = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ServedModel:
    """A loaded ``pain-classifier`` and what it expects."""

    uri: str
    version: str
    model: mlflow.pyfunc.PyFuncModel
    modalities: tuple[str, ...]
    labels: tuple[str, ...]
    window: WindowSpec

    @classmethod
    def load(cls, model_uri: str, tracking_uri: str) -> ServedModel:
        mlflow.set_tracking_uri(tracking_uri)
        model = mlflow.pyfunc.load_model(model_uri)
        wrapped = model.unwrap_python_model()
        version = registered_version(MlflowClient(tracking_uri), model_uri)
        return cls(
            model_uri,
            version,
            model,
            tuple(wrapped.modalities),
            tuple(wrapped.predictor.labels),
            wrapped.window,
        )


def registered_version(client: MlflowClient, model_uri: str) -> str:
    """The registry version behind ``models:/name@alias`` or ``models:/name/3``; empty for
    other URIs (a run's or a logged model's)."""
    match = _REGISTERED.match(model_uri)
    if match is None:
        return ""
    if match["version"]:
        return match["version"]
    return str(client.get_model_version_by_alias(match["name"], match["alias"]).version)


def split_folder(data_dir: Path, split: str, modalities: tuple[str, ...]) -> tuple[Path, str]:
    """The folder to score and its split name: ``data_dir/<split>`` of a data root, or
    ``data_dir`` itself when it holds the modality folders (named by its own name when that is a
    split name, else ``split``)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError("data folder not found", file=data_dir, hint=LAYOUT_HINT)
    children = {p.name.lower(): p for p in data_dir.iterdir() if p.is_dir()}
    if split.lower() in children:
        return children[split.lower()], _split_name(split, split)
    if any(m.lower() in children for m in modalities):
        return data_dir, _split_name(data_dir.name, split)
    raise DataError(
        f"neither a '{split}' split folder nor modality folders {list(modalities)}",
        file=data_dir,
        hint=f"{LAYOUT_HINT}; pass the data root or one split folder",
    )


def _split_name(name: str, fallback: str) -> str:
    """``name`` as the windows table spells a split (lower case), else ``fallback``."""
    return name.lower() if name.lower() in SPLITS else fallback


def sample_table(windows: pd.DataFrame, modalities: tuple[str, ...]) -> pd.DataFrame:
    """One row per sample (reader order): the sample columns, one window column per modality
    and ``<modality>_file`` with its source CSV."""
    samples = windows.drop_duplicates("sample_id")[list(SAMPLE_COLUMNS)].reset_index(drop=True)
    for modality in modalities:
        rows = windows[windows["modality"] == modality].set_index("sample_id")
        samples[modality] = rows["signal"].reindex(samples["sample_id"]).to_numpy()
        samples[f"{modality}_file"] = rows["source_file"].reindex(samples["sample_id"]).to_numpy()
    return samples


def predict_folder(
    data_dir: Path,
    split: str,
    served: ServedModel,
    out_csv: Path,
    batch_size: int,
    include_rest: bool,
) -> pd.DataFrame:
    """Score every sample of the split folder; write and return the predictions table:
    sample columns, one probability column per class, ``predicted``, ``model_uri``,
    ``model_version``."""
    folder, split_name = split_folder(data_dir, split, served.modalities)
    ingest = IngestParams(
        fs=served.window.fs, modalities=served.modalities, include_rest=include_rest
    )
    windows = read_ai4pain_split(folder, split_name, ingest, raw_dir=folder.parent)
    if windows.empty:
        raise DataError("no samples to score (only rest segments?)", file=folder)
    samples = sample_table(windows, served.modalities)

    def where(row: int, modality: str) -> str:
        file = folder.parent / samples.at[row, f"{modality}_file"]
        return f"file {file}, segment {samples.at[row, 'segment']!r}"

    check_windows(samples, served.modalities, served.window, where)
    frames = []
    for start in range(0, len(samples), batch_size):
        batch = samples.iloc[start : start + batch_size]
        inputs = pd.DataFrame({m: list(batch[m]) for m in served.modalities})
        frames.append(served.model.predict(inputs))
    probabilities = pd.concat(frames, ignore_index=True)[list(served.labels)]
    table = samples[list(SAMPLE_COLUMNS)].copy()
    for label in served.labels:
        table[label] = probabilities[label].to_numpy(np.float64)
    table["predicted"] = probabilities.idxmax(axis=1).to_numpy()
    table["model_uri"] = served.uri
    table["model_version"] = served.version
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    return table
