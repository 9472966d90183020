"""Database access: one engine per process, one transaction per request or job.

Services receive an `AsyncSession` and only flush; the request (`DbSession` dependency) or the
job (`session_scope`) commits when it ends without an error and rolls back otherwise.

Round trips are what a request costs (see "The request path" in docs/architecture.md):

* A read (GET or HEAD) runs in autocommit: psycopg sends no BEGIN and no COMMIT (autocommit is
  a flag of the client, not a statement). Each statement is then a transaction of its own, which
  is what READ COMMITTED gave a read anyway (a snapshot per statement). A GET that writes keeps
  its transaction: its endpoint is marked `@keeps_transaction`.
* No pre-ping when a connection leaves the pool. A connection that died while pooled (a
  restarted server, a terminated backend) fails the first statement sent on it; that statement
  is sent again, once, on a fresh connection (`_RetryingSession`): nothing can have happened in
  a transaction whose first statement failed.
* `together(...)` sends several writes as one statement.
* The hot paths' statements are built once (`Prepared`, `row_insert`, `together_prepared`): a
  statement built on every request costs more app CPU than sending it (its constructs, and the
  cache key SQLAlchemy derives from them to find the compiled SQL); one built at import is
  compiled once and found by its identity, and each request brings only its values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

import psycopg
from fastapi import Depends, Request
from sqlalchemy import (
    JSON,
    BindParameter,
    ClauseElement,
    ColumnElement,
    DateTime,
    Executable,
    Insert,
    MetaData,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.config import Settings

# Constraint names are fixed so that migrations and models agree and errors can be mapped
# back to the column they guard (see kit.errors.integrity_problem).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# procrastinate's tables and functions live in their own schema; its SQL names them without a
# schema, so every connection the platform opens puts that schema on its search path.
JOBS_SCHEMA = "procrastinate"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def inserted_at() -> Mapped[datetime]:
    """A row's insert time (`created_at`, a claim's `claimed_at`…), set by the database's now().

    now() is the transaction's start, so every row one request or job writes carries the same
    time. Every module's models use this one column shape; the migrations declare the same.
    """
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


UNIQUE_VIOLATION = "23505"


def is_unique_violation(error: BaseException, *constraints: str) -> bool:
    """Whether a database error (SQLAlchemy's, or the psycopg error it wraps) is a unique
    violation (SQLSTATE 23505) of one of `constraints`.

    A constraint is named as PostgreSQL reports it: the UNIQUE or primary key constraint, or
    the unique index (`uq_users_email_lower`). Matching the name, not the message, keeps a
    caller from taking a conflict elsewhere in its transaction for its own.
    """
    original = getattr(error, "orig", error)
    if not isinstance(original, psycopg.Error) or original.sqlstate != UNIQUE_VIOLATION:
        return False
    return original.diag.constraint_name in constraints


def libpq_url(url: str) -> str:
    """The URL as libpq and psycopg understand it (no SQLAlchemy driver suffix)."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql", "postgresql+psycopg"}:
        parsed = parsed.set(drivername="postgresql")
    else:
        raise ValueError(f"not a PostgreSQL URL: {parsed.drivername}://")
    return parsed.render_as_string(hide_password=False)


def sqlalchemy_url(url: str) -> str:
    return (
        make_url(libpq_url(url))
        .set(drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
    )


def connection_options(settings: Settings) -> str:
    """libpq `options` for every connection: search path and a statement time limit."""
    return (
        f"-c search_path=public,{JOBS_SCHEMA} "
        f"-c statement_timeout={settings.db_statement_timeout_ms} "
        "-c timezone=UTC"
    )


def create_engine(url: str, settings: Settings, **kwargs: Any) -> AsyncEngine:
    # No pool_pre_ping: it costs a round trip on every checkout. A connection that died while
    # pooled is replaced when its first statement fails (`_RetryingSession`).
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=0,
        connect_args={"options": connection_options(settings)},
        **kwargs,
    )


_T = TypeVar("_T")


class _RetryingSession(Session):
    """A session that sends the first statement of a transaction again, once, on a fresh
    connection when the pooled connection it went out on turns out to be dead.

    Only the first statement: it failed, so the transaction did nothing, and nothing the caller
    did depends on it (no flush is pending: a flush's INSERTs would be lost by the rollback).
    SQLAlchemy flagged the error as a disconnect (`connection_invalidated`) and invalidated the
    whole pool, so the retry checks out a new connection. A real outage fails the retry as well
    and is answered 503 `database_unavailable` as before. A later statement is never retried:
    the transaction it belonged to is gone with its connection. (A connection lost while the
    statement ran is retried too: in a transaction the server dropped the uncommitted work, and
    in autocommit the statement is a read, GETs that write keeping their transaction.)
    """

    _fresh_transaction = True

    def _first_statement(self) -> bool:
        if not self._fresh_transaction:
            return False
        self._fresh_transaction = False
        return not (self.new or self.deleted or self.dirty)

    def _retrying(self, send: Callable[[], _T]) -> _T:
        if not self._first_statement():
            return send()
        try:
            return send()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            self.rollback()  # gives back the dead connection; the next one is fresh
            self._fresh_transaction = False
            return send()

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._retrying(lambda: super(_RetryingSession, self).execute(*args, **kwargs))

    def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self._retrying(lambda: super(_RetryingSession, self).scalar(*args, **kwargs))

    def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self._retrying(lambda: super(_RetryingSession, self).scalars(*args, **kwargs))

    def flush(self, objects: Any = None) -> None:
        self._fresh_transaction = False
        super().flush(objects)

    def commit(self) -> None:
        super().commit()
        self._fresh_transaction = True

    def rollback(self) -> None:
        super().rollback()
        self._fresh_transaction = True


@dataclass
class Database:
    """The engine and session factories of one process, kept on `app.state.db`.

    `sessionmaker` opens sessions whose work is one transaction; `read_sessionmaker` sessions
    in autocommit (no BEGIN, no COMMIT: for reads). Both share the engine's pool.
    """

    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, settings: Settings) -> Database:
        engine = create_engine(url, settings)
        return cls(
            url=url,
            engine=engine,
            sessionmaker=async_sessionmaker(
                engine, expire_on_commit=False, sync_session_class=_RetryingSession
            ),
            read_sessionmaker=async_sessionmaker(
                engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
                sync_session_class=_RetryingSession,
            ),
        )

    @asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back on an exception.

        The session begins its transaction with its first statement and the block commits
        whatever transaction is open at its end (not a `session.begin()` block: the first
        statement's retry, and a service that commits before a provider call, begin anew).
        """
        async with self.sessionmaker() as session:
            yield session
            await session.commit()

    @asynccontextmanager
    async def read_scope(self) -> AsyncIterator[AsyncSession]:
        """A session for reads, in autocommit: every statement is its own transaction."""
        async with self.read_sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


KEEPS_TRANSACTION = "__creatorhub_keeps_transaction__"
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def keeps_transaction(endpoint: _Endpoint) -> _Endpoint:
    """Mark a GET endpoint that writes: its request session is a transaction, as a POST's.

    Put it under the route decorator (`@router.get(...)` then `@keeps_transaction`). Every
    other GET and HEAD reads in autocommit; the comment at each use says what it writes.
    """
    setattr(endpoint, KEEPS_TRANSACTION, True)
    return endpoint


def _reads_only(request: Request) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    return not getattr(request.scope.get("endpoint"), KEEPS_TRANSACTION, False)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    scope = database.read_scope() if _reads_only(request) else database.session_scope()
    async with scope as session:
        yield session


# scope="function" ends the dependency (and so commits) after the endpoint returns but before
# the response is sent: a client never sees a success whose transaction did not commit.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]


def together(*writes: UpdateBase, result: Select[Any] | None = None) -> Select[Any]:
    """Several writes as one statement: one round trip instead of one each.

    Each INSERT, UPDATE or DELETE becomes a data-modifying CTE, which PostgreSQL runs to
    completion whether or not the statement reads it; all see the same snapshot and none sees
    another's rows, so give them disjoint rows (never the same row twice). `result` is the
    statement's own SELECT (for example a ledger call, `ledger.service.transfer_select`, whose
    function runs because the statement reads it); without it the statement answers `true`.
    A failure of any part fails the whole statement: nothing of it is written.

        await session.execute(together(insert(Intent).values(...), audit.change_insert(...),
                                       idem.store_statement(201, body)))
    """
    main = result if result is not None else select(literal(True))
    if not writes:
        return main
    return main.add_cte(*(write.cte(f"write_{n}") for n, write in enumerate(writes, 1)))


def insert_of(row: Base) -> Insert:
    """An ORM object that is in no session, as a Core INSERT of the columns it has set: the row
    goes out in a `together` statement, the object stays the caller's image of it (the answer
    is made from it, so set every column the answer shows, times included)."""
    mapper = inspect(row).mapper
    values = {
        attr.key: row.__dict__[attr.key] for attr in mapper.column_attrs if attr.key in row.__dict__
    }
    return insert(type(row)).values(**values)


# --- statements built once ---------------------------------------------------------------------


class Prepared:
    """A statement built once, at import, whose values are bind parameters given at each use.

    SQLAlchemy finds a statement's compiled SQL in its cache by a key it derives from the
    statement's constructs; for a statement built on every request that derivation, and the
    building, cost more app CPU than sending it (a money request's combined statement: about
    1 ms). A statement built once keeps its key (memoized on the object): each use is the
    lookup and the values. Build it from tables (`Model.__table__`), not ORM entities, so that
    the session sends it as Core, without the ORM's per-statement setup.

        TOUCH = Prepared(update(T).where(T.c.id == bindparam("id")).values(at=bindparam("at")))
        await send(session, TOUCH.bind({"id": ..., "at": ...}))
    """

    __slots__ = ("binds", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # Its named parameters (a literal's anonymous one carries its own value).
        self.binds: dict[str, BindParameter[Any]] = {
            element.key: element
            for element in visitors.iterate(cast(ClauseElement, statement))
            if isinstance(element, BindParameter) and not element.unique
        }

    def bind(self, params: Mapping[str, Any]) -> Bound:
        return Bound(self, params)


@dataclass(frozen=True, slots=True)
class Bound:
    """A `Prepared` statement and the values of one use of it."""

    prepared: Prepared
    params: Mapping[str, Any]

    @property
    def statement(self) -> Executable:
        return self.prepared.statement


async def send(session: AsyncSession, bound: Bound) -> Any:
    """Send a prepared statement with its values; its result."""
    return await session.execute(bound.statement, dict(bound.params))


def table_of(model: type[Base]) -> Table:
    """A model's table, for statements built from tables (Core) rather than entities (ORM)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def row_insert(table: Table, prefix: str, *, skip: Collection[str] = ()) -> Insert:
    """An INSERT of one row of `table` to build once: every column but `skip` (left to its
    server default) is a bind parameter named `prefix` + the column's name, typed as the
    column (`row_values`). Each use must give every one (`row_params`): a missing value is an
    error, not a NULL."""
    return insert(table).values(row_values(table, prefix, skip=skip))


def row_values(
    table: Table, prefix: str, *, skip: Collection[str] = ()
) -> dict[str, BindParameter[Any]]:
    """The VALUES of `row_insert`, for an INSERT of another kind (PostgreSQL's, with its ON
    CONFLICT)."""
    unknown = set(skip) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    return {
        column.name: bindparam(prefix + column.name, type_=column.type)
        for column in table.columns
        if column.name not in skip
    }


def row_params(prefix: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's values as the parameters of a `row_insert` made with `prefix`."""
    return {prefix + name: value for name, value in row.items()}


# Combinations of prepared statements, built on first use: their number is that of the hot
# paths' shapes (a handful), since only statements built at import are combined.
_combined: dict[tuple[Prepared | None, ...], Prepared] = {}


def together_prepared(*writes: Bound | None, result: Bound | None = None) -> Bound:
    """`together` for statements built once: the combined statement is built the first time
    these prepared statements are combined (in this order) and reused after; the values of
    its parts are merged. `None` parts are left out (an answer not stored, say). The parts'
    parameter names must differ (each part has its own prefix) unless they are the same
    parameter (a CTE two parts read): a clash raises when the combination is first built,
    never sends one part's value for another's."""
    parts = tuple(write for write in writes if write is not None)
    shape = (*(part.prepared for part in parts), None, result.prepared if result else None)
    prepared = _combined.get(shape)
    if prepared is None:
        prepared = _combine(parts, result)
        _combined[shape] = prepared
    params: dict[str, Any] = {}
    for part in (*parts, *((result,) if result is not None else ())):
        params.update(part.params)
    return Bound(prepared, params)


def _combine(parts: tuple[Bound, ...], result: Bound | None) -> Prepared:
    # A name may appear in two parts only as the same parameter (a CTE both read).
    seen: dict[str, BindParameter[Any]] = {}
    members = [*(part.prepared for part in parts), *((result.prepared,) if result else ())]
    for member in members:
        clash = sorted(
            name for name, bind in member.binds.items() if seen.setdefault(name, bind) is not bind
        )
        if clash:
            raise ValueError(f"parameters named twice in one statement: {clash}")
    writes = []
    for part in parts:
        if not isinstance(part.statement, UpdateBase):
            raise TypeError("together_prepared combines INSERT, UPDATE and DELETE statements")
        writes.append(part.statement)
    main = result.statement if result is not None else None
    if main is not None and not isinstance(main, Select):
        raise TypeError("the result of together_prepared is a SELECT")
    return Prepared(together(*writes, result=main))


# --- lists as JSON, for a read that gathers several in one statement ------------------------


def first_as_json(ordered: ScalarSelect[Any], limit: int) -> ColumnElement[Any]:
    """The first `limit` elements of a scalar subquery's ordered `array_agg(json_build_object
    (…) ORDER BY …)` as a JSON array ([] for none): `(SELECT array_agg(…))[1:limit]`, so that a
    page's lists (a creator's latest reviews, the coming blocked dates) come with the row they
    belong to, the limit applied after the order."""
    first = type_coerce(ordered, ARRAY(JSON))[1:limit]
    return func.coalesce(func.array_to_json(first), literal_column("'[]'::json"))
