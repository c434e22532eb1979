"""Image shards: every window rendered for every representation, stored as uint8 ``.npy``
shards ``<out_dir>/<representation>/shard-<key>.npy`` (``[n, 3, S, S]``, n <= shard_size) and
an index ``<out_dir>/index.parquet`` that addresses each image by window and representation.

Shards are content-addressed: a shard holds up to ``shard_size`` windows of one subject (in
``window_id`` order), and its ``key`` hashes the windows' ids and samples, the representation's
parameters and the pixels' :data:`RENDERING_VERSION`. A re-run renders only shards whose key is
new (new or changed recordings, parameters or rendering) and links the others from the previous
output, so adding a subject renders that subject's windows only. The bytes depend on the table's
content, never on its row order or on the runner (``biomoe.scaleout``) that ran the shards.

A window that breaks an input rule (``signals.prepare``) stops the stage with a ``DataError``
naming its ``window_id`` and ``source_file``. The new directory is built beside ``out_dir`` and
swapped in at the end: a failure leaves any previous output as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from biomoe.errors import DataError
from biomoe.imaging.gallery import save_gallery, select_gallery
from biomoe.imaging.params import ImageParams
from biomoe.imaging.render import render_batch
from biomoe.imaging.sources import WindowSource, as_source
from biomoe.io import atomic_dir, atomic_path
from biomoe.scaleout.runners import LocalRunner, Runner

INDEX_FILE = "index.parquet"
INDEX_SCHEMA = pa.schema(
    [
        ("window_id", pa.string()),
        ("representation", pa.string()),
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("sha256", pa.string()),
    ]
)
REPRESENTATION_PARAMS = {
    "waveform": ("waveform",),
    "spectrogram": ("spectrogram",),
    "phase": ("spectrogram", "phase"),
    "recurrence": ("recurrence",),
    "gasf": ("gramian",),
    "gadf": ("gramian",),
    "mtf": ("markov",),
    "scalogram": ("scalogram",),
}
"""The ``images.<section>`` parameters each representation's pixels depend on (besides size)."""


RENDERING_VERSION = "3132845db21d0fd7aeefae7413a74ee9b99f1ebb32f49dd55c9b33e3fb3271d7"
"""Stamp of the pixels the imaging code draws; part of every shard key. Give it a new value
whenever a change makes any representation draw other bytes:
``tests/unit/imaging/test_rendering_version.py`` renders a fixed set of windows in every
representation and fails until this stamp and the digests recorded beside the test change
together. (It began as the sha256 of the imaging source it replaced, so the caches kept
their keys; unlike that hash, a change that leaves every pixel as it was re-renders nothing.)"""


def _write_index(index: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(index, schema=INDEX_SCHEMA, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path)


def image_digests(images: np.ndarray) -> list[str]:
    """sha256 (hex) of each image's bytes, the key the embedding cache is addressed by."""
    return [hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images]


@dataclass(frozen=True)
class ShardJob:
    """One shard to write into ``staging``: the windows at ``positions`` of ``source``, in one
    representation; reused from ``previous`` (the last output) when it holds the same key."""

    representation: str
    key: str
    positions: tuple[int, ...]
    window_ids: tuple[str, ...]
    source: WindowSource
    params: ImageParams
    staging: Path
    previous: Path

    @property
    def relative(self) -> str:
        return f"{self.representation}/shard-{self.key}.npy"


def _settings(params: ImageParams, representation: str) -> str:
    sections = {
        name: getattr(params, name).model_dump(mode="json")
        for name in REPRESENTATION_PARAMS[representation]
    }
    return json.dumps({"size": params.size, **sections}, sort_keys=True)


def plan_shards(
    catalog: pd.DataFrame,
    source: WindowSource,
    params: ImageParams,
    staging: Path,
    previous: Path,
) -> list[ShardJob]:
    """Every representation's shards: windows grouped by subject, in ``window_id`` order."""
    ordered = catalog.sort_values(["group", "window_id"], kind="stable")
    chunks = []
    for _, group in ordered.groupby("group", sort=False):
        chunks += [
            group.iloc[i : i + params.shard_size] for i in range(0, len(group), params.shard_size)
        ]
    jobs = []
    for representation in params.representations:
        prefix = f"{RENDERING_VERSION}\0{representation}\0{_settings(params, representation)}"
        for chunk in chunks:
            key = hashlib.sha256("\0".join([prefix, *chunk["digest"]]).encode()).hexdigest()
            jobs.append(
                ShardJob(
                    representation,
                    key[:24],
                    tuple(int(p) for p in chunk["position"]),
                    tuple(chunk["window_id"]),
                    source,
                    params,
                    staging,
                    previous,
                )
            )
    return jobs


def _reuse(job: ShardJob, target: Path) -> np.ndarray | None:
    """The previous run's shard for this key, linked into ``target``; None when absent or not
    a well-formed shard (it is then rendered again, never trusted)."""
    previous = job.previous / job.relative
    if not previous.is_file():
        return None
    try:
        images = np.load(previous, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None
    expected = (len(job.positions), 3, job.params.size, job.params.size)
    if images.dtype != np.uint8 or images.shape != expected:
        return None
    try:
        os.link(previous, target)
    except OSError:
        shutil.copyfile(previous, target)
    return images


def render_shard(job: ShardJob) -> pd.DataFrame:
    """Write (or reuse) one shard; return its index rows."""
    target = job.staging / job.relative
    target.parent.mkdir(parents=True, exist_ok=True)
    images = _reuse(job, target)
    if images is None:
        rows = job.source.take(job.positions)
        images = render_batch(
            list(rows["signal"]),
            rows["fs"].to_numpy(dtype=np.int64),
            job.representation,
            job.params,
            window_ids=rows["window_id"].tolist(),
            source_files=rows["source_file"].tolist(),
        )
        with atomic_path(target) as tmp, open(tmp, "wb") as handle:
            np.save(handle, images, allow_pickle=False)
    return pd.DataFrame(
        {
            "window_id": list(job.window_ids),
            "representation": job.representation,
            "shard": job.relative,
            "row": np.arange(len(job.positions), dtype=np.int64),
            "sha256": image_digests(images),
        }
    )


def _empty_index() -> pd.DataFrame:
    return pd.DataFrame(columns=INDEX_SCHEMA.names).astype({"row": np.int64})


def _write_gallery(
    catalog: pd.DataFrame, index: pd.DataFrame, root: Path, out_dir: Path, params: ImageParams
) -> None:
    chosen = select_gallery(catalog, params.gallery_per_representation).reset_index(drop=True)
    images_by_rep = {}
    for representation in params.representations:
        rows = index[index["representation"] == representation].set_index("window_id")
        images_by_rep[representation] = load_images(
            root, rows.loc[chosen["window_id"]].reset_index()
        )
    save_gallery(chosen, images_by_rep, out_dir, params.gallery_per_representation)


def write_image_shards(
    windows: pd.DataFrame | Path | WindowSource,
    out_dir: Path,
    params: ImageParams,
    progress: bool = True,
    gallery_dir: Path | None = None,
    runner: Runner | None = None,
) -> pd.DataFrame:
    """Render every window (a table, or a windows parquet file read in row groups) for every
    representation into ``out_dir`` (replaced on success), the shards run by ``runner``
    (default: inline), and return the index. With ``gallery_dir``, also write
    ``<gallery_dir>/<representation>.png``."""
    source = as_source(windows)
    catalog = source.catalog()
    out_dir = Path(out_dir)
    runner = runner or LocalRunner(progress=progress)
    with atomic_dir(out_dir) as root:
        for representation in params.representations:
            (root / representation).mkdir()
        jobs = plan_shards(catalog, source, params, root, out_dir)
        parts = runner.map(render_shard, jobs, "images")
        index = pd.concat(parts, ignore_index=True) if parts else _empty_index()
        index = index.astype({"row": np.int64})
        index = index.sort_values(["representation", "window_id"], kind="stable")
        index = index.reset_index(drop=True)[INDEX_SCHEMA.names]
        _write_index(index, root / INDEX_FILE)
        if gallery_dir is not None and len(catalog):
            _write_gallery(catalog, index, root, Path(gallery_dir), params)
    return index


def read_image_index(out_dir: Path) -> pd.DataFrame:
    """The index written by ``write_image_shards``; raises ``DataError`` if missing or malformed."""
    path = Path(out_dir) / INDEX_FILE
    if not path.is_file():
        raise DataError("image index not found", file=path, hint="run the images stage first")
    index = pq.read_table(path).to_pandas()
    missing = [c for c in INDEX_SCHEMA.names if c not in index.columns]
    if missing:
        raise DataError("image index lacks columns", file=path, segment=", ".join(missing))
    return index


def load_images(out_dir: Path, index_rows: pd.DataFrame) -> np.ndarray:
    """The images that ``index_rows`` address, uint8 ``[len(index_rows), 3, S, S]`` in their
    order; shards are memory-mapped and each is opened once."""
    rows = index_rows.reset_index(drop=True)
    images: np.ndarray | None = None
    for shard, group in rows.groupby("shard", sort=True):
        path = Path(out_dir) / str(shard)
        if not path.is_file():
            raise DataError("image shard not found", file=path, hint="re-run the images stage")
        stored = np.load(path, mmap_mode="r")
        wanted = group["row"].to_numpy(dtype=np.int64)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= stored.shape[0]):
            raise DataError(
                "index row out of range for its shard",
                file=path,
                segment="row",
                hint=f"shard holds {stored.shape[0]} images, index asks for row {wanted.max()}",
            )
        if images is None:
            images = np.empty((len(rows), *stored.shape[1:]), dtype=np.uint8)
        images[group.index.to_numpy()] = stored[wanted]
    return images if images is not None else np.empty((0, 3, 0, 0), dtype=np.uint8)


def shards_of(out_dir: Path) -> set[str]:
    """The shards the index in ``out_dir`` addresses (none when there is no readable index)."""
    try:
        return set(read_image_index(out_dir)["shard"])
    except DataError:
        return set()
