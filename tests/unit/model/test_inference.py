"""The fast inference path gives the eager model's embeddings, leaves the model alone, and is
deterministic; its weight algebra and fused kernels are each exact."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from biomoe.model import TinyBioMoE, load_checkpoint
from biomoe.model.fusion import (
    fold_batchnorm,
    fold_conv2d_bn,
    fold_depthwise_residual,
    stack_linears,
)
from biomoe.model.inference import (
    FastTinyBioMoE,
    ThreadedTinyBioMoE,
    optimize_for_inference,
)
from biomoe.model.kernels import FusedConv2d, FusedLinear
from biomoe.model.layers import Conv2dBN

TOLERANCE = 1e-4
ENGINES = ("fast", "threaded")


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def _embed(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return module(x)


def _perturbed(perturb, img_size: int, seed: int = 0) -> TinyBioMoE:
    torch.manual_seed(seed)
    return perturb(TinyBioMoE(img_size=img_size), seed=seed).eval()


@pytest.fixture(scope="module", autouse=True)
def one_intra_op_thread():
    """One intra-op thread: on a shared 2-core machine, ops split over 2 threads wait for
    each other's time slices and run 10x slower; results do not depend on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model224(perturb) -> TinyBioMoE:
    return _perturbed(perturb, 224)


@pytest.mark.parametrize("engine", ENGINES)
def test_reference_embeddings_are_reproduced(engine, reference_checkpoint, reference_io) -> None:
    model = load_checkpoint(reference_checkpoint, img_size=224)
    fast = optimize_for_inference(model, engine)
    out = _embed(fast, reference_io["input"])
    assert out.shape == (4, 192) and out.dtype == torch.float32
    assert _max_diff(out, reference_io["embedding"]) < TOLERANCE


@pytest.mark.parametrize("img_size", [32, 64])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("engine", ENGINES)
def test_matches_eager_on_random_weights(perturb, img_size, batch, engine) -> None:
    model = _perturbed(perturb, img_size, seed=img_size + batch)
    x = torch.rand(batch, 3, img_size, img_size, generator=torch.Generator().manual_seed(1))
    assert _max_diff(_embed(optimize_for_inference(model, engine), x), _embed(model, x)) < TOLERANCE


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("engine", ENGINES)
def test_matches_eager_at_224(model224, batch, engine) -> None:
    x = torch.rand(batch, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    fast = optimize_for_inference(model224, engine)
    assert _max_diff(_embed(fast, x), _embed(model224, x)) < TOLERANCE


def test_plain_pytorch_fallback_matches_eager(perturb) -> None:
    """With autograd on, every fused layer takes its plain-PyTorch path (the one used on GPU)."""
    model = _perturbed(perturb, 64, seed=3)
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    out = FastTinyBioMoE(model)(x)
    assert out.requires_grad
    assert _max_diff(out.detach(), _embed(model, x.detach())) < TOLERANCE


def test_source_model_is_left_untouched(perturb) -> None:
    model = _perturbed(perturb, 64, seed=4).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    fast = optimize_for_inference(model, "fast")
    x = torch.rand(3, 3, 64, 64)
    out = _embed(fast, x)
    assert model.training
    assert {n: p.requires_grad for n, p in model.named_parameters()} == grads
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(t.requires_grad for t in fast.state_dict(keep_vars=True).values())
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert torch.equal(_embed(fast, x), out)


def test_outputs_are_deterministic(model224) -> None:
    x = torch.rand(5, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    for engine in ENGINES:
        fast = optimize_for_inference(model224, engine)
        assert torch.equal(_embed(fast, x), _embed(fast, x))
    again = optimize_for_inference(model224, "fast")
    assert torch.equal(_embed(again, x), _embed(optimize_for_inference(model224, "fast"), x))


def test_threaded_engine_splits_batches_and_keeps_caller_threads(perturb) -> None:
    model = _perturbed(perturb, 64, seed=6)
    fast = FastTinyBioMoE(model)
    x = torch.rand(7, 3, 64, 64, generator=torch.Generator().manual_seed(7))
    expected = _embed(fast, x)
    for workers, chunk in [(1, 2), (2, 2), (3, 4)]:
        torch.set_num_threads(2)
        threaded = ThreadedTinyBioMoE(fast, workers=workers, chunk=chunk)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        assert _max_diff(_embed(threaded, x), expected) < TOLERANCE
        assert _max_diff(_embed(threaded, x[:1]), expected[:1]) < TOLERANCE
        threaded.close()
    with pytest.raises(ValueError, match="workers"):
        ThreadedTinyBioMoE(fast, workers=0)


def test_threaded_engine_outputs_do_not_depend_on_the_workers(perturb) -> None:
    fast = FastTinyBioMoE(_perturbed(perturb, 64, seed=9))
    x = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    outputs = []
    for workers in (1, 2, 3):
        threaded = ThreadedTinyBioMoE(fast, workers=workers)
        outputs.append(_embed(threaded, x))
        threaded.close()
    assert all(torch.equal(outputs[0], other) for other in outputs[1:])


def test_engine_choice() -> None:
    model = TinyBioMoE(img_size=32).eval()
    assert optimize_for_inference(model, "eager") is model
    assert isinstance(optimize_for_inference(model, "fast"), FastTinyBioMoE)
    assert isinstance(optimize_for_inference(model, "threaded", workers=1), ThreadedTinyBioMoE)
    with pytest.raises(ValueError, match="engine must be one of"):
        optimize_for_inference(model, "onnx")  # type: ignore[arg-type]


def test_rejects_wrong_input_shape() -> None:
    fast = FastTinyBioMoE(TinyBioMoE(img_size=32).eval())
    with pytest.raises(ValueError, match=r"expected input \[B, 3, 32, 32\], got \[2, 3, 64, 64\]"):
        _embed(fast, torch.rand(2, 3, 64, 64))


def test_copies_and_pickles_after_use(perturb) -> None:
    """The oneDNN-packed weights made on first use are never copied or pickled."""
    fast = FastTinyBioMoE(_perturbed(perturb, 32, seed=8))
    x = torch.rand(2, 3, 32, 32)
    out = _embed(fast, x)
    for clone in (copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))):
        assert torch.equal(_embed(clone, x), out)


def _bn(channels: int, seed: int) -> torch.nn.BatchNorm2d:
    generator = torch.Generator().manual_seed(seed)
    bn = torch.nn.BatchNorm2d(channels).eval()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(channels, generator=generator))
        bn.bias.copy_(torch.randn(channels, generator=generator))
        bn.running_mean.copy_(torch.randn(channels, generator=generator))
        bn.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
    return bn


@pytest.mark.parametrize("bias", [False, True])
def test_fold_batchnorm_equals_conv_then_bn(bias) -> None:
    conv = torch.nn.Conv2d(4, 6, 3, 2, 1, bias=bias)
    bn = _bn(6, seed=1)
    weight, b = fold_batchnorm(conv, bn)
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        expected = bn(conv(x))
    torch.testing.assert_close(F.conv2d(x, weight, b, 2, 1), expected, atol=1e-5, rtol=1e-5)


def test_fold_depthwise_residual_equals_identity_plus_branch() -> None:
    layer = Conv2dBN(5, 5, 3, 1, 1, groups=5).eval()
    layer.bn = _bn(5, seed=2)
    weight, bias = fold_depthwise_residual(layer)
    x = torch.randn(2, 5, 7, 7)
    with torch.no_grad():
        expected = x + layer(x)
    torch.testing.assert_close(F.conv2d(x, weight, bias, 1, 1, 1, 5), expected)
    scaled, _ = fold_conv2d_bn(layer, scale=0.5)
    torch.testing.assert_close(scaled, fold_conv2d_bn(layer)[0] * 0.5)
    with pytest.raises(ValueError, match="depth-wise"):
        fold_depthwise_residual(Conv2dBN(5, 5, 3, 2, 1, groups=5))


def test_stack_linears_concatenates_outputs() -> None:
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 5)
    weight, bias = stack_linears(a, b)
    x = torch.randn(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(F.linear(x, weight, bias), torch.cat([a(x), b(x)], dim=1))


@pytest.mark.parametrize("activation", ["none", "relu", "gelu"])
def test_fused_linear_matches_plain_pytorch(activation) -> None:
    generator = torch.Generator().manual_seed(3)
    weight, bias = torch.randn(6, 8, generator=generator), torch.randn(6, generator=generator)
    x = torch.randn(2, 3, 8, generator=generator)
    plain = F.linear(x, weight, bias)
    plain = {"none": plain, "relu": F.relu(plain), "gelu": F.gelu(plain)}[activation]
    layer = FusedLinear(weight, bias, activation)
    torch.testing.assert_close(_embed(layer, x), plain, atol=1e-5, rtol=1e-5)
    if activation == "none":
        residual = torch.randn(2, 3, 6, generator=generator)
        with torch.inference_mode():
            fused = layer(x, residual)
        torch.testing.assert_close(fused, plain + residual, atol=1e-5, rtol=1e-5)
    else:
        with pytest.raises(ValueError, match="residual"):
            layer(x, x)


@pytest.mark.parametrize(("stride", "groups", "activation"), [(1, 1, "relu"), (2, 4, "gelu")])
def test_fused_conv_matches_plain_pytorch(stride, groups, activation) -> None:
    generator = torch.Generator().manual_seed(4)
    weight = torch.randn(8, 4 // groups, 3, 3, generator=generator)
    bias = torch.randn(8, generator=generator)
    x = torch.randn(2, 4, 9, 9, generator=generator).contiguous(memory_format=torch.channels_last)
    plain = F.conv2d(x, weight, bias, stride, 1, 1, groups)
    plain = F.relu(plain) if activation == "relu" else F.gelu(plain)
    layer = FusedConv2d(weight, bias, stride, 1, groups, activation)
    torch.testing.assert_close(_embed(layer, x), plain, atol=1e-5, rtol=1e-5)
    nhwc = x.permute(0, 2, 3, 1)
    with torch.inference_mode():
        torch.testing.assert_close(
            layer.nhwc(nhwc), plain.permute(0, 2, 3, 1), atol=1e-5, rtol=1e-5
        )
