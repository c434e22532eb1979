"""The embed stage: every indexed image through the backbone, computing only what is not cached.

Work is split by image shard: a job embeds the images of one shard that the cache lacks
(each distinct image once, in its first shard) in batches of ``embed.batch_size`` and writes
them as one atomic cache part. A killed run loses at most the parts being written; a re-run
computes exactly the missing shards again, in the same batches, so it ends with the embeddings
of an uninterrupted run. Jobs run on any ``biomoe.scaleout`` runner with the same result.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

from biomoe.embed.cache import EmbeddingCache
from biomoe.errors import CheckpointError, DataError
from biomoe.imaging.shards import read_image_index
from biomoe.io import atomic_path, sha256_file
from biomoe.model.engines import Engine
from biomoe.model.inference import load_engine
from biomoe.scaleout.runners import LocalRunner, Runner

TABLE = "embeddings.parquet"
CACHE_DIR = "cache"
BACKBONE_KEY = b"biomoe.backbone_sha256"


@dataclass(frozen=True)
class EmbedResult:
    table: Path
    backbone_sha256: str
    n_images: int
    n_computed: int


@dataclass(frozen=True)
class EmbedJob:
    """The ``rows`` of one image shard whose images (``keys``) the cache lacks."""

    images_dir: Path
    shard: str
    rows: tuple[int, ...]
    keys: tuple[str, ...]
    backbone: Path
    backbone_sha256: str
    img_size: int
    batch_size: int
    engine: Engine
    cache_dir: Path


def to_float_images(batch: np.ndarray) -> torch.Tensor:
    """uint8 ``[B, 3, S, S]`` -> float32 in ``[0, 1]``, the backbone's input contract."""
    return torch.from_numpy(np.ascontiguousarray(batch)).float().div_(255.0)


def embed_batch(model: nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(to_float_images(images)).numpy().astype(np.float32)


_models = threading.local()


def backbone_for(path: Path, sha256: str, img_size: int, engine: Engine) -> nn.Module:
    """The backbone ready for inference with ``engine``, loaded once per thread and checkpoint."""
    key = (str(path), sha256, img_size, engine)
    if getattr(_models, "key", None) != key:
        _models.model = load_engine(path, engine, img_size)
        _models.key = key
    return _models.model


def embed_shard(job: EmbedJob) -> int:
    """Embed one job's images into one cache part; return how many it computed."""
    model = backbone_for(job.backbone, job.backbone_sha256, job.img_size, job.engine)
    path = job.images_dir / job.shard
    if not path.is_file():
        raise DataError("image shard not found", file=path, hint="re-run the images stage")
    stored = np.load(path, mmap_mode="r", allow_pickle=False)
    rows = np.asarray(job.rows, dtype=np.int64)
    if rows.max() >= stored.shape[0]:
        raise DataError(
            "index row out of range for its shard",
            file=path,
            segment="row",
            hint=f"shard holds {stored.shape[0]} images, index asks for row {rows.max()}",
        )
    vectors = [
        embed_batch(model, stored[rows[i : i + job.batch_size]])
        for i in range(0, len(rows), job.batch_size)
    ]
    EmbeddingCache(job.cache_dir, job.backbone_sha256).add(list(job.keys), np.concatenate(vectors))
    return len(rows)


def plan_embedding(
    index: pd.DataFrame, cache: EmbeddingCache, job: dict[str, object]
) -> list[EmbedJob]:
    """One job per image shard with images the cache lacks; an image found in several shards
    is computed once, in the first (shards in name order)."""
    ordered = index.sort_values(["shard", "row"], kind="stable")
    first = ordered.drop_duplicates("sha256")
    todo = first[first["sha256"].isin(cache.missing(list(first["sha256"])))]
    return [
        EmbedJob(
            shard=str(shard),
            rows=tuple(int(r) for r in group["row"]),
            keys=tuple(group["sha256"]),
            **job,  # type: ignore[arg-type]
        )
        for shard, group in todo.groupby("shard", sort=True)
    ]


def embed_images(
    images_dir: Path,
    backbone_path: Path,
    out_dir: Path,
    img_size: int,
    batch_size: int,
    engine: Engine = "threaded",
    runner: Runner | None = None,
    progress: bool = True,
) -> EmbedResult:
    """Write ``out_dir/embeddings.parquet`` (window_id, representation, image_sha256, embedding).

    The table's schema metadata records the backbone's sha256 (``embeddings_backbone_sha256``).
    A backbone that cannot be loaded raises ``CheckpointError`` before anything is written.
    """
    index = read_image_index(images_dir)
    backbone_sha = sha256_file(backbone_path)
    cache_dir = out_dir / CACHE_DIR
    jobs = plan_embedding(
        index,
        EmbeddingCache(cache_dir, backbone_sha),
        dict(
            images_dir=Path(images_dir),
            backbone=Path(backbone_path),
            backbone_sha256=backbone_sha,
            img_size=img_size,
            batch_size=batch_size,
            engine=engine,
            cache_dir=cache_dir,
        ),
    )
    if jobs:
        backbone_for(Path(backbone_path), backbone_sha, img_size, engine)
        runner = runner or LocalRunner(progress=progress)
        computed = sum(runner.map(embed_shard, jobs, "embed"))
    else:
        computed = 0
    vectors = EmbeddingCache(cache_dir, backbone_sha).get(list(index["sha256"]))
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
    return EmbedResult(path, backbone_sha, len(index), computed)


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
