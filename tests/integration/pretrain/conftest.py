"""Real ``torchrun`` runs on a tiny real corpus (``build_corpus`` at the tiny params, img 32)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from biomoe.config import Params
from biomoe.paths import ProjectPaths


@pytest.fixture(scope="session")
def built_corpus(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> Path:
    from biomoe.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("pretrain-corpus") / "corpus"
    build_corpus(tiny_params.corpus, tiny_params.images, tiny_params.ingest.fs, out, progress=False)
    return out


@pytest.fixture(scope="session")
def make_project(
    tmp_path_factory: pytest.TempPathFactory, built_corpus: Path
) -> Callable[[str], ProjectPaths]:
    """A fresh project root holding a copy of the corpus in ``data/corpus``."""

    def make(name: str) -> ProjectPaths:
        root = tmp_path_factory.mktemp(name)
        shutil.copytree(built_corpus, root / "data" / "corpus")
        return ProjectPaths.at(root)

    return make


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_process() -> Iterator[None]:
    """Two workers on a busy 2-core machine: more threads would only oversubscribe it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        yield


def with_pretrain(params: Params, **changes: object) -> Params:
    data = params.model_dump(by_alias=True)
    data["pretrain"].update(changes)
    return Params.model_validate(data)


def supervised(params: Params) -> tuple[str, ...]:
    """The pretraining tasks without ``contrastive`` (whose micro-batches hold whole windows)
    and ``spread`` (a function of the micro-batch): for runs whose micro-batches are a few
    single images, split differently between processes."""
    return tuple(t for t in params.pretrain.tasks if t not in ("contrastive", "spread"))


def state_dicts_close(a: dict, b: dict, **tolerance: float) -> None:
    assert list(a) == list(b)
    for key in a:
        torch.testing.assert_close(
            a[key], b[key], msg=lambda m, key=key: f"{key}: {m}", **tolerance
        )
