"""Guarded promotion, manual promotion and rollback against a real MLflow server on localhost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from biomoe.config import Params
from biomoe.registry.params import PromotionParams
from biomoe.registry.promote import (
    CHALLENGER,
    CHAMPION,
    DATA_TAG,
    DECISION_TAG,
    PromotionError,
    history,
    promote,
    promote_version,
    rollback,
)

pytestmark = pytest.mark.slow

POLICY = PromotionParams(metric="macro_f1", margin=0.01)
DATA = "d" * 64


def _new_version(
    client: MlflowClient, name: str, workdir: Path, score: float | None, data: str = DATA
) -> str:
    experiment = client.get_experiment_by_name("promotion") or client.get_experiment(
        client.create_experiment("promotion", artifact_location=workdir.as_uri())
    )
    run = client.create_run(experiment.experiment_id)
    (workdir / "card.txt").write_text(f"macro-F1 {score}")
    client.log_artifact(run.info.run_id, str(workdir / "card.txt"), "model")
    version = str(
        client.create_model_version(
            name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        ).version
    )
    if score is not None:
        client.set_model_version_tag(name, version, "val_macro_f1", str(score))
    client.set_model_version_tag(name, version, DATA_TAG, data)
    return version


def _champion(client: MlflowClient, name: str) -> str:
    return str(client.get_model_version_by_alias(name, CHAMPION).version)


@pytest.fixture(params=["server", "sqlite"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> MlflowClient:
    """The rules against a real ``mlflow server`` and against a local sqlite store (whose
    client hands versions back as numbers, the server's as strings)."""
    if request.param == "server":
        uri = request.getfixturevalue("mlflow_server")
    else:
        uri = f"sqlite:///{tmp_path_factory.mktemp('sqlite-registry') / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_only_a_challenger_beating_the_margin_takes_champion(
    client: MlflowClient, tmp_path: Path
) -> None:
    name = "promotion-guard"
    client.create_registered_model(name)
    first = _new_version(client, name, tmp_path, 0.50)
    assert promote(client, name, first, POLICY).alias == CHAMPION

    worse = _new_version(client, name, tmp_path, 0.40)
    decision = promote(client, name, worse, POLICY)
    assert decision.alias == CHALLENGER and "does not beat" in decision.reason
    assert _champion(client, name) == first
    assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == worse
    assert "does not beat" in client.get_model_version(name, worse).tags[DECISION_TAG]

    within_margin = _new_version(client, name, tmp_path, 0.505)
    assert promote(client, name, within_margin, POLICY).alias == CHALLENGER
    assert _champion(client, name) == first

    better = _new_version(client, name, tmp_path, 0.52)
    decision = promote(client, name, better, POLICY)
    assert decision.alias == CHAMPION and "same validation data" in decision.reason
    assert _champion(client, name) == better
    assert CHALLENGER not in client.get_registered_model(name).aliases
    assert history(client, name) == [first, better]


def test_other_validation_data_means_the_champion_is_rescored(
    client: MlflowClient, tmp_path: Path
) -> None:
    name = "promotion-rescore"
    client.create_registered_model(name)
    first = _new_version(client, name, tmp_path, 0.50, data="a" * 64)
    promote(client, name, first, POLICY)
    newer = _new_version(client, name, tmp_path, 0.60, data="b" * 64)

    decision = promote(client, name, newer, POLICY)  # nothing to re-score with: keep champion
    assert decision.alias == CHALLENGER and "other validation data" in decision.reason
    assert _champion(client, name) == first

    rescored: list[str] = []
    decision = promote(client, name, newer, POLICY, rescore=lambda v: rescored.append(v) or 0.7)
    assert rescored == [first] and decision.alias == CHALLENGER  # champion scores 0.7 there
    decision = promote(client, name, newer, POLICY, rescore=lambda v: 0.55)
    assert decision.alias == CHAMPION and "re-scored" in decision.reason
    assert _champion(client, name) == newer


def test_a_version_without_metrics_never_moves_champion(
    client: MlflowClient, tmp_path: Path
) -> None:
    name = "promotion-failed"
    client.create_registered_model(name)
    first = _new_version(client, name, tmp_path, 0.50)
    promote(client, name, first, POLICY)
    failed = _new_version(client, name, tmp_path, None)
    with pytest.raises(PromotionError, match="has no val_macro_f1 tag"):
        promote(client, name, failed, POLICY)
    assert _champion(client, name) == first


def test_manual_promotion_and_rollback(client: MlflowClient, tmp_path: Path) -> None:
    name = "promotion-manual"
    client.create_registered_model(name)
    v1 = _new_version(client, name, tmp_path, 0.50)
    promote(client, name, v1, POLICY)
    v2 = _new_version(client, name, tmp_path, 0.70)
    promote(client, name, v2, POLICY)
    v3 = _new_version(client, name, tmp_path, 0.60)
    promote(client, name, v3, POLICY)
    assert _champion(client, name) == v2

    with pytest.raises(PromotionError, match=r"refused: val_macro_f1 0\.6000 does not beat"):
        promote_version(client, name, v3, POLICY)
    assert _champion(client, name) == v2
    assert "by hand" in promote_version(client, name, v3, POLICY, force=True).reason
    assert promote_version(client, name, v3, POLICY).reason == f"v{v3} is already champion"
    assert history(client, name) == [v1, v2, v3]

    assert rollback(client, name).reason == f"rolled back from v{v3} to v{v2}"
    assert _champion(client, name) == v2
    rollback(client, name)
    assert _champion(client, name) == v1
    with pytest.raises(PromotionError, match="no previous champion"):
        rollback(client, name)
    rollback(client, name, to=v3)
    assert _champion(client, name) == v3
    rollback(client, name, to=v3)  # naming the champion changes nothing
    assert history(client, name) == [v1, v3]
    assert rollback(client, name).reason == f"rolled back from v{v3} to v{v1}"
    with pytest.raises(PromotionError, match="has no version 99"):
        rollback(client, name, to="99")


def test_cli_promote_and_rollback(mlflow_server: str, params: Params, tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    name = "promotion-cli"
    config = params.model_dump(by_alias=True, mode="json")
    config["register"]["model_name"] = name
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    client.create_registered_model(name)
    v1 = _new_version(client, name, tmp_path, 0.50)
    promote(client, name, v1, POLICY)
    v2 = _new_version(client, name, tmp_path, 0.45)
    promote(client, name, v2, POLICY)
    biomoe = [str(Path(sys.executable).parent / "biomoe")]
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*biomoe, *args, "--root", str(tmp_path)], env=env, capture_output=True, text=True
        )

    refused = cli("promote", v2)
    assert refused.returncode == 1
    assert "refused: val_macro_f1 0.4500 does not beat" in refused.stderr
    assert _champion(client, name) == v1
    assert cli("promote", v2, "--force").returncode == 0
    assert _champion(client, name) == v2
    rolled = cli("rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert f"rolled back from v{v2} to v{v1}" in rolled.stderr
    assert _champion(client, name) == v1
