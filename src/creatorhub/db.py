"""Database access: one engine per process, one transaction per request or job.

Services receive an `AsyncSession` and only flush; the request (`DbSession` dependency) or the
job (`session_scope`) commits when it ends without an error and rolls back otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        connect_args={"options": connection_options(settings)},
        **kwargs,
    )


@dataclass
class Database:
    """The engine and session factory of one process, kept on `app.state.db`."""

    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, settings: Settings) -> Database:
        engine = create_engine(url, settings)
        return cls(
            url=url,
            engine=engine,
            sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        )

    @asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back on an exception."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    async with database.session_scope() as session:
        yield session


# scope="function" ends the dependency (and so commits) after the endpoint returns but before
# the response is sent: a client never sees a success whose transaction did not commit.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
