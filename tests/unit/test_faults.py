"""Fault handling of unattended runs: what counts as transient, back-off, the project lock and
stage time limits (``biomoe.errors``, ``biomoe.flows.faults``)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from mlflow.exceptions import MlflowException

from biomoe.config import Params
from biomoe.errors import (
    BiomoeError,
    DataError,
    StageTimeout,
    TransientError,
    is_transient,
)
from biomoe.flows.faults import LOCK_FILE, RetryPolicy, project_lock, retrying, run_cli_stage


def _raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise BiomoeError("stage failed") from inner
    except BiomoeError as outer:
        return outer


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransientError("remote down"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (_raised_from(ConnectionResetError()), True),
        (
            MlflowException(
                "API request to http://127.0.0.1:5000/api/2.0/mlflow/runs/create failed with "
                "exception HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded"
            ),
            True,
        ),
        (MlflowException("RESOURCE_DOES_NOT_EXIST: Registered Model not found"), False),
        (DataError("negative EDA", file="x.csv", segment="S1"), False),
        (StageTimeout("stage train ran past its limit"), False),
        (ValueError("bad"), False),
    ],
)
def test_what_counts_as_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_timeout_raised_while_handling_a_timeout_error_is_not_transient() -> None:
    try:
        try:
            raise TimeoutError("shard")
        except TimeoutError:
            raise StageTimeout("stage embed ran past its limit") from None
    except StageTimeout as exc:
        assert not is_transient(exc)


def test_transient_errors_are_retried_with_exponential_back_off() -> None:
    slept: list[float] = []
    attempts = iter([TransientError("down"), ConnectionRefusedError(), "done"])

    def work() -> str:
        outcome = next(attempts)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert retrying(work, RetryPolicy(retries=3, delay_s=2.0), "train", slept.append) == "done"
    assert slept == [2.0, 4.0]


def test_retries_run_out_and_other_errors_are_raised_at_once() -> None:
    slept: list[float] = []

    def down() -> None:
        raise TransientError("still down")

    with pytest.raises(TransientError, match="still down"):
        retrying(down, RetryPolicy(retries=2, delay_s=1.0), "register", slept.append)
    assert slept == [1.0, 2.0]

    def bad() -> None:
        raise DataError("broken rule", file="f.csv")

    slept.clear()
    with pytest.raises(DataError):
        retrying(bad, RetryPolicy(retries=5, delay_s=1.0), "ingest", slept.append)
    assert slept == []


HOLD = """
import sys, time
from pathlib import Path
from biomoe.flows.faults import project_lock
with project_lock(Path(sys.argv[1]), 0):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_project_lock_waits_gives_up_and_is_freed_when_its_holder_is_killed(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with (
            pytest.raises(BiomoeError, match=rf"pid {holder.pid}.*lock_timeout_s = 1 s"),
            project_lock(tmp_path, 1),
        ):
            pass
        assert time.monotonic() - started >= 1
    finally:
        holder.kill()
        holder.wait()
    with project_lock(tmp_path, 5) as path:
        assert path == tmp_path / LOCK_FILE


def test_a_stage_past_its_time_limit_is_stopped_with_its_children(
    tmp_path: Path,
    tiny_params: Params,
    pipeline_project: Callable[[Path, Params], Path],
) -> None:
    root = pipeline_project(tmp_path / "project", tiny_params)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with pytest.raises(StageTimeout, match=r"stage ingest ran past schedule\.stage_timeout_s"):
        run_cli_stage("ingest", root, root / "params.yaml", None, timeout_s=0.5)
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before
    assert not (root / "data/interim/windows.parquet").exists()


def test_a_failed_stage_quotes_its_error(
    tmp_path: Path,
    tiny_params: Params,
    pipeline_project: Callable[[Path, Params], Path],
) -> None:
    root = pipeline_project(tmp_path / "project", tiny_params)
    with pytest.raises(BiomoeError, match=r"stage validate failed \(exit status 1\)"):
        run_cli_stage("validate", root, root / "params.yaml", None, timeout_s=600)
