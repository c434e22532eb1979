"""A throw-away PostgreSQL server for integration tests: Debian's ``postgresql`` binaries,
a fresh data directory, trust authentication, bound to a free loopback port.

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` system user
(which Debian's package creates) through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@dataclass(frozen=True)
class Postgres:
    """A running server: ``uri(database)`` is its SQLAlchemy URI."""

    port: int
    bin_dir: Path

    def uri(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        command = [str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        subprocess.run(
            [*command, "-U", "postgres", name],
            check=True,
            capture_output=True,
        )


def missing_reason() -> str | None:
    """Why no server can be started here, or None."""
    if not BIN_DIRS or not (BIN_DIRS[0] / "initdb").is_file():
        return "PostgreSQL is not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
    return None


@contextlib.contextmanager
def running_postgres(port: int) -> Iterator[Postgres]:
    """A new cluster on ``port``, stopped and deleted afterwards."""
    bin_dir = BIN_DIRS[0]
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="biomoe-postgres-"))
    if as_user:
        shutil.chown(root, "postgres")
    data = root / "data"
    run = {"check": True, "capture_output": True, "cwd": root}
    initdb = [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust"]
    subprocess.run([*initdb, "-U", "postgres", "-E", "UTF8", "--no-sync"], **run)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run([*ctl, "-o", options, "-l", str(root / "server.log"), "-w", "start"], **run)
    try:
        yield Postgres(port, bin_dir)
    finally:
        subprocess.run([*ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
