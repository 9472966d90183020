"""Login, access and refresh tokens, logout, and login throttling.

Access tokens are short-lived and checked against their session on every request, so logout
and revocation take effect at once. Refresh tokens rotate: each is spent by one refresh, and a
spent one presented again means a copy exists, so the whole session is revoked.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.models import Severity
from creatorhub.audit.service import record_blocked, record_change
from creatorhub.config import Settings
from creatorhub.db import Database, Prepared, send, table_of
from creatorhub.identity import passwords
from creatorhub.identity.models import (
    AccountStatus,
    AuthSession,
    AuthToken,
    EmailToken,
    LoginThrottle,
    User,
)
from creatorhub.identity.schemas import TokenPair
from creatorhub.identity.service.lookup import (
    USER_ATTRIBUTES,
    Principal,
    email_key,
    user_by_email,
)
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import TooManyRequests, Unauthorized
from creatorhub.kit.request_context import current_request
from creatorhub.kit.tokens import new_token, token_hash

ACCESS_PREFIX, REFRESH_PREFIX = "cha", "chr"


class RefreshTokenReused(Unauthorized):
    """A spent refresh token was presented again. The session was revoked in the caller's
    transaction, which must commit: answer with this problem without rolling back."""


async def count_attempt(database: Database, key: str, window_seconds: int) -> tuple[int, int]:
    """Add one attempt for `key` in the current fixed window, in a transaction of its own.

    Own transaction: the count must stay even though a failed login rolls its request back.
    Returns (attempts so far, seconds until the window ends).
    """
    now = utcnow()
    epoch = int(now.timestamp())
    start = epoch - epoch % window_seconds
    window_start = datetime.fromtimestamp(start, tz=now.tzinfo)
    statement = (
        insert(LoginThrottle)
        .values(key=key, window_start=window_start, attempts=1)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key, LoginThrottle.window_start],
            set_={"attempts": LoginThrottle.attempts + 1},
        )
        .returning(LoginThrottle.attempts)
    )
    async with database.session_scope() as throttle_session:
        attempts = int((await throttle_session.execute(statement)).scalar_one())
    return attempts, start + window_seconds - epoch


async def _reset_attempts(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


async def _throttle_login(database: Database, settings: Settings, email: str) -> None:
    context = current_request()
    checks = [(f"account:{email_key(email)}", settings.login_max_attempts_per_account)]
    if context and context.ip:
        checks.append((f"ip:{context.ip}", settings.login_max_attempts_per_ip))
    for key, limit in checks:
        attempts, retry_after = await count_attempt(database, key, settings.login_window_seconds)
        if attempts > limit:
            await record_blocked(
                database,
                component="identity.login",
                data={
                    "action": "login_rate_limited",
                    "key_kind": key.split(":", 1)[0],
                    "attempts": attempts,
                    "limit": limit,
                    "email": email_key(email),
                    "ip": context.ip if context else None,
                },
            )
            raise TooManyRequests(
                "too many login attempts; try again later",
                code="too_many_attempts",
                retry_after=retry_after,
            )


async def throttle_registration(database: Database, settings: Settings) -> None:
    """Count a registration from the client's address; past the limit, 429 (and a system log).

    Counted in a transaction of its own, like login attempts, so a refused or failed
    registration still counts and concurrent ones cannot slip past the limit.
    """
    context = current_request()
    if context is None or not context.ip:
        return
    limit = settings.register_max_per_ip
    attempts, retry_after = await count_attempt(
        database, f"register-ip:{context.ip}", settings.register_window_seconds
    )
    if attempts <= limit:
        return
    await record_blocked(
        database,
        component="identity.register",
        data={
            "action": "register_rate_limited",
            "key_kind": "ip",
            "attempts": attempts,
            "limit": limit,
            "ip": context.ip,
        },
    )
    raise TooManyRequests(
        "too many registrations from this address; try again later",
        code="rate_limited",
        retry_after=retry_after,
    )


async def _issue_tokens(
    session: AsyncSession, settings: Settings, session_id: uuid.UUID
) -> TokenPair:
    now = utcnow()
    access, refresh = new_token(ACCESS_PREFIX), new_token(REFRESH_PREFIX)
    session.add_all(
        [
            AuthToken(
                token_hash=token_hash(access),
                session_id=session_id,
                kind="access",
                expires_at=now + settings.access_token_ttl,
            ),
            AuthToken(
                token_hash=token_hash(refresh),
                session_id=session_id,
                kind="refresh",
                expires_at=now + settings.refresh_token_ttl,
            ),
        ]
    )
    await session.flush()
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=settings.access_token_ttl_seconds,
        refresh_expires_in=settings.refresh_token_ttl_seconds,
    )


async def open_login_session(
    session: AsyncSession,
    database: Database,
    settings: Settings,
    email: str,
    password: str,
    *,
    description: str | None = None,
) -> tuple[User, AuthSession]:
    """Check the password (throttled; one answer for an unknown address and a wrong password)
    and open a new login session, audited. The API's `login` gives it tokens; the web pages'
    `browser_login` a cookie. Always a new session: a session a browser or a client held
    before is never promoted to a signed-in one (session fixation)."""
    await _throttle_login(database, settings, email)
    user = await user_by_email(session, email)
    # verify_password spends the same time for an unknown account, and both failures share
    # one answer, so the response does not tell whether the address has an account.
    if not await passwords.verify_password(user.password_hash if user else None, password):
        raise Unauthorized("wrong e-mail address or password", code="invalid_credentials")
    assert user is not None and user.password_hash is not None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash_password(password)
    await _reset_attempts(session, f"account:{email_key(email)}")
    context = current_request()
    auth_session = AuthSession(
        user_id=user.id,
        ip=context.ip if context else None,
        user_agent=context.user_agent if context else None,
    )
    session.add(auth_session)
    await session.flush()
    await record_change(
        session,
        action="auth.login",
        entity_type="auth_session",
        entity_id=auth_session.id,
        actor_id=user.id,
        description=description,
    )
    return user, auth_session


async def login(
    session: AsyncSession, database: Database, settings: Settings, email: str, password: str
) -> TokenPair:
    _, auth_session = await open_login_session(session, database, settings, email, password)
    return await _issue_tokens(session, settings, auth_session.id)


async def refresh(session: AsyncSession, settings: Settings, refresh_token: str) -> TokenPair:
    row = await session.scalar(
        select(AuthToken)
        .where(AuthToken.token_hash == token_hash(refresh_token), AuthToken.kind == "refresh")
        .with_for_update()
    )
    if row is None:
        raise Unauthorized("the refresh token is not valid", code="invalid_token")
    auth_session = await session.get(AuthSession, row.session_id, with_for_update=True)
    assert auth_session is not None
    if auth_session.revoked_at is not None:
        raise Unauthorized("the session was revoked", code="token_revoked")
    if row.used_at is not None:
        # A spent refresh token came back: someone holds a copy. End the whole session.
        await _revoke_session(session, auth_session, reason="refresh_token_reused")
        await record_change(
            session,
            action="auth.refresh_token_reused",
            entity_type="auth_session",
            entity_id=auth_session.id,
            actor_id=auth_session.user_id,
            severity=Severity.WARNING,
        )
        raise RefreshTokenReused("the refresh token was already used", code="token_reused")
    if row.expires_at <= utcnow():
        raise Unauthorized("the refresh token has expired", code="token_expired")
    user = await session.get(User, auth_session.user_id)
    if user is None or user.status == AccountStatus.DELETED.value:
        raise Unauthorized("the account no longer exists", code="invalid_token")
    row.used_at = utcnow()
    auth_session.last_refreshed_at = row.used_at
    return await _issue_tokens(session, settings, auth_session.id)


async def _revoke_session(session: AsyncSession, auth_session: AuthSession, *, reason: str) -> None:
    if auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        auth_session.revoked_reason = reason
    await session.flush()


async def revoke_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None
) -> int:
    query = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    result = await session.execute(query)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def logout(session: AsyncSession, principal: Principal) -> None:
    auth_session = await session.get(AuthSession, principal.session_id, with_for_update=True)
    assert auth_session is not None
    await _revoke_session(session, auth_session, reason="logout")
    await record_change(
        session,
        action="auth.logout",
        entity_type="auth_session",
        entity_id=auth_session.id,
        actor_id=principal.id,
    )


_TOKENS, _SESSIONS, _USERS = table_of(AuthToken), table_of(AuthSession), table_of(User)

# Authentication, built once: the token with its session and account, one Core row (the ORM's
# three objects cost 0.4 ms of app CPU per request more). The token's columns come first: the
# statement reads as "SELECT identity.auth_tokens…", which is how the round-trip tests know it.
AUTHENTICATION = Prepared(
    select(
        _TOKENS.c.expires_at.label("token_expires_at"),
        _SESSIONS.c.id.label("auth_session_id"),
        _SESSIONS.c.revoked_at.label("session_revoked_at"),
        *(_USERS.c[User.__mapper__.columns[name].name].label(name) for name in USER_ATTRIBUTES),
    )
    .select_from(_TOKENS)
    .join(_SESSIONS, _SESSIONS.c.id == _TOKENS.c.session_id)
    .join(_USERS, _USERS.c.id == _SESSIONS.c.user_id)
    .where(
        _TOKENS.c.token_hash == bindparam("token_hash"),
        _TOKENS.c.kind == bindparam("kind", type_=_TOKENS.c.kind.type),
    )
)


async def authenticate(
    session: AsyncSession, token: str, *, kind: str = "access", what: str = "access token"
) -> Principal:
    """The principal behind a token of `kind` (an API access token; a page's cookie is
    `page`, `browser.browser_principal`), or 401 with the reason, naming the token `what`."""
    row = await authenticated_row(session, token, kind=kind, what=what)
    return Principal.of_row(row, row["auth_session_id"], session)


async def authenticated_row(
    session: AsyncSession, token: str, *, kind: str, what: str
) -> Mapping[str, Any]:
    """`authenticate`'s checked row (the token's expiry, its session, the user's columns)."""
    bound = AUTHENTICATION.bind({"token_hash": token_hash(token), "kind": kind})
    row: Mapping[str, Any] | None = (await send(session, bound)).mappings().first()
    if row is None:
        raise Unauthorized(f"the {what} is not valid", code="invalid_token")
    if row["session_revoked_at"] is not None:
        raise Unauthorized("the session was revoked", code="token_revoked")
    if row["token_expires_at"] <= utcnow():
        raise Unauthorized(f"the {what} has expired", code="token_expired")
    if row["status"] == AccountStatus.DELETED.value:
        raise Unauthorized("the account no longer exists", code="invalid_token")
    return row


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> dict[str, int]:
    """Delete tokens, sessions and throttle windows nobody can use any more."""
    now = now or utcnow()
    day = timedelta(days=1)
    removed = {}
    result = await session.execute(delete(AuthToken).where(AuthToken.expires_at < now - day))
    removed["auth_tokens"] = int(result.rowcount)  # type: ignore[attr-defined]
    result = await session.execute(delete(EmailToken).where(EmailToken.expires_at < now - 7 * day))
    removed["email_tokens"] = int(result.rowcount)  # type: ignore[attr-defined]
    result = await session.execute(
        delete(LoginThrottle).where(LoginThrottle.window_start < now - day)
    )
    removed["login_throttle"] = int(result.rowcount)  # type: ignore[attr-defined]
    result = await session.execute(
        delete(AuthSession).where(
            AuthSession.revoked_at < now - 30 * day,
            ~select(AuthToken.token_hash).where(AuthToken.session_id == AuthSession.id).exists(),
        )
    )
    removed["auth_sessions"] = int(result.rowcount)  # type: ignore[attr-defined]
    return removed
