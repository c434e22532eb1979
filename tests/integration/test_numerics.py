"""Reproducible numerics: the same bytes from render, two training steps and embedding whatever
BLAS kernel, numpy dispatch or torch CPU capability the environment asks for.

Each environment runs ``numerics_probe.py`` in a fresh process; the probe goes through the
pipeline's door (``numerics.enter``) as every ``biomoe`` command does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from biomoe.numerics import ISA_PINS, STATE

PROBE = Path(__file__).with_name("numerics_probe.py")


def _avx512() -> bool:
    try:
        return " avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


AVX512 = _avx512()

VARIANTS: dict[str, dict[str, str | None]] = {
    "as the machine is": {},
    "all unset (AVX-512 everywhere it exists)": {
        "OPENBLAS_CORETYPE": None,
        "NPY_DISABLE_CPU_FEATURES": None,
        "ATEN_CPU_CAPABILITY": None,
        "ONEDNN_MAX_CPU_ISA": None,
        "MKL_CBWR": None,
    },
    "SkylakeX OpenBLAS, numpy without AVX-512, ATen avx2": {
        "OPENBLAS_CORETYPE": "SkylakeX",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL",
        "ATEN_CPU_CAPABILITY": "avx2",
    },
}
"""Each names what it sets; a probe started under it re-starts under the pins."""
if AVX512:
    VARIANTS["Haswell OpenBLAS, ATen avx512"] = {
        "OPENBLAS_CORETYPE": "Haswell",
        "ATEN_CPU_CAPABILITY": "avx512",
    }


def _environment(variant: dict[str, str | None], *, native: bool) -> dict[str, str]:
    """This process's environment without the pins (as a shell would start the probe), with
    ``variant`` applied; native: none of the pins kept."""
    env = {k: v for k, v in os.environ.items() if k != STATE}
    if native:
        for key in (*ISA_PINS, "OMP_NUM_THREADS"):
            env.pop(key, None)
    for key, value in variant.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _probe(mode: str, env: dict[str, str], *extra: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, str(PROBE), mode, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_reproducible_mode_gives_the_same_bytes_in_every_environment() -> None:
    digests = {
        name: _probe("reproducible", _environment(variant, native=False))
        for name, variant in VARIANTS.items()
    }
    reference_name, reference = next(iter(digests.items()))
    print(f"{len(digests)} environments, {len(reference)} results each")
    for name, results in digests.items():
        differing = sorted(k for k in reference if results[k] != reference[k])
        assert not differing, f"{name} differs from {reference_name} in {differing}"


def test_images_never_depend_on_the_environment_even_natively() -> None:
    variants = [
        {},
        {"OPENBLAS_CORETYPE": "Sandybridge"},
        {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL"},
    ]
    digests = [_probe("native", _environment(v, native=True), "--images") for v in variants]
    assert len(digests[0]) == 8
    for variant, results in zip(variants[1:], digests[1:], strict=True):
        assert results == digests[0], variant


@pytest.mark.skipif(not AVX512, reason="the CPU has no AVX-512: native and pinned kernels agree")
def test_native_mode_is_machine_dependent_which_the_pins_remove() -> None:
    """The check has teeth: natively, oneDNN's AVX-512 kernels train to other weights and ATen's
    embed to other vectors than the AVX2 ones the pins select."""
    native = _probe("native", _environment({}, native=True))
    pinned = _probe("reproducible", _environment({}, native=False))
    assert native["weights"] != pinned["weights"]
    assert native["embedding"] != pinned["embedding"]
