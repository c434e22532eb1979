"""``build_engine`` / ``load_engine``: every engine gives the eager model's embeddings, leaves
the model alone, and is deterministic."""

from __future__ import annotations

import pytest
import torch
from tests.unit.model.inference.conftest import TOLERANCE, embed, max_diff, perturbed

from biomoe.model.checkpoint import load_checkpoint, save_checkpoint
from biomoe.model.inference import (
    FastTinyBioMoE,
    ThreadedTinyBioMoE,
    build_engine,
    load_engine,
)
from biomoe.model.tiny_biomoe import TinyBioMoE

ENGINES = ("fast", "threaded")


@pytest.fixture(scope="module")
def model224(perturb) -> TinyBioMoE:
    return perturbed(perturb, 224)


@pytest.mark.parametrize("engine", ENGINES)
def test_reference_embeddings_are_reproduced(engine, reference_checkpoint, reference_io) -> None:
    model = load_checkpoint(reference_checkpoint, img_size=224)
    fast = build_engine(model, engine)
    out = embed(fast, reference_io["input"])
    assert out.shape == (4, 192) and out.dtype == torch.float32
    assert max_diff(out, reference_io["embedding"]) < TOLERANCE


@pytest.mark.parametrize("img_size", [32, 64])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("engine", ENGINES)
def test_matches_eager_on_random_weights(perturb, img_size, batch, engine) -> None:
    model = perturbed(perturb, img_size, seed=img_size + batch)
    x = torch.rand(batch, 3, img_size, img_size, generator=torch.Generator().manual_seed(1))
    assert max_diff(embed(build_engine(model, engine), x), embed(model, x)) < TOLERANCE


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("engine", ENGINES)
def test_matches_eager_at_224(model224, batch, engine) -> None:
    x = torch.rand(batch, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    fast = build_engine(model224, engine)
    assert max_diff(embed(fast, x), embed(model224, x)) < TOLERANCE


def test_source_model_is_left_untouched(perturb) -> None:
    model = perturbed(perturb, 64, seed=4).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    fast = build_engine(model, "fast")
    x = torch.rand(3, 3, 64, 64)
    out = embed(fast, x)
    assert model.training
    assert {n: p.requires_grad for n, p in model.named_parameters()} == grads
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(t.requires_grad for t in fast.state_dict(keep_vars=True).values())
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert torch.equal(embed(fast, x), out)


def test_outputs_are_deterministic(model224) -> None:
    x = torch.rand(5, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    for engine in ENGINES:
        fast = build_engine(model224, engine)
        assert torch.equal(embed(fast, x), embed(fast, x))
    again = build_engine(model224, "fast")
    assert torch.equal(embed(again, x), embed(build_engine(model224, "fast"), x))


def test_engine_choice() -> None:
    model = TinyBioMoE(img_size=32).train()
    assert build_engine(model, "eager") is model
    assert not model.training
    assert isinstance(build_engine(model, "fast"), FastTinyBioMoE)
    assert isinstance(build_engine(model, "threaded", workers=1), ThreadedTinyBioMoE)
    with pytest.raises(ValueError, match="engine must be one of"):
        build_engine(model, "onnx")  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["eager", "fast"])
def test_load_engine_builds_the_engine_of_a_checkpoint(perturb, tmp_path, engine) -> None:
    model = perturbed(perturb, 32, seed=10)
    path = save_checkpoint(model, tmp_path / "backbone.pth")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(10))
    loaded = load_engine(path, engine, img_size=32)
    assert not loaded.training
    assert torch.equal(embed(loaded, x), embed(build_engine(model, engine), x))


@pytest.mark.parametrize("engine", ENGINES)
def test_bfloat16_experts_keep_the_spectral_filters_and_return_float32(perturb, engine) -> None:
    """The experts' real weights turn bfloat16; the complex spectral filters keep their
    imaginary part (``Module.to`` would drop it) and the embedding stays float32."""
    model = perturbed(perturb, 64, seed=11)
    fp32 = build_engine(model, "fast")
    bf16 = build_engine(model, engine, dtype=torch.bfloat16)
    fast = bf16 if engine == "fast" else bf16.fast
    experts = [*fast.enc1.state_dict().values(), *fast.enc2.state_dict().values()]
    assert {t.dtype for t in experts if not t.is_complex()} == {torch.bfloat16}
    assert fast.ln_img.weight.dtype == fast.ln_out.weight.dtype == torch.float32
    complex_ = {k: v for k, v in fp32.state_dict().items() if v.is_complex()}
    assert complex_ and all(torch.equal(fast.state_dict()[k], v) for k, v in complex_.items())
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(11))
    out, ref = embed(bf16, x), embed(fp32, x)
    assert out.dtype == torch.float32 and not torch.equal(out, ref)
    assert torch.nn.functional.cosine_similarity(out, ref).min() > 0.99


def test_a_bfloat16_eager_engine_is_refused() -> None:
    model = TinyBioMoE(img_size=32)
    with pytest.raises(ValueError, match="eager engine runs the published model in float32"):
        build_engine(model, "eager", dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"dtype must be torch\.float32 or torch\.bfloat16"):
        build_engine(model, "fast", dtype=torch.float16)
