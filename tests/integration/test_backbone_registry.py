"""biomoe-backbone in a real MLflow server on localhost: register, alias, resolve, embed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from biomoe.config import Params
from biomoe.embed.extract import embed_images
from biomoe.errors import CheckpointError
from biomoe.imaging.shards import write_image_shards
from biomoe.io import sha256_file
from biomoe.model.checkpoint import save_checkpoint
from biomoe.model.tiny_biomoe import TinyBioMoE
from biomoe.paths import ProjectPaths
from biomoe.registry.backbone import SHA_TAG, follow_classifier, register_backbone
from biomoe.registry.promote import CHALLENGER, CHAMPION
from biomoe.registry.source import ResolvedBackbone, registry_cache_dir, resolve_backbone

pytestmark = pytest.mark.slow

TAGS = {"git_commit": "0" * 40, "params_sha256": "p" * 64}


def resolve(
    params: Params, paths: ProjectPaths, tracking_uri: str | None = None
) -> ResolvedBackbone:
    """The backbone ``params.embed.backbone`` names, as the embed stage resolves it."""
    uri = tracking_uri or params.register.tracking_uri
    return resolve_backbone(params.embed.backbone, paths, params.images.size, uri)


def _with(params: Params, **changes: Any) -> Params:
    data = params.model_dump(by_alias=True)
    for section, values in changes.items():
        data[section].update(values)
    return Params.model_validate(data)


def _registry_source(params: Params, **ref: Any) -> Params:
    return _with(params, embed={"backbone": {"source": "registry", **ref}})


def _windows(n: int) -> pd.DataFrame:
    t = np.arange(800) / 100
    return pd.DataFrame(
        [
            dict(
                window_id=f"S{i}/Baseline/Bvp",
                sample_id=f"S{i}/Baseline",
                subject=f"S{i}",
                split="train",
                segment="Baseline",
                label="No",
                modality="Bvp",
                fs=100,
                n_samples=800,
                signal=np.sin(2 * np.pi * (0.5 + i) * t).astype(np.float32),
                source_file=f"train/Bvp/S{i}.csv",
            )
            for i in range(n)
        ]
    )


def _backbone(folder: Path, seed: int, corpus: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    torch.manual_seed(seed)
    checkpoint = save_checkpoint(TinyBioMoE(img_size=32), folder / "model.pth")
    card = folder / "model.json"
    card.write_text(
        json.dumps({"checkpoint_sha256": sha256_file(checkpoint), "corpus_sha256": corpus})
    )
    return checkpoint, card


@pytest.fixture()
def registry(mlflow_server: str, tiny_params: Params, tmp_path: Path) -> tuple[Params, str]:
    """Params with a fresh backbone name on the server, so tests do not share versions."""
    name = f"biomoe-backbone-{tmp_path.name}"
    params = _with(tiny_params, register={"tracking_uri": mlflow_server, "backbone_name": name})
    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_experiment("backbone-registry")
    return params, name


def _register(params: Params, checkpoint: Path, card: Path | None) -> dict[str, str]:
    with mlflow.start_run():
        return register_backbone(checkpoint, card, params.register.backbone_name, TAGS)


def test_versions_aliases_tags_and_embedding_by_alias(
    registry: tuple[Params, str], mlflow_server: str, tmp_path: Path
) -> None:
    params, name = registry
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    first_ckpt, first_card = _backbone(tmp_path / "a", seed=0, corpus="c" * 64)
    second_ckpt, second_card = _backbone(tmp_path / "b", seed=1, corpus="d" * 64)

    first = _register(params, first_ckpt, first_card)
    second = _register(params, second_ckpt, second_card)
    again = _register(params, first_ckpt, first_card)

    assert (first["version"], first["alias"], first["reused"]) == ("1", CHAMPION, "false")
    assert (second["version"], second["alias"]) == ("2", CHALLENGER)
    assert (again["version"], again["alias"], again["reused"]) == ("1", CHAMPION, "true")
    assert len(client.search_model_versions(f"name = '{name}'")) == 2
    tags = client.get_model_version(name, "2").tags
    assert tags == {
        **TAGS,
        SHA_TAG: sha256_file(second_ckpt),
        "img_size": "32",
        "data_sha256": "d" * 64,
        "architecture": "Tiny-BioMoE",
    }

    assert follow_classifier(client, name, "2", CHALLENGER) == CHALLENGER
    assert client.get_model_version_by_alias(name, CHAMPION).version == "1"
    assert follow_classifier(client, name, "2", CHAMPION) == CHAMPION
    assert client.get_registered_model(name).aliases == {CHAMPION: "2"}

    root = tmp_path / "project"
    paths = ProjectPaths.at(root)
    resolved = resolve(_registry_source(params, name=name, alias=CHAMPION), paths)
    assert resolved.sha256 == sha256_file(second_ckpt)
    assert resolved.path == registry_cache_dir(paths) / resolved.sha256 / "model.pth"
    assert json.loads(resolved.card.read_text())["corpus_sha256"] == "d" * 64
    assert resolved.description == f"registry {name}@champion (version 2)"

    images = root / "data" / "images"
    write_image_shards(_windows(3), images, params.images, progress=False)
    out = root / "data" / "embeddings"
    size = params.images.size
    from_registry = embed_images(images, resolved.path, out, size, batch_size=8, progress=False)
    from_file = embed_images(images, second_ckpt, out, size, batch_size=8, progress=False)
    assert from_registry.n_computed == from_registry.n_images > 0 and from_file.n_computed == 0

    by_version = _registry_source(params, name=name, version=1)
    assert resolve(by_version, paths).sha256 == sha256_file(first_ckpt)


def test_bad_registry_references_and_damaged_downloads(
    registry: tuple[Params, str], mlflow_server: str, tmp_path: Path
) -> None:
    params, name = registry
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    checkpoint, card = _backbone(tmp_path / "a", seed=0, corpus="c" * 64)
    _register(params, checkpoint, card)
    paths = ProjectPaths.at(tmp_path / "project")

    with pytest.raises(CheckpointError, match=r"registered model 'no-such-model' not found"):
        resolve(_registry_source(params, name="no-such-model", alias=CHAMPION), paths)
    with pytest.raises(CheckpointError, match=rf"{name}' has no alias 'gold'.*champion->v1"):
        resolve(_registry_source(params, name=name, alias="gold"), paths)
    with pytest.raises(CheckpointError, match=r"has no version 7"):
        resolve(_registry_source(params, name=name, version=7), paths)

    champion = _registry_source(params, name=name, alias=CHAMPION)
    good = resolve(champion, paths)
    good.path.write_bytes(b"damaged in the local cache")
    assert resolve(champion, paths).sha256 == good.sha256

    client.set_model_version_tag(name, "1", SHA_TAG, "f" * 64)
    shutil.rmtree(registry_cache_dir(paths))
    with pytest.raises(CheckpointError, match=r"downloaded model\.pth has sha256 .* says f{64}"):
        resolve(champion, paths)
    assert not registry_cache_dir(paths).exists() or not any(registry_cache_dir(paths).iterdir())

    client.set_model_version_tag(name, "1", SHA_TAG, "../../escape")
    with pytest.raises(CheckpointError, match=r"tag 'checkpoint_sha256' is '\.\./\.\./escape'"):
        resolve(champion, paths)


def test_an_unusable_checkpoint_is_never_registered(
    registry: tuple[Params, str], mlflow_server: str, tmp_path: Path
) -> None:
    params, name = registry
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    checkpoint, card = _backbone(tmp_path / "a", seed=0, corpus="c" * 64)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        _register(params, truncated, None)
    other, _ = _backbone(tmp_path / "b", seed=1, corpus="x")
    with pytest.raises(CheckpointError, match=r"model\.json: key 'checkpoint_sha256'"):
        _register(params, other, card)
    assert client.search_model_versions(f"name = '{name}'") == []
