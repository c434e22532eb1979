"""One module per pipeline stage, each a short ``run(params, paths, ...)``: wiring only.

The CLI (``biomoe <stage>``), ``dvc repro`` (whose stages call the CLI) and the Prefect flow
all call these functions with the same params.yaml, so the three doors write the same bytes.
Each stage reads and writes the paths of the data contract (``ProjectPaths``), passes the
library the params sections it needs (never the whole ``Params``: tests/unit/test_stage_deps.py
derives each dvc.yaml stage's deps and params from these modules) and logs one MLflow run.
Modules import their heavy dependencies themselves: every DVC stage is a new process.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from biomoe.numerics import require

if TYPE_CHECKING:
    from biomoe.config import Params
    from biomoe.paths import ProjectPaths

PIPELINE = (
    "ingest",
    "validate",
    "images",
    "corpus",
    "pretrain",
    "embed",
    "train",
    "evaluate",
    "register",
)
"""The stages after data/raw, in dependency order (``biomoe run``, the Prefect flow)."""


def stage(name: str) -> Callable[..., Path]:
    """The ``run`` function of stage ``name`` (imported on demand); it refuses to run in a
    process that does not hold the numerics params.yaml asks for (``numerics.require``)."""
    run = importlib.import_module(f"biomoe.stages.{name}").run

    @functools.wraps(run)
    def checked(params: Params, paths: ProjectPaths, *args: object, **kwargs: object) -> Path:
        require(params.numerics)
        return run(params, paths, *args, **kwargs)

    return checked
