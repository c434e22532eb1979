"""Launch pretraining: ``torchrun`` as a subprocess, then publish the backbone if it succeeded.

``launch_pretraining`` is what the CLI (``biomoe pretrain [--resume]``) and the Prefect task
call. It writes the params it got to ``.cache/pretrain/params.json`` and runs::

    python -m torch.distributed.run --standalone --nproc-per-node <pretrain.nproc> \\
        --local-addr 127.0.0.1 -m biomoe.pretrain.worker --params ... --corpus data/corpus \\
        --run-dir .cache/pretrain [--resume] [--tracking-uri ... --run-id ...]

bound to the loopback interface, streaming its output. If any rank fails, torchrun stops the
others and ``PretrainError`` reports the failure; ``models/backbone/`` is left untouched. Going
from one CPU process to N GPUs on one machine is a params change only: ``pretrain.nproc: N``
(and ``device: cuda`` or ``auto``).

Several machines (the launcher stays on one; start the workers yourself). Put the corpus and
the run folder on a filesystem every node sees, write the params once (as the launcher does,
or with ``PretrainJob.model_dump_json()``), then on each of the ``N`` nodes::

    torchrun --nnodes N --nproc-per-node G --rdzv-backend c10d \\
        --rdzv-endpoint HOST0:29400 --rdzv-id pretrain-1 \\
        -m biomoe.pretrain.worker --params /shared/params.json --corpus /shared/corpus \\
        --run-dir /shared/pretrain-run

``HOST0:29400`` is a reachable address of one node (it hosts the c10d store; open that port
and let NCCL find its network, e.g. ``NCCL_SOCKET_IFNAME=eth0``). Every node must use the same
``--rdzv-id``. A failed run is continued by the same command with ``--resume`` on every node.
When it has finished, ``biomoe pretrain --resume`` in a project that sees the run folder as
``.cache/pretrain`` (and the same corpus in ``data/corpus``) publishes the backbone: it finds
the run finished and starts no process.
"""

from __future__ import annotations

import collections
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from biomoe.errors import BiomoeError
from biomoe.io import write_json
from biomoe.paths import ProjectPaths
from biomoe.pretrain.checkpointing import (
    check_fingerprint,
    checkpoint_path,
    load_state,
    run_fingerprint,
)
from biomoe.pretrain.data import corpus_digest
from biomoe.pretrain.params import PretrainJob
from biomoe.pretrain.run import PretrainResult, publish_backbone

LOOPBACK = "127.0.0.1"
TAIL_LINES = 40


class PretrainError(BiomoeError):
    """A training process failed; the message carries the failing rank and its last output."""


def run_dir(paths: ProjectPaths) -> Path:
    """Checkpoints and the params snapshot: working state, not a DVC out (see checkpointing)."""
    return paths.root / ".cache" / "pretrain"


def torchrun_command(
    nproc: int,
    params_file: Path,
    corpus: Path,
    runs: Path,
    *,
    resume: bool,
    tracking_uri: str | None = None,
    run_id: str | None = None,
) -> list[str]:
    """The command line that starts ``nproc`` workers on this machine."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        f"--local-addr={LOOPBACK}",
        "-m",
        "biomoe.pretrain.worker",
        "--params",
        str(params_file),
        "--corpus",
        str(corpus),
        "--run-dir",
        str(runs),
    ]
    if resume:
        command.append("--resume")
    if tracking_uri and run_id:
        command += ["--tracking-uri", tracking_uri, "--run-id", run_id]
    return command


def worker_environment(nproc: int, base: dict[str, str]) -> dict[str, str]:
    """``base`` plus loopback binding for gloo/NCCL, a fair share of CPU threads per process
    (torchrun would set 1) and deterministic cuBLAS; values already in ``base`` win."""
    share = max(1, (os.cpu_count() or 1) // nproc)
    extra = {
        "MASTER_ADDR": LOOPBACK,
        "OMP_NUM_THREADS": str(share),
        "PYTHONUNBUFFERED": "1",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    }
    loopback = _loopback_interface()
    if loopback is not None:
        extra |= {"GLOO_SOCKET_IFNAME": loopback, "NCCL_SOCKET_IFNAME": loopback}
    return extra | base


def _loopback_interface() -> str | None:
    names = {name for _, name in socket.if_nameindex()}
    return next((name for name in ("lo", "lo0") if name in names), None)


def run_torchrun(
    command: list[str], env: dict[str, str], echo: Callable[[str], None], cwd: Path
) -> None:
    """Run ``command``, passing each output line to ``echo``; raise ``PretrainError`` unless
    every rank succeeded. Interrupting the caller stops the processes."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    root_cause: list[str] = []  # torchrun's report of the first failure, when there is one
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        try:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                echo(line)
                tail.append(line)
                if root_cause or "Root Cause" in line:
                    root_cause.append(line)
            code = process.wait()
        except BaseException:
            process.terminate()  # torchrun passes it on to its workers
            process.wait()
            raise
    if code != 0:
        raise PretrainError(_failure(code, root_cause, list(tail)))


def _failure(code: int, root_cause: list[str], tail: list[str]) -> str:
    """Which rank failed and with what error, from torchrun's root-cause report."""
    report = "\n".join(root_cause)
    rank = re.search(r"^\s*rank\s*:\s*(\d+)", report, re.MULTILINE)
    errors = [ln.strip() for ln in root_cause if re.match(r"\s*[\w.]+(Error|Exception)\b", ln)]
    who = f"rank {rank.group(1)}" if rank else "a training process"
    what = f": {errors[-1]}" if errors else ""
    return (
        f"pretraining failed on {who}{what} (torchrun exit code {code}). The last good "
        "backbone was left in place; after fixing the cause, `biomoe pretrain --resume` "
        "continues from the last checkpoint. Last output:\n" + "\n".join(tail)
    )


def launch_pretraining(
    job: PretrainJob,
    paths: ProjectPaths,
    resume: bool = False,
    *,
    tracking_uri: str | None = None,
    run_id: str | None = None,
    echo: Callable[[str], None] = print,
) -> PretrainResult:
    """Pretrain on ``data/corpus`` with ``pretrain.nproc`` processes (``resume``: from the last
    checkpoint in ``.cache/pretrain``), then publish ``models/backbone/`` and the curves plot.
    With ``tracking_uri`` and ``run_id``, rank 0 logs per-task metrics into that MLflow run.
    Resuming a run that has already finished (e.g. one trained on other machines) only
    publishes it, whatever ``nproc`` it was trained with."""
    runs = run_dir(paths)
    ckpt = checkpoint_path(runs)
    digest = corpus_digest(paths.corpus)
    if resume and _finished(ckpt, job, digest):
        echo(f"{ckpt}: the run has finished; publishing its backbone")
    else:
        runs.mkdir(parents=True, exist_ok=True)
        params_file = runs / "params.json"
        write_json(params_file, job.model_dump(mode="json"))
        nproc = job.pretrain.nproc
        command = torchrun_command(
            nproc,
            params_file,
            paths.corpus,
            runs,
            resume=resume,
            tracking_uri=tracking_uri,
            run_id=run_id,
        )
        run_torchrun(command, worker_environment(nproc, dict(os.environ)), echo, paths.root)
    return publish_backbone(ckpt, job, digest, paths.backbone_dir, paths.plots)


def _finished(ckpt: Path, job: PretrainJob, corpus_sha256: str) -> bool:
    """Whether ``ckpt`` holds a finished run of these params and corpus (any world size)."""
    if not ckpt.is_file():
        return False
    state = load_state(ckpt)
    if not state["finished"]:
        return False
    world_size = state["fingerprint"]["world_size"]
    check_fingerprint(ckpt, state["fingerprint"], run_fingerprint(job, corpus_sha256, world_size))
    return True
