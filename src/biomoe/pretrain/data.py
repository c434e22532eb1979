"""Corpus images as a torch dataset, the train/validation split, and the step sampler.

The trainer reads the corpus contract of ``biomoe.corpus.build.load_corpus``: an image
index with one row per image (``shard``, ``row``, ``window_id``) and an int64 column
``task_<name>`` per task (-1 = no label), a float column per window feature (``morph_<name>``,
NaN = none), the class names per task, and the image shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import Dataset, DistributedSampler

from biomoe.corpus.build import FEATURE_COLUMNS, CorpusData
from biomoe.errors import DataError
from biomoe.imaging.params import ImageParams
from biomoe.imaging.render import render_batch
from biomoe.imaging.sources import ParquetWindows
from biomoe.pretrain.augment import augment, view_rng
from biomoe.pretrain.contrastive import CONTRASTIVE
from biomoe.pretrain.heads import NO_LABEL
from biomoe.pretrain.params import AugmentParams
from biomoe.pretrain.spread import SPREAD
from biomoe.pretrain.targets import MORPHOLOGY

CORPUS_FILES = ("manifest.parquet", "tasks.json", "images/index.parquet")


def corpus_digest(corpus_dir: Path) -> str:
    """sha256 over the manifest, the task classes and the image index (which holds each
    image's sha256): the identity of the corpus without reading every pixel."""
    digest = hashlib.sha256()
    for name in CORPUS_FILES:
        path = Path(corpus_dir) / name
        if not path.is_file():
            raise DataError("corpus file not found", file=path, hint="run `biomoe corpus` first")
        digest.update(name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def check_tasks(
    index: pd.DataFrame, classes: dict[str, tuple[str, ...]], tasks: Sequence[str], where: Path
) -> None:
    """Every task in ``tasks`` has classes and a label column whose values fit them; the
    ``morphology`` task needs every window feature column (``FEATURE_COLUMNS``)."""
    for task in tasks:
        if task in (CONTRASTIVE, SPREAD):
            continue  # need no label (the trainer checks the representations it pairs)
        if task == MORPHOLOGY:
            missing = [c for c in FEATURE_COLUMNS if c not in index.columns]
            if missing:
                raise DataError(
                    "the corpus has no window features for the morphology task",
                    file=where,
                    segment=", ".join(missing[:3]),
                    hint="rebuild the corpus (`biomoe corpus`) or remove morphology from tasks",
                )
            continue
        column = f"task_{task}"
        if task not in classes or column not in index.columns:
            raise DataError(
                f"the corpus has no labels for task {task!r}",
                file=where,
                segment=column,
                hint=f"it has {sorted(classes)}; remove the task from pretrain.tasks or rebuild",
            )
        labels = index[column].to_numpy()
        bad = (labels < NO_LABEL) | (labels >= len(classes[task]))
        if bad.any():
            raise DataError(
                f"labels must be -1 or a class number below {len(classes[task])}",
                file=where,
                segment=column,
                hint=f"found {int(labels[bad][0])}",
            )


def split_windows(
    index: pd.DataFrame, val_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train / validation rows; every representation of a window lands on the same side."""
    windows = np.sort(index["window_id"].astype(str).unique())
    order = np.random.default_rng(seed).permutation(len(windows))
    n_val = max(1, round(len(windows) * val_fraction))
    val_windows = set(windows[order[:n_val]])
    is_val = index["window_id"].astype(str).isin(val_windows).to_numpy()
    return index[~is_val].reset_index(drop=True), index[is_val].reset_index(drop=True)


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""uint8 images ``[B, 3, S, S]``, int64 class labels ``[B, T]`` (-1: none) and float32
regression targets ``[B, F]`` (NaN: none; ``F = 0`` without a regression task)."""


class TaskImages(Dataset):
    """Item ``i``: uint8 image ``[3, S, S]``, int64 labels ``[T]`` (class tasks in the given
    order) and float32 targets ``[F]`` (the rows of ``targets``; none when it is None).

    ``__getitems__`` reads a whole batch at once from memory-mapped shards, each opened once
    per process (DataLoader workers open their own).
    """

    def __init__(
        self,
        images_dir: Path,
        rows: pd.DataFrame,
        tasks: Sequence[str],
        targets: np.ndarray | None = None,
    ) -> None:
        self.images_dir = Path(images_dir)
        shard_names, self.shard_of = np.unique(rows["shard"].astype(str), return_inverse=True)
        self.shards = [str(name) for name in shard_names]
        self.row = rows["row"].to_numpy(dtype=np.int64)
        self.window_of_image = rows["window_id"].astype(str).to_numpy()
        labels = [rows[f"task_{t}"].to_numpy(dtype=np.int64) for t in tasks]
        self.labels = torch.from_numpy(
            np.stack(labels, axis=1) if labels else np.empty((len(rows), 0), dtype=np.int64)
        )
        if targets is None:
            targets = np.empty((len(rows), 0), dtype=np.float32)
        if len(targets) != len(rows):
            raise ValueError(f"{len(targets)} target rows for {len(rows)} images")
        self.targets = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
        self._open: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.row)

    def item_windows(self) -> np.ndarray:
        """The window id of every item, in item order."""
        return self.window_of_image

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images, labels, targets = self.__getitems__([i])
        return images[0], labels[0], targets[0]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        indices = np.asarray(indices, dtype=np.int64)
        shard_ids = self.shard_of[indices]
        parts: list[np.ndarray] = []
        positions: list[np.ndarray] = []
        for shard_id in np.unique(shard_ids):
            where = np.flatnonzero(shard_ids == shard_id)
            parts.append(self._shard(int(shard_id))[self.row[indices[where]]])
            positions.append(where)
        images = np.empty((len(indices), *parts[0].shape[1:]), dtype=np.uint8)
        for where, part in zip(positions, parts, strict=True):
            images[where] = part
        return torch.from_numpy(images), self.labels[indices], self.targets[indices]

    def set_epoch(self, epoch: int) -> None:
        """Stored images are the same every epoch (augmented datasets draw new views)."""

    def _shard(self, shard_id: int) -> np.ndarray:
        if shard_id not in self._open:
            path = self.images_dir / self.shards[shard_id]
            try:
                self._open[shard_id] = np.load(path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise DataError(
                    f"image shard cannot be read: {exc}",
                    file=path,
                    hint="rebuild the corpus (`biomoe corpus`)",
                ) from exc
        return self._open[shard_id]


class WindowImages(TaskImages):
    """``TaskImages`` whose item is a window: its ``views`` images (one per representation,
    in ``task_representation`` order) side by side, so a batch of ``B`` windows is ``B * views``
    consecutive images, the grouping the contrastive task needs. ``targets`` are per image, in
    ``rows`` order."""

    def __init__(
        self,
        images_dir: Path,
        rows: pd.DataFrame,
        tasks: Sequence[str],
        views: int,
        targets: np.ndarray | None = None,
    ) -> None:
        per_window = rows.groupby("window_id", sort=False).size()
        uneven = per_window[per_window != views]
        if len(uneven):
            raise DataError(
                f"window {uneven.index[0]!r} has {int(uneven.iloc[0])} images, not one per "
                f"representation ({views}): the contrastive task pairs a window's representations",
                file=Path(images_dir) / "index.parquet",
                segment="window_id",
                hint="rebuild the corpus (`biomoe corpus`)",
            )
        order = np.lexsort(
            (rows["task_representation"].to_numpy(), rows["window_id"].astype(str).to_numpy())
        )
        rows = rows.iloc[order].reset_index(drop=True)
        targets = None if targets is None else np.asarray(targets)[order]
        super().__init__(images_dir, rows, tasks, targets)
        self.views = views
        self.window_ids = rows["window_id"].astype(str).to_numpy()[::views]

    def __len__(self) -> int:
        return len(self.row) // self.views

    def item_windows(self) -> np.ndarray:
        return self.window_ids

    def __getitem__(self, i: int) -> Batch:  # type: ignore[override]
        return self.__getitems__([i])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        windows = np.asarray(indices, dtype=np.int64)
        images = (windows[:, None] * self.views + np.arange(self.views)).ravel()
        return super().__getitems__(images)


class AugmentedWindowImages(WindowImages):
    """``WindowImages`` whose item also holds ``augment.views`` augmented views of the window
    (:mod:`biomoe.pretrain.augment`), drawn from its raw samples in the corpus's windows file
    and rendered in every representation with the corpus's own image parameters: a window's
    ``R`` stored images, then view 0's ``R`` images, view 1's, ... (``R * (1 + views)``).

    Views change with :meth:`set_epoch` and depend only on the seed, the epoch, the window and
    the view. An augmented image is labelled with its representation only (every other task
    ``NO_LABEL``, targets NaN): the supervised heads learn from the corpus's own images.
    """

    def __init__(
        self,
        images_dir: Path,
        rows: pd.DataFrame,
        tasks: Sequence[str],
        representations: Sequence[str],
        windows_file: Path,
        image_params: ImageParams,
        augment: AugmentParams,
        seed: int,
        targets: np.ndarray | None = None,
    ) -> None:
        super().__init__(images_dir, rows, tasks, len(representations), targets)
        self.representations = tuple(representations)
        self.source = ParquetWindows(Path(windows_file))
        ids = _window_ids(Path(windows_file))
        missing = sorted(set(self.window_ids) - set(ids))
        if missing:
            raise DataError(
                "the corpus's windows file lacks windows its images come from",
                file=windows_file,
                segment="window_id",
                hint=f"e.g. {missing[0]!r}; rebuild the corpus (`biomoe corpus`)",
            )
        position = {window_id: i for i, window_id in enumerate(ids)}
        self.positions = np.asarray([position[w] for w in self.window_ids], dtype=np.int64)
        self.image_params = image_params
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.stored = len(representations)
        self.views = self.stored * (1 + augment.views)
        self.representation_column = (
            list(tasks).index("representation") if "representation" in tasks else None
        )

    def __len__(self) -> int:
        return len(self.window_ids)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        windows = np.asarray(indices, dtype=np.int64)
        stored = (windows[:, None] * self.stored + np.arange(self.stored)).ravel()
        images, labels, targets = TaskImages.__getitems__(self, stored)
        rows = self.source.take(self.positions[windows].tolist())
        signals, rates = [], []
        for window_id, signal, fs in zip(
            self.window_ids[windows], rows["signal"], rows["fs"], strict=True
        ):
            for view in range(self.augment.views):
                rng = view_rng(self.seed, self.epoch, str(window_id), view)
                signals.append(augment(np.asarray(signal), int(fs), rng, self.augment))
                rates.append(int(fs))
        b, r, v = len(windows), self.stored, self.augment.views
        rendered = np.stack(
            [
                render_batch(signals, np.asarray(rates), representation, self.image_params)
                for representation in self.representations
            ],
            axis=1,
        ).reshape(b, v * r, *images.shape[1:])
        grouped = np.concatenate([images.numpy().reshape(b, r, *images.shape[1:]), rendered], 1)
        extra_labels = torch.full((b, v * r, labels.shape[1]), NO_LABEL, dtype=labels.dtype)
        if self.representation_column is not None:
            extra_labels[:, :, self.representation_column] = torch.arange(r).repeat(v)
        extra_targets = torch.full((b, v * r, targets.shape[1]), float("nan"))
        return (
            torch.from_numpy(grouped.reshape(b * (r + v * r), *images.shape[1:])),
            torch.cat([labels.reshape(b, r, -1), extra_labels], 1).flatten(0, 1),
            torch.cat([targets.reshape(b, r, -1), extra_targets], 1).flatten(0, 1),
        )


def _window_ids(path: Path) -> list[str]:
    try:
        return [str(w) for w in pq.read_table(path, columns=["window_id"]).column(0).to_pylist()]
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"the corpus's windows file cannot be read: {exc}",
            file=path,
            hint="rebuild the corpus (`biomoe corpus`)",
        ) from exc


def whole_batch(batch: Batch) -> Batch:
    """DataLoader ``collate_fn``: ``TaskImages.__getitems__`` already returns a batch."""
    return batch


def item_signal_types(corpus: CorpusData, dataset: TaskImages) -> list[str]:
    """The signal type of every item of ``dataset`` (its window's, from the corpus manifest):
    the groups of ``StepSampler`` for ``pretrain.batches: by_signal_type``."""
    types = corpus.manifest.set_index("sample_id")["signal_type"].astype(str)
    windows = pd.Index(dataset.item_windows())
    missing = windows.difference(types.index)
    if len(missing):
        raise DataError(
            f"window {missing[0]!r} is not in the corpus manifest, so its signal type is unknown",
            file=Path(corpus.images_dir).parent / "manifest.parquet",
            segment="sample_id",
            hint="rebuild the corpus (`biomoe corpus`) or set pretrain.batches: mixed",
        )
    return types.reindex(windows).tolist()


class StepSampler(DistributedSampler):
    """A ``DistributedSampler`` that deals whole micro-batches instead of single images.

    Each epoch shuffles all indices with ``seed + epoch`` (as ``DistributedSampler`` does),
    keeps the ``steps_per_epoch`` full global batches (``micro_batch * world * accum_steps``
    images each; the rest is dropped) and cuts them into blocks of ``micro_batch``; rank ``r``
    takes blocks ``r, r + world, ...``. So optimizer step ``k`` always trains on the same
    consecutive slice of the shuffled order whatever the split into processes and accumulation
    steps, and every micro-batch (a BatchNorm group) is the same block of it: 1 process x 2
    accumulation steps sees what 2 processes x 1 step see. ``start_step`` skips the first steps
    of the epoch when a run resumes mid-epoch.

    With ``groups`` (one key per item), every micro-batch holds items of one group: each
    group's shuffled items are cut into blocks of ``micro_batch`` (a group's remainder is
    dropped for the epoch) and the blocks are shuffled. Grouped by signal type, a window's
    contrastive negatives are windows of its own type, and the spread task's variances are
    taken within a type: the embedding must tell apart what the type alone does not.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        micro_batch: int,
        accum_steps: int,
        num_replicas: int,
        rank: int,
        seed: int,
        groups: Sequence[object] | None = None,
    ) -> None:
        super().__init__(
            dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.micro_batch = micro_batch
        self.accum_steps = accum_steps
        self.global_batch = micro_batch * num_replicas * accum_steps
        self.groups = None if groups is None else list(groups)
        if self.groups is not None and len(self.groups) != len(dataset):
            raise ValueError(f"{len(self.groups)} group keys for {len(dataset)} items")
        self.steps_per_epoch = self._usable() // self.global_batch
        self.start_step = 0

    def _usable(self) -> int:
        if self.groups is None:
            return len(self.dataset)
        sizes = pd.Series(self.groups).value_counts()
        return int((sizes // self.micro_batch).sum()) * self.micro_batch

    def set_position(self, epoch: int, start_step: int) -> None:
        self.set_epoch(epoch)
        self.start_step = start_step

    def _order(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.dataset), generator=generator).tolist()
        if self.groups is None:
            return order
        members: dict[object, list[int]] = {}
        for i in order:
            members.setdefault(self.groups[i], []).append(i)
        blocks = [
            items[k : k + self.micro_batch]
            for items in members.values()
            for k in range(0, len(items) - self.micro_batch + 1, self.micro_batch)
        ]
        shuffled = torch.randperm(len(blocks), generator=generator).tolist()
        return [i for b in shuffled for i in blocks[b]]

    def __iter__(self) -> Iterator[int]:
        order = self._order()
        per_step = self.accum_steps * self.num_replicas
        first = self.start_step * per_step + self.rank
        for block in range(first, self.steps_per_epoch * per_step, self.num_replicas):
            yield from order[block * self.micro_batch : (block + 1) * self.micro_batch]

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.start_step) * self.accum_steps * self.micro_batch
