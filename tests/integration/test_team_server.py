"""The team set-up for real: ``mlflow server --app-name basic-auth`` with a PostgreSQL backend
store (Debian's ``postgresql``, a fresh cluster on a free loopback port), PostgreSQL for its
user store too, and an artifact root of its own.

The tiny pipeline's project (``serving_workspace``) is copied and its register stage run
against that server as the pipeline's user, credentials from ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``: register, guarded promotion, rollback and serving from
``models:/<name>@champion`` as a read-only user. A read-only user, an anonymous one and a wrong
password cannot register a version, move an alias or delete anything; the registry is unchanged
afterwards. Skips, saying why, where PostgreSQL is not installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.server
import pandas as pd
import psycopg
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from tests.integration.conftest import (
    SERVED_URI,
    free_port,
    start_mlflow_server,
    stop_process_group,
)
from tests.integration.postgres import Postgres, missing_reason, running_postgres

from biomoe.config import Params
from biomoe.data.windows import read_windows
from biomoe.errors import AccessError
from biomoe.paths import ProjectPaths
from biomoe.registry.params import PASSWORD_VARIABLE, USERNAME_VARIABLE
from biomoe.registry.promote import CHAMPION, PromotionError
from biomoe.registry.tracking import refusal
from biomoe.serve.manage import promote_by_hand, roll_back
from biomoe.stages import stage

pytestmark = pytest.mark.slow

ADMIN = ("admin", "admin-secret-0123")
PIPELINE = ("pipeline", "pipeline-secret-0123")
DEPLOY = ("deploy", "deploy-secret-0123")
WRONG = ("pipeline", "not-the-password-0123")
MODEL = "pain-classifier-team"
MODALITIES = ["Bvp", "Eda", "Resp", "SpO2"]


@contextlib.contextmanager
def user(credentials: tuple[str, str] | None) -> Iterator[None]:
    """MLflow's credential variables set to ``credentials`` (None: unset) inside the block."""
    saved = {name: os.environ.pop(name, None) for name in (USERNAME_VARIABLE, PASSWORD_VARIABLE)}
    if credentials is not None:
        os.environ[USERNAME_VARIABLE], os.environ[PASSWORD_VARIABLE] = credentials
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


@pytest.fixture(scope="module", autouse=True)
def tracking_uri_restored() -> Iterator[None]:
    """Stages run in-process point MLflow at the team server, and ``mlflow.set_tracking_uri``
    also sets ``MLFLOW_TRACKING_URI``, which every later subprocess inherits: both are put
    back when the module ends, so no later test talks to the stopped team server."""
    variable = os.environ.get("MLFLOW_TRACKING_URI")
    uri = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(uri)
    if variable is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = variable


@dataclass(frozen=True)
class TeamServer:
    url: str
    root: Path  # its artifact root is root / "artifacts"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_postgres(free_port()) as server:
        server.create_database("mlflow")
        server.create_database("mlflow_auth")
        yield server


@pytest.fixture(scope="module")
def team_server(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TeamServer]:
    """The server, its admin, the pipeline's user and a read-only deployment user (every
    authenticated user reads: ``default_permission = READ``)."""
    root = tmp_path_factory.mktemp("team-server")
    config = root / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {postgres.uri('mlflow_auth')}\n"
        f"admin_username = {ADMIN[0]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "biomoe-integration-test-key",
    }
    port = free_port()
    process = start_mlflow_server(root, port, postgres.uri("mlflow"), "basic-auth", env)
    url = f"http://127.0.0.1:{port}"
    try:
        with user(ADMIN):
            admin = mlflow.server.get_app_client("basic-auth", tracking_uri=url)
            admin.create_user(*PIPELINE)
            admin.create_user(*DEPLOY)
        yield TeamServer(url, root)
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def team_project(
    serving_workspace: Path, team_server: TeamServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the tiny pipeline's project whose params point at the team server."""
    root = tmp_path_factory.mktemp("team-project") / "project"
    shutil.copytree(serving_workspace, root, ignore=shutil.ignore_patterns("mlflow", "*.log"))
    data = yaml.safe_load((root / "params.yaml").read_text())
    data["register"].update(
        tracking_uri=team_server.url, model_name=MODEL, backbone_name=f"{MODEL}-backbone"
    )
    (root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def _register(root: Path) -> dict:
    params, paths = _params(root), ProjectPaths.at(root)
    stage("register")(params, paths, tracking_uri=params.register.tracking_uri)
    return json.loads(paths.registry_receipt.read_text())


def _update(root: Path, section: str, **values: object) -> None:
    data = yaml.safe_load((root / "params.yaml").read_text())
    data[section].update(values)
    (root / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def registered(team_project: Path, team_server: TeamServer) -> tuple[dict, dict]:
    """As the pipeline's user: version 1 (champion), then a head retrained with another seed
    registered under a margin no score can beat (version 2, challenger)."""
    with user(PIPELINE):
        first = _register(team_project)
        _update(team_project, "train", seed=_params(team_project).train.seed + 1)
        stage("train")(_params(team_project), ProjectPaths.at(team_project))
        _update(team_project, "register", promotion={"metric": "macro_f1", "margin": 0.99})
        second = _register(team_project)
    return first, second


def _registry(url: str) -> dict[str, object]:
    """Every version of every registered model with its aliases and tags, as the admin sees it."""
    with user(ADMIN):
        client = MlflowClient(url, url)
        return {
            model.name: sorted(
                (v.version, sorted(v.aliases), sorted(v.tags.items()))
                for v in client.search_model_versions(f"name = '{model.name}'")
            )
            for model in client.search_registered_models()
        }


def _params(root: Path) -> Params:
    return Params.model_validate(yaml.safe_load((root / "params.yaml").read_text()))


def _champion(url: str) -> str:
    with user(ADMIN):
        return str(MlflowClient(url, url).get_model_version_by_alias(MODEL, CHAMPION).version)


def test_pipeline_registers_promotes_rolls_back_and_deployment_serves_from_postgres(
    team_project: Path,
    team_server: TeamServer,
    registered: tuple[dict, dict],
    postgres: Postgres,
    mlflow_server: str,
) -> None:
    paths, register = ProjectPaths.at(team_project), _params(team_project).register
    first, second = registered
    assert (first["version"], first["alias"]) == ("1", CHAMPION)
    assert (second["version"], second["alias"]) == ("2", "challenger")
    with user(PIPELINE):
        with pytest.raises(PromotionError, match="does not beat"):
            promote_by_hand(register, paths, "2")
        assert _champion(team_server.url) == "1"
        promote_by_hand(register, paths, "2", force=True)
        assert _champion(team_server.url) == "2"
        assert roll_back(register, paths).reason == "rolled back from v2 to v1"
        assert _champion(team_server.url) == "1"

    with psycopg.connect(postgres.uri("mlflow")) as db:
        stored = db.execute(
            "SELECT version, current_stage FROM model_versions WHERE name = %s ORDER BY version",
            (MODEL,),
        ).fetchall()
        aliases = db.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = %s", (MODEL,)
        ).fetchall()
    assert [version for version, _ in stored] == [1, 2]
    assert (CHAMPION, 1) in aliases
    assert len(list((team_server.root / "artifacts").rglob("MLmodel"))) >= 2
    assert not (team_project / "mlflow").exists()

    windows = read_windows(paths.windows)
    frame = (
        windows[windows["split"] == "validation"]
        .pivot(index="sample_id", columns="modality", values="signal")[MODALITIES]
        .iloc[:4]
        .reset_index(drop=True)
    )
    with user(DEPLOY):
        mlflow.set_tracking_uri(team_server.url)
        served = mlflow.pyfunc.load_model(f"models:/{MODEL}@{CHAMPION}").predict(frame)
    mlflow.set_tracking_uri(mlflow_server)
    reference = mlflow.pyfunc.load_model(SERVED_URI).predict(frame)
    pd.testing.assert_frame_equal(served, reference)


REFUSED_ACTIONS = {
    "register a version": lambda c, run: c.create_model_version(
        MODEL, f"runs:/{run}/model", run_id=run
    ),
    "move the champion alias": lambda c, _: c.set_registered_model_alias(MODEL, CHAMPION, "2"),
    "delete the champion alias": lambda c, _: c.delete_registered_model_alias(MODEL, CHAMPION),
    "delete a version": lambda c, _: c.delete_model_version(MODEL, "2"),
    "delete the model": lambda c, _: c.delete_registered_model(MODEL),
}


@pytest.mark.parametrize(
    ("who", "credentials", "status"),
    [("read-only", DEPLOY, "403"), ("anonymous", None, "401"), ("wrong password", WRONG, "401")],
)
def test_other_users_cannot_change_the_registry(
    team_project: Path,
    team_server: TeamServer,
    registered: tuple[dict, dict],
    who: str,
    credentials: tuple[str, str] | None,
    status: str,
) -> None:
    url = team_server.url
    before = _registry(url)
    with user(ADMIN):
        run = MlflowClient(url, url).get_model_version(MODEL, "1").run_id
    with user(credentials):
        client = MlflowClient(url, url)
        for action, call in REFUSED_ACTIONS.items():
            with pytest.raises(MlflowException) as refused:
                call(client, run)
            assert refusal(refused.value) == status, f"{who} could {action}: {refused.value}"
        with pytest.raises(AccessError, match=status):
            roll_back(_params(team_project).register, ProjectPaths.at(team_project), "2")
    assert _registry(url) == before


def test_a_wrong_password_fails_the_register_stage_clearly_and_registers_nothing(
    team_project: Path, team_server: TeamServer, registered: tuple[dict, dict]
) -> None:
    url = team_server.url
    before = _registry(url)
    mlflow.set_tracking_uri(url)
    with user(ADMIN):
        runs_before = len(mlflow.search_runs(search_all_experiments=True))
    env = {**os.environ, USERNAME_VARIABLE: WRONG[0], PASSWORD_VARIABLE: WRONG[1]}
    biomoe = str(Path(sys.executable).parent / "biomoe")
    failed = subprocess.run(
        [biomoe, "register", "--root", str(team_project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    said = failed.stdout + failed.stderr
    assert failed.returncode == 1, said
    assert "did not accept the credentials of user 'pipeline'" in " ".join(said.split()), said
    assert WRONG[1] not in said
    assert _registry(url) == before
    with user(ADMIN):
        runs = mlflow.search_runs(search_all_experiments=True)
    assert len(runs) == runs_before
    logged = [str(v) for v in runs.filter(regex=r"^(params|tags)\.").to_numpy().ravel()]
    assert not any(secret in value for value in logged for secret in (PIPELINE[1], DEPLOY[1]))
