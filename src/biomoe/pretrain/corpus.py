"""The pretraining corpus as images with one label per task."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from biomoe.config import Params
from biomoe.data.corpus import simulate_corpus
from biomoe.imaging import render_all


@dataclass(frozen=True)
class CorpusImages:
    """``images`` uint8 [N,3,S,S]; ``labels[task]`` int64 [N]; ``classes[task]`` the label names."""

    images: np.ndarray
    labels: dict[str, np.ndarray]
    classes: dict[str, tuple[str, ...]]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256(self.images.tobytes())
        for task in sorted(self.labels):
            digest.update(task.encode())
            digest.update(self.labels[task].tobytes())
        return digest.hexdigest()


def build_corpus_images(params: Params) -> CorpusImages:
    """Simulate every signal type and render it in every representation of the image stage."""
    corpus = simulate_corpus(params.pretrain.corpus, seed=params.pretrain.seed)
    signals = [np.asarray(s, dtype=np.float32) for s in corpus["signal"]]
    fs = [int(f) for f in corpus["fs"]]
    rendered = render_all(signals, fs, params.images)
    signal_classes = tuple(params.pretrain.corpus.signal_types)
    rep_classes = tuple(params.images.representations)
    signal_index = {name: i for i, name in enumerate(signal_classes)}
    signal_labels = np.array([signal_index[t] for t in corpus["signal_type"]], dtype=np.int64)

    images, labels = [], {"signal_type": [], "representation": []}
    for rep_id, rep in enumerate(rep_classes):
        images.append(rendered[rep])
        labels["signal_type"].append(signal_labels)
        labels["representation"].append(np.full(len(signal_labels), rep_id, dtype=np.int64))
    all_labels = {task: np.concatenate(parts) for task, parts in labels.items()}
    tasks = params.pretrain.tasks
    return CorpusImages(
        images=np.concatenate(images),
        labels={t: all_labels[t] for t in tasks},
        classes={
            t: {"signal_type": signal_classes, "representation": rep_classes}[t] for t in tasks
        },
    )
