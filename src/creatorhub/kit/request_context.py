"""What the current request is: its id, client address and user agent.

Set once per request by the middleware in `creatorhub.observability`; read by the error
handlers, the audit trail and the logs, so none of them needs the request passed around.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None = None
    user_agent: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("creatorhub_request", default=None)


def set_request_context(context: RequestContext | None) -> object:
    return _current.set(context)


def reset_request_context(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def current_request() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context else None
