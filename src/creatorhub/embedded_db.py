"""The embedded PostgreSQL used when no DATABASE_URL is configured.

The `pgserver` package ships PostgreSQL binaries and runs a private server in a data directory;
stopping and starting again keeps the data there. The server listens on a Unix socket only, so
it never conflicts with another PostgreSQL on the machine.

Several processes may use one data directory at once (`serve` and a `creatorhub ledger verify`
next to it): pgserver records each user's pid in `pgdata/.handle_pids.json` and the last one
to leave stops the server. Two things around it are ours:

* As root, pgserver runs PostgreSQL as a system user `pgserver` that it creates on first use,
  outside of any lock: two processes starting at once on a machine without that user race
  (one `useradd` fails, or `initdb` runs before the user is whole and cannot take its data
  directory). We create the user first, under a file lock every creatorhub process takes.
* A process killed without running its exit handlers leaves its pid in that list, and the
  last process that exits normally then never stops the server. Dead pids are dropped before
  a start and before a stop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg import sql

from creatorhub.config import Settings

log = structlog.get_logger(__name__)

# The account pgserver runs PostgreSQL as when started by root (PostgreSQL refuses root).
SYSTEM_USER = "pgserver"
_USER_LOCK = Path(tempfile.gettempdir()) / "creatorhub-pgserver-user.lock"
HANDLES_FILE = ".handle_pids.json"

_lock = threading.Lock()
# Keeping the handle alive keeps the server running; pgserver stops it when the process exits.
_servers: dict[Path, Any] = {}


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started; the message says why and where."""


def _import_pgserver() -> Any:
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime directory, which warns where XDG_RUNTIME_DIR
        # is unset (containers, CI) and then falls back to /tmp: nothing for the user to do.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        # Imported here: only needed without DATABASE_URL.
        from pgserver import postgres_server
    return postgres_server


def ensure_system_user(name: str = SYSTEM_USER) -> None:
    """As root, create the system user `name` once, whatever number of processes start at once.

    The lock is a file every creatorhub process opens (never deleted: a lock file that
    disappears lets two processes hold "the" lock on two different files)."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    import fcntl
    import pwd

    with _USER_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        try:
            pwd.getpwnam(name)
            return
        except KeyError:
            pass
        command = [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise EmbeddedServerError(
                f"could not create the system user {name!r} that the embedded PostgreSQL "
                f"runs as (PostgreSQL refuses to run as root): {done.stderr.strip()}"
            )
        log.info("embedded_postgres_user_created", user=name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of processes that died holding the server; returns those dropped."""
    path = pgdata / HANDLES_FILE
    postgres_server = _import_pgserver()
    # pgserver's own inter-process lock guards this file.
    with postgres_server.PostgresServer._lock:
        try:
            pids = [int(pid) for pid in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return []
        dead = [pid for pid in pids if not _alive(pid)]
        if dead:
            path.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    return dead


class _ErrorCapture(logging.Handler):
    """Keeps pgserver's error records (they hold the failing command's stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _stderr_of(messages: list[str]) -> str:
    """The stderr sections of pgserver's "Failed postgres command" records."""
    found = []
    for message in messages:
        if "stderr:\n" in message:
            found.append(message.split("stderr:\n", 1)[1].split("\n---", 1)[0].strip())
    return "\n".join(part for part in found if part)


@contextlib.contextmanager
def _explained_failures(pgdata: Path) -> Iterator[None]:
    """Turn pgserver's failures (a traceback and 60 lines of log) into one clear error."""
    pg_log = logging.getLogger("pgserver")
    capture = _ErrorCapture()
    pg_log.addHandler(capture)
    propagate, pg_log.propagate = pg_log.propagate, False
    try:
        yield
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        program = Path(str(error.cmd[0] if isinstance(error.cmd, list) else error.cmd)).name
        what = "timed out" if isinstance(error, subprocess.TimeoutExpired) else "failed"
        output = _stderr_of(capture.messages)
        server_log = pgdata / "log"
        if not output and server_log.is_file():
            output = "\n".join(server_log.read_text(errors="replace").splitlines()[-20:])
        raise EmbeddedServerError(
            f"the embedded PostgreSQL did not start: {program} {what}"
            + (f":\n{output}" if output else "")
            + f"\ndata directory: {pgdata}"
        ) from None
    finally:
        pg_log.removeHandler(capture)
        pg_log.propagate = propagate


def start_embedded_server(data_dir: Path) -> str:
    """Start (or reuse) the server for `data_dir`; returns the URL of its `postgres` database.

    Raises EmbeddedServerError, naming the failing program, its message and the data directory.
    """
    postgres_server = _import_pgserver()
    pgdata = (data_dir / "pgdata").resolve()
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            ensure_system_user()
            forget_dead_handles(pgdata)
            log.info("embedded_postgres_starting", pgdata=str(pgdata))
            with _explained_failures(pgdata), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
                server = postgres_server.get_server(pgdata, cleanup_mode="stop")
            _servers[pgdata] = server
        uri: str = server.get_uri()
    return uri


def stop_embedded_server(data_dir: Path) -> None:
    """Let go of the server of `data_dir` now rather than at process exit; the server stops
    unless another living process still uses it."""
    pgdata = (data_dir / "pgdata").resolve()
    with _lock:
        server = _servers.pop(pgdata, None)
    if server is not None:
        forget_dead_handles(pgdata)
        server.cleanup()  # with cleanup_mode="stop": stops the server, keeps the data


def stop_all_embedded_servers() -> None:
    """Let go of every server this process started (signal handlers, exit paths)."""
    for pgdata in list(_servers):
        stop_embedded_server(pgdata.parent)


def ensure_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server behind `admin_url` if missing; return its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("embedded_database_created", database=name)
    return replace_database(admin_url, name)


def replace_database(url: str, name: str) -> str:
    """`url` with its database part replaced by `name` (keeps host, socket and options)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def resolve_database_url(settings: Settings) -> str:
    """The URL the platform uses: DATABASE_URL, or the embedded server's database."""
    if settings.database_url is not None:
        return settings.database_url
    admin_url = start_embedded_server(settings.data_dir)
    return ensure_database(admin_url, settings.embedded_database_name)
