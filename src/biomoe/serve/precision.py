"""Reduced-precision engines for serving (opt-in): ``bf16`` and ``int8``.

- ``bf16``: with the ``fast`` and ``threaded`` engines, the folded network with its experts'
  weights and activations in bfloat16 on oneDNN's fused bfloat16 kernels (1.7x the float32
  engine's images/s on AVX-512 BF16; LayerNorms, FFTs and the embedding in float32); with the
  ``eager`` engine, the published model under ``torch.autocast`` to bfloat16 (autocast's rules
  decide which ops run in bf16). Needs ``avx512_bf16`` or ``amx_bf16``.
- ``int8``: torch's dynamic quantisation of every ``nn.Linear`` of the eager model (weights
  int8 per output channel, activations quantised per batch; fbgemm's VNNI kernels);
  convolutions stay float32, and only the ``eager`` engine has it (``ServeParams`` refuses
  another). Needs ``avx512_vnni`` or ``avx_vnni``. Per-tensor weights gave cosine 0.9987 on
  the reference inputs, per-channel 0.9994.

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
from biomoe.model.engines import Engine
from biomoe.model.inference import build_engine
from biomoe.model.inference.kernels import onednn_bfloat16
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


def reduced_precision(model: TinyBioMoE, precision: Reduced, engine: Engine = "eager") -> nn.Module:
    """``model`` (left untouched) as a ``precision`` engine, after ``require_precision``
    (see the module docstring for what each precision and ``engine`` run)."""
    require_precision(precision)
    if precision == "bf16":
        if engine == "eager":
            return Bf16TinyBioMoE(model)
        if not onednn_bfloat16():
            warnings.warn(
                "serve.precision bf16: oneDNN's bfloat16 kernels are held back in this process "
                "(ONEDNN_MAX_CPU_ISA below AVX-512, e.g. reproducible numerics), so the "
                "bfloat16 engine runs torch's plain ops, slower than fp32",
                RuntimeWarning,
                stacklevel=2,
            )
        return build_engine(model, engine, dtype=torch.bfloat16)
    if engine != "eager":
        raise PrecisionError(f"precision int8 quantises the eager model; got engine {engine!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice points at torchao
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).eval(),
            {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8,
        )
