"""The contrastive task's augmented views: each augmentation does what it says, a view depends
only on the seed, epoch, window and view, and the dataset puts a window's stored and augmented
images side by side with the labels only the stored ones have."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.signal import welch

from biomoe.config import Params
from biomoe.corpus.build import load_corpus
from biomoe.errors import DataError
from biomoe.imaging.render import render_batch
from biomoe.imaging.sources import ParquetWindows
from biomoe.pretrain.augment import augment, view_rng
from biomoe.pretrain.data import AugmentedWindowImages, WindowImages
from biomoe.pretrain.heads import NO_LABEL
from biomoe.pretrain.params import AugmentParams

FS = 100
OFF = AugmentParams(
    views=1,
    probability=1.0,
    shift_fraction=0.0,
    gain_std=0.0,
    lowpass_hz=None,
    noise_snr_db=None,
    mask_fraction=0.0,
)


def signal(seed: int = 0) -> np.ndarray:
    t = np.arange(10 * FS) / FS
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(2 * np.pi * 30 * t) + 0.05 * noise).astype(
        np.float32
    )


def only(**changes: object) -> AugmentParams:
    return OFF.model_copy(update=changes)


def test_every_augmentation_off_is_the_window_itself() -> None:
    x = signal()
    np.testing.assert_array_equal(augment(x, FS, np.random.default_rng(0), OFF), x)
    never = only(shift_fraction=0.5, gain_std=0.5, mask_fraction=0.3, probability=0.0)
    np.testing.assert_array_equal(augment(x, FS, np.random.default_rng(0), never), x)


def _trend(x: np.ndarray) -> np.ndarray:
    t = np.arange(x.size)
    return np.polyval(np.polyfit(t, x.astype(np.float64), 1), t)


def test_shift_rolls_the_samples_about_their_trend() -> None:
    x = signal()
    x = (x + np.linspace(0.0, 3.0, x.size)).astype(np.float32)  # a rising level, as EDA's
    y = augment(x, FS, np.random.default_rng(1), only(shift_fraction=0.5))
    trend = _trend(x)
    rolled = [
        k for k in range(-500, 501) if np.allclose(np.roll(x - trend, k) + trend, y, atol=1e-4)
    ]
    assert len(rolled) == 1 and rolled[0] != 0
    np.testing.assert_allclose(_trend(y), trend, atol=0.05)  # still rising, no saw-tooth
    assert np.abs(np.diff(y)).max() < 2 * np.abs(np.diff(x)).max()


def test_gain_is_a_smooth_positive_envelope_about_the_mean() -> None:
    x = signal()
    y = augment(x, FS, np.random.default_rng(2), only(gain_std=0.5))
    level = float(np.mean(x))
    ratio = (y - level) / (x - level)
    assert (ratio > 0).all() and np.ptp(np.log(ratio)) > 0.1
    assert np.abs(np.diff(np.log(ratio))).max() < 0.01  # no jumps: four knots, linearly joined


def test_gain_leaves_a_level_a_level() -> None:
    t = np.arange(10 * FS) / FS
    conductance = (5.0 + 0.05 * np.sin(2 * np.pi * 0.2 * t)).astype(np.float32)
    y = augment(conductance, FS, np.random.default_rng(2), only(gain_std=0.5))
    assert np.ptp(y) < 4 * np.ptp(conductance)  # scales the 0.05 uS swings, not 5 uS
    assert float(np.mean(y)) == pytest.approx(5.0, abs=0.05)


def test_lowpass_removes_what_lies_above_the_cutoff() -> None:
    x = signal()
    y = augment(x, FS, np.random.default_rng(3), only(lowpass_hz=(5.0, 10.0)))
    freqs, before = welch(x, FS, nperseg=256)
    _, after = welch(y, FS, nperseg=256)
    high, low = freqs > 25, (freqs > 0.8) & (freqs < 1.6)
    assert after[high].sum() < 0.01 * before[high].sum()
    assert after[low].sum() == pytest.approx(before[low].sum(), rel=0.1)


def test_noise_lands_at_the_drawn_snr() -> None:
    x = signal()
    y = augment(x, FS, np.random.default_rng(4), only(noise_snr_db=(10.0, 10.0)))
    snr = 10 * np.log10(np.var(x) / np.var(y - x))
    assert snr == pytest.approx(10.0, abs=0.5)


def test_mask_replaces_a_span_by_a_straight_line() -> None:
    x = signal()
    y = augment(x, FS, np.random.default_rng(5), only(mask_fraction=0.3))
    changed = np.flatnonzero(y != x)
    assert 2 <= changed.size <= 300
    span = y[changed[0] - 1 : changed[-1] + 2]
    np.testing.assert_allclose(np.diff(span, 2), 0.0, atol=1e-5)


def test_missing_samples_are_filled_as_the_images_fill_them() -> None:
    x = signal()
    x[100:110] = np.nan
    y = augment(x, FS, np.random.default_rng(6), only(gain_std=0.3, noise_snr_db=(20.0, 30.0)))
    assert np.isfinite(y).all() and y.size == x.size


def test_a_view_depends_on_seed_epoch_window_and_view_alone() -> None:
    def draw(*key: object) -> float:
        return float(view_rng(*key).random())  # type: ignore[arg-type]

    assert draw(0, 1, "simulated/ecg-0001", 0) == draw(0, 1, "simulated/ecg-0001", 0)
    others = [
        (1, 1, "simulated/ecg-0001", 0),
        (0, 2, "simulated/ecg-0001", 0),
        (0, 1, "simulated/ecg-0002", 0),
        (0, 1, "simulated/ecg-0001", 1),
    ]
    assert len({draw(0, 1, "simulated/ecg-0001", 0), *(draw(*k) for k in others)}) == 5


def _dataset(corpus_dir: Path, params: Params, views: int = 2) -> AugmentedWindowImages:
    corpus = load_corpus(corpus_dir)
    assert corpus.rendering is not None
    augment_params = params.pretrain.contrastive.augment.model_copy(update={"views": views})
    tasks = ("signal_type", "representation")
    return AugmentedWindowImages(
        corpus.images_dir,
        corpus.index.sample(frac=1.0, random_state=0),
        tasks,
        corpus.classes["representation"],
        corpus.windows_file,
        corpus.rendering,
        augment_params,
        seed=7,
        targets=np.ones((len(corpus.index), 3), dtype=np.float32),
    )


def test_a_window_item_holds_its_images_then_its_views_rendered_from_its_samples(
    corpus_dir: Path, tiny_params: Params
) -> None:
    dataset = _dataset(corpus_dir, tiny_params)
    corpus = load_corpus(corpus_dir)
    reps = corpus.classes["representation"]
    r, v = len(reps), 2
    assert dataset.views == r * (1 + v) and len(dataset) == len(corpus.manifest)
    images, labels, targets = dataset.__getitems__([3, 1])
    assert images.shape[0] == labels.shape[0] == targets.shape[0] == 2 * r * (1 + v)

    plain = WindowImages(corpus.images_dir, corpus.index, ("signal_type", "representation"), r)
    stored, stored_labels, _ = plain.__getitems__([3])
    np.testing.assert_array_equal(images[:r].numpy(), stored.numpy())
    assert torch.equal(labels[:r], stored_labels)

    window_id = str(dataset.window_ids[3])
    position = int(dataset.positions[3])
    row = ParquetWindows(corpus.windows_file).take([position]).iloc[0]
    assert row["window_id"] == window_id
    for view in range(v):
        x = augment(row["signal"], int(row["fs"]), view_rng(7, 0, window_id, view), dataset.augment)
        for k, representation in enumerate(reps):
            expected = render_batch([x], int(row["fs"]), representation, corpus.rendering)[0]
            np.testing.assert_array_equal(images[r + view * r + k].numpy(), expected)

    augmented = labels[r : r * (1 + v)]
    assert (augmented[:, 0] == NO_LABEL).all()
    assert augmented[:, 1].tolist() == list(range(r)) * v
    assert torch.isnan(targets[r : r * (1 + v)]).all() and (targets[:r] == 1).all()


def test_views_change_with_the_epoch_and_never_with_the_batch(
    corpus_dir: Path, tiny_params: Params
) -> None:
    dataset = _dataset(corpus_dir, tiny_params, views=1)
    r = dataset.stored
    alone = dataset.__getitems__([1])[0]
    with_others = dataset.__getitems__([4, 1, 0])[0]
    np.testing.assert_array_equal(alone.numpy(), with_others[2 * r : 4 * r].numpy())
    dataset.set_epoch(1)
    later = dataset.__getitems__([1])[0]
    np.testing.assert_array_equal(later[:r].numpy(), alone[:r].numpy())
    assert not np.array_equal(later[r:].numpy(), alone[r:].numpy())


def test_a_corpus_without_its_windows_file_is_refused(
    corpus_dir: Path, tiny_params: Params, tmp_path: Path
) -> None:
    broken = tmp_path / "corpus"
    shutil.copytree(corpus_dir, broken)
    (broken / "windows.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="windows file cannot be read") as caught:
        _dataset(broken, tiny_params)
    assert caught.value.file.endswith("windows.parquet")
