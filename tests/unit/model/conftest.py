"""Fixtures for the model tests: the published reference files, when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[3]
CHECKPOINT = "tiny_biomoe_seed0.pth"
IO = "tiny_biomoe_seed0_io.pt"
KEY_TABLE = "tiny_biomoe_state_dict.tsv"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return Path(os.environ.get("BIOMOE_REFERENCE_DIR", REPO_ROOT / ".." / "shared" / "reference"))


def _require(reference_dir: Path, name: str) -> Path:
    path = reference_dir / name
    if not path.is_file():
        pytest.skip(
            f"reference file {path} is absent (set BIOMOE_REFERENCE_DIR to the folder holding it)"
        )
    return path


@pytest.fixture(scope="session")
def reference_checkpoint(reference_dir: Path) -> Path:
    return _require(reference_dir, CHECKPOINT)


@pytest.fixture(scope="session")
def reference_io(reference_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(_require(reference_dir, IO), weights_only=True)


@pytest.fixture(scope="session")
def reference_keys(reference_dir: Path) -> list[tuple[str, str, str]]:
    """``(key, shape, dtype)`` rows of the published state dict, in order."""
    lines = _require(reference_dir, KEY_TABLE).read_text().splitlines()
    return [tuple(line.split("\t")) for line in lines[1:] if line]


@pytest.fixture(scope="session")
def perturb():
    """Return a function adding small seeded noise to every float tensor of a model's state,
    so that zero-initialised residual branches and biases take part in the output."""

    def apply(model: torch.nn.Module, seed: int = 0, scale: float = 0.02) -> torch.nn.Module:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.add_(torch.randn(tensor.shape, generator=generator) * scale)
        return model

    return apply
