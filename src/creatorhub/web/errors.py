"""Error pages: on page routes an error is a page saying what happened and what to do; on the
API (`/v1/...`) and the machine endpoints it stays problem+json.

The app's own handlers (kit.errors) are wrapped: a request for a page gets `error.html` with
the same status, anything else the handler's answer as before. An unexpected failure (500) is
answered by the request middleware through kit.errors, which asks `app.state.error_page`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from creatorhub.kit.errors import Problem
from creatorhub.kit.request_context import current_request_id
from creatorhub.web.render import PRIVATE, PageError, render
from creatorhub.web.session import LoginRequired

# Paths that are never pages: the API, static files, and what machines read.
NOT_PAGE_PREFIXES = ("/v1/", "/static/", "/calendar/")
NOT_PAGES = frozenset({"/v1", "/openapi.json", "/healthz", "/readyz", "/metrics"})

# (heading, what to do) per status; the problem's own words, when it has some, come between.
EXPLANATIONS: dict[int, tuple[str, str]] = {
    400: ("This request could not be understood", "Go back and check what you entered."),
    401: ("Please sign in", "Sign in, then open this page again."),
    403: (
        "You cannot do this here",
        "Your account does not allow this. If you think it should, ask an administrator.",
    ),
    404: (
        "Page not found",
        "Check the address for typos, or start again from the home page.",
    ),
    405: ("This page cannot be used this way", "Open it from a link or a form of this site."),
    409: (
        "This conflicts with the current state",
        "Something changed in the meantime. Reload the page to see the current state and try "
        "again.",
    ),
    413: ("What you sent is too large", "Send less at once."),
    422: ("Some of what you entered is not valid", "Go back, correct it and send it again."),
    429: ("Too many attempts", "Wait a few minutes, then try again."),
    500: (
        "Something went wrong on our side",
        "Nothing you did caused this, and it was logged. Try again in a minute; if it keeps "
        "happening, tell the administrators the request id below.",
    ),
}


def is_page_request(request: Request) -> bool:
    path = request.url.path
    return not (path in NOT_PAGES or path.startswith(NOT_PAGE_PREFIXES))


def error_page(
    request: Request,
    status: int,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The error page; `headers` are the problem's own (a `Retry-After`, which the page also
    puts in words)."""
    heading, advice = EXPLANATIONS.get(
        status, ("This request could not be completed", "Go back and try again.")
    )
    retry_after = (headers or {}).get("Retry-After", "")
    if retry_after.isdigit():
        seconds = int(retry_after)
        wait = f"{seconds} seconds" if seconds < 120 else f"{-(-seconds // 60)} minutes"
        advice = f"Wait {wait}, then try again."
    return render(
        request,
        "error.html",
        status,
        headers={**PRIVATE, **(headers or {})},
        heading=heading,
        detail=detail,
        advice=advice,
        status=status,
        request_id=current_request_id(),
    )


Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def _pages_first(
    original: Handler, page: Callable[[Request, Exception], Response | None]
) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        answered = page(request, exc) if is_page_request(request) else None
        if answered is not None:
            return answered
        answer = original(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    return handle


def _problem_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return error_page(request, exc.status, exc.detail, headers=exc.headers)


def _validation_page(request: Request, exc: Exception) -> Response:
    return error_page(request, 422)


def _http_page(request: Request, exc: Exception) -> Response | None:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 413:
        # Answered before any route for a declared length (RequestMiddleware, problem+json):
        # a chunked body over the limit gets the same answer.
        return None
    # Starlette's detail for a 404 or 405 is only the status phrase: the page says more.
    return error_page(request, status if status >= 400 else 400, None)


def install_page_errors(app: FastAPI) -> None:
    """Call after kit.errors.install_error_handlers: wraps its handlers."""
    handlers = app.exception_handlers
    for kind, page in (
        (Problem, _problem_page),
        (RequestValidationError, _validation_page),
        (StarletteHTTPException, _http_page),
    ):
        app.add_exception_handler(kind, _pages_first(handlers[kind], page))

    async def answer(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError | LoginRequired)
        return exc.response

    app.add_exception_handler(PageError, answer)
    app.add_exception_handler(LoginRequired, answer)

    def unexpected(request: Request) -> Response | None:
        return error_page(request, 500) if is_page_request(request) else None

    app.state.error_page = unexpected
