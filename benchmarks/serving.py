"""Serving latency and throughput: the champion behind a real ``mlflow models serve``.

    # README "Serving: latency under load" (after `make run`; about 15 min on 2 cores)
    python benchmarks/serving.py --root .
    python benchmarks/serving.py --root . --engines threaded --workers 1 --clients 1 --requests 4

The model (``--model-uri``, default the champion in the project's MLflow store) is downloaded
once and copied per engine with its ``serving.json`` set to that engine (``eager``: the
published network; ``threaded``: the pipeline's optimised copy; ``bf16``: that copy in
bfloat16; ``int8``: the eager network's linears in int8; the last two opt-in and left out on a
CPU without their instructions). Each copy is served
by ``mlflow models serve --env-manager local`` on a free localhost port with 1 and 2 workers
(uvicorn processes) and driven by 1, 4 and 16 concurrent clients, each request holding one
sample or 16 (the model's own input example: one 10 s sample of 4 modalities, each drawn as the
configured representations). Every configuration sends a bounded number of requests (about
``--requests`` samples' worth of work per client count, at least one request per client) after
two warm-up requests, and the table gives latency percentiles over those requests and samples/s
over their wall time. Every answer is checked (HTTP 200, one row per sample).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import numpy as np

from biomoe.config import load_params
from biomoe.serve.precision import PrecisionError, require_precision
from common import cpu_name, markdown_table, parser, workdir

ENGINES = {
    "eager": {"engine": "eager", "precision": "fp32"},
    "threaded": {"engine": "threaded", "precision": "fp32"},
    "bf16": {"engine": "threaded", "precision": "bf16"},
    "int8": {"engine": "eager", "precision": "int8"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _variant(model: Path, engine: str, out: Path) -> Path:
    """A copy of the downloaded model whose serving.json runs ``engine``."""
    copy = out / engine
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(model, copy)
    [serving] = copy.rglob("serving.json")
    config = json.loads(serving.read_text())
    config["serve"] = {**config["serve"], **ENGINES[engine]}
    serving.write_text(json.dumps(config))
    return copy


@contextlib.contextmanager
def _served(model: Path, workers: int, log: Path):
    port = _free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "900",
    }
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", str(model)]
    command += ["--env-manager", "local", "-w", str(workers), "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "w") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while not _pings(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"mlflow models serve did not start:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _request(url: str, body: bytes, rows: int) -> float:
    """Seconds one request took; SystemExit unless it answered ``rows`` rows."""
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=900) as response:
        answer = json.loads(response.read())
    elapsed = time.perf_counter() - start
    if len(answer["predictions"]) != rows:
        raise SystemExit(f"expected {rows} rows, got {len(answer['predictions'])}")
    return elapsed


def _payload(example: dict, rows: int) -> bytes:
    split = example["dataframe_split"]
    return json.dumps({"dataframe_split": {**split, "data": split["data"] * rows}}).encode()


def _drive(url: str, body: bytes, rows: int, clients: int, requests: int) -> dict[str, float]:
    for _ in range(2):
        _request(url, body, rows)
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(lambda _: _request(url, body, rows), range(requests)))
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "samples/s": rows * requests / wall,
    }


def main() -> None:
    cli = parser(__doc__, workdir=True)
    cli.add_argument("--root", type=Path, default=Path("."))
    cli.add_argument("--model-uri", default=None, help="default: models:/<model_name>@champion")
    cli.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    cli.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    cli.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    cli.add_argument("--rows", type=int, nargs="+", default=[1, 16])
    cli.add_argument("--requests", type=int, default=24, help="samples' worth of work per run")
    args = cli.parse_args()
    root = args.root.resolve()
    params = load_params(root / "params.yaml")
    os.chdir(root)  # the tracking URI may be relative (sqlite:///mlflow/mlflow.db)
    mlflow.set_tracking_uri(params.register.tracking_uri)
    uri = args.model_uri or f"models:/{params.register.model_name}@champion"
    out = workdir(args, "biomoe-serving-")
    model = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(out / "downloaded")))
    example = json.loads((model / "serving_input_example.json").read_text())

    engines = []
    for engine in args.engines:
        precision = ENGINES[engine]["precision"]
        try:
            if precision != "fp32":
                require_precision(precision)  # type: ignore[arg-type]
            engines.append(engine)
        except PrecisionError as exc:
            print(f"{engine}: left out ({exc})")

    print(f"{uri} on {cpu_name()}, {os.cpu_count()} cores; requests of 1 and 16 samples")
    table = []
    for engine in engines:
        variant = _variant(model, engine, out)
        for workers in args.workers:
            with _served(variant, workers, out / f"{engine}-{workers}.log") as url:
                for rows in args.rows:
                    body = _payload(example, rows)
                    for clients in args.clients:
                        requests = max(clients, -(-args.requests // rows))
                        result = _drive(url, body, rows, clients, requests)
                        table.append(
                            [engine, workers, clients, rows, requests]
                            + [f"{result[k]:.0f}" for k in ("p50", "p95", "p99")]
                            + [f"{result['samples/s']:.1f}"]
                        )
                        print(" | ".join(str(c) for c in table[-1]), flush=True)
    header = ["engine", "workers", "clients", "samples/request", "requests"]
    header += ["p50 ms", "p95 ms", "p99 ms", "samples/s"]
    print(markdown_table(header, table))
    best = [r for r in table if r[2] == 1 and r[3] == 1]
    if best:
        fastest = min(best, key=lambda r: float(r[5]))
        print(f"one sample, one client: best p50 {fastest[5]} ms ({fastest[0]}, {fastest[1]} w)")


if __name__ == "__main__":
    main()
