"""Corpus build rate and peak memory at 1x and 10x the configured corpus.

    python benchmarks/corpus.py                        # README "Corpus at scale": 1x, 10x
    python benchmarks/corpus.py --scales 1 --size 32   # smoke run

Each scale builds the corpus of params.yaml with every source's window cap multiplied by the
scale (``CorpusParams.scaled``, as a recipe's ``corpus_scale`` does) in a fresh process, and
reports windows, images, wall seconds, windows/s, the process's peak resident memory
(``ru_maxrss``) and the corpus's size on disk. The build streams windows in chunks and renders
from the windows file shard by shard, so peak memory should stay nearly flat as the corpus grows
while the bytes on disk grow with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from biomoe.config import load_params
from common import cpu_name, markdown_table, parser, with_updates, workdir

# Run as `python -c MEASURE PARAMS_JSON SCALE OUT`: biomoe is imported in the measured process.
MEASURE = """
import json, resource, sys, time
from pathlib import Path
from biomoe.config import Params
from biomoe.corpus.build import build_corpus
params = Params.model_validate_json(Path(sys.argv[1]).read_text())
corpus = params.corpus.scaled(int(sys.argv[2]))
start = time.perf_counter()
summary = build_corpus(corpus, params.images, params.ingest.fs, Path(sys.argv[3]), progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "windows": summary.windows,
                  "images": summary.images,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

COLUMNS = ["corpus", "windows", "images", "build s", "windows/s", "peak MiB", "on disk MiB"]


def disk_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def measure(params_file: Path, scale: int, out: Path) -> dict[str, float]:
    command = [sys.executable, "-c", MEASURE, str(params_file), str(scale), str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"corpus build at {scale}x failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    cli = parser(__doc__, params=True, workdir=True)
    cli.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    cli.add_argument("--size", type=int, default=None, help="image size (default: params.yaml)")
    args = cli.parse_args()
    params = load_params(args.params)
    if args.size is not None:
        params = with_updates(params, {"images": {"size": args.size}})
    work = workdir(args, "corpus-bench-")
    work.mkdir(parents=True, exist_ok=True)
    params_file = work / "params.json"
    params_file.write_text(params.model_dump_json(by_alias=True))

    rows = []
    for scale in args.scales:
        out = work / f"corpus-{scale}x"
        result = measure(params_file, scale, out)
        rows.append(
            [
                f"{scale}x",
                result["windows"],
                result["images"],
                f"{result['seconds']:.1f}",
                f"{result['windows'] / result['seconds']:.1f}",
                f"{result['peak_mib']:.0f}",
                f"{disk_mib(out):.0f}",
            ]
        )
        print(f"{scale}x: {json.dumps(result)}", file=sys.stderr)
    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} cores; images {params.images.size} px, "
        f"{'/'.join(params.images.representations)}"
    )
    print(markdown_table(COLUMNS, rows))


if __name__ == "__main__":
    main()
