from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biomoe.config import ParamsError, load_params

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("cron", "0 3 * *", r"schedule\.cron '0 3 \* \*' must have five fields"),
        ("timezone", "Mars/Olympus", r"schedule\.timezone 'Mars/Olympus' is not an IANA"),
        ("artifact_key", "Retrain_Report", r"schedule\.artifact_key"),
        ("mlflow_ui_url", "127.0.0.1:5000", r"schedule\.mlflow_ui_url"),
    ],
)
def test_a_bad_schedule_is_named(tmp_path: Path, key: str, value: str, named: str) -> None:
    data = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    data["schedule"][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ParamsError, match=named):
        load_params(path)
