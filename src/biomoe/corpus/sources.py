"""Every source of the corpus -> a stream of windows at one rate: simulated windows,
recordings shipped in installed packages, and user datasets read by :mod:`biomoe.data.readers`.

Real recordings are resampled to ``fs`` (``ingest.fs``) and cut into back-to-back windows
(:mod:`biomoe.data.windowing`); at most the source's cap of them is kept, drawn with
``corpus.seed``. Each kept window gets its rate and SNR estimated (:mod:`.estimate`) where
``corpus.estimate`` has bands for its signal type; a simulated window carries its truth.

The stream yields chunks of at most :data:`CHUNK_WINDOWS` windows, one source after another
(user sources first, so a bad file fails before any slow work), each source's windows in
``sample_id`` order: memory holds one source's recordings and one chunk, never the corpus.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
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
CHUNK_WINDOWS = 256
"""Most windows per chunk of the stream (the corpus's windows file has a row group per chunk)."""
WINDOW_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "source",
    "dataset",
    "signal_type",
    "channel",
    "fs",
    "n_samples",
    "source_file",
    "start",
    "rate_hz",
    "snr_db",
    "labels_estimated",
    "label",
    "signal",
)
"""The columns of every chunk (see :func:`stream_windows`)."""

log = logging.getLogger(__name__)


@dataclass
class SourceReport:
    """What the stream left out, filled while it runs: ``unavailable`` packaged datasets and
    ``skipped`` user sources (``corpus.on_bad_source: skip``), each ``{name: why}``; and the
    windows each source gave."""

    unavailable: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)


def stream_windows(
    corpus: CorpusParams, fs: int, root: Path, report: SourceReport
) -> Iterator[pd.DataFrame]:
    """Chunks of the windows of every source (columns :data:`WINDOW_COLUMNS`). Relative user
    paths resolve against ``root``.

    ``sample_id`` is ``<dataset>/...``, ``source_file`` a POSIX path relative to ``root`` or the
    package's parent folder where it lies below, ``start`` the window's first sample at the
    recording's own rate, ``label`` the recording's label or None, ``signal`` float32. Raises
    ``DataError`` for a bad source (see ``biomoe.corpus.build.build_corpus``); with
    ``corpus.on_bad_source: skip`` a user source whose files cannot be read or that yields no
    window is left out with a warning and counted in ``report.skipped``.
    """
    reserved = {SIMULATED, *corpus.packaged.datasets}
    for source in corpus.user:
        if source.name in reserved:
            raise DataError(
                f"user source name {source.name!r} is already a dataset of this corpus",
                segment="corpus.user",
                hint="give the source another name",
            )
    for source in corpus.user:
        try:
            yield from _counted(report, source.name, _user(source, corpus, fs, root))
        except DataError as exc:
            if corpus.on_bad_source == "fail" or report.windows.get(source.name):
                raise
            log.warning("corpus: user source %s skipped: %s", source.name, exc)
            report.skipped[source.name] = str(exc)
    for name in corpus.packaged.datasets:
        yield from _counted(report, name, _packaged(name, corpus, fs, report))
    yield from _counted(report, SIMULATED, _simulated(corpus, fs))


def _counted(
    report: SourceReport, name: str, chunks: Iterator[pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    for chunk in chunks:
        report.windows[name] = report.windows.get(name, 0) + len(chunk)
        yield chunk


def _packaged(
    name: str, corpus: CorpusParams, fs: int, report: SourceReport
) -> Iterator[pd.DataFrame]:
    """The dataset's windows; an unavailable one is noted in ``report`` (``DataError`` if it
    is required)."""
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
        report.unavailable[name] = found
        return
    package_root = found[0].parents[len(Path(dataset.files[0]).parts) - 1]
    recordings = [_relative(rec, package_root.parent) for rec in dataset.read(found)]
    yield from _windows(
        recordings,
        corpus,
        fs,
        source=f"package:{dataset.package}",
        dataset=name,
        signal_type=dataset.signal_type,
        cap=corpus.packaged.max_windows_per_dataset,
    )


def _simulated(corpus: CorpusParams, fs: int) -> Iterator[pd.DataFrame]:
    from biomoe.corpus.simulate import simulate_chunks  # neurokit2: only when building

    for sim in simulate_chunks(
        corpus.simulated, fs, corpus.window_seconds, corpus.seed, CHUNK_WINDOWS
    ):
        yield pd.DataFrame(
            {
                "sample_id": SIMULATED + "/" + sim["sample_id"],
                "source": SIMULATED,
                "dataset": SIMULATED,
                "signal_type": sim["signal_type"],
                "channel": sim["signal_type"],
                "fs": sim["fs"],
                "n_samples": np.asarray([s.size for s in sim["signal"]], dtype=np.int64),
                "source_file": "",
                "start": sim["start"],
                "rate_hz": sim["rate_hz"],
                "snr_db": sim["snr_db"],
                "labels_estimated": False,
                "label": None,
                "signal": sim["signal"],
            }
        )


def _user(
    source: UserSourceParams, corpus: CorpusParams, fs: int, root: Path
) -> Iterator[pd.DataFrame]:
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
        segments=source.segments,
        frequencies=source.frequencies,
        annotation=source.annotation,
    )
    recordings = read_recordings(path if path.is_absolute() else root / path, spec)
    given = 0
    for chunk in _windows(
        [_relative(rec, root) for rec in recordings],
        corpus,
        fs,
        source=f"user:{source.name}",
        dataset=source.name,
        signal_type=source.signal_type,
        cap=source.max_windows,
    ):
        given += len(chunk)
        yield chunk
    if not given:
        raise DataError(
            f"user source {source.name!r} yields no window of {corpus.window_seconds:g} s",
            file=source.path,
            hint="its recordings are shorter than corpus.window_seconds or have "
            "more than max_nan_fraction missing samples",
        )


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
) -> Iterator[pd.DataFrame]:
    """Up to ``cap`` windows of the recordings at ``fs``, each labelled from estimates, in
    chunks of :data:`CHUNK_WINDOWS`; one recording is held resampled at a time."""
    n = round(corpus.window_seconds * fs)
    found = [
        c
        for k, rec in enumerate(recordings)
        for c in candidates(rec.signal, rec.fs, fs, n, corpus.max_nan_fraction, k)
    ]
    estimate = corpus.estimate.get(signal_type)
    rows: list[dict[str, object]] = []
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
        if len(rows) == CHUNK_WINDOWS:
            yield pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))
            rows = []
    if rows:
        yield pd.DataFrame(rows, columns=list(WINDOW_COLUMNS))
