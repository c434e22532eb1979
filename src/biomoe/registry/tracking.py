"""One MLflow run per pipeline stage, logged to the project's tracking store.

On a team server (``mlflow server --app-name basic-auth``) the pipeline authenticates with
MLflow's own environment variables, ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``,
never with credentials in params.yaml or a URI (refused: they would reach dvc.lock, logs and
the MLflow UI); a refused request (401, 403) becomes an :class:`~biomoe.errors.AccessError`
that says which user and what to fix.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from biomoe.errors import AccessError
from biomoe.registry.params import PASSWORD_VARIABLE, USERNAME_VARIABLE, refuse_credentials_in

SQLITE_PREFIX = "sqlite:///"
_REFUSED = re.compile(
    r"(?:error code|HTTP status code:?)\s*(401|403)|\b(UNAUTHENTICATED|PERMISSION_DENIED)\b"
)


def refusal(exc: BaseException) -> str | None:
    """``"401"`` or ``"403"`` when ``exc`` is the tracking server refusing a request."""
    if not isinstance(exc, MlflowException):
        return None
    match = _REFUSED.search(str(exc))
    if match is None:
        return None
    return match.group(1) or ("401" if match.group(2) == "UNAUTHENTICATED" else "403")


def access_error(exc: MlflowException, uri: str, code: str) -> AccessError:
    """What a refused request means, for whoever runs the pipeline (no password shown)."""
    user = os.environ.get(USERNAME_VARIABLE)
    who = f"user {user!r} ({USERNAME_VARIABLE})" if user else f"no user ({USERNAME_VARIABLE} unset)"
    endpoint = re.search(r"/api/\S+?(?=\s|$)", str(exc))
    request = endpoint.group(0) if endpoint else "a request"
    if code == "401":
        password = "set" if os.environ.get(PASSWORD_VARIABLE) else "unset"
        return AccessError(
            f"the MLflow server at {uri} did not accept the credentials of {who}, password "
            f"{PASSWORD_VARIABLE} {password}: {request} was refused (401 not authenticated); "
            "check both variables, or ask the server's admin for a user"
        )
    return AccessError(
        f"the MLflow server at {uri} refused {request} to {who} (403 permission denied): the "
        "pipeline's user needs EDIT on the experiment and MANAGE on the registered models it "
        "writes (README: the team server); a deployment team's read-only user cannot register, "
        "move aliases or delete"
    )


@contextlib.contextmanager
def access_checked(uri: str) -> Iterator[None]:
    """Turn the server's 401/403 answers inside the block into :class:`AccessError`."""
    try:
        yield
    except MlflowException as exc:
        code = refusal(exc)
        if code is None:
            raise
        raise access_error(exc, uri, code) from exc


def resolve_tracking_uri(uri: str, root: Path) -> str:
    """Anchor a relative ``sqlite:///`` path at the project root; leave other URIs alone."""
    if uri.startswith(SQLITE_PREFIX) and not uri.startswith(SQLITE_PREFIX + "/"):
        db = (root / uri.removeprefix(SQLITE_PREFIX)).resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        return f"{SQLITE_PREFIX}{db}"
    return uri


def configure(tracking_uri: str, experiment: str, root: Path) -> str:
    """Point MLflow at the store and make sure the experiment exists; returns the resolved URI.
    ``AccessError`` when the server refuses the credentials, before anything is written."""
    refuse_credentials_in(tracking_uri, "the tracking URI")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    resolved = resolve_tracking_uri(tracking_uri, root)
    mlflow.set_tracking_uri(resolved)
    with access_checked(resolved):
        if mlflow.get_experiment_by_name(experiment) is None:
            artifacts = None
            if resolved.startswith(SQLITE_PREFIX):
                artifact_dir = root / "mlflow" / "artifacts"
                artifact_dir.mkdir(parents=True, exist_ok=True)
                artifacts = artifact_dir.resolve().as_uri()
            try:
                mlflow.create_experiment(experiment, artifact_location=artifacts)
            except MlflowException as exc:
                if refusal(exc):
                    raise
        mlflow.set_experiment(experiment)
    return resolved


@contextlib.contextmanager
def stage_run(
    stage: str,
    root: Path,
    tracking_uri: str,
    experiment: str,
    logged_params: Mapping[str, Any],
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run named after the stage, in ``experiment`` of the store at
    ``tracking_uri``, with ``logged_params``; the body logs the metrics. A run left active by an
    attempt that lost the server while ending it is ended (FAILED) first, so a retry can start."""
    resolved = configure(tracking_uri, experiment, root)
    while mlflow.active_run() is not None:
        mlflow.end_run("FAILED")
    with (
        access_checked(resolved),
        mlflow.start_run(run_name=stage, tags={"biomoe.stage": stage}) as run,
    ):
        mlflow.log_params(dict(logged_params))
        yield run


def log_metrics(metrics: Mapping[str, float], prefix: str = "") -> None:
    mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items()})
