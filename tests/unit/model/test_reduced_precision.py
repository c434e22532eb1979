"""The opt-in serving engines (``biomoe.serve.precision``): bf16 and int8 embeddings of the
reference inputs within cosine 0.999 of float32, and a clear refusal on a CPU without the
instructions they need."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from biomoe.model.checkpoint import load_checkpoint
from biomoe.serve.precision import (
    REQUIRED_FLAGS,
    PrecisionError,
    cpu_flags,
    reduced_precision,
    require_precision,
)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_embeddings_are_within_cosine_0999_of_float32(
    precision: str, reference_checkpoint: Path, reference_io: dict[str, torch.Tensor]
) -> None:
    if not cpu_flags() & set(REQUIRED_FLAGS[precision]):
        pytest.skip(f"this CPU has none of {REQUIRED_FLAGS[precision]} for {precision}")
    model = load_checkpoint(reference_checkpoint, img_size=224)
    engine = reduced_precision(model, precision)  # type: ignore[arg-type]
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


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512_bf16\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "absent") == set()
