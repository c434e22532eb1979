"""Alias rules: the first version is champion; later ones are challengers that win on macro-F1."""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION = "champion"
CHALLENGER = "challenger"
SCORE_TAG = "val_macro_f1"


def current_champion(client: MlflowClient, name: str) -> str | None:
    try:
        return client.get_model_version_by_alias(name, CHAMPION).version
    except MlflowException:
        return None


def score(client: MlflowClient, name: str, version: str) -> float:
    return float(client.get_model_version(name, version).tags[SCORE_TAG])


def promote(client: MlflowClient, name: str, version: str) -> str:
    """Give ``version`` its alias; return the alias it ends with.

    A challenger replaces the champion only when its validation macro-F1 is strictly higher.
    """
    champion = current_champion(client, name)
    if champion is None:
        client.set_registered_model_alias(name, CHAMPION, version)
        return CHAMPION
    client.set_registered_model_alias(name, CHALLENGER, version)
    if score(client, name, version) > score(client, name, champion):
        client.set_registered_model_alias(name, CHAMPION, version)
        client.delete_registered_model_alias(name, CHALLENGER)
        return CHAMPION
    return CHALLENGER
