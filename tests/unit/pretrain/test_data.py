from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from biomoe.corpus.build import FEATURE_COLUMNS, load_corpus
from biomoe.errors import DataError
from biomoe.imaging.shards import load_images
from biomoe.pretrain.data import (
    StepSampler,
    TaskImages,
    WindowImages,
    check_tasks,
    corpus_digest,
    item_signal_types,
    split_windows,
)
from biomoe.pretrain.targets import TargetScaling


def _blocks(
    n: int, *, micro: int, accum: int, world: int, epoch: int = 0, groups: list | None = None
) -> list[list[list]]:
    """For each rank, its micro-batches of one epoch, in order."""
    ranks = []
    for rank in range(world):
        sampler = StepSampler(
            range(n),
            micro_batch=micro,
            accum_steps=accum,
            num_replicas=world,
            rank=rank,
            seed=3,
            groups=groups,
        )
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert len(order) == len(sampler)
        ranks.append([order[i : i + micro] for i in range(0, len(order), micro)])
    return ranks


def test_a_step_trains_on_the_same_micro_batches_however_it_is_split() -> None:
    (alone,) = _blocks(50, micro=4, accum=2, world=1)  # 1 process x 2 accumulation steps
    two = _blocks(50, micro=4, accum=1, world=2)  # 2 processes x 1 step
    assert len(alone) == 12  # 50 // 8 = 6 steps of 2 micro-batches; 2 images dropped
    for step in range(6):
        assert alone[2 * step] == two[0][step]
        assert alone[2 * step + 1] == two[1][step]
    seen = [i for block in alone for i in block]
    assert len(set(seen)) == len(seen) == 48


def test_each_epoch_reshuffles_and_a_resume_skips_the_steps_done() -> None:
    first, second = (
        _blocks(40, micro=4, accum=1, world=1, epoch=0),
        _blocks(40, micro=4, accum=1, world=1, epoch=1),
    )
    assert first != second
    sampler = StepSampler(range(40), micro_batch=4, accum_steps=1, num_replicas=1, rank=0, seed=3)
    sampler.set_position(epoch=1, start_step=3)
    rest = list(sampler)
    assert rest == [i for block in second[0][3:] for i in block]
    assert len(sampler) == len(rest)


def test_grouped_micro_batches_hold_one_group_and_keep_the_split_invariance() -> None:
    groups = ["ecg"] * 21 + ["eda"] * 13 + ["rsp"] * 3  # rsp: fewer than one micro-batch
    rng = np.random.default_rng(0)
    groups = [groups[i] for i in rng.permutation(len(groups))]
    (alone,) = _blocks(37, micro=4, accum=2, world=1, groups=groups)
    two = _blocks(37, micro=4, accum=1, world=2, groups=groups)
    assert len(alone) == 8  # ecg 5 blocks + eda 3 = 8 micro-batches = 4 steps of 2
    for block in alone:
        assert len({groups[i] for i in block}) == 1 and len(block) == 4
    for step in range(4):
        assert alone[2 * step] == two[0][step] and alone[2 * step + 1] == two[1][step]
    seen = [i for block in alone for i in block]
    assert len(set(seen)) == len(seen) and not {i for i in seen if groups[i] == "rsp"}
    kinds = [groups[block[0]] for block in alone]
    assert kinds != sorted(kinds)  # the blocks are shuffled, not served group by group
    later = _blocks(37, micro=4, accum=2, world=1, epoch=1, groups=groups)[0]
    assert later != alone
    with pytest.raises(ValueError, match="group keys"):
        StepSampler(
            range(5), micro_batch=2, accum_steps=1, num_replicas=1, rank=0, seed=0, groups=[1]
        )


def test_items_take_their_windows_signal_type_from_the_manifest(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    views = len(corpus.classes["representation"])
    windows = WindowImages(corpus.images_dir, corpus.index, ("signal_type",), views)
    types = item_signal_types(corpus, windows)
    by_window = corpus.manifest.set_index("sample_id")["signal_type"]
    assert types == [by_window[w] for w in windows.window_ids]
    images = TaskImages(corpus.images_dir, corpus.index, ("signal_type",))
    assert item_signal_types(corpus, images) == [by_window[w] for w in corpus.index["window_id"]]
    names = corpus.classes["signal_type"]
    assert [names[k] for k in images.labels[:, 0].tolist()] == item_signal_types(corpus, images)

    lost = corpus.manifest[corpus.manifest["sample_id"] != windows.window_ids[0]]
    with pytest.raises(DataError, match="not in the corpus manifest") as caught:
        item_signal_types(dataclasses.replace(corpus, manifest=lost), windows)
    assert caught.value.file.endswith("manifest.parquet")


def test_split_keeps_every_representation_of_a_window_together(corpus_dir: Path) -> None:
    index = load_corpus(corpus_dir).index
    train, val = split_windows(index, 0.25, seed=0)
    assert len(train) + len(val) == len(index)
    assert not set(train["window_id"]) & set(val["window_id"])
    per_window = index.groupby("window_id").size()
    assert (val.groupby("window_id").size() == per_window[val["window_id"].unique()]).all()
    again, _ = split_windows(index.sample(frac=1.0, random_state=1), 0.25, seed=0)
    assert set(again["window_id"]) == set(train["window_id"])


def test_task_images_reads_what_the_index_addresses(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    tasks = ("signal_type", "representation", "dataset_label")
    dataset = TaskImages(corpus.images_dir, corpus.index, tasks)
    picks = [5, 0, len(dataset) - 1, 17]
    images, labels, targets = dataset.__getitems__(picks)
    expected = load_images(corpus.images_dir, corpus.index.iloc[picks])
    assert images.dtype == torch.uint8
    np.testing.assert_array_equal(images.numpy(), expected)
    for t, task in enumerate(tasks):
        assert labels[:, t].tolist() == corpus.index[f"task_{task}"].iloc[picks].tolist()
    assert targets.shape == (4, 0)
    image, label, _ = dataset[17]
    assert torch.equal(image, images[3]) and torch.equal(label, labels[3])


def test_task_images_serve_the_scaled_window_features(corpus_dir: Path) -> None:
    corpus = load_corpus(corpus_dir)
    scaling = TargetScaling.fit(corpus.index, FEATURE_COLUMNS)
    dataset = TaskImages(
        corpus.images_dir, corpus.index, ("signal_type",), scaling.transform(corpus.index)
    )
    _, _, targets = dataset.__getitems__([3, 1])
    raw = corpus.index[list(FEATURE_COLUMNS)].iloc[[3, 1]].to_numpy()
    scaled = (raw - np.asarray(scaling.center)) / np.asarray(scaling.scale)
    np.testing.assert_allclose(targets.numpy(), scaled, rtol=1e-6)
    assert np.array_equal(np.isnan(targets.numpy()), np.isnan(raw))


def test_target_scaling_is_median_and_iqr_of_the_training_rows() -> None:
    rows = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 100.0], "flat": [5.0] * 5, "none": [np.nan] * 5})
    scaling = TargetScaling.fit(rows, ("a", "flat", "none"))
    assert scaling.center == (3.0, 5.0, 0.0)
    assert scaling.scale == (2.0, 1.0, 1.0)  # IQR of a; no spread and no value keep 1
    assert scaling.transform(rows)[4, 0] == 48.5  # an outlier does not set the scale


def test_bad_tasks_and_bad_shards_are_reported(corpus_dir: Path, tmp_path: Path) -> None:
    corpus = load_corpus(corpus_dir)
    index = corpus.index.drop(columns="task_rate_bin")
    with pytest.raises(DataError, match="task_rate_bin"):
        check_tasks(index, corpus.classes, ("signal_type", "rate_bin"), corpus_dir)
    broken = corpus.index.assign(task_signal_type=corpus.index["task_signal_type"] + 50)
    with pytest.raises(DataError, match="class number below"):
        check_tasks(broken, corpus.classes, ("signal_type",), corpus_dir)
    featureless = corpus.index.drop(columns=list(FEATURE_COLUMNS))
    with pytest.raises(DataError, match="no window features") as caught:
        check_tasks(featureless, corpus.classes, ("signal_type", "morphology"), corpus_dir)
    assert "morph_" in str(caught.value)

    copy = tmp_path / "corpus"
    shutil.copytree(corpus_dir, copy)
    shard = copy / "images" / corpus.index["shard"].iloc[0]
    shard.write_bytes(shard.read_bytes()[:200])
    dataset = TaskImages(copy / "images", corpus.index, ("signal_type",))
    with pytest.raises(DataError, match="image shard cannot be read") as caught:
        dataset.__getitems__([0])
    assert str(shard) in str(caught.value)


def test_corpus_digest_changes_with_the_labels(corpus_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "corpus"
    shutil.copytree(corpus_dir, copy)
    assert corpus_digest(copy) == corpus_digest(corpus_dir)
    manifest = pd.read_parquet(copy / "manifest.parquet")
    manifest.loc[0, "task_quality_bin"] = -1
    manifest.to_parquet(copy / "manifest.parquet")
    assert corpus_digest(copy) != corpus_digest(corpus_dir)
    (copy / "tasks.json").unlink()
    with pytest.raises(DataError, match=r"tasks\.json"):
        corpus_digest(copy)
