"""Retraining on a schedule: ``python flows/deploy.py serve|deploy`` (see ``biomoe.flows.deploy``).

A deployment's workers load ``scheduled_retrain`` from this file (``ENTRYPOINT``).
"""

from pathlib import Path

from biomoe.flows.deploy import main, scheduled_retrain

__all__ = ["scheduled_retrain"]

if __name__ == "__main__":
    main(project=Path(__file__).resolve().parents[1])
