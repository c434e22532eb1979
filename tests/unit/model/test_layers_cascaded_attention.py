"""Relative offset tables, cascaded group attention, window tiling and local windows."""

from __future__ import annotations

import pytest
import torch

from biomoe.model.layers import (
    CascadedGroupAttention,
    LocalWindowAttention,
    relative_offset_index,
    window_merge,
    window_partition,
)


@pytest.mark.parametrize("resolution", [1, 2, 4, 7])
def test_relative_offset_index_table(resolution: int) -> None:
    count, idxs = relative_offset_index(resolution)
    n = resolution**2
    assert count == n  # |dx|, |dy| each in [0, resolution)
    assert idxs.shape == (n, n) and idxs.dtype == torch.int64
    assert bool((idxs == idxs.T).all())
    assert bool((idxs.diagonal() == 0).all())
    assert set(idxs.flatten().tolist()) == set(range(count))


def test_relative_offset_index_matches_published_buffers(reference_checkpoint) -> None:
    state = torch.load(reference_checkpoint, weights_only=True)["model_state_dict"]
    tables = {k: v for k, v in state.items() if k.endswith("attention_bias_idxs")}
    assert len(tables) == 3
    for table in tables.values():
        resolution = round(table.shape[0] ** 0.5)
        torch.testing.assert_close(relative_offset_index(resolution)[1], table)


def _cga() -> CascadedGroupAttention:
    torch.manual_seed(0)
    attn = CascadedGroupAttention(dim=24, key_dim=8, num_heads=3, resolution=4, kernels=(5, 3, 3))
    with torch.no_grad():
        attn.proj[1].bn.weight.fill_(1.0)  # leave the zero-initialised output branch
    return attn.eval()


def test_cascaded_group_attention_shapes_and_biases() -> None:
    attn = _cga()
    assert attn.attention_biases.shape == (3, 16)
    assert [q.c.out_channels for q in attn.qkvs] == [8 + 8 + 8] * 3
    assert [d.c.kernel_size for d in attn.dws] == [(5, 5), (3, 3), (3, 3)]
    x = torch.randn(2, 24, 4, 4)
    before = attn(x)
    assert before.shape == x.shape
    with torch.no_grad():
        attn.attention_biases.normal_()
    assert not torch.allclose(attn(x), before)


def test_cascade_feeds_each_head_the_previous_output() -> None:
    attn = _cga()
    with torch.no_grad():  # project only the last head's output
        attn.proj[1].c.weight[:, :16] = 0.0
    x = torch.randn(1, 24, 4, 4)
    y = x.clone()
    y[:, :8] += 1.0  # change only the first head's input split
    assert not torch.allclose(attn(x), attn(y))
    z = x.clone()
    z[:, 16:] += 1.0  # while the last head does see its own split
    assert not torch.allclose(attn(x), attn(z))


def test_local_window_attention_equals_attention_per_window() -> None:
    torch.manual_seed(0)
    lwa = LocalWindowAttention(24, 8, 3, resolution=8, window_resolution=4, kernels=(3, 3, 3))
    with torch.no_grad():
        lwa.attn.proj[1].bn.weight.fill_(1.0)
    lwa.eval()
    x = torch.randn(2, 24, 8, 8)
    out = lwa(x)
    for i in (0, 4):
        for j in (0, 4):
            window = x[:, :, i : i + 4, j : j + 4]
            torch.testing.assert_close(out[:, :, i : i + 4, j : j + 4], lwa.attn(window))


def test_local_window_attention_pads_and_checks_size() -> None:
    lwa = LocalWindowAttention(24, 8, 3, resolution=9, window_resolution=7, kernels=(3, 3, 3))
    assert lwa.attn.attention_biases.shape == (3, 49)
    assert lwa.eval()(torch.randn(1, 24, 9, 9)).shape == (1, 24, 9, 9)
    with pytest.raises(ValueError, match="expected a 9x9 feature map, got 8x8"):
        lwa(torch.randn(1, 24, 8, 8))
    small = LocalWindowAttention(24, 8, 3, resolution=2, window_resolution=7, kernels=(3, 3, 3))
    assert small.attn.attention_biases.shape == (3, 4)


@pytest.mark.parametrize(("size", "tiles"), [(8, 4), (9, 9)])
def test_window_partition_tiles_and_merge_inverts_it(size: int, tiles: int) -> None:
    x = torch.randn(2, size, size, 5)
    windows = window_partition(x, 4)
    assert windows.shape == (2 * tiles, 4, 4, 5)
    torch.testing.assert_close(windows[1], x[0, :4, 4:8])
    torch.testing.assert_close(window_merge(windows, size, size), x)
    if size % 4:
        assert bool((windows[-1, 1:] == 0).all())  # zero padding at the bottom and right
