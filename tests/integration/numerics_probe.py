"""Render, train two AdamW steps and embed; print the sha256 of every result as JSON.

``python tests/integration/numerics_probe.py reproducible|native [--images]`` (``--images``:
rendering only): run by test_numerics.py in a
fresh process per environment. ``numerics.enter`` comes first, before numpy is imported.
"""

from __future__ import annotations

import sys

from biomoe.numerics import NumericsParams, enter

enter(NumericsParams(mode=sys.argv[1]))

import hashlib  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from biomoe.config import load_params  # noqa: E402
from biomoe.embed.extract import embed_batch, to_float_images  # noqa: E402
from biomoe.imaging.render import REPRESENTATIONS, render_all  # noqa: E402
from biomoe.model.checkpoint import save_checkpoint  # noqa: E402
from biomoe.model.inference import load_engine  # noqa: E402
from biomoe.model.tiny_biomoe import TinyBioMoE  # noqa: E402

SIZE = 64
ROOT = Path(__file__).resolve().parents[2]


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def signals() -> list[np.ndarray]:
    """Noisy random walks plus a pulse train, 10 s at 100 Hz (only exactly rounded numpy)."""
    rng = np.random.default_rng(7)
    pulse = (np.arange(1000) % 83 < 9).astype(np.float64)
    return [np.cumsum(rng.normal(size=1000)) + k * pulse for k in range(8)]


def main() -> None:
    params = load_params(ROOT / "params.yaml").images.model_copy(
        update={"size": SIZE, "representations": tuple(REPRESENTATIONS)}
    )
    images = render_all(signals(), 100, params)
    out = {f"image/{rep}": digest(array) for rep, array in images.items()}
    if "--images" in sys.argv:
        print(json.dumps(out))
        return
    torch.manual_seed(0)
    model = TinyBioMoE(img_size=SIZE)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    stacked = np.concatenate([images["waveform"], images["spectrogram"]])
    batch = to_float_images(stacked)
    for step in range(2):
        loss = model(batch[step * 8 : (step + 1) * 8]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out["weights"] = digest(torch.cat([p.detach().flatten() for p in model.parameters()]).numpy())
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(model, Path(tmp) / "model.pth")
        engine = load_engine(path, "threaded", SIZE)
        out["embedding"] = digest(embed_batch(engine, stacked))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
