"""Reduced-precision engines for serving (opt-in): ``bf16`` and ``int8``.

- ``bf16``: the model under ``torch.autocast`` to bfloat16 on the CPU (oneDNN's AVX-512 BF16
  or AMX kernels); convolutions and matrix products in bf16, the FFT of the SpectFormer expert
  and the normalisations in float32 (autocast's rules). Needs ``avx512_bf16`` or ``amx_bf16``.
- ``int8``: torch's dynamic quantisation of every ``nn.Linear`` (weights int8 per output
  channel, activations quantised per batch; fbgemm's VNNI kernels); convolutions stay float32.
  Needs ``avx512_vnni`` or ``avx_vnni``. Per-tensor weights gave cosine 0.9987 on the
  reference inputs, per-channel 0.9994.

Both return float32 embeddings ``[B, 192]`` like the fp32 engines; the pipeline never uses
them (their numbers depend on the CPU). A CPU without the instructions is refused with
``PrecisionError`` rather than emulated at a fraction of fp32's speed.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from biomoe.errors import BiomoeError
from biomoe.model.tiny_biomoe import TinyBioMoE

Reduced = Literal["bf16", "int8"]

REQUIRED_FLAGS: dict[str, tuple[str, ...]] = {
    "bf16": ("avx512_bf16", "amx_bf16"),
    "int8": ("avx512_vnni", "avx_vnni"),
}
"""Any one of these CPU flags (``/proc/cpuinfo``) lets the precision run natively."""

CPUINFO = Path("/proc/cpuinfo")


class PrecisionError(BiomoeError):
    """The CPU cannot run the requested precision natively."""


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The CPU's feature flags; empty where the system does not list them."""
    if not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def require_precision(precision: Reduced, flags: set[str] | None = None) -> None:
    """``PrecisionError`` naming the missing instructions unless the CPU has them."""
    if precision not in REQUIRED_FLAGS:
        raise PrecisionError(
            f"precision must be one of {sorted(REQUIRED_FLAGS)}, got {precision!r}"
        )
    needed = REQUIRED_FLAGS[precision]
    have = cpu_flags() if flags is None else flags
    if not have.intersection(needed):
        raise PrecisionError(
            f"serve.precision {precision} needs a CPU with {' or '.join(needed)}, which this "
            f"machine's CPU does not report ({CPUINFO} flags); use precision fp32"
        )


class Bf16TinyBioMoE(nn.Module):
    """The eager model run under bfloat16 autocast; float32 out."""

    def __init__(self, model: TinyBioMoE) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).eval()

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.model(x).float()


def reduced_precision(model: TinyBioMoE, precision: Reduced) -> nn.Module:
    """``model`` (left untouched) as a ``precision`` engine, after ``require_precision``."""
    require_precision(precision)
    if precision == "bf16":
        return Bf16TinyBioMoE(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice points at torchao
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).eval(),
            {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8,
        )
