"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error the API returns has a stable machine-readable `code`, a human `title`, the HTTP
`status`, and where one input is at fault, the `field` that names it. Services raise `Problem`
subclasses; the handlers registered by `install_error_handlers` turn them and FastAPI's own
validation errors into responses. A database that cannot be reached (stopped, restarting,
unreachable, out of connections) is a 503 `database_unavailable` with `Retry-After`, logged as
one line (the request's, see `observability.py`), never a traceback: it is an outage, not a bug.
Anything else unexpected becomes a 500 `internal_error` whose details stay in the log.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from creatorhub.kit.request_context import current_request_id

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the input at fault, e.g. `body.email`")
    code: str
    message: str


class ProblemDetail(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code")
    detail: str | None = None
    field: str | None = Field(default=None, description="The offending input, when one is")
    errors: list[FieldError] | None = None
    request_id: str | None = None


class Problem(Exception):
    """An error the client can act on. Subclasses fix `status` and `code`."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        errors: Sequence[FieldError] | None = None,
    ) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.field = field
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.errors = list(errors) if errors else None


class BadRequest(Problem):
    status, code = 400, "bad_request"


class Unauthorized(Problem):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(Problem):
    status, code = 403, "forbidden"


class NotFound(Problem):
    status, code = 404, "not_found"


class Conflict(Problem):
    status, code = 409, "conflict"


class Gone(Problem):
    status, code = 410, "gone"


class Unprocessable(Problem):
    status, code = 422, "validation_error"


class TooManyRequests(Problem):
    status, code = 429, "rate_limited"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail, **kwargs)


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def problem_response(
    status: int,
    code: str,
    *,
    detail: str | None = None,
    field: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    # The dict `ProblemDetail(...).model_dump(exclude_none=True)` would be, in its field order,
    # built as such: validating and dumping the model was a third of an error answer's CPU
    # (10 -> 7 µs; 15 -> 10 µs with field errors). A test holds the two equal.
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _PHRASES[status],
        "status": status,
        "code": code,
    }
    if detail is not None:
        body["detail"] = detail
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = [error.model_dump() for error in errors]
    request_id = current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        loc = error.get("loc", ())
        # pydantic reports a missing or malformed JSON body at ("body",) or ("body", pos).
        errors.append(
            FieldError(
                field=_field_path(loc) or "body",
                code=str(error.get("type", "invalid")),
                message=str(error.get("msg", "invalid value")),
            )
        )
    return errors


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        exc.code,
        detail=exc.detail,
        field=exc.field,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    first = errors[0] if errors else None
    code = "malformed_json" if first and first.code == "json_invalid" else "validation_error"
    return problem_response(
        422,
        code,
        detail=first.message if first else "the request is not valid",
        field=first.field if first else None,
        errors=errors,
    )


_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI turns a body that `json.loads` cannot even decode (not UTF-8, nested past
        # the recursion limit) into a bare 400; it is the same client error as a JSON syntax
        # error, so it gets the same documented answer: 422 `malformed_json`.
        return problem_response(
            422,
            "malformed_json",
            detail="the request body is not valid JSON in UTF-8",
            field="body",
            errors=[
                FieldError(
                    field="body",
                    code="json_invalid",
                    message=f"{type(exc.__cause__).__name__}: {exc.__cause__}"[:300],
                )
            ],
        )
    return problem_response(
        exc.status_code,
        _HTTP_CODES.get(exc.status_code, "http_error"),
        detail=str(exc.detail) if exc.detail else None,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def unexpected_error_response(request: Request, exc: Exception) -> Response:
    if database_unavailable(exc):
        # Reached only when something wrapped the error (an exception group); the usual path
        # is `_handle_database_error`.
        return _database_unavailable_response(request, exc)
    log.exception("unhandled_error", path=request.url.path)
    # A person's browser on a page gets a page (web.errors registers how it is made).
    page_for = getattr(request.app.state, "error_page", None) if "app" in request.scope else None
    page: Response | None = page_for(request) if page_for is not None else None
    if page is not None:
        return page
    return problem_response(500, "internal_error", detail="an unexpected error occurred")


# --- the database is unavailable ---------------------------------------------------------------

# A database outage (restart, failover, network cut) lasts seconds: the measured recovery after
# an immediate stop of PostgreSQL is about 8 s. Clients retrying idempotent requests wait this.
DATABASE_RETRY_AFTER_SECONDS = 5

# Where the request's access log line finds extra fields (RequestMiddleware logs it), so that an
# outage costs one line per request rather than a line here and another there.
LOG_FIELDS_SCOPE_KEY = "creatorhub.log_fields"

# SQLSTATEs that say the server cannot serve now, whatever the query: connection exceptions
# (class 08), the server shutting down or starting (57P01-57P03), out of connection slots
# (53300), the database gone (3D000: dropped or renamed under the running app), and a login
# that the server refuses now (class 28). Every other SQLSTATE is about the statement (a
# constraint, a syntax error, a statement timeout, a serialization failure): not an outage.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "3D000"})
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "28")


def _unavailable_sqlstate(sqlstate: str | None) -> bool:
    if sqlstate is None:
        # Raised by the client library itself, not by the server: psycopg does so only for a
        # connection it could not make or has lost ("connection failed", "server closed the
        # connection unexpectedly", "the connection is closed") and for a pool timeout.
        return True
    return sqlstate in _UNAVAILABLE_SQLSTATES or sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be used now (an outage), as opposed to a defect.

    Follows SQLAlchemy's wrapping (`.orig`), explicit and implicit chaining, and exception groups.
    True for: SQLAlchemy's pool timeout; an error (its `OperationalError`, `InterfaceError`...)
    that SQLAlchemy found to have invalidated its connection (its dialect's disconnect detection:
    the connection is closed or broken); a psycopg `OperationalError` (its pool timeout
    included) raised without a server SQLSTATE or with one of a connection failure. False for
    everything else, so `ProgrammingError`, `IntegrityError`, `DataError`, a statement timeout
    and friends stay 500s or get their own answers.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, sa_exc.TimeoutError):
            return True  # "QueuePool limit ... reached, connection timed out"
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated:
                return True
            if isinstance(current.orig, BaseException):
                pending.append(current.orig)
        if isinstance(current, psycopg.OperationalError):
            if _unavailable_sqlstate(current.sqlstate):
                return True
            continue  # a statement timeout, a serialization failure, a deadlock: not an outage
        if isinstance(current, psycopg.Error):
            # psycopg's InterfaceError is a misuse ("the cursor is closed"), the rest are the
            # server's answers about a statement. A lost connection is an OperationalError or
            # was flagged by SQLAlchemy above.
            continue
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return False


_UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Temporarily unavailable</title></head>
<body><main><h1>Temporarily unavailable</h1>
<p>The service cannot reach its database right now. Nothing was changed; try again in a minute.
</p></main></body></html>
"""


def note_in_access_log(request: Request, **fields: object) -> None:
    """Fields for the request's one access log line (written by RequestMiddleware, as a
    warning when there are any): what an answer wants said, without a line of its own."""
    request.scope.setdefault(LOG_FIELDS_SCOPE_KEY, {}).update(fields)


def error_summary(exc: BaseException) -> str:
    """`Type: first line of the message`, short: a log field, never a traceback."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def _database_unavailable_response(request: Request, exc: BaseException) -> Response:
    # One line: the request's own access line carries the cause (no traceback: not a bug).
    note_in_access_log(request, error="database_unavailable", cause=error_summary(exc))
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    if "text/html" in request.headers.get("accept", ""):
        # A person's browser on one of the pages gets a page, with the same status.
        return HTMLResponse(_UNAVAILABLE_PAGE, status_code=503, headers=headers)
    return problem_response(
        503,
        "database_unavailable",
        detail="the database cannot be reached; retry later",
        headers=headers,
    )


# SQLSTATEs that say this transaction lost a race with another and was rolled back whole:
# a serialization failure (40001), a deadlock (40P01), a lock not available (55P03, with a
# lock timeout). Nothing the request did was kept, and the same request sent again may pass.
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
CONFLICT_RETRY_AFTER_SECONDS = 1


def concurrent_conflict(exc: BaseException) -> bool:
    """Whether `exc` (following SQLAlchemy's `.orig` and the chain) is a transaction rolled
    back for conflicting with a concurrent one (`_CONFLICT_SQLSTATES`)."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.Error) and current.sqlstate in _CONFLICT_SQLSTATES:
            return True
        if isinstance(current, sa_exc.DBAPIError) and isinstance(current.orig, BaseException):
            current = current.orig
            continue
        current = current.__cause__ or current.__context__
    return False


async def _handle_database_error(request: Request, exc: Exception) -> Response:
    if database_unavailable(exc):
        return _database_unavailable_response(request, exc)
    if concurrent_conflict(exc):
        # Not a defect: answered like any problem (a page for a browser), one log line.
        note_in_access_log(request, error="concurrent_change", cause=error_summary(exc))
        problem = Conflict(
            "another request changed the same records at the same moment; nothing was"
            " changed by this one: send it again",
            code="concurrent_change",
            headers={"Retry-After": str(CONFLICT_RETRY_AFTER_SECONDS)},
        )
        answer = request.app.exception_handlers[Problem](request, problem)
        response: Response = await answer if inspect.isawaitable(answer) else answer
        return response
    # A defect (bad SQL, a violated constraint nobody translated): on to
    # `unexpected_error_response`, which logs it with its traceback as a 500.
    raise exc


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    psycopg.Error,
)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    for database_error in DATABASE_ERRORS:
        app.add_exception_handler(database_error, _handle_database_error)
    app.add_exception_handler(Exception, unexpected_error_response)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem+json bodies for these statuses."""
    return {
        status: {
            "model": ProblemDetail,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }
