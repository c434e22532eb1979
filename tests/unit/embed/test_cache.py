from __future__ import annotations

from pathlib import Path

import numpy as np

from biomoe.embed.cache import EmbeddingCache


def test_cache_round_trip_and_persistence(tmp_path: Path) -> None:
    keys = [f"{i:064x}" for i in range(5)]
    vectors = np.random.default_rng(0).standard_normal((5, 192)).astype(np.float32)
    cache = EmbeddingCache(tmp_path, "ab" * 32)
    assert cache.missing(keys + keys[:2]) == keys
    cache.add(keys[:3], vectors[:3])
    assert cache.missing(keys) == keys[3:]

    reopened = EmbeddingCache(tmp_path, "ab" * 32)
    assert len(reopened) == 3
    np.testing.assert_array_equal(reopened.get(keys[:3]), vectors[:3])


def test_cache_is_per_backbone(tmp_path: Path) -> None:
    key = "0" * 64
    EmbeddingCache(tmp_path, "a" * 64).add([key], np.ones((1, 192), np.float32))
    assert EmbeddingCache(tmp_path, "b" * 64).missing([key]) == [key]
