"""The embedded PostgreSQL used when no DATABASE_URL is configured.

The `pgserver` package ships PostgreSQL binaries and runs a private server in a data directory;
stopping and starting again keeps the data there. The server listens on a Unix socket only, so
it never conflicts with another PostgreSQL on the machine.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg import sql

from creatorhub.config import Settings

log = structlog.get_logger(__name__)

_lock = threading.Lock()
# Keeping the handle alive keeps the server running; pgserver stops it when the process exits.
_servers: dict[Path, Any] = {}


def start_embedded_server(data_dir: Path) -> str:
    """Start (or reuse) the server for `data_dir`; returns the URL of its `postgres` database."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime directory, which warns where XDG_RUNTIME_DIR
        # is unset (containers, CI) and then falls back to /tmp: nothing for the user to do.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        # Imported here: only needed without DATABASE_URL.
        from pgserver import postgres_server

    pgdata = (data_dir / "pgdata").resolve()
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            log.info("embedded_postgres_starting", pgdata=str(pgdata))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
                server = postgres_server.get_server(pgdata, cleanup_mode="stop")
            _servers[pgdata] = server
        uri: str = server.get_uri()
    return uri


def stop_embedded_server(data_dir: Path) -> None:
    """Stop the server of `data_dir` now rather than at process exit (tests, tools)."""
    pgdata = (data_dir / "pgdata").resolve()
    with _lock:
        server = _servers.pop(pgdata, None)
    if server is not None:
        server.cleanup()  # with cleanup_mode="stop": stops the server, keeps the data


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
