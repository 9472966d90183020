"""Logs, request ids and metrics.

* Logs are JSON lines from structlog; the standard library's loggers (uvicorn, procrastinate,
  sqlalchemy) go through the same renderer, so every line carries the request id when there is
  one.
* `RequestMiddleware` gives every request an id (the caller's `X-Request-ID` when it is sane,
  else a new one), returns it in the response header, logs one line per request and records
  Prometheus metrics labelled by route template, never by raw path (ids would explode the
  label set).
* It also adds the security headers, by the response's content type (`security_headers`):
  every response gets `X-Content-Type-Options: nosniff`; every HTML page gets a
  Content-Security-Policy with `frame-ancestors 'none'`, `X-Frame-Options: DENY` and a
  `Referrer-Policy`. A page may send a CSP of its own (the API docs allow their scripts, the
  portfolio its photo): it is kept, and `frame-ancestors 'none'` is added when it lacks one.
* It limits request bodies: a declared `Content-Length` over the limit is refused at once, and
  a body without one (chunked) is counted as it is read (`BodyTooLarge`); both are 413
  `payload_too_large`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import logging
import os
import re
import time
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict

from creatorhub.kit.errors import (
    LOG_FIELDS_SCOPE_KEY,
    problem_response,
    unexpected_error_response,
)
from creatorhub.kit.request_context import (
    RequestContext,
    current_request,
    reset_request_context,
    set_request_context,
)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()
_READ_HEADERS = frozenset({_REQUEST_ID_KEY, b"user-agent", b"content-length"})
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# --- security headers ----------------------------------------------------------------------------

# The policy of an HTML page that says nothing else: the app's own stylesheet, scripts, images
# and form posts, nothing inline and nothing from elsewhere (an injected <script> or style
# attribute does nothing); no <base>, and no framing by any site (clickjacking).
DEFAULT_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Pages are only ever linked from e-mails and from each other; token pages carry secrets in
# their URL. No page tells another site where the visitor came from.
PAGE_REFERRER_POLICY = "no-referrer"


def inline_script_hashes(html: str) -> list[str]:
    """CSP sources (`'sha256-...'`) allowing exactly the inline `<script>` blocks of `html`."""
    sources = []
    for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL):
        digest = hashlib.sha256(script.encode()).digest()
        sources.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return sources


def _is_html(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "text/html"


def security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers with the security headers its content type calls for.

    Every response: `X-Content-Type-Options: nosniff` (JSON, problem+json, metrics and static
    files are never sniffed into HTML or script). An HTML page also gets `X-Frame-Options: DENY`
    and a `Referrer-Policy` unless it set one, and a Content-Security-Policy: `DEFAULT_PAGE_CSP`
    when it set none, else its own with `frame-ancestors 'none'` added when it lacks the
    directive (older browsers read X-Frame-Options, newer ones frame-ancestors).
    """
    result = [(name, value) for name, value in headers if name.lower() != b"x-content-type-options"]
    result.append((b"x-content-type-options", b"nosniff"))
    named = {name.lower(): value.decode("latin-1") for name, value in headers}
    if not _is_html(named.get(b"content-type", "")):
        return result
    if b"x-frame-options" not in named:
        result.append((b"x-frame-options", b"DENY"))
    if b"referrer-policy" not in named:
        result.append((b"referrer-policy", PAGE_REFERRER_POLICY.encode()))
    policy = named.get(b"content-security-policy")
    if policy is None:
        result.append((b"content-security-policy", DEFAULT_PAGE_CSP.encode()))
        return result
    directives = {part.split(maxsplit=1)[0].lower() for part in policy.split(";") if part.strip()}
    if "frame-ancestors" not in directives:
        policy = f"{policy.rstrip().rstrip(';')}; frame-ancestors 'none'"
        csp = (b"content-security-policy", policy.encode("latin-1"))
        result = [csp if name.lower() == csp[0] else (name, value) for name, value in result]
    return result


def add_request_id(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """The current request's id on every line logged while it is served (structlog's or the
    standard library's), read from the request context RequestMiddleware sets."""
    context = current_request()
    if context is not None:
        event_dict.setdefault("request_id", context.request_id)
    return event_dict


class _LineWriter:
    """structlog's output: each rendered line written by the root handler, under its lock.

    structlog's own loggers write here directly rather than through the standard library
    (a `LogRecord`, the handler chain and a formatter re-running processors for every line:
    measured 38 µs against 16 µs for an access line); the standard library's loggers still go
    through the handler. Both share one stream and one lock, so lines never interleave.
    """

    def __init__(self, name: str, handler: logging.StreamHandler[Any]) -> None:
        self.name = name  # read by `add_logger_name`
        self._handler = handler

    def msg(self, message: str) -> None:
        with self._handler.lock:  # type: ignore[union-attr]
            self._handler.stream.write(message + "\n")
            self._handler.flush()

    debug = info = warning = error = critical = exception = msg


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    shared: list[Any] = [
        add_request_id,
        # Whatever else a caller binds with structlog.contextvars.bind_contextvars.
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Plain tracebacks on the console: structlog's default (rich) prints every frame's local
    # variables, tens of thousands of lines for one failed request under a test's load.
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    handler = logging.StreamHandler()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=lambda *args: _LineWriter(args[0] if args else "", handler),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # pgserver narrates every command it runs at INFO; its warnings and errors still show.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, root.level))
    # One line per request comes from RequestMiddleware; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


class Metrics:
    """The platform's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "creatorhub_http_requests_total",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "creatorhub_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        # The labelled series, found once: `labels()` checks and joins the labels under a lock
        # on every call (5 µs per request for the two; 1.7 µs when found here). Bounded like
        # the series themselves: routes x methods x statuses.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        series = self._series.get((method, route, status))
        if series is None:
            series = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)


@functools.lru_cache(maxsize=4096)
def _valid_ip(host: str) -> str | None:
    """The client address, or None when the server was given something that is not one
    (test clients, Unix sockets): it is stored in `inet` columns. Cached: a client sends many
    requests, and parsing an address costs 4 µs."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _headers_read(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """The request's `X-Request-ID`, `User-Agent` and `Content-Length` (the first of each), in
    one pass over its headers."""
    found: dict[bytes, str] = {}
    for key, value in scope["headers"]:
        if key in _READ_HEADERS and key not in found:
            found[key] = value.decode("latin-1")
    return found.get(_REQUEST_ID_KEY), found.get(b"user-agent"), found.get(b"content-length")


# The routes that take a file import (a draw's comments, by the API or its page).
_UPLOAD_PATH = re.compile(r"^(?:/v1)?/giveaways/draws/[0-9a-fA-F-]{36}/entries$")


class RequestMiddleware:
    """Request id, request context, access log, metrics and a request-body size limit."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, max_body_bytes: int, max_upload_bytes: int = 0
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # File imports (a giveaway's comments) take up to this much; every other route the
        # general limit.
        self.max_upload_bytes = max(max_upload_bytes, max_body_bytes)
        self.log = structlog.get_logger("creatorhub.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id, user_agent, declared = _headers_read(scope)
        limit = (
            self.max_upload_bytes
            if _UPLOAD_PATH.match(scope.get("path", "")) is not None
            else self.max_body_bytes
        )
        if request_id is None or _SANE_REQUEST_ID.match(request_id) is None:
            # 128 random bits in hex, as a UUID4's would be (without building one: 3 µs).
            request_id = os.urandom(16).hex()
        client = scope.get("client")
        context = RequestContext(
            request_id=request_id,
            ip=_valid_ip(client[0]) if client else None,
            user_agent=(user_agent or "")[:512] or None,
        )
        # Log lines take the id from here (`add_request_id`), errors and the audit trail too.
        token = set_request_context(context)
        status = 500
        responded = False
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                headers = security_headers(list(message.get("headers", [])))
                headers.append((_REQUEST_ID_KEY, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            nul_in = _nul_location(scope)
            if nul_in is not None:
                # PostgreSQL text cannot hold U+0000; refused here, for every route at once,
                # rather than reaching a query as a 500. (Bodies: see RequestModel.)
                response = problem_response(
                    422,
                    "validation_error",
                    detail="the URL must not contain NUL (U+0000) characters",
                    field=nul_in,
                )
                await response(scope, receive, send_with_request_id)
            elif declared is not None and declared.isdigit() and int(declared) > limit:
                response = problem_response(
                    413, "payload_too_large", detail=BodyTooLarge(limit).detail
                )
                await response(scope, receive, send_with_request_id)
            else:
                await self.app(scope, _limited(receive, limit), send_with_request_id)
        except Exception as error:
            # An error no handler answered (a defect): answered here rather than by Starlette's
            # outermost handler, which runs after this middleware and so could give the
            # client neither the request id to quote nor the security headers.
            if responded:
                raise
            answer = await unexpected_error_response(Request(scope), error)
            await answer(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.observe(method, template, status, elapsed)
            # Set by an error handler that answered for a condition worth a word (a database
            # outage): said on this line, so a request still costs one line.
            extra: dict[str, Any] = scope.get(LOG_FIELDS_SCOPE_KEY) or {}
            (self.log.warning if extra else self.log.info)(
                "request",
                method=method,
                path=scope.get("path"),
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                ip=context.ip,
                **extra,
            )
            reset_request_context(token)


def _nul_location(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return "query"
    return None


class BodyTooLarge(HTTPException):
    """Raised while reading a body without Content-Length (chunked) that passes the limit.

    An `HTTPException`, because whoever reads the body may wrap other exceptions: FastAPI turns
    any exception raised while it reads a route's body into a 400 "There was an error parsing
    the body" (a chunked 10 MB body got 400 `http_error`), but re-raises an `HTTPException` as
    it is. The 413 handler (`kit/errors.py`) answers `payload_too_large`.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request bodies are limited to {limit} bytes")


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped
