"""The corpus folder: simulated, package-bundled and user recordings -> windows at one rate ->
images, with one label per task (``-1``: no label for that window).

``build_corpus`` writes ``out_dir`` atomically (a failure leaves the previous corpus as it was):

- ``manifest.parquet``: one row per window (:data:`MANIFEST_SCHEMA`): where it comes from,
  ``start`` (its first sample in the recording, at the recording's own rate), the rate and SNR
  it was labelled from (``labels_estimated``: False for a simulation's truth, True for an
  estimate from the window; NaN when unknown) and a ``task_<name>`` class id per window task;
- ``morph_<feature>`` (float64) per feature of :data:`~biomoe.physio.features.FEATURES`: the
  window's physiological features, computed from the raw window before imaging (NaN where a
  feature does not apply to its signal type or could not be computed; the pretraining
  ``morphology`` targets);
- ``tasks.json``: ``{task: [class names]}`` for :data:`~biomoe.corpus.params.TASKS` (class id =
  position; :mod:`biomoe.corpus.tasks` says how each task's classes are ordered);
- ``windows.parquet``: the windows' samples as an imaging windows table
  (:data:`CORPUS_WINDOWS_SCHEMA`: ``window_id`` = sample id, ``modality`` = signal type,
  ``label`` = dataset), in stream order, a row group per chunk;
- ``images/``: :func:`biomoe.imaging.shards.write_image_shards` of ``windows.parquet``;
- ``rendering.json``: the image parameters they were rendered with (the contrastive task's
  augmented views are rendered with them too);
- ``summary.json``: counts per source, dataset, signal type and task class, the sources left
  out and why, and per feature the windows it was computed for and those where it failed.

``load_corpus`` reads it back as one row per image with every task's class id and every
window feature.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from biomoe.corpus.params import TASKS, CorpusParams
from biomoe.corpus.sources import SourceReport, stream_windows
from biomoe.corpus.tasks import UNLABELLED, WINDOW_TASKS, task_classes, window_labels
from biomoe.data.windows import signal_array
from biomoe.errors import DataError
from biomoe.imaging.params import ImageParams
from biomoe.imaging.shards import read_image_index, write_image_shards
from biomoe.io import atomic_dir, atomic_path, sha256_tree, write_json
from biomoe.physio.features import FEATURES, applicable, feature_table

MANIFEST_FILE, TASKS_FILE, SUMMARY_FILE, IMAGES_DIR, WINDOWS_FILE, RENDERING_FILE = (
    "manifest.parquet",
    "tasks.json",
    "summary.json",
    "images",
    "windows.parquet",
    "rendering.json",
)
CORPUS_WINDOWS_SCHEMA = pa.schema(
    [
        pa.field("window_id", pa.string(), nullable=False),
        pa.field("modality", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("fs", pa.int64(), nullable=False),
        pa.field("signal", pa.list_(pa.float32()), nullable=False),
    ]
)
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
        *[(f"morph_{feature}", pa.float64()) for feature in FEATURES],
    ]
)
INDEX_COLUMNS = ("window_id", "representation", "shard", "row", "sha256")
FEATURE_COLUMNS: tuple[str, ...] = tuple(f"morph_{feature}" for feature in FEATURES)


@dataclass(frozen=True)
class CorpusSummary:
    """What ``build_corpus`` wrote; ``sha256`` is the content hash of the whole folder."""

    out_dir: Path
    windows: int
    images: int
    by_source: dict[str, int]
    by_signal_type: dict[str, int]
    unavailable: dict[str, str]
    skipped: dict[str, str]
    features_failed: dict[str, int]
    sha256: str

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow, with the windows each feature failed on and the sources
        left out."""
        flat = {"corpus_windows": float(self.windows), "corpus_images": float(self.images)}
        flat["corpus_sources_skipped"] = float(len(self.skipped))
        flat["corpus_sources_unavailable"] = float(len(self.unavailable))
        flat |= {f"corpus_windows.{k}": float(v) for k, v in self.by_signal_type.items()}
        flat |= {f"features_failed.{k}": float(v) for k, v in self.features_failed.items()}
        flat["features_failed"] = float(sum(self.features_failed.values()))
        return flat


@dataclass(frozen=True)
class CorpusData:
    """``index``: one row per image (:data:`INDEX_COLUMNS`, then ``task_<name>`` per task of
    :data:`~biomoe.corpus.params.TASKS`, in that order, then :data:`FEATURE_COLUMNS`);
    ``manifest``: one row per window;
    ``classes``: class names per task, in TASKS order; ``images_dir`` holds the shards the
    index addresses (``biomoe.imaging.shards.load_images(images_dir, rows)``);
    ``windows_file`` the windows' samples and ``rendering`` the image parameters they were
    rendered with (None for a corpus built before they were kept)."""

    index: pd.DataFrame
    manifest: pd.DataFrame
    classes: dict[str, tuple[str, ...]]
    images_dir: Path
    windows_file: Path
    rendering: ImageParams | None


def build_corpus(
    corpus: CorpusParams,
    images: ImageParams,
    fs: int,
    out_dir: Path,
    *,
    gallery_dir: Path | None = None,
    root: Path | None = None,
    progress: bool = True,
) -> CorpusSummary:
    """Read every source of ``corpus``, resample it to ``fs`` (``ingest.fs``), window, label
    and render it with ``images`` into ``out_dir``. Relative user paths resolve against
    ``root`` (default: the working folder). With ``gallery_dir``, also write a gallery PNG per
    representation there.

    Windows stream through in chunks (:func:`biomoe.corpus.sources.stream_windows`): each
    chunk's features are computed and its samples appended to ``windows.parquet``, from which
    the images are rendered shard by shard; only the manifest's small per-window columns grow
    with the corpus.

    Raises ``DataError`` (and leaves ``out_dir`` as it was) for an unreadable source file, a
    missing path, an unknown format or dataset, a required package that is missing, or a
    source that yields no window (a user source is skipped instead under
    ``corpus.on_bad_source: skip``).
    """
    root = Path.cwd() if root is None else Path(root)
    report = SourceReport()
    with atomic_dir(Path(out_dir)) as tmp:
        windows, failed = _stream_into(
            stream_windows(corpus, fs, root, report), tmp / WINDOWS_FILE, progress
        )
        if windows.empty:
            raise DataError("the corpus is empty", hint="enable a source in corpus")
        classes = task_classes(windows, corpus, images.representations)
        manifest = pd.concat(
            [windows.drop(columns=["label"]), window_labels(windows, classes, corpus)], axis=1
        )[MANIFEST_SCHEMA.names]
        summary = _summary(manifest, classes, corpus, fs, report, images.representations)
        summary["features"] = _feature_counts(manifest, failed)
        _write_manifest(manifest, tmp / MANIFEST_FILE)
        write_json(tmp / TASKS_FILE, {task: list(names) for task, names in classes.items()})
        write_json(tmp / RENDERING_FILE, images.model_dump(mode="json", by_alias=True))
        index = write_image_shards(
            tmp / WINDOWS_FILE, tmp / IMAGES_DIR, images, progress=progress, gallery_dir=gallery_dir
        )
        write_json(tmp / SUMMARY_FILE, summary | {"images": len(index)})
        digest = sha256_tree(tmp)
    return CorpusSummary(
        out_dir=Path(out_dir),
        windows=len(manifest),
        images=len(index),
        by_source=summary["sources"],
        by_signal_type=summary["signal_types"],
        unavailable=report.unavailable,
        skipped=report.skipped,
        features_failed=failed,
        sha256=digest,
    )


def _stream_into(
    chunks: Iterator[pd.DataFrame], path: Path, progress: bool
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Append every chunk's samples to the windows file at ``path`` (one row group per chunk)
    and return the windows' other columns with their ``morph_<feature>`` values, sorted by
    ``sample_id``, and the windows each feature failed on."""
    parts: list[pd.DataFrame] = []
    failed: Counter[str] = Counter()
    with (
        pq.ParquetWriter(path, CORPUS_WINDOWS_SCHEMA, compression="zstd") as writer,
        _counter(progress) as bar,
    ):
        task = bar.add_task("corpus windows", total=None)
        for chunk in chunks:
            chunk = chunk.reset_index(drop=True)
            features = feature_table(list(chunk["signal"]), list(chunk["fs"]), chunk["signal_type"])
            failed.update(features.failed)
            writer.write_table(_windows_table(chunk))
            morphology = features.values.set_axis(list(FEATURE_COLUMNS), axis=1)
            parts.append(pd.concat([chunk.drop(columns=["signal"]), morphology], axis=1))
            bar.advance(task, len(chunk))
    if not parts:
        return pd.DataFrame(), {feature: 0 for feature in FEATURES}
    windows = pd.concat(parts, ignore_index=True)
    windows = windows.sort_values("sample_id", kind="stable").reset_index(drop=True)
    return windows, {feature: int(failed.get(feature, 0)) for feature in FEATURES}


def _windows_table(chunk: pd.DataFrame) -> pa.Table:
    """A chunk as rows of :data:`CORPUS_WINDOWS_SCHEMA` (an imaging windows table)."""
    columns = {
        "window_id": chunk["sample_id"],
        "modality": chunk["signal_type"],
        "label": chunk["dataset"],
        "source_file": chunk["source_file"],
        "fs": chunk["fs"],
    }
    arrays = [
        signal_array(chunk["signal"])
        if name == "signal"
        else pa.array(columns[name].tolist(), type=CORPUS_WINDOWS_SCHEMA.field(name).type)
        for name in CORPUS_WINDOWS_SCHEMA.names
    ]
    return pa.Table.from_arrays(arrays, schema=CORPUS_WINDOWS_SCHEMA)


def _counter(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        TextColumn("{task.completed:.0f}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
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
    tasks = manifest[["sample_id", *[f"task_{t}" for t in WINDOW_TASKS], *FEATURE_COLUMNS]]
    joined = index.merge(tasks, left_on="window_id", right_on="sample_id", how="left")
    joined["task_representation"] = joined["representation"].map(representation).astype(np.int64)
    joined = joined[[*INDEX_COLUMNS, *[f"task_{t}" for t in TASKS], *FEATURE_COLUMNS]]
    return CorpusData(
        joined,
        manifest,
        classes,
        out_dir / IMAGES_DIR,
        out_dir / WINDOWS_FILE,
        _read_rendering(out_dir / RENDERING_FILE),
    )


def _summary(
    manifest: pd.DataFrame,
    classes: dict[str, tuple[str, ...]],
    corpus: CorpusParams,
    fs: int,
    report: SourceReport,
    representations: Sequence[str],
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
        "fs": fs,
        "window_seconds": corpus.window_seconds,
        "sources": counts("source"),
        "datasets": counts("dataset"),
        "signal_types": counts("signal_type"),
        "tasks": tasks,
        "unavailable": dict(sorted(report.unavailable.items())),
        "skipped": dict(sorted(report.skipped.items())),
    }


def _feature_counts(manifest: pd.DataFrame, failed: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per feature: windows it applies to, windows it was computed for, windows it failed on."""
    applies = Counter(f for t in manifest["signal_type"] for f in applicable(str(t)))
    return {
        feature: {
            "applicable": int(applies.get(feature, 0)),
            "computed": int(manifest[f"morph_{feature}"].notna().sum()),
            "failed": int(failed[feature]),
        }
        for feature in FEATURES
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


def _read_rendering(path: Path) -> ImageParams | None:
    if not path.is_file():
        return None
    try:
        return ImageParams.model_validate_json(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"not readable image parameters: {exc}", file=path) from exc


def _read_tasks(path: Path) -> dict[str, tuple[str, ...]]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"not readable JSON: {exc}", file=path) from exc
    missing = [task for task in TASKS if task not in raw]
    if missing:
        raise DataError("tasks.json lacks tasks", file=path, segment=", ".join(missing))
    return {task: tuple(raw[task]) for task in TASKS}
