"""Team-server credentials: only from the environment, and a refused request said plainly."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException, RestException

from biomoe.config import Params
from biomoe.errors import AccessError
from biomoe.registry.params import PASSWORD_VARIABLE, USERNAME_VARIABLE, credentials_in
from biomoe.registry.tracking import access_checked, configure, refusal

SERVER = "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("uri", "carries"),
    [
        ("http://pipeline:secret@mlflow.team:5000", True),
        ("https://pipeline@mlflow.team", True),
        ("http://mlflow.team:5000", False),
        ("sqlite:///mlflow/mlflow.db", False),
        ("databricks", False),
    ],
)
def test_credentials_in_a_uri_are_recognised(uri: str, carries: bool) -> None:
    assert credentials_in(uri) is carries


def test_params_refuse_a_tracking_uri_with_credentials(params: Params) -> None:
    data = params.model_dump(by_alias=True, mode="json")
    data["register"]["tracking_uri"] = "http://pipeline:hunter2-secret@mlflow.team:5000"
    with pytest.raises(
        ValueError, match=f"register.tracking_uri must not hold.*{USERNAME_VARIABLE}"
    ):
        Params.model_validate(data)


def test_a_uri_with_credentials_is_refused_before_any_request(tmp_path) -> None:
    with pytest.raises(ValueError, match="the tracking URI must not hold credentials"):
        configure("http://pipeline:pw@127.0.0.1:9", "biomoe", tmp_path)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (
            MlflowException(
                "API request to endpoint /api/2.0/mlflow/runs/create failed with error code "
                "401 != 200. Response body: 'You are not authenticated.'"
            ),
            "401",
        ),
        (
            MlflowException(
                "API request to endpoint /api/2.0/mlflow/registered-models/alias failed with "
                "error code 403 != 200. Response body: 'Permission denied'"
            ),
            "403",
        ),
        (RestException({"error_code": "PERMISSION_DENIED", "message": "no"}), "403"),
        (RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}), None),
        (ValueError("error code 401"), None),
    ],
)
def test_refusals_are_told_from_other_errors(exc: BaseException, code: str | None) -> None:
    assert refusal(exc) == code


def test_a_refusal_names_the_user_and_never_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USERNAME_VARIABLE, "deploy")
    monkeypatch.setenv(PASSWORD_VARIABLE, "the-secret-password")
    for code, said in (("401", "did not accept the credentials"), ("403", "403 permission denied")):
        with pytest.raises(AccessError) as refused, access_checked(SERVER):
            raise MlflowException(
                "API request to endpoint /api/2.0/mlflow/model-versions/create failed with "
                f"error code {code} != 200. Response body: 'no'"
            )
        message = str(refused.value)
        assert said in message and "user 'deploy'" in message and SERVER in message
        assert "/api/2.0/mlflow/model-versions/create" in message
        assert "the-secret-password" not in message


def test_other_errors_pass_through_unchanged() -> None:
    original = MlflowException("RESOURCE_DOES_NOT_EXIST: no such model")
    with pytest.raises(MlflowException) as raised, access_checked(SERVER):
        raise original
    assert raised.value is original
