"""Guarded promotion of registered versions: challenger, champion, manual promotion and rollback.

Rules: the first version of a model becomes ``champion``. Every later version becomes
``challenger`` and replaces the champion only when its validation metric (``val_<metric>`` tag)
beats the champion's by more than ``margin``, measured on the same validation data
(``validation_data_sha256`` tag). When the champion was scored on other validation data, it is
re-scored on the challenger's data by the caller's ``rescore``; without one, the champion stays.
Every decision is written on the version (``promotion`` tag); the champion's history lives on the
registered model (``champion_history`` tag), which is what ``rollback`` walks back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from biomoe.errors import BiomoeError
from biomoe.registry.params import PromotionParams

CHAMPION = "champion"
CHALLENGER = "challenger"
SCORE_TAG = "val_macro_f1"
DATA_TAG = "validation_data_sha256"
DECISION_TAG = "promotion"
HISTORY_TAG = "champion_history"

Rescore = Callable[[str], float]
"""version -> its ``val_<metric>`` on the current validation data."""


class PromotionError(BiomoeError):
    """A promotion or rollback request that the registry cannot honour; the message says why."""


@dataclass(frozen=True)
class Decision:
    alias: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"alias": self.alias, "decision": self.reason}


def metric_tag(policy: PromotionParams) -> str:
    return f"val_{policy.metric}"


def current_champion(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def history(client: MlflowClient, name: str) -> list[str]:
    """Versions that have been champion, oldest first (rollbacks remove the entries they undo)."""
    raw = client.get_registered_model(name).tags.get(HISTORY_TAG, "")
    return [v for v in raw.split(",") if v]


def _crown(client: MlflowClient, name: str, version: str, entries: list[str]) -> None:
    """Make ``version`` champion and record ``entries`` (ending with it, once) as the history."""
    if not entries or entries[-1] != version:
        entries = [*entries, version]
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(entries))
    try:
        if str(client.get_model_version_by_alias(name, CHALLENGER).version) == str(version):
            client.delete_registered_model_alias(name, CHALLENGER)
    except MlflowException:
        pass


def _tag_float(client: MlflowClient, name: str, version: str, tag: str) -> float:
    tags = client.get_model_version(name, version).tags
    if tag not in tags:
        raise PromotionError(f"{name} version {version} has no {tag} tag to compare on")
    return float(tags[tag])


def compare(
    client: MlflowClient,
    name: str,
    version: str,
    champion: str,
    policy: PromotionParams,
    rescore: Rescore | None,
) -> tuple[bool, str]:
    """Whether ``version`` beats ``champion`` by the margin, and the reason in words."""
    tag = metric_tag(policy)
    score = _tag_float(client, name, version, tag)
    data = client.get_model_version(name, version).tags.get(DATA_TAG)
    champion_data = client.get_model_version(name, champion).tags.get(DATA_TAG)
    if data is not None and data == champion_data:
        champion_score, basis = _tag_float(client, name, champion, tag), "same validation data"
    elif rescore is not None:
        champion_score, basis = rescore(champion), "champion re-scored on this validation data"
    else:
        return False, (
            f"kept v{champion}: it was scored on other validation data and could not be re-scored"
        )
    wins = score > champion_score + policy.margin
    verdict = "beats" if wins else "does not beat"
    return wins, (
        f"{tag} {score:.4f} {verdict} champion v{champion}'s {champion_score:.4f} "
        f"+ margin {policy.margin:g} ({basis})"
    )


def promote(
    client: MlflowClient,
    name: str,
    version: str,
    policy: PromotionParams,
    rescore: Rescore | None = None,
) -> Decision:
    """Apply the rules (module docstring) to a freshly registered ``version``."""
    champion = current_champion(client, name)
    if champion is None:
        _crown(client, name, version, history(client, name))
        decision = Decision(CHAMPION, "first version: champion")
    elif champion == version:
        decision = Decision(CHAMPION, "already champion")
    else:
        client.set_registered_model_alias(name, CHALLENGER, version)
        wins, reason = compare(client, name, version, champion, policy, rescore)
        if wins:
            _crown(client, name, version, history(client, name))
        decision = Decision(CHAMPION if wins else CHALLENGER, reason)
    client.set_model_version_tag(name, version, DECISION_TAG, decision.reason)
    return decision


def promote_version(
    client: MlflowClient,
    name: str,
    version: str,
    policy: PromotionParams,
    force: bool = False,
    rescore: Rescore | None = None,
) -> Decision:
    """``biomoe promote``: make ``version`` champion if it passes the guard (or ``force``)."""
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        raise PromotionError(f"{name} has no version {version}") from exc
    champion = current_champion(client, name)
    if champion == version:
        return Decision(CHAMPION, f"v{version} is already champion")
    if champion is not None and not force:
        wins, reason = compare(client, name, version, champion, policy, rescore)
        if not wins:
            raise PromotionError(f"refused: {reason}; pass --force to override")
    else:
        reason = "promoted by hand (--force)" if champion is not None else "first champion"
    _crown(client, name, version, history(client, name))
    client.set_model_version_tag(name, version, DECISION_TAG, reason)
    return Decision(CHAMPION, reason)


def rollback(client: MlflowClient, name: str, to: str | None = None) -> Decision:
    """``biomoe rollback``: give champion back to the previous champion (or to version ``to``).

    Without ``to``, the last history entry is undone, so repeated rollbacks walk further back.
    """
    entries = history(client, name)
    champion = current_champion(client, name)
    if to is None:
        earlier = list(entries)
        while earlier and earlier[-1] == champion:
            earlier.pop()
        if champion is None or not earlier:
            raise PromotionError(
                f"{name}: no previous champion to roll back to (history {entries or 'empty'}, "
                f"champion {champion}); name a version with --to"
            )
        target, entries = earlier[-1], earlier
    else:
        try:
            client.get_model_version(name, to)
        except MlflowException as exc:
            raise PromotionError(f"{name} has no version {to}") from exc
        target = str(to)
    reason = f"rolled back from v{champion} to v{target}"
    _crown(client, name, target, entries)
    client.set_model_version_tag(name, target, DECISION_TAG, reason)
    return Decision(CHAMPION, reason)
