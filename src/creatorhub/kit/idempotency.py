"""`Idempotency-Key` for requests that move money (Stripe's semantics).

A client sends `Idempotency-Key: <up to 255 printable ASCII characters>` with a POST; retrying
with the same key gets the first answer again instead of doing the work twice.

    @router.post("/v1/funding", status_code=201, response_model=FundingOut,
                 responses=IDEMPOTENCY_RESPONSES)
    async def create_funding(body: FundingIn, principal: CurrentPrincipal, session: DbSession,
                             idem: Idempotency) -> JSONResponse:
        result = await service.create(...)
        return await idem.respond(session, 201, FundingOut.model_validate(result))

How it works, all in the request's own transaction (the `DbSession` of the endpoint):

1. Keys are scoped: by the authenticated account (`Idempotency`), or by a fixed scope given by
   the route (`idempotency_in_scope("...")`, for callers without an account).
2. A transaction-level advisory lock on (scope, key) is tried. Held by another request → 409
   `idempotency_key_in_flight` (retry later). It is released when the transaction ends.
3. A stored answer for (scope, key) is replayed (status and the body's exact bytes, header
   `Idempotent-Replayed: true`) when the request is the same (method, path, query and body
   bytes), else refused: 422 `idempotency_key_reused`.
4. Otherwise the endpoint runs; `respond` stores its answer in the same transaction as its
   effects. An endpoint that raises rolls everything back, nothing is stored, and a retry runs
   afresh.

Stored answers are deleted after `idempotency_key_retention_hours` (`purge_expired_keys`, run by
the periodic task in `creatorhub.kit.tasks`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Text,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, DbSession
from creatorhub.identity.deps import CurrentPrincipal
from creatorhub.kit.errors import BadRequest, Conflict, Unprocessable, problem_responses

SCHEMA = "api"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
FIELD = f"header.{HEADER}"

# For the `responses=` of an idempotent route (besides the route's own statuses).
IDEMPOTENCY_RESPONSES = problem_responses(400, 409, 422)

_HEADER_DESCRIPTION = (
    "Required. A unique key (1 to 255 printable ASCII characters, e.g. a UUID) chosen by the "
    "client for this operation. Retrying with the same key returns the first response again "
    "(with `Idempotent-Replayed: true`) instead of repeating the operation; reusing it with "
    "different parameters is refused (422 `idempotency_key_reused`); while the first request "
    "is still running, 409 `idempotency_key_in_flight`. Keys are kept for at least 24 hours."
)


class IdempotencyKey(Base):
    """The answer given to the first request made with a key, replayed to its retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint("char_length(key) BETWEEN 1 AND 255", name="key_length"),
        CheckConstraint("response_status BETWEEN 100 AND 599", name="response_status_valid"),
        Index("ix_idempotency_keys_created_at", "created_at"),
        {"schema": SCHEMA},
    )

    # The account's id as text, or a caller scope fixed by the route (e.g. "webhook:stripe").
    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    # sha256 (hex) of method, path, query string and body bytes.
    request_fingerprint: Mapped[str] = mapped_column(Text, nullable=False)
    response_status: Mapped[int] = mapped_column(Integer, nullable=False)
    # `json`, not `jsonb`: the text keeps its key order, so a replay is the first answer's bytes.
    response_body: Mapped[Any] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class IdempotentReplay(Exception):
    """Raised by the dependency to answer with a stored response (see the installed handler)."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(f"replay of a {status_code} response")
        self.status_code = status_code
        self.body = body


async def _handle_replay(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdempotentReplay)
    return JSONResponse(exc.body, status_code=exc.status_code, headers={REPLAYED_HEADER: "true"})


def install_idempotency_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, _handle_replay)


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query, body):
        # Length-prefixed, so no two different requests concatenate to the same bytes.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def lock_key(scope: str, key: str) -> int:
    """The bigint of the advisory lock guarding (scope, key)."""
    digest = hashlib.sha256()
    for part in (b"idempotency", scope.encode(), key.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


def _valid_key(key: str | None) -> str:
    if key is None:
        raise BadRequest(
            f"this operation needs an {HEADER} header", code="idempotency_key_required", field=FIELD
        )
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise Unprocessable(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            code="idempotency_key_invalid",
            field=FIELD,
        )
    return key


class IdempotentRequest:
    """A request holding its key; `respond` stores the answer with the request's effects."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        scope: str,
        key: str,
        method: str,
        path: str,
        fingerprint: str,
    ) -> None:
        self._session = session
        self.scope = scope
        self.key = key
        self.method = method
        self.path = path
        self.fingerprint = fingerprint
        self.responded = False

    async def respond(
        self,
        session: AsyncSession,
        status_code: int,
        body: BaseModel | Mapping[str, Any] | Sequence[Any],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        """Store the answer in the request's transaction and return it as a JSONResponse.

        Status and body are replayed to retries; `headers` are sent this once only.

        `session` must be the request's `DbSession` (the one holding the key's lock): the
        answer commits if and only if the endpoint's effects do.
        """
        if session is not self._session:
            raise RuntimeError("respond() needs the request's own DbSession")
        if self.responded:
            raise RuntimeError("respond() was already called for this request")
        content = jsonable_encoder(body)
        session.add(
            IdempotencyKey(
                scope=self.scope,
                key=self.key,
                method=self.method,
                path=self.path,
                request_fingerprint=self.fingerprint,
                response_status=status_code,
                response_body=content,
            )
        )
        await session.flush()
        self.responded = True
        return JSONResponse(content, status_code=status_code, headers=dict(headers or {}))


async def begin_idempotent(
    request: Request, session: AsyncSession, *, scope: str, key: str | None
) -> IdempotentRequest:
    """Validate the key, lock it for this transaction, and replay or refuse a known one."""
    key = _valid_key(key)
    body = await request.body()  # cached by Starlette: the endpoint can still read it
    method, path = request.method, request.url.path
    fingerprint = request_fingerprint(method, path, request.scope.get("query_string", b""), body)

    acquired = (
        await session.execute(
            text("SELECT pg_try_advisory_xact_lock(:lock)"), {"lock": lock_key(scope, key)}
        )
    ).scalar_one()
    if not acquired:
        raise Conflict(
            f"a request with this {HEADER} is still being processed; retry later",
            code="idempotency_key_in_flight",
            field=FIELD,
            headers={"Retry-After": "1"},
        )

    # A new statement, so a new snapshot (READ COMMITTED): a first request that committed
    # before the lock was ours is seen.
    stored = (
        await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
    ).scalar_one_or_none()
    if stored is not None:
        if stored.request_fingerprint != fingerprint:
            raise Unprocessable(
                f"this {HEADER} was used with a different request ({stored.method} "
                f"{stored.path}, other parameters); use a new key",
                code="idempotency_key_reused",
                field=FIELD,
            )
        raise IdempotentReplay(stored.response_status, stored.response_body)
    return IdempotentRequest(
        session, scope=scope, key=key, method=method, path=path, fingerprint=fingerprint
    )


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description=_HEADER_DESCRIPTION,
        examples=["5f1c7a9e-2b1d-4c3a-9e8f-0a1b2c3d4e5f"],
    ),
]


async def _principal_idempotency(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKeyHeader = None,
) -> IdempotentRequest:
    return await begin_idempotent(request, session, scope=str(principal.id), key=idempotency_key)


Idempotency = Annotated[IdempotentRequest, Depends(_principal_idempotency)]


def idempotency_in_scope(scope: str) -> Callable[..., Awaitable[IdempotentRequest]]:
    """A dependency for routes without an account: every caller of the route shares `scope`.

    Use a scope that cannot be an account id (e.g. "webhook:stripe"):
    `idem: Annotated[IdempotentRequest, Depends(idempotency_in_scope("webhook:stripe"))]`.
    """
    if not scope:
        raise ValueError("an idempotency scope cannot be empty")

    async def dependency(
        request: Request, session: DbSession, idempotency_key: IdempotencyKeyHeader = None
    ) -> IdempotentRequest:
        return await begin_idempotent(request, session, scope=scope, key=idempotency_key)

    return dependency


async def purge_expired_keys(session: AsyncSession, retention: timedelta) -> int:
    """Delete the keys older than `retention` (by the database's clock); returns how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - retention)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
