"""Backbones at increasing pretraining compute, for ``probe.py``'s scaling columns.

    python benchmarks/scaling.py --workdir .cache/scaling              # 4x and 16x (about 25 min)
    python benchmarks/probe.py --root . --backbone 4x=.cache/scaling/4x/models/backbone/model.pth \\
        --backbone 16x=.cache/scaling/16x/models/backbone/model.pth

Compute is counted in images seen by the optimizer, relative to params.yaml's recipe (``1x``,
the quick recipe ``make run`` uses). ``--grow both``: ``Kx`` has sqrt(K) times its
``corpus_scale`` (every source's window cap) and sqrt(K) times its epochs, so K times the
optimizer steps over a corpus that grows with them (``64x`` is the old ``base``: corpus 8x,
epochs 16). ``--grow corpus``: K times the corpus at the recipe's epochs, so every extra step
sees windows no earlier step saw (the packaged recordings run out of windows first; the
simulated ones never do). Everything else (tasks, weights, warm-up, lr schedule shape, batch,
seed) is params.yaml's.
Each multiple gets a project folder of its own under ``--workdir`` (``<K>x/``: params.yaml,
``data/corpus``, ``models/backbone``, its MLflow store) built by the pipeline's own corpus and
pretrain stages; an existing finished backbone is kept, and an interrupted run resumes from its
last checkpoint (a long multiple such as 64x can be run in several sittings).
"""

from __future__ import annotations

import math
import time

import yaml

from biomoe.config import Params, load_params
from biomoe.numerics import configured, enter
from biomoe.paths import ProjectPaths
from biomoe.pretrain.checkpointing import checkpoint_path
from biomoe.pretrain.launch import run_dir
from biomoe.stages import stage
from common import markdown_table, parser, with_updates, workdir


def scaled(params: Params, multiple: int, grow: str) -> Params:
    """params.yaml's recipe at ``multiple`` times its compute: ``grow`` ``both``,
    ``sqrt(multiple)`` times the corpus scale and the epochs (``multiple`` a square: 4, 16, 64);
    ``corpus``, ``multiple`` times the corpus scale at the same epochs."""
    recipe = params.pretrain.schedule
    factor = math.isqrt(multiple)
    if grow == "corpus":
        corpus_scale, epochs = recipe.corpus_scale * multiple, recipe.epochs
    elif factor * factor != multiple:
        raise SystemExit(f"--multiples takes squares (4, 16, 64) with --grow both, not {multiple}")
    else:
        corpus_scale, epochs = recipe.corpus_scale * factor, recipe.epochs * factor
    grown = {"corpus_scale": corpus_scale, "epochs": epochs, "warmup_steps": recipe.warmup_steps}
    return with_updates(params, {"pretrain": {"recipe": "scaled", "recipes": {"scaled": grown}}})


def main() -> None:
    cli = parser(__doc__, params=True, workdir=True)
    cli.add_argument("--multiples", type=int, nargs="+", default=[4, 16])
    cli.add_argument(
        "--grow",
        choices=["both", "corpus"],
        default="both",
        help="spend the extra compute on corpus and epochs alike, or on the corpus alone",
    )
    cli.add_argument(
        "--without",
        default=None,
        metavar="TASK",
        help="instead: 1x without this pretraining task (an ablation), in <workdir>/1x-no-TASK",
    )
    args = cli.parse_args()
    enter(configured(args.params))  # the pipeline's numerics, as `biomoe` runs its stages
    base = load_params(args.params)
    out = workdir(args, "biomoe-scaling-")
    rows = []
    runs = [(f"{m}x", scaled(base, m, args.grow)) for m in args.multiples]
    if args.without:
        tasks = tuple(t for t in base.pretrain.tasks if t != args.without)
        runs = [(f"1x-no-{args.without}", with_updates(base, {"pretrain": {"tasks": tasks}}))]
    for name, params in runs:
        paths = ProjectPaths.at(out / name)
        paths.root.mkdir(parents=True, exist_ok=True)
        paths.params.write_text(
            yaml.safe_dump(params.model_dump(by_alias=True, mode="json"), sort_keys=False)
        )
        tracking = f"sqlite:///{paths.mlflow_dir / 'mlflow.db'}"
        paths.mlflow_dir.mkdir(exist_ok=True)
        started = time.perf_counter()
        if not (paths.corpus / "manifest.parquet").is_file():
            stage("corpus")(params, paths, tracking_uri=tracking)
        if not paths.backbone.is_file():
            resume = checkpoint_path(run_dir(paths)).is_file()
            stage("pretrain")(params, paths, tracking_uri=tracking, resume=resume)
        minutes = (time.perf_counter() - started) / 60
        recipe = params.pretrain.schedule
        rows.append([name, recipe.corpus_scale, recipe.epochs, f"{minutes:.1f}"])
        print(f"{name} -> {paths.backbone}", flush=True)
    print(markdown_table(["compute", "corpus scale", "epochs", "minutes"], rows))


if __name__ == "__main__":
    main()
