"""`Idempotency-Key` (Stripe's semantics): a retried create or money move happens once.

A client sends `Idempotency-Key: <up to 255 printable ASCII characters>` with a POST; retrying
with the same key gets the first answer again instead of doing the work twice. Two kinds of
route take it, the same way:

* requests that move money **require** the key (400 `idempotency_key_required` without it);
* every other create a client may retry (jobs, shoots, plans, ...) **honours** it when sent and
  runs as before when not.

    @router.post("/v1/funding", status_code=201, response_model=FundingOut,
                 responses=IDEMPOTENCY_RESPONSES)
    async def create_funding(body: FundingIn, principal: CurrentPrincipal, session: DbSession,
                             idem: Idempotency) -> JSONResponse:
        await funding.create_intent(session, provider, ..., answer=idem)  # stores the answer
        return idem.response                                              # with its writes

(or `return await idem.respond(session, 201, body)` after a service that wrote on its own).

(`OptionalIdempotency` and `OPTIONAL_IDEMPOTENCY_RESPONSES` for the second kind.) The
dependencies are built here from a *scope* dependency, which names the caller whose keys these
are; kit knows no accounts, so `creatorhub.identity.deps` builds `Idempotency` and
`OptionalIdempotency` with the authenticated account's id as the scope, and
`idempotency_in_scope("...")` serves callers without an account (a fixed scope for the route).

How it works, all in the request's own transaction (the `DbSession` of the endpoint):

1. Keys are scoped (see above). No key on an optional route: nothing below happens.
2. One statement tries a transaction-level advisory lock on (scope, key) and looks up a stored
   answer. Lock held by another request → 409 `idempotency_key_in_flight` (retry later); it is
   released when the transaction ends.
3. A stored answer for (scope, key) is replayed (status and the body's exact bytes, header
   `Idempotent-Replayed: true`) when the request means the same (see `request_fingerprint`:
   method, path, query parameters and the parsed JSON body, so whitespace and key order do not
   matter), else refused: 422 `idempotency_key_reused`. A key whose request is still calling a
   provider (status 102, see below) → 409 `idempotency_key_in_flight`.
4. Otherwise the endpoint runs; its answer is stored in the same transaction as its effects:
   `respond` (one INSERT), or `stored_answer`, the INSERT for the service to send with its own
   writes as one statement (`creatorhub.db.together`). An endpoint that raises rolls
   everything back, nothing is stored, and a retry runs afresh.

The lock and the lookup share a snapshot taken before the lock: a first request that commits
between the two is not seen, and the second's INSERT of the key then fails on the primary key.
That request is answered 409 in flight, its transaction rolled back (the handler installed by
`install_idempotency_handlers`); its retry replays the first answer.

A request that calls a provider over the network (never inside a transaction) records its intent
with `hold`: its writes and the key's in-flight row (status 102, with what a recovery job needs
to finish it) are committed before the call, so a retry is answered 409 at once while the
provider takes its time; the answer replaces the in-flight row after the call
(`finish_in_flight`), or the key is forgotten when the call failed (`forget_statement`).

An answer carrying a secret shown once (a review link, a calendar feed URL, whose tables keep
only the token's hash) is stored sealed with the token-encryption keyring (`sealed=True`), so
the key table holds no usable secret either; 503 `idempotency_encryption_unavailable` when it
cannot be sealed or opened (no key in production, a key removed within the retention).

Stored answers are deleted after `idempotency_key_retention_hours` (`purge_expired_keys`, run by
the periodic task in `creatorhub.idempotency_tasks`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.db import (
    Base,
    Bound,
    DbSession,
    Prepared,
    inserted_at,
    is_unique_violation,
    row_insert,
    row_params,
    send,
    table_of,
    together,
)
from creatorhub.kit.crypto import Keyring, KeyringError, keyring_from_settings
from creatorhub.kit.errors import (
    BadRequest,
    Conflict,
    Problem,
    Unprocessable,
    problem_response,
    problem_responses,
)

SCHEMA = "api"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
FIELD = f"header.{HEADER}"

# For the `responses=` of a route that requires a key, and of one where it is optional (no
# 400: a missing key is fine there). Besides the route's own statuses.
IDEMPOTENCY_RESPONSES = problem_responses(400, 409, 422)
OPTIONAL_IDEMPOTENCY_RESPONSES = problem_responses(409, 422)
SEALED_IDEMPOTENCY_RESPONSES = problem_responses(409, 422, 503)

_SEMANTICS = (
    "A unique key (1 to 255 printable ASCII characters, e.g. a UUID) chosen by the client for "
    "this operation. Retrying with the same key returns the first response again, byte for "
    "byte (with `Idempotent-Replayed: true`), instead of repeating the operation; the retry "
    "may differ in JSON whitespace and key order only. Reusing the key with different "
    "parameters is refused (422 `idempotency_key_reused`); while the first request is still "
    "running, 409 `idempotency_key_in_flight`. Keys are kept for at least 24 hours."
)
REQUIRED_DESCRIPTION = f"Required. {_SEMANTICS}"
OPTIONAL_DESCRIPTION = (
    f"Optional: send one so that a retry after a lost response cannot create a second "
    f"object. {_SEMANTICS}"
)

# Fingerprints of this kind start with their version. Rows stored before it (plain 64 hex
# digits, a hash of the raw bytes) are still compared the old way, byte for byte, so a retry
# of such a request replays as it did; they are purged after the retention (48 h by default),
# and `_legacy_fingerprint` can go once every deployment has run this version for longer than that.
FINGERPRINT_VERSION = "v2:"


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
    # `request_fingerprint(...)`: "v2:" + sha256 (hex) of the request's meaning; older rows:
    # sha256 (hex) of its bytes.
    request_fingerprint: Mapped[str] = mapped_column(Text, nullable=False)
    response_status: Mapped[int] = mapped_column(Integer, nullable=False)
    # `json`, not `jsonb`: the text keeps its key order, so a replay is the first answer's bytes.
    # A sealed answer is {"sealed": base64, "key_id": ...} (its route says it is sealed).
    response_body: Mapped[Any] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = inserted_at()


class EncryptionUnavailable(Problem):
    """A sealed answer cannot be sealed or opened: no key configured, or its key was removed."""

    status, code = 503, "idempotency_encryption_unavailable"


class IdempotentReplay(Exception):
    """Raised by the dependency to answer with a stored response (see the installed handler)."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(f"replay of a {status_code} response")
        self.status_code = status_code
        self.body = body


async def _handle_replay(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdempotentReplay)
    return JSONResponse(exc.body, status_code=exc.status_code, headers={REPLAYED_HEADER: "true"})


async def _handle_key_taken(request: Request, exc: Exception) -> Response:
    """A request whose INSERT of its key met the key stored by a concurrent first request
    (which took the lock after this one's lookup, see `begin_idempotent`): its transaction has
    rolled back (the request's session ends before the exception reaches here), and it is
    answered as one that finds the key in flight; its retry replays the first answer. Any other
    integrity error goes on to the app's database error handling."""
    if not _key_taken(exc):
        raise exc
    refusal = _in_flight()
    return problem_response(
        refusal.status,
        refusal.code,
        detail=refusal.detail,
        field=refusal.field,
        headers=refusal.headers,
    )


def install_idempotency_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, _handle_replay)
    app.add_exception_handler(IntegrityError, _handle_key_taken)


# --- what makes two requests the same ----------------------------------------------------------


def _canonical_json(value: Any) -> bytes:
    text_ = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a JSON string may hold a lone surrogate ("\ud800"), which strict UTF-8
    # cannot encode; it must still fingerprint, not fail.
    return text_.encode("utf-8", "surrogatepass")


def canonical_body(body: bytes) -> bytes:
    """The body as the endpoint reads it, in one canonical spelling.

    A JSON body is parsed the way the endpoint parses it (Starlette's `json.loads`) and written
    back with sorted keys and no whitespace, so a retry that differs only in spacing, key order
    or escapes ("\\u00e9" or "é") is the same request. The deliberate choices:

    * Nested objects are sorted at every depth; arrays keep their order (it is meaningful).
    * Duplicate keys in an object: the last one wins, as in the endpoint's parser, so
      {"a": 1, "a": 2} is the same request as {"a": 2} (the endpoint cannot tell them apart)
      and another than {"a": 1}.
    * Numbers keep their parsed type: 1 and 1.0 differ (an integer field with strict parsing
      accepts one and refuses the other, and an amount sent as a float is a different request),
      while 1.0, 1.00 and 1e0 are the same float.

    A body that is not JSON (empty, a form, bytes) is compared byte for byte. The two kinds are
    tagged, so no JSON body can collide with a raw one.
    """
    try:
        return b"json:" + _canonical_json(json.loads(body))
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError)
        return b"bytes:" + body


def canonical_query(query_string: bytes) -> bytes:
    """Query parameters as the endpoint reads them (Starlette's parsing), sorted by name.

    The order of parameters does not matter, that of one name's repeated values does (a list);
    percent-escapes and '+' are decoded, so `?a=%41` and `?a=A` are the same.
    """
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return _canonical_json(sorted(pairs, key=lambda pair: pair[0]))


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        # Length-prefixed, so no two different requests concatenate to the same bytes.
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What the request means: method, path, query parameters and body, canonical."""
    return FINGERPRINT_VERSION + _digest(
        method.upper().encode(),
        path.encode("utf-8", "surrogatepass"),
        canonical_query(query),
        canonical_body(body),
    )


def _legacy_fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """The fingerprint of rows stored before `FINGERPRINT_VERSION`: the raw bytes."""
    return _digest(method.upper().encode(), path.encode(), query, body)


def lock_key(scope: str, key: str) -> int:
    """The bigint of the advisory lock guarding (scope, key)."""
    digest = hashlib.sha256()
    for part in (b"idempotency", scope.encode(), key.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


def _valid_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise Unprocessable(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            code="idempotency_key_invalid",
            field=FIELD,
        )
    return key


# --- sealed answers ------------------------------------------------------------------------


def _keyring(request: Request) -> Keyring:
    try:
        return keyring_from_settings(request.app.state.settings)
    except KeyringError as error:
        raise EncryptionUnavailable(f"answers cannot be sealed: {error}") from None


def _aad(scope: str, key: str) -> bytes:
    # Binds the ciphertext to its row: an answer copied to another caller's key does not open.
    return f"api.idempotency_keys/{len(scope)}:{scope}/{key}/response_body".encode()


def _seal(keyring: Keyring, scope: str, key: str, content: Any) -> dict[str, str]:
    sealed, key_id = keyring.seal(json.dumps(content), aad=_aad(scope, key))
    return {"sealed": base64.b64encode(sealed).decode(), "key_id": key_id}


def _open(keyring: Keyring, scope: str, key: str, stored: Any) -> Any:
    try:
        opened = keyring.open(
            base64.b64decode(stored["sealed"]), stored["key_id"], aad=_aad(scope, key)
        )
    except KeyringError as error:
        raise EncryptionUnavailable(
            f"the first answer to this {HEADER} cannot be opened: {error}"
        ) from None
    return json.loads(opened)


# --- the request's answer ------------------------------------------------------------------

# The status of a key whose request is still running after a commit of its own (`hold`): HTTP's
# "102 Processing". A retry finds it and is answered 409 in flight, like a retry that finds the
# advisory lock taken; the request replaces it with its answer (`stored_answer`), or a recovery
# job does (`in_flight`, `finish_in_flight`) when the process died in between.
IN_FLIGHT_STATUS = 102

_KEYS = table_of(IdempotencyKey)

# The statements of every request with a key, built once (see `creatorhub.db.Prepared`).
# The key's advisory lock and its stored answer, one statement; `lock.acquired` first, which is
# how the round-trip tests know it.
_lock = select(
    func.pg_try_advisory_xact_lock(bindparam("lock_key", type_=BigInteger)).label("acquired")
).subquery("lock")
LOCK_AND_LOOKUP = Prepared(
    select(
        _lock.c.acquired,
        _KEYS.c.method,
        _KEYS.c.path,
        _KEYS.c.request_fingerprint,
        _KEYS.c.response_status,
        _KEYS.c.response_body,
    )
    .select_from(_lock)
    .outerjoin(
        _KEYS,
        (_KEYS.c.scope == bindparam("scope", type_=Text))
        & (_KEYS.c.key == bindparam("key", type_=Text)),
    )
)
# The stored answer (its parameters prefixed "idem_", to go with a service's own writes in one
# statement: `creatorhub.db.together_prepared`); `created_at` is the database's now().
STORE_INSERT = row_insert(_KEYS, "idem_", skip={"created_at"})
STORE = Prepared(STORE_INSERT)
# `finish_in_flight`, built once, with the same parameter names.
FINISH = Prepared(
    update(_KEYS)
    .where(
        _KEYS.c.scope == bindparam("idem_scope", type_=Text),
        _KEYS.c.key == bindparam("idem_key", type_=Text),
        _KEYS.c.response_status == IN_FLIGHT_STATUS,
    )
    .values(
        response_status=bindparam("idem_response_status", type_=Integer),
        response_body=bindparam("idem_response_body", type_=_KEYS.c.response_body.type),
    )
)


class Responder:
    """Answers a request and, when a key came (`IdempotentRequest`), stores the answer.

    Two ways, the same answer:

    * `await respond(session, status, body)`: stores it (one INSERT) and returns the response.
    * `stored_answer(status, body)`: the statement that stores it, for the service to send
      with its own writes as one statement (`creatorhub.db.together`); then `response`.

    A request that calls a provider (a network call, never inside a transaction) records its
    intent first with `hold(session, *writes, recovery=...)`, which commits.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.responded = False
        self._response: JSONResponse | None = None

    @property
    def key(self) -> str | None:
        """The request's `Idempotency-Key`, None when it came without one."""
        return None

    @property
    def recovery_key(self) -> tuple[str, str] | None:
        """(scope, key) of the request, for a recovery job to finish its answer; None
        without a key."""
        return None

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
        statement = self.stored_answer(status_code, body, headers=headers)
        if statement is not None:
            await session.execute(statement)
        return self.response

    def stored_answer(
        self,
        status_code: int,
        body: BaseModel | Mapping[str, Any] | Sequence[Any],
        *,
        headers: Mapping[str, str] | None = None,
    ) -> UpdateBase | None:
        """Render the answer; return the statement storing it (None: no key, nothing to
        store). Send it in the request's transaction with the effects it answers for."""
        content = self._render(status_code, body, headers)
        return self._store_statement(status_code, content)

    def stored_answer_bound(
        self, status_code: int, body: BaseModel | Mapping[str, Any] | Sequence[Any]
    ) -> Bound | None:
        """`stored_answer` as a statement built once and its values (None: no key, nothing
        to store), for a service whose writes are built once too
        (`creatorhub.db.together_prepared`)."""
        content = self._render(status_code, body, None)
        return self._store_bound(status_code, content)

    def _render(
        self,
        status_code: int,
        body: BaseModel | Mapping[str, Any] | Sequence[Any],
        headers: Mapping[str, str] | None,
    ) -> Any:
        if self.responded:
            raise RuntimeError("this request was already answered")
        content = jsonable_encoder(body)
        self.responded = True
        self._response = JSONResponse(content, status_code=status_code, headers=dict(headers or {}))
        return content

    @property
    def response(self) -> JSONResponse:
        """The answer `stored_answer` rendered."""
        if self._response is None:
            raise RuntimeError("no answer yet: call stored_answer() or respond()")
        return self._response

    async def hold(
        self, session: AsyncSession, *writes: UpdateBase, recovery: Mapping[str, str]
    ) -> None:
        """Record a request's intent before it calls out, and commit.

        `writes` (the intent: an intent row, its audit row) and, with a key, the key's
        in-flight record (status 102, body `recovery`: what a recovery job needs to finish the
        request should this process die before it does) go as one statement; then the
        transaction commits and gives its connection back to the pool, so nothing is held
        while the provider answers. A retry with the key is answered 409
        `idempotency_key_in_flight` until the request (or the recovery) stores its answer.
        The request's next statement begins a second, short transaction for the outcome.
        """
        if session is not self._session:
            raise RuntimeError("hold() needs the request's own DbSession")
        marker = self._in_flight_statement(recovery)
        parts = [*writes, *([marker] if marker is not None else [])]
        if parts:
            await session.execute(together(*parts))
        await session.commit()
        self._held = marker is not None

    def forget_statement(self) -> UpdateBase | None:
        """The statement forgetting a held key (the call failed and changed nothing that a
        retry should not do again), so that a retry runs afresh; None if nothing is held."""
        return None

    _held = False

    def _in_flight_statement(self, recovery: Mapping[str, str]) -> UpdateBase | None:
        return None  # without a key, nothing marks the request in flight

    def _store_statement(self, status_code: int, content: Any) -> UpdateBase | None:
        return None  # without a key there is nothing to keep

    def _store_bound(self, status_code: int, content: Any) -> Bound | None:
        return None


class IdempotentRequest(Responder):
    """A request holding its key; its answer is stored with the request's effects."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        scope: str,
        key: str,
        method: str,
        path: str,
        fingerprint: str,
        keyring: Keyring | None = None,
    ) -> None:
        super().__init__(session)
        self.scope = scope
        self._key = key
        self.method = method
        self.path = path
        self.fingerprint = fingerprint
        self._keyring = keyring  # set: the answer is stored sealed

    @property
    def key(self) -> str:
        return self._key

    def _row(self, status_code: int, body: Any) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "key": self._key,
            "method": self.method,
            "path": self.path,
            "request_fingerprint": self.fingerprint,
            "response_status": status_code,
            "response_body": body,
        }

    def _store_statement(self, status_code: int, content: Any) -> UpdateBase:
        stored = content
        if self._keyring is not None:
            stored = _seal(self._keyring, self.scope, self._key, content)
        if self._held:
            return finish_in_flight(self.scope, self._key, status_code, stored)
        # A concurrent request that got the advisory lock after this one's lookup may have
        # stored the key since: the primary key refuses this INSERT, and the dependency answers
        # 409 in flight (`_key_taken`), everything rolled back.
        return insert(_KEYS).values(**self._row(status_code, stored))

    def _store_bound(self, status_code: int, content: Any) -> Bound:
        stored = content
        if self._keyring is not None:
            stored = _seal(self._keyring, self.scope, self._key, content)
        if self._held:
            return FINISH.bind(
                {
                    "idem_scope": self.scope,
                    "idem_key": self._key,
                    "idem_response_status": status_code,
                    "idem_response_body": stored,
                }
            )
        return STORE.bind(row_params("idem_", self._row(status_code, stored)))

    def _in_flight_statement(self, recovery: Mapping[str, str]) -> UpdateBase:
        return insert(_KEYS).values(**self._row(IN_FLIGHT_STATUS, dict(recovery)))

    def forget_statement(self) -> UpdateBase | None:
        if not self._held:
            return None
        self._held = False
        return forget_in_flight(self.scope, self._key)

    @property
    def recovery_key(self) -> tuple[str, str] | None:
        """(scope, key) of this request, for a recovery job to finish its answer."""
        return self.scope, self._key


def _same_request(stored: str, method: str, path: str, query: bytes, body: bytes) -> bool:
    if stored.startswith(FINGERPRINT_VERSION):
        return stored == request_fingerprint(method, path, query, body)
    return stored == _legacy_fingerprint(method, path, query, body)  # see FINGERPRINT_VERSION


def _in_flight(field: str = FIELD) -> Conflict:
    return Conflict(
        f"a request with this {HEADER} is still being processed; retry later",
        code="idempotency_key_in_flight",
        field=field,
        headers={"Retry-After": "1"},
    )


async def begin_idempotent(
    request: Request, session: AsyncSession, *, scope: str, key: str, sealed: bool = False
) -> IdempotentRequest:
    """Validate the key, lock it for this transaction, and replay or refuse a known one."""
    key = _valid_key(key)
    # Before anything happens: a server that could not seal the answer must not do the work.
    keyring = _keyring(request) if sealed else None
    body = await request.body()  # cached by Starlette: the endpoint can still read it
    method, path = request.method, request.url.path
    query: bytes = request.scope.get("query_string", b"")

    # The lock and the lookup in one statement (one round trip). Its snapshot is taken before
    # the lock is: a first request that commits its answer and releases the lock in between is
    # not seen here, this request goes on, and its INSERT of the key then fails on the primary
    # key: answered 409 in flight, everything rolled back (`_key_taken`); the retry replays.
    result = await send(
        session,
        LOCK_AND_LOOKUP.bind({"lock_key": lock_key(scope, key), "scope": scope, "key": key}),
    )
    row = result.one()
    if not row.acquired:
        raise _in_flight()
    if row.response_status is not None:  # a stored answer (the column is NOT NULL)
        if not _same_request(row.request_fingerprint, method, path, query, body):
            raise Unprocessable(
                f"this {HEADER} was used with a different request ({row.method} "
                f"{row.path}, other parameters); use a new key",
                code="idempotency_key_reused",
                field=FIELD,
            )
        if row.response_status == IN_FLIGHT_STATUS:
            raise _in_flight()  # its request called out and has not answered yet
        answer = row.response_body
        if keyring is not None:
            answer = _open(keyring, scope, key, answer)
        raise IdempotentReplay(row.response_status, answer)
    return IdempotentRequest(
        session,
        scope=scope,
        key=key,
        method=method,
        path=path,
        fingerprint=request_fingerprint(method, path, query, body),
        keyring=keyring,
    )


def _key_taken(error: BaseException) -> bool:
    return is_unique_violation(error, "pk_idempotency_keys")


# --- dependencies --------------------------------------------------------------------------

RequiredKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description=REQUIRED_DESCRIPTION,
        examples=["5f1c7a9e-2b1d-4c3a-9e8f-0a1b2c3d4e5f"],
    ),
]
OptionalKeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description=OPTIONAL_DESCRIPTION,
        examples=["5f1c7a9e-2b1d-4c3a-9e8f-0a1b2c3d4e5f"],
    ),
]

# A FastAPI dependency that names whose keys these are (e.g. the account's id as text).
ScopeDependency = Callable[..., Awaitable[str]]


async def begin_required(
    request: Request,
    session: AsyncSession,
    *,
    scope: str,
    key: str | None,
    sealed: bool = False,
) -> IdempotentRequest:
    """A route's required key (`key`: its header, None when missing): 400
    `idempotency_key_required` without one, else `begin_idempotent`. For a dependency that
    resolves the key with the caller (`creatorhub.identity.deps.money_move`)."""
    if key is None:
        raise BadRequest(
            f"this operation needs an {HEADER} header",
            code="idempotency_key_required",
            field=FIELD,
        )
    return await begin_idempotent(request, session, scope=scope, key=key, sealed=sealed)


def required_idempotency(
    scope: ScopeDependency, *, sealed: bool = False
) -> Callable[..., Awaitable[IdempotentRequest]]:
    """The dependency of a route that requires a key (money moves)."""

    async def dependency(
        request: Request,
        session: DbSession,
        idempotency_key: RequiredKeyHeader = None,
        # A default, not an annotation: the annotations are strings resolved in the module's
        # globals, where this closure's `scope` is not.
        caller: str = Depends(scope),
    ) -> IdempotentRequest:
        return await begin_required(
            request, session, scope=caller, key=idempotency_key, sealed=sealed
        )

    return dependency


def optional_idempotency(
    scope: ScopeDependency, *, sealed: bool = False
) -> Callable[..., Awaitable[Responder]]:
    """The dependency of a create where the key is optional: honoured when sent."""

    async def dependency(
        request: Request,
        session: DbSession,
        idempotency_key: OptionalKeyHeader = None,
        caller: str = Depends(scope),
    ) -> Responder:
        if idempotency_key is None:
            return Responder(session)
        return await begin_idempotent(
            request, session, scope=caller, key=idempotency_key, sealed=sealed
        )

    return dependency


def idempotency_in_scope(scope: str) -> Callable[..., Awaitable[IdempotentRequest]]:
    """A dependency for routes without an account: every caller of the route shares `scope`.

    Use a scope that cannot be an account id (e.g. "webhook:stripe"):
    `idem: Annotated[IdempotentRequest, Depends(idempotency_in_scope("webhook:stripe"))]`.
    """
    if not scope:
        raise ValueError("an idempotency scope cannot be empty")

    async def fixed_scope() -> str:
        return scope

    return required_idempotency(fixed_scope)


# --- recovering requests that died after `hold` ----------------------------------------------


async def in_flight(session: AsyncSession, scope: str, key: str) -> Mapping[str, Any] | None:
    """The recovery record of a key still in flight (what its `hold` stored), else None."""
    stored = await session.scalar(
        select(IdempotencyKey.response_body).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.response_status == IN_FLIGHT_STATUS,
        )
    )
    return dict(stored) if stored is not None else None


def finish_in_flight(scope: str, key: str, status_code: int, content: Any) -> UpdateBase:
    """The statement storing the answer of a key held in flight (by its request, or by the job
    recovering it). It changes nothing once the key has its answer: the first one wins."""
    return (
        update(IdempotencyKey)
        .where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.response_status == IN_FLIGHT_STATUS,
        )
        .values(response_status=status_code, response_body=content)
    )


def forget_in_flight(scope: str, key: str) -> UpdateBase:
    """The statement forgetting a key held in flight, so that a retry runs afresh."""
    return delete(IdempotencyKey).where(
        IdempotencyKey.scope == scope,
        IdempotencyKey.key == key,
        IdempotencyKey.response_status == IN_FLIGHT_STATUS,
    )


def answer_content(body: BaseModel | Mapping[str, Any] | Sequence[Any]) -> Any:
    """A body as `respond` stores and sends it (for a recovery job's `finish_in_flight`)."""
    return jsonable_encoder(body)


async def purge_expired_keys(session: AsyncSession, retention: timedelta) -> int:
    """Delete the keys older than `retention` (by the database's clock); returns how many."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - retention)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
