"""GlobalBatchNorm2d in two real gloo processes against one BatchNorm2d over both batches."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.pretrain.distributed import GlobalBatchNorm2d, globalize_batchnorm


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, 5, 5, generator=generator, dtype=torch.float64) * 3 + 1
    weight = torch.randn(6, 4, 5, 5, generator=generator, dtype=torch.float64)
    return x, weight


def _bn(cls: type[nn.BatchNorm2d]) -> nn.BatchNorm2d:
    bn = cls(4).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5, -1.0]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0, 0.5]))
    return bn


def _rank(rank: int, port: int, out: str) -> None:
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    dist.init_process_group("gloo", rank=rank, world_size=2)
    x, weight = _inputs()
    part = slice(0, 2) if rank == 0 else slice(2, 6)  # unequal shares: 2 and 4 images
    local = x[part].clone().requires_grad_()
    bn = _bn(GlobalBatchNorm2d)
    y = bn(local)
    (y * weight[part]).sum().backward()
    dist.all_reduce(bn.weight.grad)
    dist.all_reduce(bn.bias.grad)
    torch.save(
        {
            "y": y.detach(),
            "dx": local.grad,
            "dw": bn.weight.grad,
            "db": bn.bias.grad,
            "buffers": dict(bn.state_dict()),
        },
        f"{out}.{rank}",
    )
    dist.destroy_process_group()


def test_statistics_and_gradients_span_both_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # spawned ranks unpickle ``_rank`` by module name: let them import this test module
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[3]))
    out = str(tmp_path / "rank")
    mp.start_processes(_rank, args=(_free_port(), out), nprocs=2, start_method="spawn")
    ranks = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]

    x, weight = _inputs()
    x.requires_grad_()
    bn = _bn(nn.BatchNorm2d)
    y = bn(x)
    (y * weight).sum().backward()

    close = {"rtol": 1e-10, "atol": 1e-12}
    torch.testing.assert_close(torch.cat([r["y"] for r in ranks]), y.detach(), **close)
    torch.testing.assert_close(torch.cat([r["dx"] for r in ranks]), x.grad, **close)
    for r in ranks:
        torch.testing.assert_close(r["dw"], bn.weight.grad, **close)
        torch.testing.assert_close(r["db"], bn.bias.grad, **close)
        for key, value in bn.state_dict().items():
            torch.testing.assert_close(r["buffers"][key], value, **close)


def test_alone_it_is_plain_batchnorm_and_keeps_the_published_keys() -> None:
    torch.manual_seed(0)
    model = TinyBioMoE(32)
    keys = list(model.state_dict())
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(3, 3, 32, 32)
    expected = model.train()(x)
    model.load_state_dict(reference)
    globalize_batchnorm(model)
    assert list(model.state_dict()) == keys
    assert any(isinstance(m, GlobalBatchNorm2d) for m in model.modules())
    assert not any(type(m) is nn.BatchNorm2d for m in model.modules())
    assert torch.equal(model.train()(x), expected)
