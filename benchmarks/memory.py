"""Peak memory of the image and embed stages at 1x and 10x the demo data, and the cache's worth.

    python benchmarks/memory.py                       # README "Memory and cache": 1x, 10x, S = 64
    python benchmarks/memory.py --scales 1 --size 32  # smoke run

For each scale the demo dataset is generated with that many times the subjects of params.yaml
and ingested; then the image stage (``write_image_shards`` on the windows parquet file) and the
embed stage (``embed_images``, a random-init backbone, the configured engine) each run in a
fresh process that imports only its stage, and report their peak resident memory
(``ru_maxrss``). The embed stage runs twice: the second run finds every embedding cached, and
its wall time is compared with the first. Image size defaults to 64 so that 10x fits in minutes
on 2 cores: the stages stream in shards, so what matters is how peak memory moves with the
data, not the image size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from biomoe.config import load_params
from biomoe.data.ai4pain import ingest
from biomoe.data.demo import generate_demo_dataset
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from common import markdown_table, parser, with_updates, workdir

# Run as `python -c MEASURE STAGE PARAMS_JSON ROOT`: each stage's biomoe import is its first line.
MEASURE = """
import json, resource, sys, time
from pathlib import Path
from biomoe.config import Params
params = Params.model_validate_json(Path(sys.argv[2]).read_text())
root = Path(sys.argv[3])
start = time.perf_counter()
if sys.argv[1] == "images":
    from biomoe.imaging.shards import write_image_shards
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

COLUMNS = [
    "data",
    "images",
    "images peak MiB",
    "embed peak MiB",
    "embed s",
    "re-run s (nothing new)",
    "re-run / first",
]


def measure(stage: str, params_file: Path, root: Path) -> dict[str, float]:
    command = [sys.executable, "-c", MEASURE, stage, str(params_file), str(root)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    cli = parser(__doc__, params=True, workdir=True)
    cli.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    cli.add_argument("--size", type=int, default=64)
    args = cli.parse_args()
    base = load_params(args.params)
    work = workdir(args, "memory-bench-")

    rows = []
    for scale in args.scales:
        demo = base.model_dump(by_alias=True)["demo"]["subjects"]
        subjects = {split: n * scale for split, n in demo.items()}
        params = with_updates(base, {"demo": {"subjects": subjects}, "images": {"size": args.size}})
        root = work / f"x{scale}"
        root.mkdir(parents=True, exist_ok=True)
        params_file = root / "params.json"
        params_file.write_text(params.model_dump_json(by_alias=True))
        if not (root / "windows.parquet").is_file():
            generate_demo_dataset(root / "raw", params.demo, params.ingest.fs)
            ingest(root / "raw", root / "windows.parquet", params.ingest)
        torch.manual_seed(0)
        save_checkpoint(TinyBioMoE(img_size=args.size), root / "model.pth")
        images, first, again = (measure(s, params_file, root) for s in ("images", "embed", "embed"))
        print(f"x{scale}: {images} {first} {again}", flush=True)
        image_cells = [f"{images['count']:,}", f"{images['peak_mib']:.0f}"]
        embed_cells = [f"{first['peak_mib']:.0f}", f"{first['seconds']:.1f}"]
        again_cells = [f"{again['seconds']:.2f}", f"{again['seconds'] / first['seconds']:.1%}"]
        rows.append([f"{scale}x demo", *image_cells, *embed_cells, *again_cells])
    print(f"\nS = {args.size}, engine {base.embed.engine}, torch {torch.__version__}\n")
    print(markdown_table(COLUMNS, rows))


if __name__ == "__main__":
    main()
