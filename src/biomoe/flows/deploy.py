"""Scheduled retraining: the retrain flow as a Prefect deployment on the cron in params.yaml.

``schedule`` in params.yaml names the deployment, its cron and time zone, and the work pool.
Both commands need a Prefect server (``PREFECT_API_URL``); the ephemeral API cannot schedule.

    python flows/deploy.py serve [--cron "0 3 * * *"]   # this process runs the scheduled runs
    python flows/deploy.py deploy [--pool NAME]   # a process work pool's workers run them:
                                                  #   prefect worker start --pool NAME
"""

from __future__ import annotations

import argparse
from pathlib import Path
from uuid import UUID

from prefect import flow
from prefect.schedules import Cron, Schedule
from prefect.settings import PREFECT_API_URL

from biomoe import numerics
from biomoe.config import ScheduleParams, load_params
from biomoe.flows.retrain import configured
from biomoe.paths import ProjectPaths

FLOW_NAME = "biomoe-scheduled-retrain"
ENTRYPOINT = "flows/deploy.py:scheduled_retrain"
"""The deployment's flow, relative to the project (``--source``) root; that script imports it."""


@flow(name=FLOW_NAME, log_prints=True)
def scheduled_retrain(
    root: str, params_file: str | None = None, tracking_uri: str | None = None
) -> dict[str, str]:
    """The retrain flow as a subflow, on the task runner ``scaleout`` names. A worker loads a
    deployment's flow from its entrypoint, so a runner chosen by the deploying process would be
    lost; choosing it here, at each run, keeps it (and picks up edits to params.yaml)."""
    params_file = params_file or str(ProjectPaths.at(root).params)
    return configured(params_file)(root=root, params_file=params_file, tracking_uri=tracking_uri)


def cron_schedule(schedule: ScheduleParams, cron: str | None = None) -> Schedule:
    return Cron(cron or schedule.cron, timezone=schedule.timezone, active=schedule.active)


def _parameters(root: str, params_file: str, tracking_uri: str | None) -> dict[str, str | None]:
    """Absolute paths: a scheduled run starts wherever its runner or worker was started."""
    return {
        "root": str(Path(root).resolve()),
        "params_file": str(Path(params_file).resolve()),
        "tracking_uri": tracking_uri,
    }


def serve(root: str, params_file: str, tracking_uri: str | None, cron: str | None = None) -> None:
    """Register the deployment and run its flow runs in this process until stopped."""
    schedule = load_params(params_file).schedule
    scheduled_retrain.serve(
        name=schedule.deployment,
        schedules=[cron_schedule(schedule, cron)],
        parameters=_parameters(root, params_file, tracking_uri),
        tags=list(schedule.tags),
        description=f"biomoe retrain of {Path(root).resolve()} on a schedule",
    )


def deploy(
    root: str, params_file: str, tracking_uri: str | None, pool: str | None, source: str
) -> UUID:
    """Register the deployment for the process work pool ``pool`` (default: ``schedule``'s), one
    run at a time (later ones queue; the flow's project lock also holds them off); its workers
    load this file from ``source``: a folder they can read at that path (or a git URL:
    Prefect's ``Flow.from_source``)."""
    params = load_params(params_file)
    schedule = params.schedule
    return scheduled_retrain.from_source(source=source, entrypoint=ENTRYPOINT).deploy(
        name=schedule.deployment,
        work_pool_name=pool or schedule.work_pool,
        concurrency_limit=1,
        job_variables={"env": numerics.environment(params.numerics, {})},
        schedules=[cron_schedule(schedule)],
        parameters=_parameters(root, params_file, tracking_uri),
        tags=list(schedule.tags),
        description=f"biomoe retrain of {Path(root).resolve()} on a schedule",
    )


def main(project: Path) -> None:
    """The command line; ``project`` (the script's checkout) is the default ``--source``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("serve", "deploy"))
    parser.add_argument("--root", default=".", help="project whose data/raw is retrained on")
    parser.add_argument("--params", default=None, help="default: ROOT/params.yaml")
    parser.add_argument("--tracking-uri", default=None, help="default: register.tracking_uri")
    parser.add_argument("--pool", default=None, help="deploy: work pool (schedule.work_pool)")
    parser.add_argument("--source", default=str(project), help="deploy: where workers get code")
    parser.add_argument("--cron", default=None, help="serve: this cron, not schedule.cron")
    args = parser.parse_args()
    if not PREFECT_API_URL.value():
        parser.error(
            "a schedule needs a Prefect server, not the ephemeral API: start one "
            "(prefect server start) and set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)"
        )
    params_file = args.params or str(ProjectPaths.at(args.root).params)
    numerics.enter(numerics.configured(params_file))
    if args.command == "serve":
        serve(args.root, params_file, args.tracking_uri, cron=args.cron)
    else:
        deploy(args.root, params_file, args.tracking_uri, args.pool, args.source)
