"""The corpus section: the pretraining corpus's sources, windows and task-label bins."""

from __future__ import annotations

import itertools
from typing import Literal, get_args

from pydantic import Field, model_validator

from biomoe.section import Section

SimulatedType = Literal["ecg", "emg", "eeg", "ppg", "rsp", "eda"]
SIMULATED_TYPES: tuple[str, ...] = get_args(SimulatedType)
"""The types ``biomoe.corpus.simulate`` knows, in the order of the ``signal_type`` class ids."""
Task = Literal["signal_type", "representation", "rate_bin", "quality_bin", "dataset_label"]
TASKS: tuple[str, ...] = get_args(Task)
"""The window tasks a corpus labels (class names per task in the corpus's ``tasks.json``)."""
CorpusFormat = Literal["ts", "arff", "txt", "wfdb", "edf", "csv", "parquet"]
CORPUS_FORMATS: tuple[str, ...] = get_args(CorpusFormat)
_NAME = r"^[a-z0-9][a-z0-9_]*$"


class SimulatedSourceParams(Section):
    """``windows_per_signal`` simulated windows of each type; each window draws its SNR (dB,
    white noise) from ``snr_db``, gets an artefact with ``artefact_probability`` and (ECG, PPG,
    respiration) a transient change of rate and amplitude with ``transient_probability``."""

    signal_types: tuple[SimulatedType, ...]
    windows_per_signal: int = Field(ge=0)
    snr_db: tuple[float, float]
    artefact_probability: float = Field(ge=0, le=1)
    transient_probability: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SimulatedSourceParams:
        if self.snr_db[0] > self.snr_db[1]:
            raise ValueError(f"simulated.snr_db: lower bound {self.snr_db[0]} > upper bound")
        return self


class PackagedSourceParams(Section):
    """Real recordings shipped inside installed packages (names in ``biomoe.corpus.packaged``).
    A dataset whose package is missing is skipped with a message, or fails when ``required``."""

    datasets: tuple[str, ...]
    max_windows_per_dataset: int = Field(ge=1)
    required: bool


class UserSourceParams(Section):
    """A user dataset read by the reader of ``format`` from ``path`` (a file or a folder).

    ``fs`` is required for formats that do not store it (ts, arff, txt, csv, parquet) and, if
    given, must match WFDB/EDF headers. ``channels`` keeps those channels (all when None).
    WFDB options: ``segments`` merge (a multi-segment record is one recording per channel, NaN
    where a segment lacks the channel) or split (one recording per segment);
    ``frequencies`` native (each signal of a multi-frequency record at its own rate) or frame
    (every signal averaged to the frame rate); ``annotation`` the extension of an annotation
    file (e.g. ``atr``) whose rhythm notes (``(AFIB``, ``(N``...) split each record into
    spans labelled with the rhythm (None: no labels from annotations).
    Table options (csv/parquet, None = unused): ``layout`` wide (one column per channel) or
    long (``channel_column`` + ``value_column``); ``recording_column`` splits rows into
    recordings; ``label_column`` gives each recording its class label.
    """

    name: str = Field(pattern=_NAME)
    path: str
    format: CorpusFormat
    signal_type: str = Field(pattern=_NAME)
    fs: float | None = Field(gt=0)
    max_windows: int = Field(ge=1)
    channels: tuple[str, ...] | None = None
    layout: Literal["wide", "long"] | None = None
    channel_column: str | None = None
    value_column: str | None = None
    recording_column: str | None = None
    label_column: str | None = None
    segments: Literal["merge", "split"] = "merge"
    frequencies: Literal["native", "frame"] = "native"
    annotation: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+$")

    @model_validator(mode="after")
    def _complete(self) -> UserSourceParams:
        if self.fs is None and self.format not in ("wfdb", "edf"):
            raise ValueError(f"user source {self.name!r}: format {self.format} needs fs")
        if self.annotation is not None and self.format != "wfdb":
            raise ValueError(f"user source {self.name!r}: annotation applies to wfdb only")
        if self.format in ("csv", "parquet") and self.layout is None:
            raise ValueError(f"user source {self.name!r}: {self.format} needs layout wide|long")
        if self.layout == "long" and not (self.channel_column and self.value_column):
            raise ValueError(
                f"user source {self.name!r}: layout long needs channel_column and value_column"
            )
        return self


class LabelEstimateParams(Section):
    """How a real recording of one signal type gets its rate and quality labels: the dominant
    rhythm is searched in ``rate_hz`` (autocorrelation); the SNR compares power inside
    ``band_hz`` with the white-noise floor above it (None: that label stays unknown)."""

    rate_hz: tuple[float, float] | None
    band_hz: tuple[float, float] | None

    @model_validator(mode="after")
    def _ordered(self) -> LabelEstimateParams:
        for name, pair in (("rate_hz", self.rate_hz), ("band_hz", self.band_hz)):
            if pair is not None and not 0 <= pair[0] < pair[1]:
                raise ValueError(f"{name} must be 0 <= low < high, got {list(pair)}")
        return self


class CorpusParams(Section):
    """The pretraining corpus: every source's recordings resampled to ``ingest.fs`` (the rate
    of the pain data) and cut into ``window_seconds`` windows; a window with more than
    ``max_nan_fraction`` missing samples is dropped. ``seed`` draws the simulations and the
    windows kept. ``rate_bin_edges_hz`` / ``quality_bin_edges_db`` bin the rate and SNR
    labels. A user source whose files cannot be read or that yields no window stops the build
    (``on_bad_source: fail``) or is left out with a warning, counted in the summary
    (``skip``)."""

    seed: int
    window_seconds: float = Field(gt=0)
    max_nan_fraction: float = Field(ge=0, lt=1)
    on_bad_source: Literal["fail", "skip"]
    rate_bin_edges_hz: tuple[float, ...] = Field(min_length=1)
    quality_bin_edges_db: tuple[float, ...] = Field(min_length=1)
    simulated: SimulatedSourceParams
    packaged: PackagedSourceParams
    user: tuple[UserSourceParams, ...]
    estimate: dict[str, LabelEstimateParams]

    def scaled(self, factor: int) -> CorpusParams:
        """This corpus with every source's window cap ``factor`` times larger (a pretraining
        recipe's ``corpus_scale``); simulations and draws keep their seeds, so a larger corpus
        holds the smaller one's simulated windows."""
        if factor == 1:
            return self
        return self.model_copy(
            update={
                "simulated": self.simulated.model_copy(
                    update={"windows_per_signal": self.simulated.windows_per_signal * factor}
                ),
                "packaged": self.packaged.model_copy(
                    update={
                        "max_windows_per_dataset": self.packaged.max_windows_per_dataset * factor
                    }
                ),
                "user": tuple(
                    s.model_copy(update={"max_windows": s.max_windows * factor}) for s in self.user
                ),
            }
        )

    @model_validator(mode="after")
    def _consistent(self) -> CorpusParams:
        for name in ("rate_bin_edges_hz", "quality_bin_edges_db"):
            edges = getattr(self, name)
            if any(b <= a for a, b in itertools.pairwise(edges)):
                raise ValueError(f"corpus.{name} must increase strictly, got {list(edges)}")
        names = [source.name for source in self.user]
        if len(set(names)) != len(names):
            raise ValueError(f"corpus.user: source names must be unique, got {names}")
        return self
