"""Numerical back-ends pinned so the pipeline computes the same bits on any x86-64 CPU with AVX2
or AVX-512 (``numerics.mode: reproducible``), or left to pick the fastest code (``native``).

The libraries under the pipeline choose kernels from the CPU at load time, and the kernels sum
in different orders: two AdamW steps of the backbone give other weights with oneDNN's AVX-512
convolutions than with its AVX2 ones, and with 1 intra-op thread than with 2; numpy's OpenBLAS
picks a kernel from ``OPENBLAS_CORETYPE`` or the CPU, numpy its SIMD loops, numba its target.
Reproducible mode holds every one of them to the AVX2 level that both kinds of CPU run:

====================== =============================== =========================================
variable               value                           back-end
====================== =============================== =========================================
OPENBLAS_CORETYPE      Haswell                         numpy's and scipy's OpenBLAS kernels
NPY_DISABLE_CPU_FEATURES X86_V4 AVX512_ICL AVX512_SPR  numpy's SIMD dispatch (AVX-512 loops off)
ATEN_CPU_CAPABILITY    avx2                            torch's own vectorised kernels
ONEDNN_MAX_CPU_ISA     AVX2                            torch's oneDNN (convolutions)
MKL_CBWR               AVX2,STRICT                     torch's MKL (GEMM), bitwise for any threads
NUMBA_CPU_NAME         haswell                         numba (sktime's MiniRocket)
OMP_NUM_THREADS        ``numerics.threads``            torch intra-op threads (sums split by it)
====================== =============================== =========================================

The variables act only when a library loads, so they are set before the process imports
numpy: ``enter`` re-executes the process under them (same PID, same arguments). Every door goes
through it: the ``biomoe`` command (and so every ``dvc.yaml`` stage), the Prefect flow's script
and deployments (``environment`` gives their job variables), the test suite; torchrun workers
and Dask ``LocalCluster`` workers inherit it. A stage run in a process that did not go through
a door stops with ``NumericsError`` (``require``) instead of writing machine-dependent bytes.
Images do not depend on any of this (``biomoe.imaging.exact``); pinning costs torch throughput
(measured in the README's reproducibility section), which serving, outside the pipeline, need
not pay. This module imports nothing heavy: it runs before numpy is loaded.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field

from biomoe.errors import BiomoeError
from biomoe.section import Section

Mode = Literal["reproducible", "native"]

ISA_PINS: Mapping[str, str] = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2,STRICT",
    "NUMBA_CPU_NAME": "haswell",
}
"""What reproducible mode sets, whatever the environment held before."""

STATE = "BIOMOE_NUMERICS"
"""Set by ``enter`` to ``reproducible:<threads>``: this process runs under the pins."""


class NumericsError(BiomoeError):
    """The process does not run under the numerics params.yaml asks for."""


class NumericsParams(Section):
    """``mode``: reproducible (the pins above) or native (the libraries' own choice: fastest,
    results depend on the CPU). ``threads``: torch intra-op threads per process in
    reproducible mode; part of the result, like the number of training processes."""

    mode: Mode = "reproducible"
    threads: int = Field(default=2, ge=1)


def environment(numerics: NumericsParams, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` as a process running under ``numerics`` needs it."""
    env = dict(base)
    if numerics.mode == "reproducible":
        env |= ISA_PINS
        env |= {"OMP_NUM_THREADS": str(numerics.threads), STATE: _state(numerics)}
    return env


def is_pinned(numerics: NumericsParams, env: Mapping[str, str] = os.environ) -> bool:
    """Whether ``env`` (a process's environment) holds the pins ``numerics`` asks for."""
    if numerics.mode == "native":
        return True
    return env.get(STATE) == _state(numerics) and all(
        env.get(key) == value for key, value in ISA_PINS.items()
    )


def check_cpu() -> None:
    """Reproducible mode needs an x86-64 CPU with AVX2 (the level every pin holds to)."""
    machine = platform.machine().lower()
    if machine not in {"x86_64", "amd64"}:
        raise NumericsError(
            f"numerics.mode reproducible holds back-ends to x86-64 AVX2, and this machine is "
            f"{machine}: set numerics.mode: native (results then differ from the committed "
            "dvc.lock within the tolerance the README gives)"
        )
    flags = _cpu_flags()
    if flags is not None and "avx2" not in flags:
        raise NumericsError(
            "numerics.mode reproducible needs a CPU with AVX2 (/proc/cpuinfo lists none): "
            "set numerics.mode: native"
        )


def enter(numerics: NumericsParams) -> None:
    """Make this process run under ``numerics``: re-execute it with the pinned environment
    (``os.execve``: same PID and arguments, nothing after this call runs twice) unless it
    already does. Call before anything heavy is imported."""
    if is_pinned(numerics):
        return
    check_cpu()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, list(sys.orig_argv), environment(numerics, os.environ))


def require(numerics: NumericsParams) -> None:
    """Raise ``NumericsError`` unless this process runs under ``numerics``."""
    if is_pinned(numerics):
        return
    missing = sorted(k for k, v in ISA_PINS.items() if os.environ.get(k) != v)
    raise NumericsError(
        "this process was not started under numerics.mode reproducible (variables not "
        f"pinned: {', '.join(missing) or STATE}): run the stage through `biomoe`, `dvc repro` "
        "or flows/retrain.py, start the process with biomoe.numerics.environment(...), or set "
        "numerics.mode: native"
    )


def configured(params_file: str | Path) -> NumericsParams:
    """The ``numerics`` section of ``params_file`` (defaults when the file or key is absent),
    read without loading the rest of the params (which import numpy)."""
    path = Path(params_file)
    try:
        raw = yaml.safe_load(path.read_text()) if path.is_file() else None
    except yaml.YAMLError:
        raw = None  # load_params reports the broken file with its own message
    section = raw.get("numerics") if isinstance(raw, dict) else None
    return NumericsParams.model_validate(section or {})


def _state(numerics: NumericsParams) -> str:
    return f"{numerics.mode}:{numerics.threads}"


def _cpu_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None
