"""Shared fixtures: a fresh migrated database per test, the app on it, an HTTP client.

Databases come from `db_fixtures` (migrated once into a template, cloned per test). Password
hashing is made cheap here: argon2's cost is a setting, and the suite would otherwise spend
most of its time hashing.
"""

from __future__ import annotations

import os

os.environ.setdefault("CREATORHUB_ARGON2_TIME_COST", "1")
os.environ.setdefault("CREATORHUB_ARGON2_MEMORY_KIB", "1024")
os.environ.setdefault("CREATORHUB_LOG_JSON", "false")

from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from fastapi import FastAPI

from creatorhub.app import create_app
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime

pytest_plugins = ["db_fixtures"]

# structlog's default console renderer (the suite never calls configure_logging) prints rich
# tracebacks with every frame's locals: tens of thousands of lines for one failed request.
structlog.configure(
    processors=[
        *structlog.get_config()["processors"][:-1],
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
    ]
)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "run_worker_in_process": False,
        "smtp_host": None,
        "log_json": False,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "public_base_url": "http://testserver",
        # Every in-process test client has one address; tests make more accounts than a
        # person would. The per-IP cap itself is tested with its default (tests/identity).
        "register_max_per_ip": 10_000,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def database(app: FastAPI) -> Database:
    db: Database = app.state.db
    return db


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def run_jobs(database: Database, settings: Settings):  # type: ignore[no-untyped-def]
    """Run a real worker on the test database until the queue is empty."""

    async def run() -> None:
        await JobRuntime(database, settings).run_worker(wait=False, install_signal_handlers=False)

    return run
