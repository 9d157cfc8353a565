"""A throwaway PostgreSQL server for tests: Debian's binaries, a temp cluster, loopback only."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    """initdb + pg_ctl in a temp dir (as the postgres user when run as root)."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError(
                "PostgreSQL is not installed: apt-get install postgresql (make test does this)"
            )
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="interviewer-pg-")
        self.port = _free_port()
        self.url = f"postgresql+psycopg://interviewer@127.0.0.1:{self.port}/interviewer"

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> TempPostgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = os.path.join(self.dir, "data")
        self._run(
            f"{self.bin}/initdb", "-D", data, "-U", "interviewer", "--auth=trust", "-E", "UTF8"
        )
        self._run(
            f"{self.bin}/pg_ctl",
            "-D",
            data,
            "-l",
            os.path.join(self.dir, "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        self._run(
            f"{self.bin}/createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "interviewer",
            "interviewer",
        )
        return self

    def database(self) -> str:
        """A fresh, empty database on this server; returns its URL."""
        name = f"t{uuid.uuid4().hex[:12]}"
        self._run(
            f"{self.bin}/createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "interviewer",
            name,
        )
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        try:
            self._run(
                f"{self.bin}/pg_ctl",
                "-D",
                os.path.join(self.dir, "data"),
                "-m",
                "immediate",
                "stop",
            )
        finally:
            time.sleep(0.2)
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server for the module's tests."""
    pg = TempPostgres().start()
    yield pg
    pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database's URL: a SQLite file, then one on the module's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/interviews.db"
    return request.getfixturevalue("postgres").database()
