"""The embed stage: every indexed image through the backbone, computing only what is not cached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from rich.progress import Progress

from biomoe.embed.cache import EmbeddingCache
from biomoe.errors import CheckpointError
from biomoe.imaging import load_images, read_image_index
from biomoe.io import atomic_path
from biomoe.model import TinyBioMoE, file_sha256, load_checkpoint

TABLE = "embeddings.parquet"
BACKBONE_KEY = b"biomoe.backbone_sha256"


@dataclass(frozen=True)
class EmbedResult:
    table: Path
    backbone_sha256: str
    n_images: int
    n_computed: int


def to_float_images(batch: np.ndarray) -> torch.Tensor:
    """uint8 ``[B, 3, S, S]`` -> float32 in ``[0, 1]``, the backbone's input contract."""
    return torch.from_numpy(np.ascontiguousarray(batch)).float().div_(255.0)


@torch.no_grad()
def embed_batch(model: TinyBioMoE, images: np.ndarray) -> np.ndarray:
    return model(to_float_images(images)).numpy().astype(np.float32)


def embed_images(
    images_dir: Path,
    backbone_path: Path,
    out_dir: Path,
    img_size: int,
    batch_size: int,
    progress: bool = True,
) -> EmbedResult:
    """Write ``out_dir/embeddings.parquet`` (window_id, representation, image_sha256, embedding).

    The table's schema metadata records the backbone's sha256 (``embeddings_backbone_sha256``).
    A backbone that cannot be loaded raises ``CheckpointError`` before anything is written.
    """
    index = read_image_index(images_dir)
    backbone_sha = file_sha256(backbone_path)
    cache = EmbeddingCache(out_dir / "cache", backbone_sha)
    todo = cache.missing(list(index["sha256"]))
    if todo:
        model = load_checkpoint(backbone_path, img_size=img_size).eval()
        first_rows = index.drop_duplicates("sha256").set_index("sha256").loc[todo].reset_index()
        with Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task("embed", total=len(todo))
            for start in range(0, len(todo), batch_size):
                rows = first_rows.iloc[start : start + batch_size]
                vectors = embed_batch(model, load_images(images_dir, rows))
                cache.add(list(rows["sha256"]), vectors)
                bar.advance(task, len(rows))
    vectors = cache.get(list(index["sha256"]))
    table = pa.table(
        {
            "window_id": pa.array(index["window_id"], pa.string()),
            "representation": pa.array(index["representation"], pa.string()),
            "image_sha256": pa.array(index["sha256"], pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1]
            ),
        },
        metadata={BACKBONE_KEY: backbone_sha.encode()},
    )
    path = out_dir / TABLE
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return EmbedResult(path, backbone_sha, len(index), len(todo))


def read_embeddings(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def embeddings_backbone_sha256(path: Path) -> str:
    """The sha256 of the backbone a table was made with (train and register check it)."""
    metadata = pq.read_schema(path).metadata or {}
    if BACKBONE_KEY not in metadata:
        raise CheckpointError(
            f"embeddings table {path}: schema metadata lacks {BACKBONE_KEY.decode()!r} "
            "(written by an older biomoe; re-run `biomoe embed`)"
        )
    return metadata[BACKBONE_KEY].decode()
