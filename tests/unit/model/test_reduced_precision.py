"""The opt-in serving engines (``biomoe.serve.precision``): bf16 (autocast on the eager model,
the folded network in bfloat16 on the fast ones) and int8 embeddings of the reference inputs
within cosine 0.999 of float32, and a clear refusal on a CPU without the instructions they
need or for an engine a precision does not have."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from tests.unit.model.conftest import IO

from biomoe.model.checkpoint import load_checkpoint
from biomoe.model.inference.kernels import onednn_bfloat16
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.numerics import ISA_PINS, STATE
from biomoe.serve.params import ServeParams
from biomoe.serve.precision import (
    REQUIRED_FLAGS,
    PrecisionError,
    cpu_flags,
    reduced_precision,
    require_precision,
)


@pytest.mark.parametrize(
    ("precision", "engine_name"),
    [("bf16", "eager"), ("bf16", "fast"), ("bf16", "threaded"), ("int8", "eager")],
)
def test_embeddings_are_within_cosine_0999_of_float32(
    precision: str,
    engine_name: str,
    reference_checkpoint: Path,
    reference_io: dict[str, torch.Tensor],
) -> None:
    if not cpu_flags() & set(REQUIRED_FLAGS[precision]):
        pytest.skip(f"this CPU has none of {REQUIRED_FLAGS[precision]} for {precision}")
    model = load_checkpoint(reference_checkpoint, img_size=224)
    engine = reduced_precision(model, precision, engine_name)  # type: ignore[arg-type]
    with torch.inference_mode():
        embedding = engine(reference_io["input"])
    assert embedding.dtype == torch.float32 and embedding.shape == (4, 192)
    cosine = F.cosine_similarity(embedding, reference_io["embedding"], dim=1)
    assert cosine.min().item() >= 0.999, cosine
    assert not torch.equal(embedding, reference_io["embedding"]), "ran in float32"


@pytest.mark.parametrize(
    ("precision", "flags"), [("bf16", {"avx2", "avx512f"}), ("int8", {"avx2", "avx512bw"})]
)
def test_a_cpu_without_the_instructions_is_refused(precision: str, flags: set[str]) -> None:
    needed = " or ".join(REQUIRED_FLAGS[precision])
    with pytest.raises(PrecisionError, match=f"needs a CPU with {needed}.*use precision fp32"):
        require_precision(precision, flags)  # type: ignore[arg-type]


NATIVE_BF16 = """
import sys, torch
import torch.nn.functional as F
from biomoe.model.checkpoint import load_checkpoint
from biomoe.model.inference.kernels import onednn_bfloat16
from biomoe.model.inference.kernels import FusedLinear, onednn_bfloat16
from biomoe.serve.precision import reduced_precision
io = torch.load(sys.argv[2], weights_only=True)
engine = reduced_precision(load_checkpoint(sys.argv[1], img_size=224), "bf16", "threaded")
with torch.inference_mode():
    embedding = engine(io["input"])
experts = [m for m in engine.fast.enc1.modules() if isinstance(m, FusedLinear)]
experts += [m for m in engine.fast.enc2.modules() if isinstance(m, FusedLinear)]
packed = [m._packed is not None and m._packed.dtype == torch.bfloat16 for m in experts]
print(onednn_bfloat16(), len(packed) > 0 and all(packed))
print(F.cosine_similarity(embedding, io["embedding"], dim=1).min().item())
"""


def test_bf16_fast_engine_runs_onednn_bfloat16_kernels_natively(
    reference_checkpoint: Path, reference_dir: Path
) -> None:
    """Outside reproducible numerics (as ``mlflow models serve`` runs), the bfloat16 engine
    packs its weights for oneDNN's bfloat16 kernels and stays within cosine 0.999."""
    if not cpu_flags() & set(REQUIRED_FLAGS["bf16"]):
        pytest.skip(f"this CPU has none of {REQUIRED_FLAGS['bf16']} for bf16")
    env = {k: v for k, v in os.environ.items() if k not in {*ISA_PINS, STATE}}
    result = subprocess.run(
        [sys.executable, "-c", NATIVE_BF16, str(reference_checkpoint), str(reference_dir / IO)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    kernels, cosine = result.stdout.strip().splitlines()[-2:]
    assert kernels == "True True"
    assert float(cosine) >= 0.999


def test_in_a_pinned_process_bf16_warns_and_still_answers(
    reference_checkpoint: Path, reference_io: dict[str, torch.Tensor]
) -> None:
    if onednn_bfloat16():
        pytest.skip("oneDNN's bfloat16 kernels are not held back in this process")
    model = load_checkpoint(reference_checkpoint, img_size=224)
    with pytest.warns(RuntimeWarning, match="bfloat16 kernels are held back"):
        engine = reduced_precision(model, "bf16", "fast")
    with torch.inference_mode():
        embedding = engine(reference_io["input"])
    assert F.cosine_similarity(embedding, reference_io["embedding"], dim=1).min() >= 0.999


def test_int8_is_the_eager_engine_only() -> None:
    with pytest.raises(ValidationError, match="int8 quantises the eager model's linear layers"):
        ServeParams(engine="threaded", precision="int8", max_rows=10, batch_rows=4)
    if cpu_flags() & set(REQUIRED_FLAGS["int8"]):
        with pytest.raises(PrecisionError, match="int8 quantises the eager model"):
            reduced_precision(TinyBioMoE(img_size=32), "int8", "threaded")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512_bf16\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "absent") == set()
