"""Every source of the corpus -> windows at one rate: simulated windows, recordings shipped in
installed packages, and user datasets read by :mod:`biomoe.data.readers`.

Real recordings are resampled to ``fs`` (``ingest.fs``) and cut into back-to-back windows
(:mod:`biomoe.data.windowing`); at most the source's cap of them is kept, drawn with
``corpus.seed``. Each kept window gets its rate and SNR estimated (:mod:`.estimate`) where
``corpus.estimate`` has bands for its signal type; a simulated window carries its truth.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from biomoe.corpus.estimate import estimate_snr_db
from biomoe.corpus.packaged import locate, packaged_dataset
from biomoe.corpus.params import CorpusParams, UserSourceParams
from biomoe.data.readers import ReadSpec, Recording, read_recordings
from biomoe.data.windowing import candidates, choose, resample
from biomoe.errors import DataError
from biomoe.physio.rhythm import estimate_rate_hz

SIMULATED = "simulated"
"""The source and dataset name of simulated windows (no user source may take it)."""

log = logging.getLogger(__name__)


def collect_windows(
    corpus: CorpusParams, fs: int, root: Path
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every window of every source, sorted by ``sample_id``, and ``{dataset: why}`` for the
    packaged datasets that are unavailable. Relative user paths resolve against ``root``.

    Columns: ``sample_id``, ``source``, ``dataset``, ``signal_type``, ``channel``, ``fs``,
    ``n_samples``, ``source_file`` (POSIX, relative to ``root`` or the package's parent folder
    where it lies below), ``start`` (first sample, at the recording's own rate), ``rate_hz``,
    ``snr_db``, ``labels_estimated``, ``label`` (the recording's label or None) and ``signal``
    (float32). User sources are read first, so a bad file fails before any slow work; raises
    ``DataError`` for a bad source (see ``biomoe.corpus.build.build_corpus``).
    """
    reserved = {SIMULATED, *corpus.packaged.datasets}
    frames = []
    for source in corpus.user:
        if source.name in reserved:
            raise DataError(
                f"user source name {source.name!r} is already a dataset of this corpus",
                segment="corpus.user",
                hint="give the source another name",
            )
        frames.append(_user(source, corpus, fs, root))
    unavailable: dict[str, str] = {}
    for name in corpus.packaged.datasets:
        frame = _packaged(name, corpus, fs)
        if isinstance(frame, str):
            unavailable[name] = frame
        else:
            frames.append(frame)
    frames.append(_simulated(corpus, fs))
    frames = [f for f in frames if not f.empty]
    windows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not windows.empty:
        windows = windows.sort_values("sample_id", kind="stable").reset_index(drop=True)
    return windows, unavailable


def _packaged(name: str, corpus: CorpusParams, fs: int) -> pd.DataFrame | str:
    """The dataset's windows, or why it is unavailable (``DataError`` if it is required)."""
    dataset = packaged_dataset(name)
    found = locate(dataset)
    if isinstance(found, str):
        if corpus.packaged.required:
            raise DataError(
                f"packaged dataset {name!r} is unavailable: {found}",
                segment="corpus.packaged",
                hint="install the package or set packaged.required: false",
            )
        log.warning("corpus: packaged dataset %s skipped: %s", name, found)
        return found
    package_root = found[0].parents[len(Path(dataset.files[0]).parts) - 1]
    recordings = [_relative(rec, package_root.parent) for rec in dataset.read(found)]
    return _windows(
        recordings,
        corpus,
        fs,
        source=f"package:{dataset.package}",
        dataset=name,
        signal_type=dataset.signal_type,
        cap=corpus.packaged.max_windows_per_dataset,
    )


def _simulated(corpus: CorpusParams, fs: int) -> pd.DataFrame:
    from biomoe.corpus.simulate import simulate_windows  # neurokit2: only when building

    sim = simulate_windows(corpus.simulated, fs, corpus.window_seconds, corpus.seed)
    return pd.DataFrame(
        {
            "sample_id": SIMULATED + "/" + sim["sample_id"],
            "source": SIMULATED,
            "dataset": SIMULATED,
            "signal_type": sim["signal_type"],
            "channel": sim["signal_type"],
            "fs": sim["fs"],
            "n_samples": [s.size for s in sim["signal"]],
            "source_file": "",
            "start": sim["start"],
            "rate_hz": sim["rate_hz"],
            "snr_db": sim["snr_db"],
            "labels_estimated": False,
            "label": None,
            "signal": sim["signal"],
        }
    )


def _user(source: UserSourceParams, corpus: CorpusParams, fs: int, root: Path) -> pd.DataFrame:
    path = Path(source.path)
    spec = ReadSpec(
        format=source.format,
        fs=source.fs,
        channels=source.channels,
        layout=source.layout,
        channel_column=source.channel_column,
        value_column=source.value_column,
        recording_column=source.recording_column,
        label_column=source.label_column,
    )
    recordings = read_recordings(path if path.is_absolute() else root / path, spec)
    frame = _windows(
        [_relative(rec, root) for rec in recordings],
        corpus,
        fs,
        source=f"user:{source.name}",
        dataset=source.name,
        signal_type=source.signal_type,
        cap=source.max_windows,
    )
    if frame.empty:
        raise DataError(
            f"user source {source.name!r} yields no window of {corpus.window_seconds:g} s",
            file=source.path,
            hint="its recordings are shorter than corpus.window_seconds or have "
            "more than max_nan_fraction missing samples",
        )
    return frame


def _relative(rec: Recording, base: Path) -> Recording:
    """``rec`` with ``source_file`` as a POSIX path relative to ``base`` where it lies below."""
    path = Path(rec.source_file)
    try:
        shown = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        shown = path.as_posix()
    return Recording(rec.signal, rec.fs, rec.channel, shown, rec.record, rec.label)


def _windows(
    recordings: list[Recording],
    corpus: CorpusParams,
    fs: int,
    *,
    source: str,
    dataset: str,
    signal_type: str,
    cap: int,
) -> pd.DataFrame:
    """Up to ``cap`` windows of the recordings at ``fs``, each labelled from estimates."""
    n = round(corpus.window_seconds * fs)
    found = [
        c
        for k, rec in enumerate(recordings)
        for c in candidates(rec.signal, rec.fs, fs, n, corpus.max_nan_fraction, k)
    ]
    estimate = corpus.estimate.get(signal_type)
    rows = []
    resampled: tuple[int, np.ndarray] | None = None
    for c in choose(found, cap, corpus.seed, dataset):
        rec = recordings[c.recording]
        if resampled is None or resampled[0] != c.recording:
            resampled = (c.recording, resample(rec.signal, rec.fs, fs))
        window = resampled[1][c.start : c.start + n]
        rate = snr = math.nan
        if estimate is not None and estimate.rate_hz is not None:
            rate = estimate_rate_hz(window, fs, estimate.rate_hz)
        if estimate is not None and estimate.band_hz is not None:
            snr = estimate_snr_db(window, fs, estimate.band_hz, min(rec.fs, fs) / 2)
        rows.append(
            {
                "sample_id": f"{dataset}/{c.recording:05d}/{c.start:08d}",
                "source": source,
                "dataset": dataset,
                "signal_type": signal_type,
                "channel": rec.channel,
                "fs": fs,
                "n_samples": n,
                "source_file": rec.source_file,
                "start": round(c.start * rec.fs / fs),
                "rate_hz": rate,
                "snr_db": snr,
                "labels_estimated": True,
                "label": rec.label,
                "signal": window.astype(np.float32),
            }
        )
    return pd.DataFrame(rows)
