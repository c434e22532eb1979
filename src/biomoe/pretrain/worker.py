"""One training process: what ``torchrun`` starts on every rank.

``biomoe.pretrain.launch`` runs it for you (``biomoe pretrain``); by hand, on one machine::

    torchrun --standalone --nproc-per-node 2 -m biomoe.pretrain.worker \\
        --params .cache/pretrain/params.json --corpus data/corpus --run-dir .cache/pretrain

``--params`` is a JSON dump of a ``PretrainJob`` (the launcher writes it); ``--resume``
continues from ``<run-dir>/last.pt``; with ``--tracking-uri`` and ``--run-id``, rank 0 logs the
per-task metrics into that MLflow run. For several machines see ``biomoe.pretrain.launch``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import record

from biomoe.corpus.build import load_corpus
from biomoe.pretrain.data import corpus_digest
from biomoe.pretrain.distributed import setup, teardown
from biomoe.pretrain.params import PretrainJob
from biomoe.pretrain.trainer import train


class MlflowReport:
    """Logs metrics into an existing MLflow run (the pipeline stage's) by its id. MLflow is
    imported here, by rank 0 of a tracked run only: it takes seconds to import."""

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri)
        self.run_id = run_id

    def __call__(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(key, float(value), now, step) for key, value in sorted(metrics.items())]
        self.client.log_batch(self.run_id, metrics=batch)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m biomoe.pretrain.worker", description=__doc__)
    parser.add_argument("--params", type=Path, required=True, help="PretrainJob as JSON")
    parser.add_argument("--corpus", type=Path, required=True, help="corpus folder")
    parser.add_argument("--run-dir", type=Path, required=True, help="checkpoint folder")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--run-id", default=None, help="MLflow run that receives the metrics")
    return parser.parse_args(argv)


@record
def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Depthwise-conv weight grads [C, 1, k, k] come back with a different stride on the size-1
    # dim; same memory layout, so DDP's copy into its buckets is exact. Nothing to act on.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    job = PretrainJob.model_validate_json(args.params.read_text())
    env = setup(job.pretrain.device, os.environ)
    try:
        corpus = load_corpus(args.corpus)
        report = None
        if env.is_main and args.run_id and args.tracking_uri:
            report = MlflowReport(args.tracking_uri, args.run_id)
        args.run_dir.mkdir(parents=True, exist_ok=True)
        train(
            job,
            corpus,
            corpus_digest(args.corpus),
            args.run_dir,
            env,
            resume=args.resume,
            report=report,
        )
    finally:
        teardown(env)


if __name__ == "__main__":
    main()
