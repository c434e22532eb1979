"""What reproducible numerics cost: embedding and training images/s, native vs reproducible.

    python benchmarks/numerics.py                  # README "Exact reproduction": S = 224
    python benchmarks/numerics.py --images 32 --steps 2 --size 64 --repeats 1  # smoke

Each mode runs in a fresh process started through the pipeline's door (``numerics.enter``):
``native`` leaves oneDNN, MKL, ATen, numpy and OpenBLAS to pick the CPU's fastest kernels,
``reproducible`` holds them to AVX2 and torch to ``numerics.threads`` intra-op threads. Measured
in one run, alternating the modes ``--repeats`` times (best of each): the pipeline's embedding
engine (``embed.engine``, batch ``embed.batch_size``) on random images, and training steps
(forward, backward, AdamW) of the backbone at ``pretrain.batch_size`` images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import markdown_table, parser

HERE = Path(__file__).resolve()


def measure(mode: str, params_file: Path, size: int, images: int, steps: int) -> dict[str, float]:
    """In this process (re-started under ``mode`` first): images/s of embedding and training."""
    from biomoe.numerics import configured, enter

    numerics = configured(params_file).model_copy(update={"mode": mode})
    enter(numerics)
    import torch

    from biomoe.config import load_params
    from biomoe.embed.extract import embed_batch
    from biomoe.model.checkpoint import save_checkpoint
    from biomoe.model.inference import load_engine
    from biomoe.model.tiny_biomoe import TinyBioMoE

    params = load_params(params_file)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (images, 3, size, size), dtype=np.uint8)
    torch.manual_seed(0)
    model = TinyBioMoE(img_size=size)
    checkpoint = save_checkpoint(model, HERE.parent / f".numerics-{mode}.pth")
    engine = load_engine(checkpoint, params.embed.engine, size)
    first_batch = embed_batch(engine, batch[: params.embed.batch_size])  # also the warm-up
    np.save(HERE.parent / f".numerics-{mode}.npy", first_batch)
    started = time.perf_counter()
    for first in range(0, images, params.embed.batch_size):
        embed_batch(engine, batch[first : first + params.embed.batch_size])
    embed_rate = images / (time.perf_counter() - started)
    checkpoint.unlink()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    per_step = params.pretrain.batch_size
    x = torch.from_numpy(batch[:per_step]).float().div_(255.0)
    started = None
    for step in range(steps + 1):
        if step == 1:
            started = time.perf_counter()  # step 0 is warm-up
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert started is not None
    train_rate = steps * per_step / (time.perf_counter() - started)
    return {"embed": embed_rate, "train": train_rate, "threads": torch.get_num_threads()}


def main() -> None:
    cli = parser(__doc__, params=True)
    cli.add_argument("--size", type=int, default=224)
    cli.add_argument("--images", type=int, default=256, help="embedded per measurement")
    cli.add_argument("--steps", type=int, default=8, help="training steps per measurement")
    cli.add_argument("--repeats", type=int, default=2)
    cli.add_argument("--worker", choices=("native", "reproducible"), help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.worker:
        result = measure(args.worker, args.params, args.size, args.images, args.steps)
        print(json.dumps(result))
        return
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeats):
        for mode in ("native", "reproducible"):
            command = [sys.executable, str(HERE), "--worker", mode, "--params", str(args.params)]
            command += ["--size", str(args.size), "--images", str(args.images)]
            command += ["--steps", str(args.steps)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            kept = best.setdefault(mode, result)
            for key in ("embed", "train"):
                kept[key] = max(kept[key], result[key])
    rows = [
        [mode, f"{r['threads']:.0f}", f"{r['embed']:.1f}", f"{r['train']:.1f}"]
        for mode, r in best.items()
    ]
    native, pinned = best["native"], best["reproducible"]
    rows.append(
        [
            "reproducible / native",
            "",
            f"{pinned['embed'] / native['embed']:.2f}",
            f"{pinned['train'] / native['train']:.2f}",
        ]
    )
    vectors = {m: np.load(HERE.parent / f".numerics-{m}.npy") for m in best}
    gap = np.abs(vectors["native"] - vectors["reproducible"]).max()
    norms = np.linalg.norm(vectors["native"], axis=1) * np.linalg.norm(
        vectors["reproducible"], axis=1
    )
    cosine = (vectors["native"] * vectors["reproducible"]).sum(axis=1) / norms
    for mode in vectors:
        (HERE.parent / f".numerics-{mode}.npy").unlink()
    print(
        f"S = {args.size}; best of {args.repeats}; {args.images} images embedded, "
        f"{args.steps} training steps per measurement"
    )
    print(markdown_table(["numerics", "torch threads", "embed img/s", "train img/s"], rows))
    print(
        f"embeddings native vs reproducible (same weights, same images): max |difference| "
        f"{gap:.2e}, min cosine {cosine.min():.7f}"
    )


if __name__ == "__main__":
    main()
