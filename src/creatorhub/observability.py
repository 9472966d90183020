"""Logs, request ids and metrics.

* Logs are JSON lines from structlog; the standard library's loggers (uvicorn, procrastinate,
  sqlalchemy) go through the same renderer, so every line carries the request id when there is
  one.
* `RequestMiddleware` gives every request an id (the caller's `X-Request-ID` when it is sane,
  else a new one), returns it in the response header, logs one line per request and records
  Prometheus metrics labelled by route template, never by raw path (ids would explode the
  label set).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creatorhub.kit.errors import problem_response
from creatorhub.kit.request_context import (
    RequestContext,
    reset_request_context,
    set_request_context,
)

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
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
    handler = logging.StreamHandler()
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


def _valid_ip(host: str) -> str | None:
    """The client address, or None when the server was given something that is not one
    (test clients, Unix sockets): it is stored in `inet` columns."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestMiddleware:
    """Request id, request context, access log, metrics and a request-body size limit."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.log = structlog.get_logger("creatorhub.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        offered = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = offered if offered and _SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        client = scope.get("client")
        context = RequestContext(
            request_id=request_id,
            ip=_valid_ip(client[0]) if client else None,
            user_agent=(_header(scope, b"user-agent") or "")[:512] or None,
        )
        token = set_request_context(context)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            declared = _header(scope, b"content-length")
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
            elif (
                declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes
            ):
                response = problem_response(
                    413,
                    "request_too_large",
                    detail=f"request bodies are limited to {self.max_body_bytes} bytes",
                )
                await response(scope, receive, send_with_request_id)
            else:
                await self.app(scope, _limited(receive, self.max_body_bytes), send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            self.log.info(
                "request",
                method=method,
                path=scope.get("path"),
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                ip=context.ip,
            )
            structlog.contextvars.unbind_contextvars("request_id")
            reset_request_context(token)


def _nul_location(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return "query"
    return None


class BodyTooLarge(Exception):
    """Raised while reading a body without Content-Length that passes the limit."""


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return wrapped
