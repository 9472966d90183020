"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error the API returns has a stable machine-readable `code`, a human `title`, the HTTP
`status`, and where one input is at fault, the `field` that names it. Services raise `Problem`
subclasses; the handlers registered by `install_error_handlers` turn them and FastAPI's own
validation errors into responses. Anything unexpected becomes a 500 `internal_error` whose
details stay in the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def problem_response(
    status: int,
    code: str,
    *,
    detail: str | None = None,
    field: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ProblemDetail(
        title=HTTPStatus(status).phrase,
        status=status,
        code=code,
        detail=detail,
        field=field,
        errors=list(errors) if errors else None,
        request_id=current_request_id(),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


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
    413: "request_too_large",
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


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(500, "internal_error", detail="an unexpected error occurred")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(Exception, _handle_unexpected)


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
