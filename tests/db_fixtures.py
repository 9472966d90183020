"""pytest plugin: real PostgreSQL databases for tests (`pytest_plugins = ["db_fixtures"]`).

* `pg_server_url` (session): the admin database of a server. `CREATORHUB_TEST_DATABASE_URL`
  names one (e.g. postgresql://postgres@127.0.0.1:5432/postgres); without it one embedded server
  is started for the whole run, in a temporary directory, before any test (by the xdist
  controller, whose workers share it): a server that cannot start ends the run at once with
  its message, instead of an error in every test.
* `template_database_url` (session): a database migrated to head once per session, used only as
  the template of the per-test databases.
* `database_url` (function): a fresh database at head, cloned from the template, dropped after
  the test.
* `empty_database_url` (function): a fresh empty database, for the migration tests.

Names carry the pid, so several sessions (xdist workers, parallel CI jobs) can share a server.

Cloning uses `STRATEGY WAL_LOG` (PostgreSQL's default since 15), measured faster than
`FILE_COPY` on both the embedded server and a stock PostgreSQL 15 for a template of this size:
FILE_COPY forces two checkpoints per clone. `CREATORHUB_TEST_CLONE_STRATEGY=FILE_COPY` switches,
should a much larger schema turn the numbers around.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from creatorhub import migrate
from creatorhub.db import libpq_url
from creatorhub.embedded_db import (
    EmbeddedServerError,
    replace_database,
    start_embedded_server,
    stop_embedded_server,
)

TEST_SERVER_ENV = "CREATORHUB_TEST_DATABASE_URL"
CLONE_STRATEGY_ENV = "CREATORHUB_TEST_CLONE_STRATEGY"

_PID = os.getpid()
_serial = itertools.count(1)


def _clone_strategy() -> sql.SQL:
    strategy = os.environ.get(CLONE_STRATEGY_ENV, "WAL_LOG").upper()
    if strategy not in {"WAL_LOG", "FILE_COPY"}:
        raise pytest.UsageError(f"{CLONE_STRATEGY_ENV} must be WAL_LOG or FILE_COPY")
    return sql.SQL(strategy)


def _drop_database(admin: psycopg.Connection, name: str) -> None:
    # FORCE: a test that left a pool open must not leave its database behind.
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# Set by the process that started the run's embedded server (the only one that stops it).
_embedded_data_dir: Path | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the run's embedded server once, before any test, unless a server is configured.

    xdist workers inherit the controller's environment, so they find the server's URL in
    CREATORHUB_TEST_DATABASE_URL like any configured server.
    """
    global _embedded_data_dir
    if os.environ.get(TEST_SERVER_ENV) or hasattr(session.config, "workerinput"):
        return
    # Not under pytest's basetemp: run as root, pgserver hands the data directory to a
    # `pgserver` user and opens its parents to it, and every new pytest session resets
    # /tmp/pytest-of-<user> to 0700, locking a concurrent session's server out of its files.
    data_dir = Path(tempfile.mkdtemp(prefix="creatorhub-test-pg-"))
    try:
        url = start_embedded_server(data_dir)
    except EmbeddedServerError as error:
        shutil.rmtree(data_dir, ignore_errors=True)
        # The details once (pytest repeats an exit reason), then a short reason.
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(str(error), red=True)
        pytest.exit(
            "no test ran: the embedded PostgreSQL did not start (see above)",
            returncode=pytest.ExitCode.INTERNAL_ERROR,
        )
    _embedded_data_dir = data_dir
    os.environ[TEST_SERVER_ENV] = url


def pytest_unconfigure(config: pytest.Config) -> None:
    global _embedded_data_dir
    if _embedded_data_dir is not None:
        os.environ.pop(TEST_SERVER_ENV, None)
        stop_embedded_server(_embedded_data_dir)
        shutil.rmtree(_embedded_data_dir, ignore_errors=True)
        _embedded_data_dir = None


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    configured = os.environ.get(TEST_SERVER_ENV)
    if not configured:
        raise RuntimeError("no test server: pytest_sessionstart of db_fixtures did not run")
    return libpq_url(configured)


@pytest.fixture(scope="session")
def _pg_admin(pg_server_url: str) -> Iterator[psycopg.Connection]:
    """One autocommit connection for every CREATE/DROP DATABASE of the session."""
    with psycopg.connect(pg_server_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def template_database_url(pg_server_url: str, _pg_admin: psycopg.Connection) -> Iterator[str]:
    name = f"creatorhub_template_{_PID}"
    ident = sql.Identifier(name)
    _drop_template(_pg_admin, name)  # left by a crashed session whose pid is reused now
    _pg_admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    url = replace_database(pg_server_url, name)
    migrate.upgrade(url)
    # CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template: refuse
    # connections from now on and end any that are still open.
    _pg_admin.execute(
        sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(ident)
    )
    _pg_admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )
    yield url
    _drop_template(_pg_admin, name)


def _drop_template(admin: psycopg.Connection, name: str) -> None:
    exists = admin.execute("SELECT FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists is not None:
        # PostgreSQL refuses to drop a database marked as a template.
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(sql.Identifier(name))
        )
    _drop_database(admin, name)


@pytest.fixture
def database_url(
    pg_server_url: str, template_database_url: str, _pg_admin: psycopg.Connection
) -> Iterator[str]:
    name = f"creatorhub_test_{_PID}_{next(_serial)}"
    template = make_url(template_database_url).database
    _pg_admin.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY {}").format(
            sql.Identifier(name), sql.Identifier(template), _clone_strategy()
        )
    )
    try:
        yield replace_database(pg_server_url, name)
    finally:
        _drop_database(_pg_admin, name)


@pytest.fixture
def empty_database_url(pg_server_url: str, _pg_admin: psycopg.Connection) -> Iterator[str]:
    name = f"creatorhub_empty_{_PID}_{next(_serial)}"
    # template0, not template1: whatever was added to template1 on a shared server stays out.
    _pg_admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        yield replace_database(pg_server_url, name)
    finally:
        _drop_database(_pg_admin, name)
