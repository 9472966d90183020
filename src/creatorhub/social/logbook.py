"""The connector log (seed 001 `logs`): every platform call and OAuth event, secrets redacted.

A `LogBook` collects the entries of one piece of work (a callback, one token refresh). The
service writes them in its own transaction when the work succeeds, or in a transaction of their
own (`write_apart`) when the request is refused and rolls back: the record of a failed attempt
must stay even though nothing else changes.

Redaction, twice over, because a token in a log is a token leaked:

* by key: any field whose name contains `token`, `secret`, `password`, `verifier`,
  `authorization` or `signature`, and in requests also `code` and `state` (the authorization
  code and the CSRF state), becomes "[redacted]", at any depth;
* by value: every secret the book was told about (`secret()`: the app secret, codes, verifiers,
  tokens sent and received) is cut out of every string, wherever it appears (an error message
  quoting a token, a paging URL carrying `access_token=`), and so is any `access_token=`-like
  query parameter.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import Database
from creatorhub.kit.request_context import current_request
from creatorhub.social.models import ConnectorLog, LogStatus

REDACTED = "[redacted]"
_SECRET_KEY_PARTS = ("token", "secret", "password", "verifier", "authorization", "signature")
_REQUEST_SECRET_KEYS = frozenset({"code", "state", "fb_exchange_token"})
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:access_token|refresh_token|client_secret|code|code_verifier|fb_exchange_token"
    r"|state)=)[^&\s\"']+"
)
# Shorter strings are not scrubbed by value: they could be anything ("1", "ok").
_MIN_SECRET_LENGTH = 8
_MAX_TEXT = 2000


def _secret_key(key: str, *, request: bool) -> bool:
    lowered = key.lower()
    if request and lowered in _REQUEST_SECRET_KEYS:
        return True
    return any(part in lowered for part in _SECRET_KEY_PARTS)


def redact(value: Any, *, request: bool = False) -> Any:
    """A copy of a JSON-like value with secret fields replaced (by key, at any depth)."""
    if isinstance(value, dict):
        return {
            str(key): REDACTED
            if _secret_key(str(key), request=request) and item not in (None, "")
            else redact(item, request=request)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item, request=request) for item in value]
    return value


def _scrub(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        # PostgreSQL text and jsonb cannot hold U+0000; a platform (or a caller) may send it.
        text = _SECRET_PARAM.sub(lambda match: match[1] + REDACTED, value.replace("\x00", ""))
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text
    if isinstance(value, dict):
        return {_scrub(key, secrets): _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    return value


def _without_query(address: str) -> str:
    parts = urlsplit(address)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def describe_request(request: httpx.Request) -> dict[str, Any]:
    """Method, address and parameters of a request, as logged (before redaction)."""
    payload: dict[str, Any] = {"method": request.method, "url": _without_query(str(request.url))}
    params = dict(request.url.params.multi_items())
    if params:
        payload["params"] = params
    content_type = request.headers.get("content-type", "")
    try:
        body = request.content
    except httpx.RequestNotRead:  # a streamed body: the connectors send none
        body = b""
    if body:
        if "application/x-www-form-urlencoded" in content_type:
            payload["body"] = dict(parse_qsl(body.decode("utf-8", "replace")))
        elif "json" in content_type:
            try:
                payload["body"] = json.loads(body)
            except ValueError:
                payload["body"] = body[:_MAX_TEXT].decode("utf-8", "replace")
    if "authorization" in request.headers:
        payload["authorization"] = request.headers["authorization"].split(" ", 1)[0]
    return payload


def describe_response(response: httpx.Response) -> dict[str, Any]:
    payload: dict[str, Any] = {"status": response.status_code}
    try:
        payload["body"] = response.json()
    except ValueError:
        text = response.text
        if text:
            payload["body"] = text[:_MAX_TEXT]
    return payload


@dataclass
class LogEntry:
    action: str
    status: LogStatus
    message: str | None
    request_payload: dict[str, Any] | None
    response_payload: dict[str, Any] | None


@dataclass
class LogBook:
    user_id: uuid.UUID | None
    platform: str | None
    entries: list[LogEntry] = field(default_factory=list)
    ip: str | None = field(default_factory=lambda: _request_ip())
    _secrets: set[str] = field(default_factory=set)

    def secret(self, *values: str | None) -> None:
        """Values that must never appear in a log, whatever field they end up in."""
        self._secrets.update(v for v in values if v and len(v) >= _MIN_SECRET_LENGTH)

    def scrub(self, text: str) -> str:
        """`text` without any secret the book knows (for messages kept outside the log)."""
        scrubbed: str = _scrub(text, self._secrets)
        return scrubbed

    def add(
        self,
        action: str,
        status: LogStatus,
        message: str | None = None,
        *,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
    ) -> None:
        self.entries.append(LogEntry(action, status, message, request, response))

    def rows(self) -> list[ConnectorLog]:
        # Scrubbed at write time, not when added: a token received by a later call of the same
        # flow is cut out of the earlier entries too.
        secrets = set(self._secrets)
        return [
            ConnectorLog(
                user_id=self.user_id,
                platform=self.platform,
                action=entry.action,
                status=entry.status.value,
                message=_scrub(entry.message[:_MAX_TEXT], secrets) if entry.message else None,
                request_payload=_scrub(redact(entry.request_payload, request=True), secrets),
                response_payload=_scrub(redact(entry.response_payload), secrets),
                ip_address=self.ip,
            )
            for entry in self.entries
        ]

    def write(self, session: AsyncSession) -> None:
        """Add the entries to the caller's transaction."""
        session.add_all(self.rows())
        self.entries.clear()

    async def write_apart(self, database: Database) -> None:
        """Write the entries in a transaction of their own (the caller's will roll back)."""
        if not self.entries:
            return
        async with database.session_scope() as session:
            self.write(session)


def _request_ip() -> str | None:
    context = current_request()
    return context.ip if context else None
