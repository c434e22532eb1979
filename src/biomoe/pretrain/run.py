"""Publishing a finished run: the backbone in the published format, its card and its curves.

Only a checkpoint marked ``finished`` is published, and ``models/backbone/`` is replaced as a
whole (``model.pth`` and ``model.json`` together) only once both are written: a failed or
killed run leaves the last good backbone where it was.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from biomoe.errors import CheckpointError
from biomoe.io import atomic_dir, sha256_file, write_json
from biomoe.model.checkpoint import check_state_dict, save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.plots import save_curves
from biomoe.pretrain.checkpointing import OPERATIONAL, load_state
from biomoe.pretrain.params import PretrainJob

BACKBONE_PREFIX = "backbone."
CARD_DIGITS = 6


@dataclass(frozen=True)
class PretrainResult:
    """The published files and the last epoch's metrics (``val_acc_<task>``, ...)."""

    checkpoint: Path
    card: Path
    curves: Path
    metrics: dict[str, float]


def backbone_from_state(state: dict[str, Any], img_size: int, source: Path) -> TinyBioMoE:
    """The backbone part of a training checkpoint's multi-task model."""
    weights = {
        k.removeprefix(BACKBONE_PREFIX): v
        for k, v in state["model"].items()
        if k.startswith(BACKBONE_PREFIX)
    }
    backbone = TinyBioMoE(img_size)
    check_state_dict(backbone.state_dict(), weights, source)
    backbone.load_state_dict(weights, strict=True)
    return backbone.eval()


def publish_backbone(
    state_path: Path, job: PretrainJob, corpus_sha256: str, out_dir: Path, plots_dir: Path
) -> PretrainResult:
    """Write ``out_dir/model.pth`` + ``model.json`` and ``plots_dir/pretrain_curves.png`` from
    the finished training checkpoint at ``state_path``."""
    state = load_state(state_path)
    if not state["finished"]:
        raise CheckpointError(
            f"training checkpoint {state_path} stopped at step {state['step']}: the run did not "
            "finish, so there is no backbone to publish (continue it with --resume)"
        )
    backbone = backbone_from_state(state, job.img_size, state_path)
    history = state["history"]
    metrics = history[-1]["metrics"] if history else {}
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        save_checkpoint(backbone, tmp / "model.pth")
        write_json(tmp / "model.json", _card(state, job, corpus_sha256, tmp / "model.pth"))
    curves = Path(plots_dir) / "pretrain_curves.png"
    save_curves(_curves(history), curves, "Tiny-BioMoE multi-task pretraining")
    return PretrainResult(
        checkpoint=out_dir / "model.pth",
        card=out_dir / "model.json",
        curves=curves,
        metrics=dict(metrics),
    )


def _card(state: dict[str, Any], job: PretrainJob, corpus_sha256: str, weights: Path) -> dict:
    """The model card: what was trained on what, and how well; no timestamps, no paths."""
    return {
        "architecture": "Tiny-BioMoE",
        "img_size": job.img_size,
        "checkpoint_sha256": sha256_file(weights),
        "corpus_sha256": corpus_sha256,
        "tasks": state["classes"],
        "targets": state["targets"],
        "steps": state["step"],
        "world_size": state["fingerprint"]["world_size"],
        "params": {  # those that shape the result; how it ran (nproc, ...) does not
            "pretrain": job.pretrain.model_dump(mode="json", exclude=set(OPERATIONAL)),
            "images": {"size": job.img_size},
        },
        "metrics": _rounded(state["history"][-1]["metrics"]) if state["history"] else {},
        "history": [
            {"epoch": h["epoch"], "step": h["step"], "metrics": _rounded(h["metrics"])}
            for h in state["history"]
        ],
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), CARD_DIGITS) for k, v in sorted(metrics.items())}


def _curves(history: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Train and validation loss, and validation accuracy (the regression: mean absolute
    error) per task, against epoch."""
    accuracies = {
        k for h in history for k in h["metrics"] if k.startswith(("val_acc_", "val_mae_"))
    }
    names = ["train_loss", "val_loss", *sorted(accuracies)]
    return {
        name: [h["metrics"].get(name, float("nan")) for h in history]
        for name in names
        if any(name in h["metrics"] for h in history)
    }
