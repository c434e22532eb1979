"""The corpus's tasks and their classes: which tasks a window or an image is labelled for, the
class names per task, and each window's class id per task (:data:`UNLABELLED` when unknown).

Tasks are :data:`biomoe.corpus.params.TASKS`; all but ``representation`` are labelled per
window (:data:`WINDOW_TASKS`, in that order: the manifest's ``task_<name>`` columns).
Class ids are positions in the class names:

- ``signal_type``: :data:`~biomoe.corpus.params.SIMULATED_TYPES` present in the corpus, in
  that order, then any other type (packaged or user) in sorted order;
- ``rate_bin`` / ``quality_bin``: bins of the rate (Hz) and SNR (dB) split at
  ``corpus.rate_bin_edges_hz`` / ``corpus.quality_bin_edges_db`` (left-closed);
- ``dataset_label``: ``<dataset>:<label>`` of every labelled recording, sorted;
- ``representation``: ``images.representations`` in that order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from biomoe.corpus.params import SIMULATED_TYPES, TASKS, CorpusParams

UNLABELLED = -1
WINDOW_TASKS: tuple[str, ...] = tuple(t for t in TASKS if t != "representation")
"""Tasks labelled per window; ``representation`` is labelled per image."""


def bin_index(value: float, edges: Sequence[float]) -> int:
    """Class of ``value`` for bins split at ``edges`` (left-closed); NaN -> ``UNLABELLED``."""
    if value is None or not math.isfinite(value):
        return UNLABELLED
    return int(np.searchsorted(np.asarray(edges), value, side="right"))


def bin_names(edges: Sequence[float], unit: str) -> tuple[str, ...]:
    """``<e0 unit``, ``e0-e1 unit``, ..., ``>=en unit``: one name per class of :func:`bin_index`."""
    labels = [f"<{edges[0]:g}{unit}"]
    labels += [f"{a:g}-{b:g}{unit}" for a, b in itertools.pairwise(edges)]
    return (*labels, f">={edges[-1]:g}{unit}")


def task_classes(
    windows: pd.DataFrame, corpus: CorpusParams, representations: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """Class names per task of :data:`TASKS`, in that order, for ``windows`` (columns
    ``signal_type``, ``dataset`` and ``label``: the recording's label or None)."""
    present = set(windows["signal_type"])
    known = [t for t in SIMULATED_TYPES if t in present]
    classes = {
        "signal_type": (*known, *sorted(present - set(known))),
        "representation": tuple(representations),
        "rate_bin": bin_names(corpus.rate_bin_edges_hz, "Hz"),
        "quality_bin": bin_names(corpus.quality_bin_edges_db, "dB"),
        "dataset_label": tuple(sorted(set(_dataset_labels(windows)) - {None})),
    }
    return {task: classes[task] for task in TASKS}


def window_labels(
    windows: pd.DataFrame, classes: dict[str, tuple[str, ...]], corpus: CorpusParams
) -> pd.DataFrame:
    """int64 ``task_<name>`` per task of :data:`WINDOW_TASKS`, one row per window (columns
    ``signal_type``, ``rate_hz``, ``snr_db``, ``dataset``, ``label``), on its index."""
    ids = {task: {name: i for i, name in enumerate(classes[task])} for task in WINDOW_TASKS}
    columns = {
        "signal_type": [ids["signal_type"][t] for t in windows["signal_type"]],
        "rate_bin": [bin_index(v, corpus.rate_bin_edges_hz) for v in windows["rate_hz"]],
        "quality_bin": [bin_index(v, corpus.quality_bin_edges_db) for v in windows["snr_db"]],
        "dataset_label": [
            UNLABELLED if name is None else ids["dataset_label"][name]
            for name in _dataset_labels(windows)
        ],
    }
    return pd.DataFrame(
        {f"task_{task}": np.asarray(columns[task], dtype=np.int64) for task in WINDOW_TASKS},
        index=windows.index,
    )


def _dataset_labels(windows: pd.DataFrame) -> list[str | None]:
    """``<dataset>:<label>`` per window, None where its recording has no label (None/NaN)."""
    return [
        None if pd.isna(label) else f"{dataset}:{label}"
        for dataset, label in zip(windows["dataset"], windows["label"], strict=True)
    ]
