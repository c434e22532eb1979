"""The stages whose shards fan out (images, embed, evaluate): their run and their runner."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.scaleout.runners import Runner, open_runner
from biomoe.stages.common import tracked


@contextlib.contextmanager
def sharded(
    stage: str,
    params: Params,
    paths: ProjectPaths,
    tracking_uri: str | None,
    given: Runner | None,
) -> Iterator[Runner]:
    """The stage's MLflow run, and the runner its shards go to: ``given``, else the one
    ``scaleout`` in params names (opened and closed here)."""
    with tracked(stage, params, paths, (stage, "scaleout"), tracking_uri):
        if given is not None:
            yield given
        else:
            with open_runner(params.scaleout) as runner:
                yield runner
