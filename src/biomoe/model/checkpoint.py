"""Checkpoint I/O in the published Tiny-BioMoE format: ``{"model_state_dict": state_dict}``."""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from biomoe.errors import CheckpointError
from biomoe.model.tiny_biomoe import TinyBioMoE

STATE_DICT_KEY = "model_state_dict"
_SHOWN = 5


def save_checkpoint(model: TinyBioMoE, path: str | Path) -> Path:
    """Write ``{"model_state_dict": ...}`` (CPU tensors, published key order) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = OrderedDict((k, v.detach().cpu()) for k, v in model.state_dict().items())
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({STATE_DICT_KEY: state}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(
    path: str | Path, img_size: int = 224, map_location: str | torch.device = "cpu"
) -> TinyBioMoE:
    """Build ``TinyBioMoE(img_size)``, load ``path`` with ``strict=True``; return it in eval mode.

    Raises ``CheckpointError`` naming the file and what is wrong with it (unreadable, not the
    published format, keys or shapes that do not fit, NaN/inf weights).
    """
    path = Path(path)
    state = read_state_dict(path, map_location)
    model = TinyBioMoE(img_size)
    check_state_dict(model.state_dict(), state, path)
    check_finite(state, path)
    model.load_state_dict(state, strict=True)
    return model.eval()


def verify_checkpoint(path: str | Path, img_size: int) -> None:
    """Raise ``CheckpointError`` unless ``path`` is a published-format checkpoint of
    ``TinyBioMoE(img_size)`` with finite weights: the checks a backbone passes before use."""
    path = Path(path)
    state = read_state_dict(path)
    made_for = checkpoint_img_size(state)
    if made_for is not None and made_for != img_size:
        raise CheckpointError(
            f"checkpoint {path} was made for img_size={made_for} (key 'ln_img.weight' has shape "
            f"{list(state['ln_img.weight'].shape)}), but the pipeline renders images.size="
            f"{img_size}: a backbone embeds only images of its own size (set images.size and "
            f"model.img_size to {made_for}, or use a backbone made for {img_size})"
        )
    check_state_dict(TinyBioMoE(img_size).state_dict(), state, path)
    check_finite(state, path)


def check_finite(state: Mapping[str, Tensor], path: Path) -> None:
    """Raise ``CheckpointError`` naming the tensors that hold NaN or inf."""
    broken = [k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()]
    if broken:
        raise CheckpointError(
            f"checkpoint {path}: {len(broken)} tensor(s) hold NaN or inf values: {_head(broken)} "
            "(a diverged or damaged training run; use the last good checkpoint)"
        )


def checkpoint_img_size(state: Mapping[str, Tensor]) -> int | None:
    """The image size a state dict was made for (its input LayerNorm is ``[3, S, S]``)."""
    weight = state.get("ln_img.weight")
    if weight is None or weight.dim() != 3 or weight.shape[1] != weight.shape[2]:
        return None
    return int(weight.shape[-1])


def read_state_dict(path: Path, map_location: str | torch.device = "cpu") -> Mapping[str, Tensor]:
    """The ``model_state_dict`` of a published-format checkpoint, read with ``weights_only``."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: file does not exist")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"checkpoint {path}: not a torch zip archive (corrupt or truncated file?)"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path}: cannot be read as a torch checkpoint "
            f"(corrupt or truncated file?): {exc}"
        ) from exc
    if not isinstance(payload, Mapping) or STATE_DICT_KEY not in payload:
        raise CheckpointError(
            f"checkpoint {path}: expected a dict with key {STATE_DICT_KEY!r} (the published "
            f"format), found {_describe(payload)}"
        )
    state = payload[STATE_DICT_KEY]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(
            f"checkpoint {path}: {STATE_DICT_KEY!r} must map names to tensors, "
            f"found {_describe(state)}"
        )
    return state


def check_state_dict(
    expected: Mapping[str, Tensor], found: Mapping[str, Tensor], path: Path
) -> None:
    """Raise ``CheckpointError`` listing missing / unexpected keys and shape mismatches."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    mismatched = [
        f"{k}: expected {list(v.shape)}, got {list(found[k].shape)}"
        for k, v in expected.items()
        if k in found and found[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_head(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_head(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch(es): {_head(mismatched)}")
    if problems:
        hint = ""
        img_shape = found.get("ln_img.weight")
        if (
            img_shape is not None
            and img_shape.dim() == 3
            and img_shape.shape != expected["ln_img.weight"].shape
        ):
            made_for = img_shape.shape[-1]
            hint = f" (the checkpoint was made for img_size={made_for}; load it with that size)"
        raise CheckpointError(
            f"checkpoint {path} does not fit TinyBioMoE{hint}: " + "; ".join(problems)
        )


def _head(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def _describe(obj: object) -> str:
    if isinstance(obj, Mapping):
        keys = [str(k) for k in obj]
        if keys and all(isinstance(v, Tensor) for v in obj.values()):
            return f"a bare state dict ({len(keys)} tensors, e.g. {_head(keys)})"
        return f"a dict with keys [{_head(keys)}]"
    return f"an object of type {type(obj).__name__}"
