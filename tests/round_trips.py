"""Counting the round trips one request makes to PostgreSQL.

A round trip is one message the app sends and waits for: each statement (SQLAlchemy's and the
ones procrastinate sends on the request's connection when it defers a job), the `BEGIN` psycopg
sends before the first statement of a transaction, a pool's pre-ping, and the `COMMIT` or
`ROLLBACK` of a transaction that sent something. Counted where they leave: psycopg's cursor
(every statement goes through one) and SQLAlchemy's commit/rollback events.

    counter = RoundTripCounter.install(app.state.db.engine)
    with counter.counting() as trips:
        await client.get("/v1/me", headers=...)
    assert trips.count == 3, trips.statements

Only the app's engine is counted: the job worker's own pool is another engine.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Trips:
    """What one block sent: the statements, in order (BEGIN/COMMIT/ROLLBACK included)."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def add(self, statement: str) -> None:
        self.statements.append(" ".join(statement.split())[:160])


_current: contextvars.ContextVar[Trips | None] = contextvars.ContextVar("round_trips", default=None)


def _record(statement: str) -> None:
    trips = _current.get()
    if trips is not None:
        trips.add(statement)


def _opens_transaction(connection: psycopg.AsyncConnection[Any]) -> bool:
    return (
        not connection.autocommit
        and connection.info.transaction_status == pq.TransactionStatus.IDLE
    )


class CountingCursor(psycopg.AsyncCursor[Any]):
    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if _opens_transaction(self.connection):
            _record("BEGIN")
        _record(query if isinstance(query, str) else repr(query))
        return await super().execute(query, params, **kwargs)

    async def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        if _opens_transaction(self.connection):
            _record("BEGIN")
        # psycopg pipelines executemany: one round trip for the batch.
        _record(f"{query if isinstance(query, str) else repr(query)} (executemany)")
        await super().executemany(query, params_seq, **kwargs)


class RoundTripCounter:
    """Installed once on an engine; `counting()` attributes round trips to a block."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def install(cls, engine: AsyncEngine) -> RoundTripCounter:
        sync = engine.sync_engine

        @event.listens_for(sync.pool, "checkout")
        def _counting_cursors(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            dbapi_connection.driver_connection.cursor_factory = CountingCursor

        @event.listens_for(sync, "commit")
        def _commit(connection: Any) -> None:
            if _in_transaction(connection):
                _record("COMMIT")

        @event.listens_for(sync, "rollback")
        def _rollback(connection: Any) -> None:
            if _in_transaction(connection):
                _record("ROLLBACK")

        return cls(engine)

    @contextlib.contextmanager
    def counting(self) -> Iterator[Trips]:
        trips = Trips()
        token = _current.set(trips)
        try:
            yield trips
        finally:
            _current.reset(token)


def _in_transaction(connection: Any) -> bool:
    # An invalidated connection (it died under a statement) has no driver connection to ask,
    # and sends no ROLLBACK: SQLAlchemy discards it.
    if connection.invalidated:
        return False
    driver = connection.connection.driver_connection
    return bool(driver.info.transaction_status != pq.TransactionStatus.IDLE)
