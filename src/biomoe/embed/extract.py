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
from biomoe.imaging import load_images, read_image_index
from biomoe.io import atomic_path
from biomoe.model import TinyBioMoE, file_sha256, load_checkpoint
from biomoe.pretrain.trainer import to_float_images

TABLE = "embeddings.parquet"


@dataclass(frozen=True)
class EmbedResult:
    table: Path
    backbone_sha256: str
    n_images: int
    n_computed: int


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
    """Write ``out_dir/embeddings.parquet`` (window_id, representation, image_sha256, embedding)."""
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
        }
    )
    path = out_dir / TABLE
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return EmbedResult(path, backbone_sha, len(index), len(todo))


def read_embeddings(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()
