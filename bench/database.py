"""The PostgreSQL server a run measures, its scratch database, and the pgbench that drives it.

One server per run: a fresh embedded one (pgserver, in a temporary directory) by default, or the
one behind `--database-url`/`DATABASE_URL`. Either way the run creates the scratch database
`creatorhub_bench` (dropped first if a previous run left it), migrates it to head, and drops it
at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from creatorhub.db import libpq_url
from creatorhub.embedded_db import replace_database, start_embedded_server, stop_embedded_server

SCRATCH_DATABASE = "creatorhub_bench"


@dataclass(frozen=True)
class Server:
    """Where the scratch database lives, and facts about the server that explain its figures."""

    admin_url: str  # a database to connect to for CREATE/DROP DATABASE
    url: str  # the scratch database
    embedded: bool
    version: str  # e.g. "16.2"
    version_num: int  # server_version_num, e.g. 160002
    settings: dict[str, str]
    postmaster: int | None  # its pid when the server runs on this machine, for CPU figures

    @property
    def major(self) -> int:
        return self.version_num // 10000

    def libpq_env(self) -> dict[str, str]:
        """PG* variables that point libpq tools (pgbench, psql) at the scratch database."""
        params = psycopg.conninfo.conninfo_to_dict(libpq_url(self.url))
        names = {
            "host": "PGHOST",
            "port": "PGPORT",
            "user": "PGUSER",
            "password": "PGPASSWORD",
            "dbname": "PGDATABASE",
            "sslmode": "PGSSLMODE",
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        for key, name in names.items():
            value = params.get(key)
            if value not in (None, ""):
                env[name] = str(value)
        return env


SHOWN_SETTINGS = (
    "fsync",
    "synchronous_commit",
    "wal_level",
    "full_page_writes",
    "shared_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "max_connections",
)


def _clock_ticks() -> int:
    return int(os.sysconf("SC_CLK_TCK"))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def postmaster_pid(url: str) -> int | None:
    """The server's main process, when it runs on this machine (read from /proc)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        backend = int(_scalar(conn, "SELECT pg_backend_pid()"))
        fields = _stat_fields(backend)
    if fields is None:
        return None  # a server on another machine (or in another PID namespace)
    return int(fields[1])  # ppid: field 4 of stat, the second after the name


def server_cpu_seconds(postmaster: int | None) -> float | None:
    """CPU time used so far by the server's processes: the postmaster, its live children and
    (cutime/cstime) every child it has reaped, such as the backends of finished pgbench runs."""
    if postmaster is None:
        return None
    fields = _stat_fields(postmaster)
    if fields is None:
        return None
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        child = _stat_fields(int(entry.name))
        if child is not None and int(child[1]) == postmaster:
            ticks += int(child[11]) + int(child[12])
    return ticks / _clock_ticks()


def _describe(admin_url: str, url: str, embedded: bool) -> Server:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        version = str(_scalar(conn, "SHOW server_version")).split()[0]
        version_num = int(str(_scalar(conn, "SHOW server_version_num")))
        settings = {name: str(_scalar(conn, f"SHOW {name}")) for name in SHOWN_SETTINGS}
    return Server(admin_url, url, embedded, version, version_num, settings, postmaster_pid(url))


def _scalar(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    return None if row is None else row[0]


def _drop_scratch(admin_url: str, name: str) -> None:
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _create_scratch(admin_url: str, name: str) -> str:
    _drop_scratch(admin_url, name)
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return replace_database(admin_url, name)


@contextmanager
def scratch_server(
    database_url: str | None, *, keep: bool = False, name: str = SCRATCH_DATABASE
) -> Iterator[Server]:
    """A migrated scratch database `name` on the chosen server; dropped (and the embedded
    server stopped) on the way out unless `keep`."""
    from creatorhub import migrate

    data_dir: Path | None = None
    if database_url is None:
        data_dir = Path(tempfile.mkdtemp(prefix="creatorhub-bench-"))
        admin_url = start_embedded_server(data_dir)
    else:
        admin_url = database_url
    try:
        url = _create_scratch(admin_url, name)
        try:
            migrate.upgrade(url)
            yield _describe(admin_url, url, embedded=data_dir is not None)
        finally:
            if not keep:
                _drop_scratch(admin_url, name)
    finally:
        if data_dir is not None and not keep:
            stop_embedded_server(data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)


# --- pgbench ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pgbench:
    path: str
    major: int
    version: str


def _pgbench_version(path: str) -> tuple[int, str] | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:
        return None
    return int(match.group(1)), out.strip()


def pgbench_candidates() -> list[str]:
    """Every pgbench found: pgserver's, the PATH's, Debian's versioned ones."""
    found: list[str] = []
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        found.append(str(Path(POSTGRES_BIN_PATH) / "pgbench"))
    except ImportError:
        pass
    on_path = shutil.which("pgbench")
    if on_path:
        found.append(on_path)
    found.extend(str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench")))
    unique: list[str] = []
    for path in found:
        if Path(path).is_file() and os.access(path, os.X_OK) and path not in unique:
            unique.append(path)
    return unique


def find_pgbench(server_major: int) -> Pgbench:
    """A pgbench of the server's major version if there is one, else the newest found."""
    usable: list[Pgbench] = []
    for path in pgbench_candidates():
        version = _pgbench_version(path)
        if version is not None:
            usable.append(Pgbench(path, version[0], version[1]))
    if not usable:
        raise RuntimeError(
            "no pgbench found: `make bench` installs Debian's postgresql-client, or install "
            "pgbench yourself (it ships with PostgreSQL's client tools)"
        )
    for candidate in usable:
        if candidate.major == server_major:
            return candidate
    return max(usable, key=lambda c: c.major)
