"""``biomoe-backbone`` in the MLflow registry: register a checkpoint, find a version, download it.

A version's artifacts are the checkpoint exactly as published (``model.pth``, the
``{"model_state_dict": ...}`` file, byte for byte) and, when there is one, its card
(``model.json``). Its tags say where it came from (``git_commit``, ``data_sha256``,
``params_sha256``) and what it is (``checkpoint_sha256``, ``img_size``).

Alias rules. Pretraining has no score that ranks backbones for the task users care about, so a
backbone is judged by the pain classifier trained on its embeddings:

- the first version becomes ``champion``; every later one becomes ``challenger``;
- registering a checkpoint whose sha256 is already registered reuses that version (no duplicate);
- when a classifier becomes ``pain-classifier@champion`` (``biomoe.registry.promote``: strictly
  higher validation macro-F1), the backbone under it becomes ``biomoe-backbone@champion``
  (``follow_classifier``). So ``champion`` always names the backbone the champion classifier needs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from biomoe.errors import CheckpointError
from biomoe.io import sha256_file
from biomoe.model.checkpoint import checkpoint_img_size, read_state_dict, verify_checkpoint
from biomoe.paths import BACKBONE_CARD, BACKBONE_CHECKPOINT
from biomoe.registry.promote import CHALLENGER, CHAMPION, current_champion

ARTIFACT_PATH = "backbone"
SHA_TAG = "checkpoint_sha256"
IMG_SIZE_TAG = "img_size"
DATA_TAG = "data_sha256"


def register_backbone(
    checkpoint: Path, card: Path | None, name: str, tags: Mapping[str, str]
) -> dict[str, str]:
    """Inside an active MLflow run: register ``checkpoint`` as ``name``
    (``register.backbone_name``).

    ``checkpoint`` must be a valid published-format Tiny-BioMoE checkpoint (any img_size);
    ``card`` (``model.json`` of the pretrain stage) must describe this very file when given.
    ``tags`` (e.g. ``git_commit``, ``params_sha256``) are set on a new version;
    ``checkpoint_sha256``, ``img_size`` and ``data_sha256`` (the card's ``corpus_sha256``) are
    derived here. Returns
    ``{"model_name", "version", "alias", "checkpoint_sha256", "reused"}``.
    """
    checkpoint = Path(checkpoint)
    img_size = checkpoint_img_size(read_state_dict(checkpoint))
    if img_size is None:
        raise CheckpointError(
            f"checkpoint {checkpoint}: key 'ln_img.weight' missing or not [3, S, S], so it is not "
            "a Tiny-BioMoE backbone; nothing was registered"
        )
    verify_checkpoint(checkpoint, img_size)
    sha = sha256_file(checkpoint)
    card_data = _read_card(card, sha) if card is not None else {}

    client = MlflowClient()
    _ensure_registered_model(client, name)
    existing = find_by_sha256(client, name, sha)
    if existing is not None:
        version, reused = str(existing.version), True
    else:
        derived = {
            SHA_TAG: sha,
            IMG_SIZE_TAG: str(img_size),
            DATA_TAG: str(card_data.get("corpus_sha256", "unknown")),
            "architecture": "Tiny-BioMoE",
        }
        version_tags = {k: str(v) for k, v in {**tags, **derived}.items()}
        version, reused = _new_version(client, name, checkpoint, card, version_tags), False
    alias = assign_alias(client, name, version)
    return {
        "model_name": name,
        "version": version,
        "alias": alias,
        SHA_TAG: sha,
        "reused": str(reused).lower(),
    }


def assign_alias(client: MlflowClient, name: str, version: str) -> str:
    """``champion`` for the first version (or the one that already is); else ``challenger``."""
    champion = current_champion(client, name)
    if champion is None:
        client.set_registered_model_alias(name, CHAMPION, version)
        return CHAMPION
    if champion == version:
        return CHAMPION
    client.set_registered_model_alias(name, CHALLENGER, version)
    return CHALLENGER


BACKBONE_VERSION_TAG = "backbone_version"
"""The tag on a ``pain-classifier`` version naming the ``biomoe-backbone`` version it needs."""


def follow_champion(client: MlflowClient, classifier_name: str, backbone_name: str) -> None:
    """Make the backbone under ``classifier_name@champion`` the backbone champion (after a
    promotion or a rollback moved the classifier's champion)."""
    champion = client.get_model_version_by_alias(classifier_name, CHAMPION)
    backbone_version = champion.tags.get(BACKBONE_VERSION_TAG)
    if backbone_version:
        follow_classifier(client, backbone_name, backbone_version, CHAMPION)


def follow_classifier(client: MlflowClient, name: str, version: str, classifier_alias: str) -> str:
    """Make ``version`` the backbone champion when its classifier just became champion.

    Returns the alias ``version`` ends with (``champion``, ``challenger`` or ``""``).
    """
    if classifier_alias == CHAMPION and current_champion(client, name) != version:
        client.set_registered_model_alias(name, CHAMPION, version)
        if _alias_version(client, name, CHALLENGER) == version:
            client.delete_registered_model_alias(name, CHALLENGER)
    aliases = client.get_model_version(name, version).aliases
    return CHAMPION if CHAMPION in aliases else CHALLENGER if CHALLENGER in aliases else ""


def find_by_sha256(client: MlflowClient, name: str, sha256: str) -> ModelVersion | None:
    """The oldest version of ``name`` whose ``checkpoint_sha256`` tag is ``sha256``, if any."""
    found = client.search_model_versions(f"name = '{name}' and tags.{SHA_TAG} = '{sha256}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def get_version(
    client: MlflowClient, name: str, alias: str | None = None, version: int | None = None
) -> ModelVersion:
    """The version of ``name`` that ``alias`` (or the number ``version``) names.

    Raises ``CheckpointError`` naming the model, the alias or version, and what exists instead.
    """
    where = f"MLflow registry at {display_uri(client.tracking_uri)}"
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise CheckpointError(f"cannot read {name!r} from the {where}: {exc}") from exc
        raise CheckpointError(
            f"registered model {name!r} not found in the {where} (rule: embed.backbone.name must "
            "name a registered backbone; the register stage registers biomoe-backbone, or set "
            "embed.backbone.source to pipeline or file)"
        ) from exc
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        ref = f"alias {alias!r}" if alias is not None else f"version {version}"
        known = ", ".join(f"{a}->v{v}" for a, v in sorted(model.aliases.items())) or "none"
        raise CheckpointError(
            f"registered model {name!r} has no {ref} in the {where} (aliases: {known}; rule: "
            "embed.backbone.alias/version must name an existing version)"
        ) from exc


def download_version(client: MlflowClient, version: ModelVersion, dest: Path) -> Path:
    """Download a version's artifacts into the new folder ``dest``; return its checkpoint path."""
    try:
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{version.name}/{version.version}",
            dst_path=str(dest),
            tracking_uri=client.tracking_uri,
        )
    except (MlflowException, OSError) as exc:
        raise CheckpointError(
            f"registered model {version.name!r} version {version.version}: cannot download its "
            f"artifacts from {version.source}: {exc}"
        ) from exc
    checkpoint = dest / BACKBONE_CHECKPOINT
    if not checkpoint.is_file():
        found = sorted(p.name for p in dest.iterdir())
        raise CheckpointError(
            f"registered model {version.name!r} version {version.version}: artifacts hold no "
            f"{BACKBONE_CHECKPOINT} (found {found}); it was not registered by biomoe"
        )
    return checkpoint


def display_uri(uri: str) -> str:
    """``uri`` without user name or password, for messages."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=host))


def _read_card(card: Path, sha: str) -> dict[str, object]:
    try:
        data = json.loads(Path(card).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"backbone card {card}: cannot be read as JSON: {exc}") from exc
    recorded = data.get("checkpoint_sha256")
    if recorded is not None and recorded != sha:
        raise CheckpointError(
            f"backbone card {card}: key 'checkpoint_sha256' is {recorded}, but the checkpoint's "
            f"sha256 is {sha} (rule: the card must describe the checkpoint it is registered with)"
        )
    return data


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="Tiny-BioMoE backbone, checkpoint in the published format"
        )


def _new_version(
    client: MlflowClient, name: str, checkpoint: Path, card: Path | None, tags: dict[str, str]
) -> str:
    """Log the checkpoint (renamed, bytes unchanged) and card; create the version with its tags."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("register_backbone needs an active MLflow run")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copyfile(checkpoint, folder / BACKBONE_CHECKPOINT)
        if card is not None:
            shutil.copyfile(card, folder / BACKBONE_CARD)
        mlflow.log_artifacts(str(folder), ARTIFACT_PATH)
    created = client.create_model_version(
        name,
        source=f"runs:/{run.info.run_id}/{ARTIFACT_PATH}",
        run_id=run.info.run_id,
        tags=tags,
    )
    return str(created.version)


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None
