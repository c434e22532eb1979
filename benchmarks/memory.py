"""Peak memory of the image and embed stages at 1x and 10x the demo data, and the cache's worth.

    python benchmarks/memory.py                       # scales 1 and 10, S = 64
    python benchmarks/memory.py --scales 1 4 --size 224

For each scale the demo dataset is generated with that many times the subjects of params.yaml
and ingested; then the image stage (``write_image_shards`` on the windows parquet file) and the
embed stage (``embed_images``, a random-init backbone, the configured engine) each run in a
fresh process whose peak resident memory (``ru_maxrss``) is reported. The embed stage runs
twice: the second run finds every embedding cached, and its wall time is compared with the
first. Image size defaults to 64 so that 10x fits in minutes on 2 cores: the stages stream
in shards, so what matters is how peak memory moves with the data, not the image size.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from biomoe.config import Params, load_params
from biomoe.data.ai4pain import ingest
from biomoe.data.demo import generate_demo_dataset
from biomoe.model import TinyBioMoE, save_checkpoint

MEASURE = """
import json, resource, sys, time
from pathlib import Path
from biomoe.config import Params
params = Params.model_validate_json(Path(sys.argv[2]).read_text())
root = Path(sys.argv[3])
start = time.perf_counter()
if sys.argv[1] == "images":
    from biomoe.imaging import write_image_shards
    count = len(write_image_shards(root / "windows.parquet", root / "images", params.images,
                                   progress=False))
else:
    from biomoe.embed.extract import embed_images
    result = embed_images(root / "images", root / "model.pth", root / "embeddings",
                          params.images.size, params.embed.batch_size, params.embed.engine,
                          progress=False)
    count = result.n_computed
print(json.dumps({"seconds": time.perf_counter() - start, "count": count,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def scaled(base: Params, scale: int, size: int) -> Params:
    data = base.model_dump(by_alias=True)
    subjects = data["demo"]["subjects"]
    data["demo"]["subjects"] = {split: n * scale for split, n in subjects.items()}
    data["images"].update(size=size)
    data["model"].update(img_size=size)
    return Params.model_validate(data)


def measure(stage: str, params_file: Path, root: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, stage, str(params_file), str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    base = load_params(args.params)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="memory-bench-"))

    rows = []
    for scale in args.scales:
        params = scaled(base, scale, args.size)
        root = workdir / f"x{scale}"
        root.mkdir(parents=True, exist_ok=True)
        params_file = root / "params.json"
        params_file.write_text(params.model_dump_json(by_alias=True))
        if not (root / "windows.parquet").is_file():
            generate_demo_dataset(root / "raw", params.demo)
            ingest(root / "raw", root / "windows.parquet", params.ingest)
        torch.manual_seed(0)
        save_checkpoint(TinyBioMoE(img_size=args.size), root / "model.pth")
        images = measure("images", params_file, root)
        first = measure("embed", params_file, root)
        second = measure("embed", params_file, root)
        rows.append((scale, images, first, second))
        print(f"x{scale}: {images} {first} {second}", flush=True)

    print(f"\nS = {args.size}, engine {base.embed.engine}, torch {torch.__version__}\n")
    print(
        "| data | images | images peak MiB | embed peak MiB | embed s | "
        "re-run s (nothing new) | re-run / first |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scale, images, first, second in rows:
        print(
            f"| {scale}x demo | {images['count']:,} | {images['peak_mib']:.0f} "
            f"| {first['peak_mib']:.0f} | {first['seconds']:.1f} | {second['seconds']:.2f} "
            f"| {second['seconds'] / first['seconds']:.1%} |"
        )


if __name__ == "__main__":
    main()
