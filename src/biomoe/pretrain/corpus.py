"""The pretraining corpus stage: simulated, package-bundled and user recordings -> windows at
one rate -> images, with one label per task (``-1``: no label for that window).

``build_corpus`` writes ``out_dir`` atomically (a failure leaves the previous corpus as it was):

- ``manifest.parquet``: one row per window (:data:`MANIFEST_SCHEMA`): where it comes from,
  ``start`` (its first sample in the recording, at the recording's own rate), the rate and SNR
  it was labelled from (``labels_estimated``: False for a simulation's truth, True for an
  estimate from the window; NaN when unknown) and a ``task_<name>`` class id per window task;
- ``tasks.json``: ``{task: [class names]}`` for :data:`TASKS` (class id = position);
- ``images/``: :func:`biomoe.imaging.write_image_shards` of the windows (window id = sample id);
- ``summary.json``: counts per source, dataset, signal type and task class.

``load_corpus`` reads it back as one row per image with every task's class id.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from biomoe.config import SIMULATED_TYPES, CorpusParams, Params, UserSourceParams
from biomoe.data.packaged import locate, packaged_dataset
from biomoe.data.readers import ReadSpec, Recording, read_recordings
from biomoe.data.task_labels import (
    UNLABELLED,
    bin_index,
    bin_names,
    estimate_rate_hz,
    estimate_snr_db,
)
from biomoe.data.windowing import candidates, choose, resample
from biomoe.errors import DataError
from biomoe.imaging import read_image_index, write_image_shards
from biomoe.io import atomic_dir, atomic_path, sha256_tree, write_json

TASKS: tuple[str, ...] = (
    "signal_type",
    "rate_bin",
    "quality_bin",
    "dataset_label",
    "representation",
)
WINDOW_TASKS: tuple[str, ...] = TASKS[:4]
"""Tasks labelled per window; ``representation`` is labelled per image."""

MANIFEST_FILE, TASKS_FILE, SUMMARY_FILE, IMAGES_DIR = (
    "manifest.parquet",
    "tasks.json",
    "summary.json",
    "images",
)
SIMULATED = "simulated"
MANIFEST_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("source", pa.string()),
        ("dataset", pa.string()),
        ("signal_type", pa.string()),
        ("channel", pa.string()),
        ("fs", pa.int64()),
        ("n_samples", pa.int64()),
        ("source_file", pa.string()),
        ("start", pa.int64()),
        ("rate_hz", pa.float64()),
        ("snr_db", pa.float64()),
        ("labels_estimated", pa.bool_()),
        *[(f"task_{task}", pa.int64()) for task in WINDOW_TASKS],
    ]
)
INDEX_COLUMNS = ("window_id", "representation", "shard", "row", "sha256")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusSummary:
    """What ``build_corpus`` wrote; ``sha256`` is the content hash of the whole folder."""

    out_dir: Path
    windows: int
    images: int
    by_source: dict[str, int]
    by_signal_type: dict[str, int]
    unavailable: dict[str, str]
    sha256: str

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow."""
        flat = {"corpus_windows": float(self.windows), "corpus_images": float(self.images)}
        flat |= {f"corpus_windows.{k}": float(v) for k, v in self.by_signal_type.items()}
        return flat


@dataclass(frozen=True)
class CorpusData:
    """``index``: one row per image (window_id, representation, shard, row, sha256, every
    ``task_<name>`` of :data:`TASKS`); ``manifest``: one row per window; ``images_dir`` holds
    the shards the index addresses (``biomoe.imaging.load_images(images_dir, rows)``)."""

    index: pd.DataFrame
    manifest: pd.DataFrame
    classes: dict[str, tuple[str, ...]]
    images_dir: Path


def build_corpus(
    params: Params,
    out_dir: Path,
    progress: bool = True,
    gallery_dir: Path | None = None,
    root: Path | None = None,
) -> CorpusSummary:
    """Read every source of ``params.pretrain.corpus``, window, label and render it into
    ``out_dir``. Relative user paths resolve against ``root`` (default: the working folder).
    With ``gallery_dir``, also write a gallery PNG per representation there.

    Raises ``DataError`` (before anything is written) for an unreadable source file, a missing
    path, an unknown format or dataset, a required package that is missing, or a source that
    yields no window.
    """
    cfg = params.pretrain.corpus
    root = Path.cwd() if root is None else Path(root)
    windows, unavailable = _collect(cfg, params.pretrain.seed, root)
    if windows.empty:
        raise DataError("the corpus is empty", hint="enable a source in pretrain.corpus")
    classes = _classes(windows, cfg, params.images.representations)
    manifest = _manifest(windows, classes, cfg)
    summary = _summary(manifest, classes, cfg, unavailable, params.images.representations)
    with atomic_dir(Path(out_dir)) as tmp:
        _write_manifest(manifest, tmp / MANIFEST_FILE)
        write_json(tmp / TASKS_FILE, {task: list(names) for task, names in classes.items()})
        images = pd.DataFrame(
            {
                "window_id": windows["sample_id"],
                "fs": windows["fs"],
                "signal": windows["signal"],
                "modality": windows["signal_type"],
                "label": windows["dataset"],
            }
        )
        index = write_image_shards(
            images,
            tmp / IMAGES_DIR,
            params.images,
            progress=progress,
            gallery_dir=gallery_dir,
        )
        write_json(tmp / SUMMARY_FILE, summary | {"images": len(index)})
        digest = sha256_tree(tmp)
    return CorpusSummary(
        out_dir=Path(out_dir),
        windows=len(manifest),
        images=len(index),
        by_source=summary["sources"],
        by_signal_type=summary["signal_types"],
        unavailable=unavailable,
        sha256=digest,
    )


def load_corpus(out_dir: Path) -> CorpusData:
    """The corpus written by ``build_corpus``; ``DataError`` if it is missing or incomplete."""
    out_dir = Path(out_dir)
    hint = "run the corpus stage (biomoe corpus) first"
    for name in (MANIFEST_FILE, TASKS_FILE, f"{IMAGES_DIR}/index.parquet"):
        if not (out_dir / name).is_file():
            raise DataError("corpus file not found", file=out_dir / name, hint=hint)
    manifest = _read_manifest(out_dir / MANIFEST_FILE)
    classes = _read_tasks(out_dir / TASKS_FILE)
    index = read_image_index(out_dir / IMAGES_DIR)[list(INDEX_COLUMNS)]
    unknown = ~index["window_id"].isin(manifest["sample_id"])
    if unknown.any():
        raise DataError(
            "image index names windows the manifest lacks",
            file=out_dir / IMAGES_DIR / "index.parquet",
            segment="window_id",
            hint=f"e.g. {index.loc[unknown, 'window_id'].iloc[0]!r}; rebuild the corpus",
        )
    representation = {name: i for i, name in enumerate(classes["representation"])}
    foreign = ~index["representation"].isin(list(representation))
    if foreign.any():
        raise DataError(
            "image index holds a representation tasks.json does not list",
            file=out_dir / TASKS_FILE,
            segment="representation",
        )
    tasks = manifest[["sample_id", *[f"task_{t}" for t in WINDOW_TASKS]]]
    joined = index.merge(tasks, left_on="window_id", right_on="sample_id", how="left")
    joined = joined.drop(columns="sample_id")
    joined["task_representation"] = joined["representation"].map(representation).astype(np.int64)
    return CorpusData(joined, manifest, classes, out_dir / IMAGES_DIR)


def _collect(cfg: CorpusParams, seed: int, root: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every window of every source (with its ``signal``), and the unavailable datasets.
    User sources are read first, so a bad file fails before any slow work."""
    reserved = {SIMULATED, *cfg.packaged.datasets}
    frames = []
    for source in cfg.user:
        if source.name in reserved:
            raise DataError(
                f"user source name {source.name!r} is already a dataset of this corpus",
                segment="pretrain.corpus.user",
                hint="give the source another name",
            )
        frames.append(_user(source, cfg, seed, root))
    unavailable: dict[str, str] = {}
    for name in cfg.packaged.datasets:
        frame = _packaged(name, cfg, seed)
        if isinstance(frame, str):
            unavailable[name] = frame
        else:
            frames.append(frame)
    frames.append(_simulated(cfg, seed))
    frames = [f for f in frames if not f.empty]
    windows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not windows.empty:
        windows = windows.sort_values("sample_id", kind="stable").reset_index(drop=True)
    return windows, unavailable


def _packaged(name: str, cfg: CorpusParams, seed: int) -> pd.DataFrame | str:
    """The dataset's windows, or why it is unavailable (``DataError`` if it is required)."""
    dataset = packaged_dataset(name)
    found = locate(dataset)
    if isinstance(found, str):
        if cfg.packaged.required:
            raise DataError(
                f"packaged dataset {name!r} is unavailable: {found}",
                segment="pretrain.corpus.packaged",
                hint="install the package or set packaged.required: false",
            )
        log.warning("corpus: packaged dataset %s skipped: %s", name, found)
        return found
    package_root = found[0].parents[len(Path(dataset.files[0]).parts) - 1]
    recordings = [_relative(rec, package_root.parent) for rec in dataset.read(found)]
    return _windows(
        recordings,
        cfg,
        seed,
        source=f"package:{dataset.package}",
        dataset=name,
        signal_type=dataset.signal_type,
        cap=cfg.packaged.max_windows_per_dataset,
    )


def _simulated(cfg: CorpusParams, seed: int) -> pd.DataFrame:
    from biomoe.data.corpus import simulate_corpus

    sim = simulate_corpus(cfg.simulated, cfg.fs, cfg.window_seconds, seed)
    return pd.DataFrame(
        {
            "sample_id": SIMULATED + "/" + sim["sample_id"],
            "source": SIMULATED,
            "dataset": SIMULATED,
            "signal_type": sim["signal_type"],
            "channel": sim["signal_type"],
            "fs": sim["fs"],
            "n_samples": [s.size for s in sim["signal"]],
            "source_file": "",
            "start": sim["start"],
            "rate_hz": sim["rate_hz"],
            "snr_db": sim["snr_db"],
            "labels_estimated": False,
            "label": None,
            "signal": sim["signal"],
        }
    )


def _user(source: UserSourceParams, cfg: CorpusParams, seed: int, root: Path) -> pd.DataFrame:
    path = Path(source.path)
    spec = ReadSpec(
        format=source.format,
        fs=source.fs,
        channels=source.channels,
        layout=source.layout,
        channel_column=source.channel_column,
        value_column=source.value_column,
        recording_column=source.recording_column,
        label_column=source.label_column,
    )
    recordings = read_recordings(path if path.is_absolute() else root / path, spec)
    frame = _windows(
        [_relative(rec, root) for rec in recordings],
        cfg,
        seed,
        source=f"user:{source.name}",
        dataset=source.name,
        signal_type=source.signal_type,
        cap=source.max_windows,
    )
    if frame.empty:
        raise DataError(
            f"user source {source.name!r} yields no window of {cfg.window_seconds:g} s",
            file=source.path,
            hint="its recordings are shorter than pretrain.corpus.window_seconds or have "
            "more than max_nan_fraction missing samples",
        )
    return frame


def _relative(rec: Recording, base: Path) -> Recording:
    """``rec`` with ``source_file`` as a POSIX path relative to ``base`` where it lies below."""
    path = Path(rec.source_file)
    try:
        shown = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        shown = path.as_posix()
    return Recording(rec.signal, rec.fs, rec.channel, shown, rec.record, rec.label)


def _windows(
    recordings: list[Recording],
    cfg: CorpusParams,
    seed: int,
    *,
    source: str,
    dataset: str,
    signal_type: str,
    cap: int,
) -> pd.DataFrame:
    """Up to ``cap`` windows of the recordings, each labelled from estimates."""
    n = round(cfg.window_seconds * cfg.fs)
    found = [
        c
        for k, rec in enumerate(recordings)
        for c in candidates(rec.signal, rec.fs, cfg.fs, n, cfg.max_nan_fraction, k)
    ]
    estimate = cfg.estimate.get(signal_type)
    rows = []
    resampled: tuple[int, np.ndarray] | None = None
    for c in choose(found, cap, seed, dataset):
        rec = recordings[c.recording]
        if resampled is None or resampled[0] != c.recording:
            resampled = (c.recording, resample(rec.signal, rec.fs, cfg.fs))
        window = resampled[1][c.start : c.start + n]
        rate = snr = math.nan
        if estimate is not None and estimate.rate_hz is not None:
            rate = estimate_rate_hz(window, cfg.fs, estimate.rate_hz)
        if estimate is not None and estimate.band_hz is not None:
            snr = estimate_snr_db(window, cfg.fs, estimate.band_hz, min(rec.fs, cfg.fs) / 2)
        rows.append(
            {
                "sample_id": f"{dataset}/{c.recording:05d}/{c.start:08d}",
                "source": source,
                "dataset": dataset,
                "signal_type": signal_type,
                "channel": rec.channel,
                "fs": cfg.fs,
                "n_samples": n,
                "source_file": rec.source_file,
                "start": round(c.start * rec.fs / cfg.fs),
                "rate_hz": rate,
                "snr_db": snr,
                "labels_estimated": True,
                "label": rec.label,
                "signal": window.astype(np.float32),
            }
        )
    return pd.DataFrame(rows)


def _classes(
    windows: pd.DataFrame, cfg: CorpusParams, representations: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    present = set(windows["signal_type"])
    known = [t for t in SIMULATED_TYPES if t in present]
    labels = {
        f"{dataset}:{label}"
        for dataset, label in zip(windows["dataset"], windows["label"], strict=True)
        if label is not None
    }
    return {
        "signal_type": (*known, *sorted(present - set(known))),
        "rate_bin": bin_names(cfg.rate_bin_edges_hz, "Hz"),
        "quality_bin": bin_names(cfg.quality_bin_edges_db, "dB"),
        "dataset_label": tuple(sorted(labels)),
        "representation": tuple(representations),
    }


def _manifest(
    windows: pd.DataFrame, classes: dict[str, tuple[str, ...]], cfg: CorpusParams
) -> pd.DataFrame:
    type_id = {name: i for i, name in enumerate(classes["signal_type"])}
    label_id = {name: i for i, name in enumerate(classes["dataset_label"])}
    manifest = windows.drop(columns=["signal", "label"]).copy()
    manifest["task_signal_type"] = windows["signal_type"].map(type_id)
    manifest["task_rate_bin"] = [bin_index(v, cfg.rate_bin_edges_hz) for v in windows["rate_hz"]]
    manifest["task_quality_bin"] = [
        bin_index(v, cfg.quality_bin_edges_db) for v in windows["snr_db"]
    ]
    manifest["task_dataset_label"] = [
        UNLABELLED if label is None else label_id[f"{dataset}:{label}"]
        for dataset, label in zip(windows["dataset"], windows["label"], strict=True)
    ]
    return manifest[MANIFEST_SCHEMA.names].astype(
        {name: np.int64 for name in MANIFEST_SCHEMA.names if name.startswith("task_")}
    )


def _summary(
    manifest: pd.DataFrame,
    classes: dict[str, tuple[str, ...]],
    cfg: CorpusParams,
    unavailable: dict[str, str],
    representations: tuple[str, ...],
) -> dict[str, object]:
    def counts(column: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in sorted(Counter(manifest[column]).items())}

    tasks: dict[str, dict[str, int]] = {}
    for task in WINDOW_TASKS:
        ids = Counter(int(v) for v in manifest[f"task_{task}"])
        tasks[task] = {name: ids.get(i, 0) for i, name in enumerate(classes[task])}
        tasks[task]["unlabelled"] = ids.get(UNLABELLED, 0)
    tasks["representation"] = {name: len(manifest) for name in representations}
    return {
        "windows": len(manifest),
        "fs": cfg.fs,
        "window_seconds": cfg.window_seconds,
        "sources": counts("source"),
        "datasets": counts("dataset"),
        "signal_types": counts("signal_type"),
        "tasks": tasks,
        "unavailable": dict(sorted(unavailable.items())),
    }


def _write_manifest(manifest: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(manifest, schema=MANIFEST_SCHEMA, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(None), tmp, compression="zstd")


def _read_manifest(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable parquet file: {exc}", file=path) from exc
    missing = [c for c in MANIFEST_SCHEMA.names if c not in table.schema.names]
    if missing:
        raise DataError("corpus manifest lacks columns", file=path, segment=", ".join(missing))
    return table.to_pandas()


def _read_tasks(path: Path) -> dict[str, tuple[str, ...]]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"not readable JSON: {exc}", file=path) from exc
    missing = [task for task in TASKS if task not in raw]
    if missing:
        raise DataError("tasks.json lacks tasks", file=path, segment=", ".join(missing))
    return {task: tuple(raw[task]) for task in TASKS}
