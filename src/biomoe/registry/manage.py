"""``biomoe promote`` and ``biomoe rollback``: move the champion by hand, guarded and recorded.

The backbone registry follows: the ``biomoe-backbone`` version a classifier was registered with
(``backbone_version`` tag) becomes the backbone champion with it.
"""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from biomoe.config import Params
from biomoe.paths import ProjectPaths
from biomoe.registry.backbone import follow_classifier
from biomoe.registry.promote import CHAMPION, Decision, promote_version, rollback
from biomoe.registry.tracking import configure


def _client(params: Params, root: Path, tracking_uri: str | None) -> MlflowClient:
    uri = configure(tracking_uri or params.registry.tracking_uri, params.registry.experiment, root)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _backbone_follows(client: MlflowClient, params: Params, decision: Decision) -> None:
    name = params.registry.model_name
    champion = client.get_model_version_by_alias(name, CHAMPION)
    backbone_version = champion.tags.get("backbone_version")
    if backbone_version:
        follow_classifier(client, params.registry.backbone_name, backbone_version, CHAMPION)


def promote_by_hand(
    params: Params,
    paths: ProjectPaths,
    version: str,
    force: bool = False,
    tracking_uri: str | None = None,
) -> Decision:
    """Make ``version`` champion if it passes the promotion guard (or ``force``); the current
    champion is re-scored on this project's validation windows when their data differ."""
    from biomoe.data.windows import read_windows
    from biomoe.registry.rescore import rescorer

    client = _client(params, paths.root, tracking_uri)
    rescore = None
    if paths.windows.is_file():
        windows = read_windows(paths.windows)
        rescore = rescorer(params.registry.model_name, windows, params.registry.promotion)
    decision = promote_version(
        client, params.registry.model_name, version, params.registry.promotion, force, rescore
    )
    _backbone_follows(client, params, decision)
    return decision


def roll_back(
    params: Params, paths: ProjectPaths, to: str | None = None, tracking_uri: str | None = None
) -> Decision:
    client = _client(params, paths.root, tracking_uri)
    decision = rollback(client, params.registry.model_name, to)
    _backbone_follows(client, params, decision)
    return decision
