"""Sessions of browsers signed in on the web app's pages.

A page login is an identity login session (`AuthSession`) like the API's, with the same checks,
throttling and audit entry; instead of an access and a refresh token, its one token is a `page`
token that the browser keeps in an HttpOnly cookie. It is a kind of its own: the cookie is never
accepted as a Bearer token, nor an access token as the cookie. It lives as long as a refresh
token would (`CREATORHUB_REFRESH_TOKEN_TTL_SECONDS`), and dies with its session: logout, a
password change or reset, an administrator revoking the account's sessions.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.identity.models import AuthToken, User
from creatorhub.identity.service.lookup import Principal
from creatorhub.identity.service.sessions import authenticate, open_login_session
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unauthorized
from creatorhub.kit.tokens import new_token, token_hash

PAGE_PREFIX = "chp"
# What `new_token(PAGE_PREFIX)` makes: anything else in the cookie is not looked up.
PAGE_TOKEN = re.compile(r"^chp_[A-Za-z0-9_\-]{43}$")


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
            expires_at=utcnow() + settings.refresh_token_ttl,
        )
    )
    await session.flush()
    return BrowserLogin(token, auth_session.id, user)


async def browser_principal(session: AsyncSession, token: str) -> Principal:
    """The signed-in account behind a page cookie (one statement), or 401 with the reason:
    `invalid_token` (unknown, or the account is gone), `token_revoked`, `token_expired`."""
    if not PAGE_TOKEN.match(token):
        raise Unauthorized("the session cookie is not valid", code="invalid_token")
    return await authenticate(session, token, kind="page", what="session cookie")
