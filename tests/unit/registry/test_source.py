"""resolve_backbone with the pipeline and file sources, and every kind of bad checkpoint."""

from __future__ import annotations

import shutil
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from pydantic import ValidationError

from biomoe.config import Params
from biomoe.embed.extract import embed_images, embeddings_backbone_sha256, read_embeddings
from biomoe.errors import CheckpointError
from biomoe.imaging.shards import load_images, read_image_index, write_image_shards
from biomoe.io import sha256_file, sha256_tree
from biomoe.model.checkpoint import load_checkpoint, save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.paths import ProjectPaths
from biomoe.registry.source import ResolvedBackbone, resolve_backbone


def resolve(
    params: Params, paths: ProjectPaths, tracking_uri: str | None = None
) -> ResolvedBackbone:
    """The backbone ``params.embed.backbone`` names, as the embed stage resolves it."""
    uri = tracking_uri or params.register.tracking_uri
    return resolve_backbone(params.embed.backbone, paths, params.images.size, uri)


def _state(path: Path) -> OrderedDict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model_state_dict"]


def _save(payload: object, path: Path) -> Path:
    torch.save(payload, path)
    return path


def _embed(images: Path, backbone: ResolvedBackbone, out: Path, params: Params):
    return embed_images(
        images, backbone.path, out, img_size=params.images.size, batch_size=8, progress=False
    )


def test_pipeline_source_is_the_pretrained_checkpoint(
    tmp_path: Path, tiny_params: Params, tiny_checkpoint: Path
) -> None:
    paths = ProjectPaths.at(tmp_path)
    paths.backbone_dir.mkdir(parents=True)
    shutil.copyfile(tiny_checkpoint, paths.backbone)
    (paths.backbone_dir / "model.json").write_text("{}")

    resolved = resolve(tiny_params, paths)

    assert resolved.path == paths.backbone
    assert resolved.sha256 == sha256_file(tiny_checkpoint)
    assert resolved.description == "pipeline models/backbone/model.pth"
    assert resolved.card == paths.backbone_dir / "model.json"


def test_pipeline_source_without_pretraining_says_what_to_run(
    tmp_path: Path, tiny_params: Params
) -> None:
    with pytest.raises(CheckpointError, match=r"backbone/model\.pth does not exist.*pretrain"):
        resolve(tiny_params, ProjectPaths.at(tmp_path))


def test_file_source_reads_relative_paths_from_the_root(
    tmp_path: Path, tiny_params: Params, tiny_checkpoint: Path, with_backbone: Callable
) -> None:
    (tmp_path / "weights").mkdir()
    shutil.copyfile(tiny_checkpoint, tmp_path / "weights" / "mine.pth")
    paths = ProjectPaths.at(tmp_path)

    relative = resolve(with_backbone(tiny_params, source="file", path="weights/mine.pth"), paths)
    absolute = resolve(with_backbone(tiny_params, source="file", path=str(tiny_checkpoint)), paths)

    assert relative.path == paths.root / "weights" / "mine.pth"
    assert relative.sha256 == absolute.sha256 == sha256_file(tiny_checkpoint)
    assert relative.card is None
    with pytest.raises(CheckpointError, match=r"nope\.pth does not exist.*embed\.backbone\.path"):
        resolve(with_backbone(tiny_params, source="file", path="nope.pth"), paths)


def test_reference_checkpoint_is_accepted_at_its_own_size_only(
    tmp_path: Path,
    params: Params,
    tiny_params: Params,
    reference_checkpoint: Path,
    with_backbone: Callable,
) -> None:
    paths = ProjectPaths.at(tmp_path)
    at_224 = with_backbone(params, source="file", path=str(reference_checkpoint))
    resolved = resolve(at_224, paths)
    assert resolved.sha256 == sha256_file(reference_checkpoint)

    at_32 = with_backbone(tiny_params, source="file", path=str(reference_checkpoint))
    with pytest.raises(CheckpointError) as info:
        resolve(at_32, paths)
    message = str(info.value)
    assert reference_checkpoint.name in message
    assert "img_size=224" in message and "images.size=32" in message and "ln_img.weight" in message


def test_reference_checkpoint_embeds_images_of_its_size(
    tmp_path: Path,
    params: Params,
    reference_checkpoint: Path,
    with_backbone: Callable,
    make_windows: Callable[[int], pd.DataFrame],
) -> None:
    images = tmp_path / "images"
    write_image_shards(make_windows(1), images, params.images, progress=False)
    resolved = resolve(
        with_backbone(params, source="file", path=str(reference_checkpoint)),
        ProjectPaths.at(tmp_path),
    )
    result = _embed(images, resolved, tmp_path / "embeddings", params)

    assert result.n_computed == result.n_images == len(params.images.representations)
    assert result.backbone_sha256 == resolved.sha256
    model = load_checkpoint(reference_checkpoint, img_size=224)
    with torch.no_grad():
        expected = model(torch.from_numpy(load_images(images, read_image_index(images))) / 255.0)
    table = read_embeddings(result.table)
    np.testing.assert_allclose(np.stack(table["embedding"]), expected.numpy(), atol=1e-5)


def _corrupt(good: Path, bad: Path) -> str:
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    return "not a torch zip archive"


def _truncated(good: Path, bad: Path) -> str:
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    return "corrupt or truncated"


def _bare_state_dict(good: Path, bad: Path) -> str:
    _save(_state(good), bad)
    return "expected a dict with key 'model_state_dict'.*bare state dict"


def _other_architecture(good: Path, bad: Path) -> str:
    state = _state(good)
    state.pop("ln_out.bias")
    state["head.weight"] = torch.zeros(3, 192)
    _save({"model_state_dict": state}, bad)
    return r"does not fit TinyBioMoE.*missing key\(s\): ln_out\.bias.*unexpected key\(s\): head"


def _wrong_shapes(good: Path, bad: Path) -> str:
    state = _state(good)
    name = next(k for k, v in state.items() if k.startswith("enc2") and v.dim() == 4)
    state[name] = torch.zeros(*state[name].shape[:-1], state[name].shape[-1] + 2)
    _save({"model_state_dict": state}, bad)
    return rf"does not fit TinyBioMoE.*shape mismatch.*{name}"


def _nan_weights(good: Path, bad: Path) -> str:
    state = _state(good)
    state["ln_out.weight"][0] = float("nan")
    _save({"model_state_dict": state}, bad)
    return r"NaN or inf.*ln_out\.weight"


@pytest.fixture(scope="module")
def good_embeddings(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_params: Params,
    tiny_images: Path,
    tiny_checkpoint: Path,
    with_backbone: Callable,
) -> Path:
    """Embeddings of the tiny images with the tiny checkpoint, made through a file source."""
    root = tmp_path_factory.mktemp("good")
    good = resolve(
        with_backbone(tiny_params, source="file", path=str(tiny_checkpoint)), ProjectPaths.at(root)
    )
    return _embed(tiny_images, good, root / "embeddings", tiny_params).table.parent


@pytest.mark.parametrize(
    "damage",
    [_corrupt, _truncated, _bare_state_dict, _other_architecture, _wrong_shapes, _nan_weights],
)
def test_bad_checkpoint_is_named_and_embeddings_stay_intact(
    damage: Callable[[Path, Path], str],
    tmp_path: Path,
    tiny_params: Params,
    tiny_images: Path,
    tiny_checkpoint: Path,
    good_embeddings: Path,
    with_backbone: Callable,
) -> None:
    out = tmp_path / "embeddings"
    shutil.copytree(good_embeddings, out)
    before = sha256_tree(out)

    bad = tmp_path / "bad.pth"
    rule = damage(tiny_checkpoint, bad)
    with pytest.raises(CheckpointError, match=rule) as info:
        resolve(
            with_backbone(tiny_params, source="file", path="bad.pth"), ProjectPaths.at(tmp_path)
        )
    assert str(bad) in str(info.value)
    with pytest.raises(CheckpointError):
        embed_images(tiny_images, bad, out, img_size=32, batch_size=8, progress=False)
    assert sha256_tree(out) == before


def test_same_bytes_from_another_source_reuse_the_cache(
    tmp_path: Path,
    tiny_params: Params,
    tiny_images: Path,
    tiny_checkpoint: Path,
    with_backbone: Callable,
) -> None:
    paths = ProjectPaths.at(tmp_path)
    paths.backbone_dir.mkdir(parents=True)
    shutil.copyfile(tiny_checkpoint, paths.backbone)
    out = tmp_path / "embeddings"

    first = _embed(tiny_images, resolve(tiny_params, paths), out, tiny_params)
    table = first.table.read_bytes()
    copy = resolve(with_backbone(tiny_params, source="file", path=str(tiny_checkpoint)), paths)
    second = _embed(tiny_images, copy, out, tiny_params)

    assert first.n_computed == first.n_images > 0 and second.n_computed == 0
    assert second.table.read_bytes() == table
    assert embeddings_backbone_sha256(second.table) == copy.sha256


def test_table_records_its_backbone(tmp_path: Path, tiny_params: Params, tiny_images: Path) -> None:
    torch.manual_seed(3)
    other = save_checkpoint(TinyBioMoE(img_size=32), tmp_path / "other.pth")
    result = embed_images(
        tiny_images, other, tmp_path / "e", img_size=32, batch_size=12, progress=False
    )
    assert embeddings_backbone_sha256(result.table) == sha256_file(other)
    pq.write_table(pq.read_table(result.table).replace_schema_metadata(None), tmp_path / "old.pq")
    with pytest.raises(CheckpointError, match=r"old\.pq.*re-run `biomoe embed`"):
        embeddings_backbone_sha256(tmp_path / "old.pq")


@pytest.mark.parametrize(
    "source",
    [
        {"source": "registry", "name": "biomoe-backbone"},
        {"source": "registry", "name": "biomoe-backbone", "alias": "champion", "version": 2},
        {"source": "file"},
        {"source": "hub", "path": "x"},
        {"source": "pipeline", "path": "x"},
    ],
)
def test_backbone_params_are_checked(
    source: dict, tiny_params: Params, with_backbone: Callable
) -> None:
    with pytest.raises(ValidationError, match=r"embed\.backbone|backbone"):
        with_backbone(tiny_params, **source)
