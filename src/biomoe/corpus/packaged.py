"""Real recordings that ship inside installed packages, found through the package's install
path (the package is never imported). A missing package or file makes the dataset
unavailable: :func:`locate` says why instead of failing.

- ``matplotlib_eeg``: matplotlib's ``sample_data/eeg.dat``, 4 channels of real EEG
  (float64, 800 samples x 4 interleaved, 10 s, so 80 Hz; the mri_with_eeg example's layout).
- ``sktime_mitdb``: sktime's ``mitdb.csv``, 7500 samples of MIT-BIH ECG at 360 Hz.
- ``sktime_basicmotions``: sktime's BasicMotions (UEA), smartwatch accelerometer and
  gyroscope at 10 Hz, 10 s per case, 80 cases of 4 activities (train + test files).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomoe.data.readers import ReadSpec, Recording, read_recordings
from biomoe.data.readers.base import as_signal
from biomoe.errors import DataError


@dataclass(frozen=True)
class PackagedDataset:
    """``files`` are relative to the package's folder; ``read`` turns them into recordings."""

    name: str
    package: str
    files: tuple[str, ...]
    signal_type: str
    read: Callable[[list[Path]], list[Recording]]


def _read_matplotlib_eeg(files: list[Path]) -> list[Recording]:
    path = files[0]
    raw = np.fromfile(path, dtype="<f8")
    if raw.size != 800 * 4:
        raise DataError(f"expected 3200 float64 values, found {raw.size}", file=path)
    data = raw.reshape(800, 4)
    names = ("PG3", "PG5", "PG7", "PG9")
    return [
        Recording(as_signal(data[:, i]), 80.0, name, str(path), "eeg")
        for i, name in enumerate(names)
    ]


def _read_mitdb(files: list[Path]) -> list[Recording]:
    return read_recordings(files[0], ReadSpec("csv", fs=360.0, layout="wide", channels=("data",)))


_MOTION_CHANNELS = ("accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z")


def _read_basicmotions(files: list[Path]) -> list[Recording]:
    recordings = []
    for path in files:
        for rec in read_recordings(path, ReadSpec("ts", fs=10.0)):
            channel = _MOTION_CHANNELS[int(rec.channel.removeprefix("dim_"))]
            recordings.append(
                Recording(rec.signal, rec.fs, channel, rec.source_file, rec.record, rec.label)
            )
    return recordings


PACKAGED: dict[str, PackagedDataset] = {
    d.name: d
    for d in (
        PackagedDataset(
            "matplotlib_eeg",
            "matplotlib",
            ("mpl-data/sample_data/eeg.dat",),
            "eeg",
            _read_matplotlib_eeg,
        ),
        PackagedDataset(
            "sktime_mitdb", "sktime", ("datasets/data/mitdb/mitdb.csv",), "ecg", _read_mitdb
        ),
        PackagedDataset(
            "sktime_basicmotions",
            "sktime",
            (
                "datasets/data/BasicMotions/BasicMotions_TRAIN.ts",
                "datasets/data/BasicMotions/BasicMotions_TEST.ts",
            ),
            "motion",
            _read_basicmotions,
        ),
    )
}


def locate(dataset: PackagedDataset) -> list[Path] | str:
    """The dataset's files, or the reason it is unavailable (package or file missing)."""
    spec = importlib.util.find_spec(dataset.package)
    if spec is None or not spec.submodule_search_locations:
        return f"package {dataset.package!r} is not installed (pip install {dataset.package})"
    root = Path(next(iter(spec.submodule_search_locations)))
    files = [root / relative for relative in dataset.files]
    missing = [rel for rel, f in zip(dataset.files, files, strict=True) if not f.is_file()]
    if missing:
        return f"{dataset.package} is installed but lacks {dataset.package}/{missing[0]}"
    return files


def packaged_dataset(name: str) -> PackagedDataset:
    """The dataset named ``name`` in :data:`PACKAGED`; ``DataError`` naming the known ones."""
    if name not in PACKAGED:
        raise DataError(
            f"unknown packaged dataset {name!r}",
            segment="corpus.packaged.datasets",
            hint=f"known: {sorted(PACKAGED)}",
        )
    return PACKAGED[name]
