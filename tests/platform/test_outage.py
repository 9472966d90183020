"""A database outage: every request that needs the database gets 503 `database_unavailable` with
`Retry-After`, and costs one log line, without a traceback; the app recovers by itself.

Two real outages, no mock:

* `server stopped`: the app reaches PostgreSQL through a TCP port of this test (`PgPort`, a
  byte-for-byte relay to the real server). Stopping it closes every open connection and the
  port itself, so new connections are refused: what the app sees when PostgreSQL stops or its
  host goes away. Starting it again on the same port is the server coming back.
* `database gone`: the app's connections are terminated by the server (`pg_terminate_backend`,
  as on a restart) and its database is renamed, so reconnecting fails on the server's side.
  Renaming it back is the recovery.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg
import pytest
import structlog
from fastapi import FastAPI
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import libpq_url
from creatorhub.kit.errors import DATABASE_RETRY_AFTER_SECONDS, database_unavailable
from helpers import PASSWORD, assert_problem
from review_helpers import creator

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class PgPort:
    """A loopback TCP port relaying bytes to the PostgreSQL server of `server_url` (its Unix
    socket or TCP address), in a thread of its own; `stop()` and `start()` it at will."""

    def __init__(self, server_url: str) -> None:
        info = conninfo_to_dict(libpq_url(server_url))
        host = str(info.get("host") or "localhost")
        port = int(info.get("port") or 5432)
        self._connect: Callable[[], Any]
        if host.startswith("/"):
            path = f"{host}/.s.PGSQL.{port}"
            self._connect = lambda: asyncio.open_unix_connection(path)
        else:
            self._connect = lambda: asyncio.open_connection(host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=15)

    def start(self) -> None:
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)
        self._loop.close()

    def url_for(self, database_url: str) -> str:
        """`database_url` (same database and user) reached through this port."""
        url = make_url(database_url)
        query = {key: value for key, value in url.query.items() if key != "host"}
        return url.set(host="127.0.0.1", port=self.port, query=query).render_as_string(
            hide_password=False
        )

    async def _start(self) -> None:
        # The same port again after a stop: the server is back where the app expects it.
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await self._connect()
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    target.write(data)
                    await target.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                target.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        self._writers -= {writer, upstream_writer}


@pytest.fixture
def pg_port(pg_server_url: str) -> Iterator[PgPort]:
    relay = PgPort(pg_server_url)
    relay.start()
    try:
        yield relay
    finally:
        relay.close()


class DatabaseGone:
    """Ends the app's connections and renames its database; `restore()` undoes it."""

    def __init__(self, admin: psycopg.Connection[Any], database_url: str) -> None:
        self.admin = admin
        self.name = str(make_url(database_url).database)
        self.gone = f"{self.name}_gone"

    def stop(self) -> None:
        ident, gone = sql.Identifier(self.name), sql.Identifier(self.gone)
        # No new connection can slip in between the terminations and the rename.
        self.admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.name,),
        )
        for _ in range(100):
            try:
                self.admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident, gone))
                break
            except psycopg.errors.ObjectInUse:  # a terminated backend not yet gone
                threading.Event().wait(0.05)
        else:
            raise AssertionError("the database could not be renamed")

    def start(self) -> None:
        ident, gone = sql.Identifier(self.name), sql.Identifier(self.gone)
        self.admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(gone, ident))
        self.admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))


@asynccontextmanager
async def running(url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_settings(url), database_url=url)
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: an unhandled error is the 500 a client would get, not an
        # exception in the test.
        transport = httpx.ASGITransport(
            app=app, client=("203.0.113.9", 40000), raise_app_exceptions=False
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


@pytest.mark.parametrize("outage", ["server stopped", "database gone"])
async def test_a_database_outage_is_a_503_with_retry_after_and_one_log_line(
    outage: str,
    pg_port: PgPort,
    database_url: str,
    pg_server_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = psycopg.connect(pg_server_url, autocommit=True)
    switch: PgPort | DatabaseGone = (
        pg_port if outage == "server stopped" else DatabaseGone(admin, database_url)
    )
    async with running(pg_port.url_for(database_url)) as (_, client):
        me, slug = await creator(client)
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/v1/me", headers=me.headers)).status_code == 200

        switch.stop()
        try:
            requests: list[tuple[str, str, dict[str, Any]]] = [
                ("GET", "/v1/me", {"headers": me.headers}),
                ("POST", "/v1/auth/login", {"json": {"email": me.email, "password": PASSWORD}}),
                ("GET", "/v1/workspace/shoots", {"headers": me.headers}),
                ("GET", f"/portfolio/{slug}", {"headers": {"Accept": BROWSER_ACCEPT}}),
                ("GET", "/readyz", {}),
            ]
            caplog.clear()
            with caplog.at_level(logging.INFO), structlog.testing.capture_logs() as events:
                responses = [
                    await client.request(method, url, **options)
                    for method, url, options in requests
                ]
            stdlib_records = list(caplog.records)
        finally:
            switch.start()

        for (method, url, _), response in zip(requests, responses, strict=True):
            label = f"{outage}: {method} {url}"
            assert response.status_code == 503, (label, response.text)
            assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER_SECONDS), label
            if url.startswith("/portfolio/"):
                # A person's browser gets a page, with the page's security headers.
                assert response.headers["content-type"].startswith("text/html"), label
                assert "Temporarily unavailable" in response.text
                assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            else:
                assert response.headers["content-type"] == "application/problem+json", label
                assert response.json()["code"] == "database_unavailable", label

        # One line per request, its access line, which says why; no traceback anywhere.
        assert [(event["event"], event["path"]) for event in events] == [
            ("request", url.split("?")[0]) for _, url, _ in requests
        ], events
        for event in events:
            assert event["status"] == 503 and event["log_level"] == "warning", event
            assert event["error"] == "database_unavailable", event
            assert event["cause"] and "\n" not in event["cause"], event
            assert "exc_info" not in event and "exception" not in event, event
        request_records = [
            record
            for record in stdlib_records
            # Not the server's: the test's HTTP client, and the job pool in the background.
            if not record.name.startswith(("httpx", "psycopg.pool"))
        ]
        assert request_records == [], [record.getMessage() for record in request_records]
        assert not [record for record in stdlib_records if record.exc_info], stdlib_records

        # The outage over, the same app serves again (no restart).
        for _ in range(50):
            if (await client.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/v1/me", headers=me.headers)).status_code == 200
        page = await client.get(f"/portfolio/{slug}", headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 200
    admin.close()


# --- what counts as an outage -------------------------------------------------------------------


async def test_statement_errors_are_not_outages(database_url: str) -> None:
    """Real defects (a bad statement, a violated constraint, a statement timeout) stay what
    they are (a 500 or their own answer), never hidden as an outage."""
    async with running(database_url) as (app, _), app.state.db.engine.connect() as conn:
        for setup, statement in (
            (None, "SELECT * FROM no_such_table"),  # ProgrammingError
            (None, "SELECT 1/0"),  # DataError
            (None, "INSERT INTO identity.users (id) VALUES (NULL)"),  # IntegrityError
            ("SET LOCAL statement_timeout = 10", "SELECT pg_sleep(1)"),  # QueryCanceled
        ):
            if setup:
                await conn.execute(text(setup))
            with pytest.raises(DBAPIError) as raised:
                await conn.execute(text(statement))
            assert not database_unavailable(raised.value), (statement, raised.value)
            await conn.rollback()


async def test_a_lost_or_refused_connection_is_an_outage(
    pg_port: PgPort, database_url: str
) -> None:
    url = pg_port.url_for(database_url)
    async with running(url) as (app, _), app.state.db.engine.connect() as conn:
        # Lost in the middle of a statement: the server goes away while it runs.
        statement = asyncio.create_task(conn.execute(text("SELECT pg_sleep(10)")))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(pg_port.stop)
        with pytest.raises(DBAPIError) as lost:
            await statement
        # Refused: the server is not there to connect to.
        with pytest.raises(psycopg.OperationalError) as refused:
            await psycopg.AsyncConnection.connect(libpq_url(url), connect_timeout=5)
        await asyncio.to_thread(pg_port.start)
    assert database_unavailable(lost.value), repr(lost.value)
    assert database_unavailable(refused.value), repr(refused.value)
    assert database_unavailable(RuntimeError("wrapped")) is False
    wrapped = RuntimeError("while handling it")
    wrapped.__cause__ = refused.value
    assert database_unavailable(wrapped)
    assert database_unavailable(ExceptionGroup("a task group's", [ValueError(), wrapped]))


async def test_an_unexpected_failure_is_a_500_internal_error_that_tells_nothing_inside(
    database_url: str,
) -> None:
    """A real defect, not an outage: the table a route reads is gone (as after a half-applied
    migration). The client gets 500 `internal_error` with the request id to quote, and nothing
    of the failure itself; the log keeps the traceback."""
    async with running(database_url) as (app, client):
        me, _ = await creator(client)
        async with app.state.db.session_scope() as session:
            await session.execute(text("ALTER TABLE workspace.shoots RENAME TO shoots_moved"))
        with structlog.testing.capture_logs() as events:
            answer = await client.get("/v1/workspace/shoots", headers=me.headers)
        body = assert_problem(answer, 500, "internal_error")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert body == {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "code": "internal_error",
            "detail": "an unexpected error occurred",
            "request_id": answer.headers["x-request-id"],
        }
        assert "shoots" not in answer.text
        failures = [event for event in events if event["event"] == "unhandled_error"]
        assert len(failures) == 1, events
        assert failures[0]["exc_info"], failures[0]
        # Nothing was changed by the failed request; the rename undone, the route answers.
        async with app.state.db.session_scope() as session:
            await session.execute(text("ALTER TABLE workspace.shoots_moved RENAME TO shoots"))
        listed = await client.get("/v1/workspace/shoots", headers=me.headers)
        assert listed.status_code == 200
        assert listed.json()["items"] == []
