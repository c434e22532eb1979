"""No input breaks the served champion: over a thousand malformed requests to a real ``mlflow
models serve``, each answered 4xx with a message naming the rule, none 5xx; the server's memory
stays bounded and it answers a valid request afterwards with the same probabilities. (A column
the signature does not name, beside all the modalities, is not malformed: MLflow drops it.)

Requests are generated from a seeded RNG, by category (``CATEGORIES``); the test prints how
many of each were sent and the peak memory of the server's processes.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
from tests.integration.conftest import post

from biomoe.config import Params
from biomoe.data.ai4pain import read_ai4pain_split

pytestmark = pytest.mark.slow

MODALITIES = ["Bvp", "Eda", "Resp", "SpO2"]
JSON = "application/json"

Request = tuple[bytes | str, str]
"""A body and its content type."""


def _valid_rows(root: Path, params: Params, n: int) -> list[list[list[float]]]:
    windows = read_ai4pain_split(root / "data/raw/validation", "validation", params.ingest)
    table = windows.pivot(index="sample_id", columns="modality", values="signal")
    return [
        [np.asarray(table.at[i, m]).round(4).tolist() for m in MODALITIES] for i in table.index[:n]
    ]


def _split(data: object, columns: object = MODALITIES, **extra: object) -> str:
    return json.dumps({"dataframe_split": {"columns": columns, "data": data}, **extra})


class Fuzzer:
    """Malformed variations of a valid request (``rows``), by category."""

    def __init__(self, rows: list[list[list[float]]], seed: int = 0) -> None:
        self.rows = rows
        self.rng = random.Random(seed)

    def _row(self) -> list[list[float]]:
        return [list(cell) for cell in self.rng.choice(self.rows)]

    def _with_cell(self, value: object) -> str:
        rows = [self._row() for _ in range(self.rng.randint(1, 3))]
        rows[self.rng.randrange(len(rows))][self.rng.randrange(4)] = value
        return _split(rows)

    def not_json(self) -> Request:
        good = _split([self._row()])
        body = self.rng.choice(
            [
                good[: self.rng.randrange(1, len(good) - 1)],
                "",
                "{",
                "not json at all",
                "{'dataframe_split': 1}",
                bytes(self.rng.randrange(256) for _ in range(64)),
                good.replace(":", "=", 1),
            ]
        )
        return body, JSON

    def wrong_envelope(self) -> Request:
        body = self.rng.choice(
            [
                [],
                [1, 2, 3],
                42,
                "text",
                None,
                {},
                {"unknown_key": [1]},
                {"dataframe_split": 5},
                {"dataframe_split": "x"},
                {"dataframe_split": {"columns": MODALITIES}},
                {"dataframe_split": {"data": [self._row()]}},
                {"dataframe_split": {"columns": MODALITIES, "data": 7}},
                {"dataframe_records": 3},
                {"dataframe_records": [[1, 2]]},
                {"instances": "x"},
                {"inputs": None},
                {"dataframe_split": {"columns": MODALITIES, "data": [self._row()]}, "inputs": [1]},
            ]
        )
        return json.dumps(body), JSON

    def cell_type(self) -> Request:
        value = self.rng.choice(
            ["high", 3.5, 7, True, None, {"a": 1}, [[1.0, 2.0], [3.0, 4.0]], [{"x": 1.0}] * 600]
        )
        return self._with_cell(value), JSON

    def ragged(self) -> Request:
        row = self._row()
        kind = self.rng.randrange(3)
        if kind == 0:
            body = _split([row, row[:2]])
        elif kind == 1:
            body = _split([[*row, row[0]]])
        else:
            body = self._with_cell([[1.0] * 600, [1.0] * 300])
        return body, JSON

    def empty(self) -> Request:
        body = self.rng.choice(
            [_split([]), self._with_cell([]), _split([[[], [], [], []]]), _split([[]])]
        )
        return body, JSON

    def non_finite(self) -> Request:
        row = self._row()
        cell = self.rng.randrange(4)
        n = len(row[cell])
        kind = self.rng.choice(["nan-all", "nan-many", "inf", "-inf"])
        if kind == "nan-all":
            row[cell] = [float("nan")] * n
        elif kind == "nan-many":
            for i in self.rng.sample(range(n), k=max(1, n // 4)):
                row[cell][i] = float("nan")
        else:
            row[cell][self.rng.randrange(n)] = float(kind)
        return _split([row]), JSON  # json writes NaN / Infinity tokens

    def strings_in_arrays(self) -> Request:
        row = self._row()
        cell = self.rng.randrange(4)
        # not numbers: MLflow's signature check converts "1.0" to 1.0 and "" to NaN (missing)
        row[cell][self.rng.randrange(len(row[cell]))] = self.rng.choice(["high", "1,5", "x1", "--"])
        return _split([row]), JSON

    def columns(self) -> Request:
        row = self._row()
        kind = self.rng.randrange(4)
        if kind == 0:
            drop = self.rng.randrange(4)
            body = _split(
                [row[:drop] + row[drop + 1 :]], MODALITIES[:drop] + MODALITIES[drop + 1 :]
            )
        elif kind == 1:  # an extra column in place of a modality (extra ones alone are ignored)
            swap = self.rng.randrange(4)
            body = _split([row], [*MODALITIES[:swap], "Ecg", *MODALITIES[swap + 1 :]])
        elif kind == 2:
            body = _split([row], [m.lower() for m in MODALITIES])
        else:
            body = _split([row], [MODALITIES[0]] * 4)
        return body, JSON

    def length(self) -> Request:
        seconds = self.rng.choice([0.01, 1.0, 4.99, 60.01, 120.0])
        n = max(1, round(seconds * 100))
        row = self._row()
        row[self.rng.randrange(4)] = [1.0] * n
        return _split([row]), JSON

    def an_hour(self) -> Request:
        return _split([[[1.0] * 360_000] * 4]), JSON

    def too_many_rows(self) -> Request:
        return _split([[[1.0], [1.0], [1.0], [1.0]]] * 10_000), JSON

    def fifty_megabytes(self) -> Request:
        return _split([[[97.123456] * 5_000_000, [1.0], [1.0], [1.0]]]), JSON

    def bad_params(self) -> Request:
        params = self.rng.choice(
            [{"output": "logits"}, {"output": 3}, {"output": None}, "output", [1], {"output": []}]
        )
        return _split([self._row()], params=params), JSON

    def content_type(self) -> Request:
        kind = self.rng.randrange(4)
        if kind == 0:
            return _split([self._row()]), "text/plain"
        if kind == 1:
            return "Bvp,Eda\n1,2\n", "text/csv"
        if kind == 2:
            return bytes(self.rng.randrange(256) for _ in range(128)), "application/octet-stream"
        return bytes(64), "application/x-parquet"


CATEGORIES: dict[str, tuple[Callable[[Fuzzer], Request], int]] = {
    "not JSON": (Fuzzer.not_json, 90),
    "wrong envelope": (Fuzzer.wrong_envelope, 110),
    "cell not an array of numbers": (Fuzzer.cell_type, 140),
    "ragged rows or cells": (Fuzzer.ragged, 60),
    "empty input or window": (Fuzzer.empty, 60),
    "NaN / infinity": (Fuzzer.non_finite, 160),
    "strings inside arrays": (Fuzzer.strings_in_arrays, 100),
    "missing, extra or misnamed columns": (Fuzzer.columns, 120),
    "window too short or too long": (Fuzzer.length, 100),
    "a window of an hour": (Fuzzer.an_hour, 2),
    "10,000 rows": (Fuzzer.too_many_rows, 2),
    "a 50 MB body": (Fuzzer.fifty_megabytes, 1),
    "bad predict params": (Fuzzer.bad_params, 40),
    "wrong content type": (Fuzzer.content_type, 40),
}


def _server_process(url: str) -> psutil.Process:
    port = int(url.rsplit(":", 1)[1])
    for connection in psutil.net_connections("tcp"):
        if connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
            return psutil.Process(connection.pid)
    raise RuntimeError(f"no process listens on {url}")


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


class PeakMemory:
    """The peak RSS of a process and its children, sampled every 50 ms while entered."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = _tree_rss(process)
        self._stop = threading.Event()

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _tree_rss(self.process))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _requests() -> Iterator[tuple[str, Callable[[Fuzzer], Request]]]:
    for category, (make, count) in CATEGORIES.items():
        for _ in range(count):
            yield category, make


def test_a_thousand_malformed_requests_get_a_4xx_each_and_break_nothing(
    served: str, serving_workspace: Path, tiny_params: Params
) -> None:
    rows = _valid_rows(serving_workspace, tiny_params, 4)
    valid = _split(rows)
    status, before = post(served, valid)
    assert status == 200, before
    fuzzer = Fuzzer(rows)
    server = _server_process(served)
    baseline = _tree_rss(server)
    sent: Counter[str] = Counter()
    failures: list[str] = []
    examples: dict[str, str] = {}
    start = time.monotonic()
    with PeakMemory(server) as memory:
        for category, make in _requests():
            body, content_type = make(fuzzer)
            status, answer = post(served, body, content_type)
            sent[category] += 1
            message = answer.get("message", "") if isinstance(answer, dict) else answer
            if not (400 <= status < 500 and message.strip()):
                failures.append(f"{category}: HTTP {status} {str(answer)[:300]}")
            examples.setdefault(category, f"HTTP {status}: {' '.join(message.split())[-160:]}")
    elapsed = time.monotonic() - start
    print(f"\n{sum(sent.values())} malformed requests in {elapsed:.0f} s:")
    for category, count in sent.items():
        print(f"  {count:5d}  {category}  e.g. {examples[category]}")
    growth = (memory.peak - baseline) / 2**20
    print(f"server RSS {baseline / 2**20:.0f} MiB before, peak {memory.peak / 2**20:.0f} MiB")
    assert not failures, "\n".join(failures[:20])
    assert sum(sent.values()) >= 1000
    assert growth < 2048, f"the server grew by {growth:.0f} MiB"
    status, after = post(served, valid)
    assert status == 200, after
    status, extra = post(served, _split([[*r, r[0]] for r in rows], [*MODALITIES, "Ecg"]))
    assert status == 200, extra  # MLflow drops columns the signature does not name
    np.testing.assert_allclose(
        [[list(r.values()) for r in a["predictions"]] for a in (after, extra)],
        [[list(r.values()) for r in before["predictions"]]] * 2,
        atol=1e-7,
        rtol=0,
    )
