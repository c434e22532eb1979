"""``biomoe promote`` and ``biomoe rollback``: move the champion by hand, guarded and recorded.

The backbone registry follows (``biomoe.registry.backbone.follow_champion``): the
``biomoe-backbone`` version a classifier was registered with becomes the backbone champion
with it. A server that refuses the user (401/403) raises ``AccessError``; nothing moves.
"""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from biomoe.paths import ProjectPaths
from biomoe.registry.backbone import follow_champion
from biomoe.registry.params import RegisterParams
from biomoe.registry.promote import Decision, promote_version, rollback
from biomoe.registry.tracking import access_checked, configure


def _client(
    register: RegisterParams, root: Path, tracking_uri: str | None
) -> tuple[MlflowClient, str]:
    uri = configure(tracking_uri or register.tracking_uri, register.experiment, root)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def promote_by_hand(
    register: RegisterParams,
    paths: ProjectPaths,
    version: str,
    force: bool = False,
    tracking_uri: str | None = None,
) -> Decision:
    """Make ``version`` champion if it passes the promotion guard (or ``force``); the current
    champion is re-scored on this project's validation windows when their data differ."""
    from biomoe.data.windows import read_windows
    from biomoe.serve.rescore import rescorer

    client, uri = _client(register, paths.root, tracking_uri)
    with access_checked(uri):
        rescore = None
        if paths.windows.is_file():
            windows = read_windows(paths.windows)
            rescore = rescorer(register.model_name, windows, register.promotion)
        decision = promote_version(
            client, register.model_name, version, register.promotion, force, rescore
        )
        follow_champion(client, register.model_name, register.backbone_name)
    return decision


def roll_back(
    register: RegisterParams,
    paths: ProjectPaths,
    to: str | None = None,
    tracking_uri: str | None = None,
) -> Decision:
    client, uri = _client(register, paths.root, tracking_uri)
    with access_checked(uri):
        decision = rollback(client, register.model_name, to)
        follow_champion(client, register.model_name, register.backbone_name)
    return decision
