"""Sessions of browsers signed in on the web app's pages.

A page login is an identity login session (`AuthSession`) like the API's, with the same checks,
throttling and audit entry; instead of an access and a refresh token, its one token is a `page`
token that the browser keeps in an HttpOnly cookie. It is a kind of its own: the cookie is never
accepted as a Bearer token, nor an access token as the cookie.

It ends when unused for `CREATORHUB_PAGE_SESSION_IDLE_SECONDS` (2 h): each use moves its expiry
that far ahead, at most once a minute (a write per minute of use, not per page), and never past
a refresh token's lifetime from the sign-in (`CREATORHUB_REFRESH_TOKEN_TTL_SECONDS`, 30 days).
It dies with its session too: logout, a password change or reset, an administrator revoking the
account's sessions.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.identity.models import AuthToken, User
from creatorhub.identity.service.lookup import Principal
from creatorhub.identity.service.sessions import authenticated_row, open_login_session
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unauthorized
from creatorhub.kit.tokens import new_token, token_hash

PAGE_PREFIX = "chp"
# What `new_token(PAGE_PREFIX)` makes: anything else in the cookie is not looked up.
PAGE_TOKEN = re.compile(r"^chp_[A-Za-z0-9_\-]{43}$")
# A page session's expiry moves ahead at most this often.
EXTEND_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class BrowserLogin:
    """A new signed-in browser: the cookie's token (shown once) and whose it is."""

    token: str
    session_id: uuid.UUID
    user: User


async def browser_login(
    session: AsyncSession, database: Database, settings: Settings, email: str, password: str
) -> BrowserLogin:
    """Check the password as `login` does (`open_login_session`: the same throttling, the same
    one answer for an unknown address and a wrong password, a new session every time) and give
    the session a page token."""
    user, auth_session = await open_login_session(
        session, database, settings, email, password, description="signed in on the web pages"
    )
    token = new_token(PAGE_PREFIX)
    session.add(
        AuthToken(
            token_hash=token_hash(token),
            session_id=auth_session.id,
            kind="page",
            expires_at=utcnow() + min(settings.page_session_idle, settings.refresh_token_ttl),
        )
    )
    await session.flush()
    return BrowserLogin(token, auth_session.id, user)


async def browser_principal(session: AsyncSession, settings: Settings, token: str) -> Principal:
    """The signed-in account behind a page cookie, or 401 with the reason: `invalid_token`
    (unknown, or the account is gone), `token_revoked`, `token_expired` (unused for the idle
    time, or signed in longer ago than a refresh token lives). One statement; a second, at most
    once a minute, moves the expiry ahead (the idle time from now, within the lifetime)."""
    if not PAGE_TOKEN.match(token):
        raise Unauthorized("the session cookie is not valid", code="invalid_token")
    row = await authenticated_row(session, token, kind="page", what="session cookie")
    now = utcnow()
    idle = settings.page_session_idle
    if row["token_expires_at"] < now + idle - EXTEND_EVERY:
        await session.execute(
            update(AuthToken)
            .where(AuthToken.token_hash == token_hash(token))
            .values(
                expires_at=func.least(now + idle, AuthToken.created_at + settings.refresh_token_ttl)
            )
        )
    return Principal.of_row(row, row["auth_session_id"], session)
