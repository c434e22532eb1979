"""The README's overview picture: one sample's windows (a row per modality) in every
representation (a column each), rendered with the pipeline's own parameters.

    biomoe representations data/interim/windows.parquet docs/representations.png

matplotlib is used only to lay the images out and label them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from biomoe.data.params import MODALITIES, PAIN_LABELS
from biomoe.errors import DataError
from biomoe.imaging.params import ImageParams
from biomoe.imaging.render import REPRESENTATIONS, render_batch
from biomoe.io import atomic_path


def pick_sample(windows: pd.DataFrame) -> pd.DataFrame:
    """The windows of one sample, a row per modality in the challenge's order: the first
    sample (by id) with the most modalities, preferring the strongest pain label."""
    rank = {m: i for i, m in enumerate(MODALITIES)}
    strength = {label: i for i, label in enumerate(PAIN_LABELS)}
    scored = windows.assign(
        _n=windows.groupby("sample_id")["modality"].transform("nunique"),
        _label=windows["label"].map(lambda v: -strength.get(v, -1)),
    )
    sample = scored.sort_values(["_n", "_label", "sample_id"], ascending=[False, True, True])
    chosen = windows[windows["sample_id"] == sample["sample_id"].iloc[0]]
    order = chosen["modality"].map(lambda m: rank.get(m, len(rank)))
    return chosen.assign(_order=order).sort_values(["_order", "modality"]).drop(columns="_order")


def save_representation_grid(
    windows: pd.DataFrame,
    params: ImageParams,
    out_path: Path,
    representations: Sequence[str] | None = None,
) -> Path:
    """Write a PNG grid: rows = the modalities of one sample (``pick_sample``), columns =
    ``representations`` (default: every registered one), each cell the image the pipeline
    would render."""
    if windows.empty:
        raise DataError("no windows to draw", hint="the representation grid needs one sample")
    names = list(representations or REPRESENTATIONS)
    sample = pick_sample(windows)
    rates = sample["fs"].to_numpy()
    ids, files = sample["window_id"].tolist(), sample.get("source_file")
    images = {
        name: render_batch(
            list(sample["signal"]),
            rates,
            name,
            params,
            window_ids=ids,
            source_files=None if files is None else files.tolist(),
        )
        for name in names
    }
    rows, columns = len(sample), len(names)
    figure = Figure(figsize=(1.9 * columns, 1.9 * rows + 0.9), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    for r, modality in enumerate(sample["modality"]):
        for c, name in enumerate(names):
            ax = axes[r, c]
            ax.imshow(images[name][r].transpose(1, 2, 0), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=10)
            if c == 0:
                ax.set_ylabel(modality, fontsize=10)
    label = sample["label"].iloc[0] if "label" in sample else None
    size = params.size
    figure.suptitle(
        f"{sample['sample_id'].iloc[0]} (label {label}): every representation, "
        f"{size}×{size}, rendered by biomoe.imaging",
        fontsize=10,
    )
    figure.get_layout_engine().set(h_pad=0.02, w_pad=0.02)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        figure.savefig(tmp, format="png", dpi=80, metadata={"Software": None})
    return out_path
