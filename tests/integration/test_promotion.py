"""Promotion rules against a real MLflow server on localhost."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from biomoe.registry.promote import CHALLENGER, CHAMPION, SCORE_TAG, promote

pytestmark = pytest.mark.slow


def _new_version(client: MlflowClient, name: str, workdir: Path, score: float) -> str:
    experiment = client.get_experiment_by_name("promotion") or client.get_experiment(
        client.create_experiment("promotion")
    )
    run = client.create_run(experiment.experiment_id)
    (workdir / "card.txt").write_text(f"macro-F1 {score}")
    client.log_artifact(run.info.run_id, str(workdir / "card.txt"), "model")
    version = client.create_model_version(
        name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    ).version
    client.set_model_version_tag(name, version, SCORE_TAG, str(score))
    return version


def test_first_is_champion_and_only_a_better_challenger_wins(
    mlflow_server: str, tmp_path: Path
) -> None:
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    name = "promotion-test"
    client.create_registered_model(name)

    first = _new_version(client, name, tmp_path, 0.50)
    assert promote(client, name, first) == CHAMPION
    assert client.get_model_version_by_alias(name, CHAMPION).version == first

    worse = _new_version(client, name, tmp_path, 0.40)
    assert promote(client, name, worse) == CHALLENGER
    assert client.get_model_version_by_alias(name, CHAMPION).version == first
    assert client.get_model_version_by_alias(name, CHALLENGER).version == worse

    tie = _new_version(client, name, tmp_path, 0.50)
    assert promote(client, name, tie) == CHALLENGER
    assert client.get_model_version_by_alias(name, CHAMPION).version == first

    better = _new_version(client, name, tmp_path, 0.61)
    assert promote(client, name, better) == CHAMPION
    assert client.get_model_version_by_alias(name, CHAMPION).version == better
    aliases = client.get_registered_model(name).aliases
    assert CHALLENGER not in aliases
