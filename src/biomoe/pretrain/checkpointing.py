"""Training checkpoints: everything needed to continue a run exactly where it stopped.

One file, ``<run_dir>/last.pt``, replaced atomically (temp file, fsync, ``os.replace``): a kill
at any moment leaves either the previous checkpoint or the new one, never half of one. It holds
the model (backbone and heads), optimizer and scheduler states, the optimizer step reached, the
metric sums of the unfinished epoch, the per-epoch history, every rank's RNG states and the
run's fingerprint (what changes the maths: params, corpus, world size), which ``--resume``
must match. ``finished`` marks the checkpoint of a completed run, from which the backbone is
published.

Checkpoints live in ``.cache/pretrain/`` beside the project, not in ``models/``: DVC deletes a
stage's outs before it re-runs the stage, and a checkpoint is working state, not an artifact.
"""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biomoe.errors import CheckpointError
from biomoe.io import atomic_path
from biomoe.pretrain.params import PretrainJob

CHECKPOINT_NAME = "last.pt"
KEYS = (
    "model",
    "optimizer",
    "scheduler",
    "step",
    "meters",
    "history",
    "rng",
    "fingerprint",
    "finished",
    "classes",
    "targets",
)


def checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT_NAME


def remove_partial_writes(run_dir: Path) -> None:
    """Delete temporary files a killed ``save_state`` left behind (never a checkpoint)."""
    for partial in Path(run_dir).glob(f".{CHECKPOINT_NAME}.*.tmp"):
        partial.unlink(missing_ok=True)


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically and durably."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())


def load_state(path: Path) -> dict[str, Any]:
    """A checkpoint written by ``save_state``; ``CheckpointError`` names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no training checkpoint at {path} to resume from (run without --resume to start)"
        )
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"training checkpoint {path}: not a torch zip archive (corrupt or truncated?); "
            "delete it and run without --resume"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"training checkpoint {path} cannot be read (corrupt or truncated?): {exc}"
        ) from exc
    missing = [key for key in KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"training checkpoint {path} lacks {missing}: not one of ours")
    return state


OPERATIONAL = ("nproc", "device", "num_workers", "checkpoint_every", "log_every")
"""Pretrain params that do not change the maths of a run (a resume may change them); the
corpus is summed up by its hash."""


def run_fingerprint(job: PretrainJob, corpus_sha256: str, world_size: int) -> dict[str, Any]:
    """What a resumed run must share with the checkpoint for the result to be exact."""
    maths = job.pretrain.model_dump(mode="json", exclude=set(OPERATIONAL))
    return {
        **{f"pretrain.{k}": v for k, v in sorted(maths.items())},
        "images.size": job.img_size,
        "corpus_sha256": corpus_sha256,
        "world_size": world_size,
    }


def check_fingerprint(path: Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Resuming is only exact with the same maths: refuse when anything that changes it did."""
    changed = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
    if changed:
        shown = "; ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed[:5])
        raise CheckpointError(
            f"training checkpoint {path} belongs to a different run ({shown}); "
            "run without --resume to start afresh"
        )


def rng_state() -> dict[str, Any]:
    """This process's RNG states as plain Python values (bytes, ints, tuples): they pass
    ``gather_object`` between ranks and ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {
        "python": random.getstate(),
        "numpy": (kind, keys.astype(np.uint32).tobytes(), int(pos), int(has_gauss), cached),
        "torch": bytes(torch.get_rng_state().numpy()),
        "cuda": [bytes(state.numpy()) for state in cuda],
    }


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.frombuffer(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(_byte_tensor(state["torch"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_byte_tensor(s) for s in state["cuda"]])


def _byte_tensor(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)
