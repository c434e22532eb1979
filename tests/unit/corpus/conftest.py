"""Fixtures for the corpus tests: tiny corpus params and small real files in each format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biomoe.config import Params


def with_corpus(params: Params, **changes: object) -> Params:
    """``params`` with ``corpus`` keys replaced (nested dicts merge one level)."""
    data = params.model_dump(by_alias=True)
    corpus = data["corpus"]
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(corpus.get(key), dict):
            corpus[key].update(value)
        else:
            corpus[key] = value
    return Params.model_validate(data)


@pytest.fixture(scope="session")
def corpus_params(tiny_params: Params) -> Params:
    """Two simulated windows per type, two windows per packaged dataset, 32-pixel images."""
    return with_corpus(
        tiny_params,
        simulated={"windows_per_signal": 2},
        packaged={"max_windows_per_dataset": 2},
    )


def write_ts(path: Path, cases: list[tuple[list[np.ndarray], str]], labels: list[str]) -> Path:
    """A UEA ``.ts`` file written by hand per the format's description."""
    dims = len(cases[0][0])
    lines = [
        "# written by the biomoe tests",
        "@problemName Fixture",
        "@timeStamps false",
        "@missing true",
        f"@univariate {'true' if dims == 1 else 'false'}",
        f"@dimensions {dims}",
        "@equalLength false",
        f"@classLabel true {' '.join(labels)}",
        "@data",
    ]
    for series, label in cases:
        dimensions = [",".join("?" if np.isnan(v) else repr(float(v)) for v in s) for s in series]
        lines.append(":".join(dimensions) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def sine(fs: float, seconds: float, hz: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(fs * seconds)) / fs
    return np.sin(2 * np.pi * hz * t + phase)
