"""Where the embed stage gets its backbone (``embed.backbone`` in params.yaml).

- ``{source: pipeline}``: the pretrain stage's ``models/backbone/model.pth``;
- ``{source: file, path: ...}``: any checkpoint in the published format, e.g. the authors'
  ``Tiny-BioMoE.pth`` (made for img_size 224);
- ``{source: registry, name: ..., alias: ...}`` (or ``version: N``): a ``biomoe-backbone`` version,
  downloaded once into ``models/registry/<sha256>/`` and checked against its ``checkpoint_sha256``
  tag.

Whatever the source, the backbone must pass ``verify_checkpoint`` for ``images.size`` before any
image is embedded, and it is known by its sha256, which keys the embedding cache: the same bytes
from another source reuse every cached embedding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from biomoe.errors import CheckpointError
from biomoe.io import atomic_dir, sha256_file
from biomoe.model.checkpoint import verify_checkpoint
from biomoe.paths import BACKBONE_CARD, BACKBONE_CHECKPOINT, ProjectPaths
from biomoe.registry.params import BackboneSource, FileBackbone, PipelineBackbone, RegistryBackbone

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ResolvedBackbone:
    """A verified local checkpoint: its path, content hash, where it came from, and its card."""

    path: Path
    sha256: str
    description: str
    card: Path | None = None


def registry_cache_dir(paths: ProjectPaths) -> Path:
    """Downloaded registry backbones, one folder per checkpoint sha256 (git-ignored)."""
    return paths.root / "models" / "registry"


def resolve_backbone(
    source: BackboneSource, paths: ProjectPaths, img_size: int, tracking_uri: str
) -> ResolvedBackbone:
    """The backbone ``source`` (``embed.backbone``) names, as a local file verified for
    ``img_size`` (``images.size``).

    ``tracking_uri`` is used by the registry source only. Raises ``CheckpointError`` naming the
    file, registry entry or key, and the rule broken; nothing is written then, except a
    verified download into the registry cache.
    """
    if isinstance(source, PipelineBackbone):
        path, card = paths.backbone, paths.backbone_dir / BACKBONE_CARD
        description = f"pipeline {_shown(path, paths.root)}"
        if not path.is_file():
            raise CheckpointError(
                f"backbone {path} does not exist (embed.backbone.source is pipeline: run "
                "`biomoe pretrain` first, or set embed.backbone to a file or registry source)"
            )
    elif isinstance(source, FileBackbone):
        path = Path(source.path).expanduser()
        path = path if path.is_absolute() else paths.root / path
        card, description = None, f"file {path}"
        if not path.is_file():
            raise CheckpointError(
                f"backbone {path} does not exist (rule: embed.backbone.path must name a checkpoint "
                "file in the published format; a relative path is read from the project root)"
            )
    else:
        path, card, description = _from_registry(source, paths, tracking_uri)
    verify_checkpoint(path, img_size)
    card = card if card is not None and card.is_file() else None
    return ResolvedBackbone(path, sha256_file(path), description, card)


def _from_registry(
    source: RegistryBackbone, paths: ProjectPaths, tracking_uri: str
) -> tuple[Path, Path, str]:
    from mlflow import MlflowClient

    from biomoe.registry.backbone import SHA_TAG, download_version, get_version
    from biomoe.registry.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, paths.root)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = get_version(client, source.name, source.alias, source.version)
    ref = f"{source.name}@{source.alias}" if source.alias else source.name
    described = f"registry {ref} (version {version.version})"
    expected = version.tags.get(SHA_TAG, "")
    if not _SHA256.fullmatch(expected):
        raise CheckpointError(
            f"registered model {source.name!r} version {version.version}: tag {SHA_TAG!r} is "
            f"{expected!r}, not a sha256 (rule: a backbone version carries its checkpoint's "
            "sha256; register backbones with biomoe.registry.backbone.register_backbone)"
        )
    folder = registry_cache_dir(paths) / expected
    checkpoint = folder / BACKBONE_CHECKPOINT
    if checkpoint.is_file() and sha256_file(checkpoint) == expected:
        return checkpoint, folder / BACKBONE_CARD, described
    with atomic_dir(folder) as tmp:
        downloaded = download_version(client, version, tmp)
        found = sha256_file(downloaded)
        if found != expected:
            raise CheckpointError(
                f"registered model {source.name!r} version {version.version}: downloaded "
                f"{downloaded.name} has sha256 {found}, but tag {SHA_TAG!r} says {expected} "
                "(rule: a registry backbone must match its registered hash; the stored artifact "
                "is damaged or was replaced, so nothing was cached or embedded)"
            )
    return checkpoint, folder / BACKBONE_CARD, described


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
