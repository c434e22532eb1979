from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from biomoe.imaging.resize import resize, resize_matrix


@pytest.mark.parametrize(
    ("height", "width", "size"), [(33, 126, 224), (33, 126, 32), (300, 500, 64), (5, 3, 16)]
)
def test_matches_torch_antialiased_bilinear(height: int, width: int, size: int) -> None:
    grids = np.random.default_rng(0).random((3, height, width)).astype(np.float32)
    reference = F.interpolate(
        torch.from_numpy(grids)[:, None],
        size=(size, size),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )[:, 0].numpy()
    np.testing.assert_allclose(resize(grids, size), reference, atol=2e-5)


def test_banded_products_equal_the_dense_one_and_scale() -> None:
    grids = np.random.default_rng(1).random((4, 64, 100)).astype(np.float32)
    dense = resize_matrix(64, 224) @ (grids @ resize_matrix(100, 224).T)
    np.testing.assert_allclose(resize(grids, 224), dense, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(resize(grids, 224, 3.0), 3.0 * dense, rtol=1e-5, atol=1e-5)


def test_weights_are_a_partition_of_unity() -> None:
    for n_in, n_out in ((33, 224), (500, 224), (7, 7)):
        np.testing.assert_allclose(resize_matrix(n_in, n_out).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(resize_matrix(7, 7), np.eye(7, dtype=np.float32))
