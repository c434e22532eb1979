"""Where a registered version came from, and the rule that ties a classifier to its backbone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from biomoe.classify.train import CARD_FILE
from biomoe.errors import CheckpointError
from biomoe.io import sha256_file

UNKNOWN = "unknown"


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return UNKNOWN


def dvc_data_md5(root: Path) -> str:
    """The md5 that ``data.dvc`` records for data/raw (DVC's version of the input data)."""
    try:
        return str(yaml.safe_load((root / "data.dvc").read_text())["outs"][0]["md5"])
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return UNKNOWN


def provenance(root: Path, params_file: Path) -> dict[str, str]:
    """The tags that say where a registered version came from: the code, params and data."""
    return {
        "git_commit": git_commit(root),
        "params_sha256": sha256_file(params_file) if params_file.is_file() else UNKNOWN,
        "dvc_data_md5": dvc_data_md5(root),
    }


def evaluation_tags(evaluation_metrics: Path) -> dict[str, str]:
    """The configured fusion's row of the evaluate stage's table, when there is one."""
    if not evaluation_metrics.is_file():
        return {}
    evaluation = json.loads(evaluation_metrics.read_text())
    row = next(r for r in evaluation["rows"].values() if r["configured"])
    prefix = f"eval_{evaluation['protocol']}"
    return {
        f"{prefix}_macro_f1": str(row["macro_f1"]),
        f"{prefix}_macro_f1_ci": str(row["macro_f1_ci"]),
    }


def require_own_backbone(classifier_dir: Path, backbone_sha256: str, described: str) -> None:
    """A classifier is registered with the backbone whose embeddings it was trained on."""
    trained_on = json.loads((classifier_dir / CARD_FILE).read_text())["backbone_sha256"]
    if backbone_sha256 != trained_on:
        raise CheckpointError(
            f"backbone {described} has sha256 {backbone_sha256}, but {classifier_dir} was "
            f"trained on embeddings of {trained_on} (rule: a classifier is registered with its "
            "own backbone; re-run embed and train)"
        )
