"""PNG figures people look at rather than read: training curves and confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from biomoe.io import atomic_path

_PNG_META = {"Software": None}


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Write ``fig`` as a PNG atomically, without a software tag (byte-reproducible)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata=_PNG_META)
    plt.close(fig)


def save_curves(curves: Mapping[str, Sequence[float]], path: Path, title: str) -> None:
    """One line per named curve against epoch."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def save_confusion_matrix(
    matrix: np.ndarray, labels: Sequence[str], path: Path, title: str
) -> None:
    """Counts with row-normalised shading: rows are true classes, columns predictions."""
    rows = matrix.sum(axis=1, keepdims=True)
    shade = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            colour = "white" if shade[i, j] > 0.6 else "black"
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=colour)
    ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)
