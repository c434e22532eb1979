"""The register section (names, promotion rule) and where a backbone comes from."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from biomoe.section import Section

USERNAME_VARIABLE = "MLFLOW_TRACKING_USERNAME"
PASSWORD_VARIABLE = "MLFLOW_TRACKING_PASSWORD"
"""Where the pipeline takes a team server's credentials from (MLflow's own variables)."""


def credentials_in(uri: str) -> bool:
    """True when ``uri`` carries a user name or password (``http://user:pw@host``)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and (
        parts.username is not None or parts.password is not None
    )


def refuse_credentials_in(uri: str, where: str) -> None:
    """``ValueError`` naming ``where`` when ``uri`` carries credentials."""
    if credentials_in(uri):
        raise ValueError(
            f"{where} must not hold credentials (they would be written to dvc.lock, logs and "
            f"MLflow); set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE} in the environment"
        )


class PipelineBackbone(Section):
    """The pretrain stage's ``models/backbone/model.pth``."""

    source: Literal["pipeline"]


class FileBackbone(Section):
    """Any checkpoint in the published format (e.g. the authors' ``Tiny-BioMoE.pth``, made for
    img_size 224); a relative ``path`` is read from the project root."""

    source: Literal["file"]
    path: str = Field(min_length=1)


class RegistryBackbone(Section):
    """A registered backbone, by ``alias`` or by ``version`` (exactly one), downloaded from MLflow
    (``register.tracking_uri`` or ``--tracking-uri``) and checked against its sha256 tag."""

    source: Literal["registry"]
    name: str = Field(min_length=1)
    alias: str | None = Field(default=None, min_length=1)
    version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_reference(self) -> RegistryBackbone:
        if (self.alias is None) == (self.version is None):
            raise ValueError("embed.backbone (source registry) needs exactly one of alias, version")
        return self


BackboneSource = Annotated[
    PipelineBackbone | FileBackbone | RegistryBackbone, Field(discriminator="source")
]


class PromotionParams(Section):
    """A challenger replaces the champion only when its validation ``metric`` beats the
    champion's, on the same validation data, by more than ``margin``."""

    metric: Literal["macro_f1", "accuracy"]
    margin: float = Field(ge=0, lt=1)


class RegisterParams(Section):
    """Where runs and models go (``tracking_uri``: a sqlite file, or a server whose
    credentials come from the environment, never from here), under which names, and the
    promotion rule."""

    tracking_uri: str
    experiment: str
    model_name: str
    backbone_name: str
    promotion: PromotionParams

    @field_validator("tracking_uri")
    @classmethod
    def _no_credentials(cls, uri: str) -> str:
        refuse_credentials_in(uri, "register.tracking_uri")
        return uri
