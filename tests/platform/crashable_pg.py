"""An embedded PostgreSQL of one test, which the test may crash and start again.

The session's server is shared by every test (and the machine's server by other people):
a test that stops its database needs one of its own. This one uses the platform's embedded
server (pgserver's bundled binaries, `creatorhub.embedded_db`) in a directory of the test,
and `pg_ctl` on the same data directory and socket to crash it (`-m immediate`, as a power
cut or `kill -9` of the postmaster would) and to start it again.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from pgserver._commands import POSTGRES_BIN_PATH

from creatorhub.embedded_db import start_embedded_server, stop_embedded_server

PG_CTL_TIMEOUT = 60


class CrashablePostgres:
    def __init__(self) -> None:
        # Not under pytest's basetemp: run as root, pgserver hands the data directory to its
        # own user, which needs to reach it (see db_fixtures).
        self.data_dir = Path(tempfile.mkdtemp(prefix="creatorhub-crash-pg-"))
        self.pgdata = self.data_dir / "pgdata"
        self.admin_url = start_embedded_server(self.data_dir)
        # Where the server listens (line 5 of postmaster.pid): the restart must use it again,
        # or the clients' URL would point at nothing.
        self.socket_dir = (self.pgdata / "postmaster.pid").read_text().splitlines()[4]
        self.crashes = 0

    def _pg_ctl(self, *args: str) -> None:
        owner = pwd.getpwuid(self.pgdata.stat().st_uid).pw_name
        # PostgreSQL refuses to run as root: as root, run pg_ctl as the data directory's owner.
        user = owner if os.geteuid() == 0 and owner != "root" else None
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args],
            check=True,
            capture_output=True,
            timeout=PG_CTL_TIMEOUT,
            user=user,
        )

    def crash(self) -> None:
        """Stop the server the abrupt way: no checkpoint, connections cut, recovery at start."""
        self._pg_ctl("-m", "immediate", "stop")
        self.crashes += 1

    def start(self) -> None:
        """Start it again on the same data directory and socket (replays the WAL first)."""
        self._pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.socket_dir}",
            "-l",
            str(self.pgdata / "log"),
            "start",
        )

    def running(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=2) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def create_database(self, name: str) -> str:
        from psycopg import sql

        from creatorhub.embedded_db import replace_database

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return replace_database(self.admin_url, name)

    def close(self) -> None:
        """Stop the server and delete its files.

        pgserver stops the postmaster it started; after a restart that is another process,
        so the server is stopped here first.
        """
        deadline = time.monotonic() + PG_CTL_TIMEOUT
        if self.running():
            self._pg_ctl("-w", "-m", "fast", "stop")
        while (self.pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        stop_embedded_server(self.data_dir)
        shutil.rmtree(self.data_dir, ignore_errors=True)
