"""pytest plugin: real PostgreSQL databases for tests (`pytest_plugins = ["db_fixtures"]`).

* `pg_server_url` (session): the admin database of a server. `CREATORHUB_TEST_DATABASE_URL`
  names one (e.g. postgresql://postgres@127.0.0.1:5432/postgres); without it an embedded server
  is started in a temporary directory for the session.
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
from creatorhub.embedded_db import replace_database, start_embedded_server, stop_embedded_server

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


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    configured = os.environ.get(TEST_SERVER_ENV)
    if configured:
        yield libpq_url(configured)
        return
    # Not under pytest's basetemp: run as root, pgserver hands the data directory to a
    # `pgserver` user and opens its parents to it, and every new pytest session resets
    # /tmp/pytest-of-<user> to 0700, locking a concurrent session's server out of its files.
    data_dir = Path(tempfile.mkdtemp(prefix="creatorhub-test-pg-"))
    try:
        yield start_embedded_server(data_dir)
    finally:
        stop_embedded_server(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


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
