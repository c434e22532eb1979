"""Gallery PNGs: a few rendered images per representation, one per modality and label, so a
person can see at a glance what the model is shown. matplotlib is used only here."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from biomoe.data.params import MODALITIES, PAIN_LABELS
from biomoe.io import atomic_path

CAPTIONS = {
    "waveform": "red: trace   green: slope   blue: per-column range",
    "spectrogram": "rows: frequency (0 Hz at bottom)   columns: time",
    "phase": "STFT angle (cyclic colours; grey: too little power)   rows: frequency",
    "recurrence": "distance between the states at times row and column (dark: close)",
    "gasf": "cos(phi_i + phi_j) of the min-max scaled trace   rows, columns: time",
    "gadf": "sin(phi_i - phi_j) of the min-max scaled trace   rows, columns: time",
    "mtf": "probability of moving between the bins held at times row and column",
    "scalogram": "Morlet wavelet magnitude   rows: frequency (log, low at bottom)",
}
_COLUMNS = 4


def _rank(values: pd.Series, order: tuple[str, ...]) -> pd.Series:
    known = {name: i for i, name in enumerate(order)}
    return values.map(lambda v: known.get(v, len(order)))


def _tag(windows: pd.DataFrame, column: str) -> pd.Series:
    if column not in windows.columns:
        return pd.Series("?", index=windows.index)
    return windows[column].astype(object).where(windows[column].notna(), "unlabelled").astype(str)


def select_gallery(windows: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` windows: first one per (modality, label) in the challenge's order, then
    second ones, and so on; ties broken by ``window_id``. Deterministic in the table's content."""
    keyed = windows.assign(
        _modality=_tag(windows, "modality"),
        _label=_tag(windows, "label"),
        _id=windows["window_id"].astype(str),
    )
    keyed = keyed.assign(
        _m=_rank(keyed["_modality"], MODALITIES), _l=_rank(keyed["_label"], PAIN_LABELS)
    )
    keyed = keyed.sort_values(["_m", "_modality", "_l", "_label", "_id"], kind="stable")
    keyed = keyed.assign(_nth=keyed.groupby(["_modality", "_label"], sort=False).cumcount())
    keyed = keyed.sort_values(["_nth", "_m", "_modality", "_l", "_label", "_id"], kind="stable")
    return keyed.head(n).drop(columns=["_modality", "_label", "_id", "_m", "_l", "_nth"])


def save_gallery(
    windows: pd.DataFrame, images_by_rep: dict[str, np.ndarray], out_dir: Path, n: int
) -> list[Path]:
    """Write ``<out_dir>/<representation>.png``: a titled grid of up to ``n`` of the images.

    ``images_by_rep[rep]`` is uint8 ``[len(windows), 3, S, S]``, row ``i`` rendering window ``i``.
    """
    chosen = select_gallery(windows.reset_index(drop=True), n)
    positions = chosen.index.to_numpy()
    modality, label = _tag(chosen, "modality"), _tag(chosen, "label")
    rows = max(1, math.ceil(len(chosen) / _COLUMNS))
    columns = min(_COLUMNS, max(1, len(chosen)))
    written = []
    for representation, images in images_by_rep.items():
        if images.shape[0] != len(windows):
            raise ValueError(
                f"{representation}: {images.shape[0]} images for {len(windows)} windows"
            )
        figure = Figure(figsize=(2.4 * columns, 2.6 * rows + 0.6), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax in axes:
            ax.set_axis_off()
        for ax, position, mod, lab, window_id in zip(
            axes, positions, modality, label, chosen["window_id"], strict=False
        ):
            ax.imshow(images[position].transpose(1, 2, 0), interpolation="nearest")
            ax.set_title(f"{mod} · {lab}\n{window_id}", fontsize=8)
        size = images.shape[-1]
        caption = CAPTIONS.get(representation, "")
        figure.suptitle(f"{representation} ({size}×{size})\n{caption}", fontsize=10)
        target = Path(out_dir) / f"{representation}.png"
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
        written.append(target)
    return written
