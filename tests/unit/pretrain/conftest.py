"""A tiny real corpus (``build_corpus`` at the tiny params), built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from biomoe.config import Params


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory, tiny_params: Params) -> Path:
    """Read only: copy it before breaking it."""
    from biomoe.corpus.build import build_corpus

    out = tmp_path_factory.mktemp("pretrain-corpus") / "corpus"
    build_corpus(tiny_params.corpus, tiny_params.images, tiny_params.ingest.fs, out, progress=False)
    return out


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors gain nothing from threads, and on a busy 2-core machine they oversubscribe."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
