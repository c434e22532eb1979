"""Image shards: every window rendered for every representation, stored as uint8 ``.npy``
shards ``<out_dir>/<representation>/shard-00000.npy`` (``[n, 3, S, S]``, n <= shard_size) and
an index ``<out_dir>/index.parquet`` that addresses each image by window and representation.

Windows are rendered in ``window_id`` order, so the bytes depend only on the table's content,
not on its row order. A window that breaks an input rule (``signals.prepare``) stops the stage
with a ``DataError`` naming its ``window_id`` and ``source_file``. The whole directory is built
beside ``out_dir`` and swapped in at the end: a failure leaves any previous output as it was.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from biomoe.config import ImageParams
from biomoe.errors import DataError
from biomoe.imaging.gallery import save_gallery, select_gallery
from biomoe.imaging.render import render_batch
from biomoe.io import atomic_dir

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
REQUIRED_COLUMNS = ("window_id", "fs", "signal")


def _check_windows(windows: pd.DataFrame) -> None:
    for column in REQUIRED_COLUMNS:
        if column not in windows.columns:
            raise DataError(
                "the windows table lacks a required column",
                segment=column,
                hint=f"the image stage needs {list(REQUIRED_COLUMNS)}",
            )
    duplicated = windows["window_id"].duplicated(keep=False)
    if duplicated.any():
        first = windows[duplicated].iloc[0]
        raise DataError(
            "window_id must be unique",
            file=first.get("source_file"),
            segment="window_id",
            hint=f"{int(duplicated.sum())} rows share ids such as {first['window_id']!r}",
        )


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]images[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def _write_index(index: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(index, schema=INDEX_SCHEMA, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path)


def image_digests(images: np.ndarray) -> list[str]:
    """sha256 (hex) of each image's bytes, the key the embedding cache is addressed by."""
    return [hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images]


def _write_representation(
    ordered: pd.DataFrame, representation: str, params: ImageParams, root: Path, bar: Progress
) -> pd.DataFrame:
    """Render one representation into ``root/<representation>/`` shards; return its index rows."""
    (root / representation).mkdir()
    task = bar.add_task(representation, total=len(ordered))
    parts = []
    buffer = np.empty((min(params.shard_size, len(ordered)), 3, params.size, params.size), np.uint8)
    for number, start in enumerate(range(0, len(ordered), params.shard_size)):
        shard = ordered.iloc[start : start + params.shard_size]
        images = render_batch(
            list(shard["signal"]),
            shard["fs"].to_numpy(),
            representation,
            params,
            window_ids=shard["window_id"].tolist(),
            source_files=shard["source_file"].tolist() if "source_file" in shard else None,
            out=buffer[: len(shard)],
        )
        bar.advance(task, len(shard))
        relative = f"{representation}/shard-{number:05d}.npy"
        np.save(root / relative, images)
        parts.append(
            pd.DataFrame(
                {
                    "window_id": shard["window_id"].to_numpy(),
                    "representation": representation,
                    "shard": relative,
                    "row": np.arange(len(shard), dtype=np.int64),
                    "sha256": image_digests(images),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else _empty_index()


def _empty_index() -> pd.DataFrame:
    return pd.DataFrame(columns=INDEX_SCHEMA.names).astype({"row": np.int64})


def _write_gallery(
    ordered: pd.DataFrame, index: pd.DataFrame, root: Path, out_dir: Path, params: ImageParams
) -> None:
    chosen = select_gallery(ordered, params.gallery_per_representation).reset_index(drop=True)
    images_by_rep = {}
    for representation in params.representations:
        rows = index[index["representation"] == representation].set_index("window_id")
        images_by_rep[representation] = load_images(
            root, rows.loc[chosen["window_id"]].reset_index()
        )
    save_gallery(chosen, images_by_rep, out_dir, params.gallery_per_representation)


def write_image_shards(
    windows: pd.DataFrame,
    out_dir: Path,
    params: ImageParams,
    progress: bool = True,
    gallery_dir: Path | None = None,
) -> pd.DataFrame:
    """Render every window for every representation into ``out_dir`` (replaced on success) and
    return the index. With ``gallery_dir``, also write ``<gallery_dir>/<representation>.png``."""
    _check_windows(windows)
    ordered = windows.assign(window_id=windows["window_id"].astype(str))
    ordered = ordered.sort_values("window_id", kind="stable").reset_index(drop=True)
    with atomic_dir(Path(out_dir)) as root, _progress(progress) as bar:
        parts = [
            _write_representation(ordered, representation, params, root, bar)
            for representation in params.representations
        ]
        index = pd.concat(parts, ignore_index=True).astype({"row": np.int64})
        index = index.sort_values(["representation", "window_id"], kind="stable")
        index = index.reset_index(drop=True)[INDEX_SCHEMA.names]
        _write_index(index, root / INDEX_FILE)
        if gallery_dir is not None and len(ordered):
            _write_gallery(ordered, index, root, Path(gallery_dir), params)
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
