"""Connecting a platform account (OAuth 2 authorization code with state and PKCE), and the
creator's connections: list, read the profile now, disconnect.

The flow: `start_authorization` stores an `OAuthState` (the SHA-256 of a random `state`, the
PKCE verifier sealed, valid 10 minutes) and returns the platform's consent URL. The platform
sends the browser to the callback with `code` and `state`; `social.callback` completes it. A
wrong, unknown, expired, used or other-platform state is a 400 `invalid_oauth_state` and
changes nothing; only the attempt is logged (in a transaction of its own).

Tokens are kept fresh by `social.refreshing` (the periodic job, and before a profile read).
No platform is called inside a transaction (issue 12): a profile read commits the request's
transaction first, and writes what it read in a new one.

Known limit: the callback trusts the `state` alone to name the creator (a bearer-token API has
no browser session to bind it to); a state is single-use, unguessable and lives 10 minutes.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow
from creatorhub.kit.crypto import KeyringError
from creatorhub.kit.errors import BadRequest, Conflict, NotFound, Problem
from creatorhub.kit.tokens import token_hash
from creatorhub.social.connectors import (
    Connector,
    ConnectorError,
    ErrorKind,
    Profile,
    TokenSet,
    authorization_url,
)
from creatorhub.social.logbook import LogBook
from creatorhub.social.models import ConnectionStatus, Credential, LogStatus, OAuthState, Platform
from creatorhub.social.platforms import app_credentials, redirect_uri
from creatorhub.social.refreshing import (
    RefreshOutcome,
    lease_length,
    record_refresh,
    refresh_tokens,
    take_lease,
)
from creatorhub.social.vault import (
    EncryptionUnavailable,
    keyring,
    open_tokens,
    seal_tokens,
    seal_verifier,
    store_tokens,
)

STATE_TTL = timedelta(minutes=10)
# A token this close to its expiry is refreshed before a profile read.
_ALMOST_EXPIRED = timedelta(minutes=2)


class InvalidOAuthState(BadRequest):
    code = "invalid_oauth_state"


class OAuthDenied(BadRequest):
    code = "oauth_denied"


class OAuthFailed(BadRequest):
    code = "oauth_failed"


class OAuthCodeRejected(BadRequest):
    code = "oauth_code_rejected"


class PlatformUnavailable(Problem):
    status, code = 503, "platform_unavailable"


class PlatformError(Problem):
    status, code = 502, "platform_error"


class ConnectionNotFound(NotFound):
    code = "connection_not_found"


class ConnectionNotActive(Conflict):
    code = "connection_not_active"


def platform_problem(error: ConnectorError, platform: Platform, book: LogBook) -> Problem:
    if error.kind is ErrorKind.TRANSIENT:
        return PlatformUnavailable(f"{platform.value} did not answer; try again later")
    return PlatformError(f"{platform.value} refused the request: {book.scrub(error.message)}")


# --- starting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    authorization_url: str
    redirect_uri: str
    expires_at: datetime


async def start_authorization(
    session: AsyncSession, settings: Settings, *, user_id: uuid.UUID, platform: Platform
) -> Authorization:
    app_credentials(platform, settings)  # 404 before anything is stored
    ring = keyring(settings)
    state = secrets.token_urlsafe(32)
    # RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~]; token_urlsafe(48) gives 64.
    verifier = secrets.token_urlsafe(48)
    state_hash = token_hash(state)
    sealed, key_id = seal_verifier(ring, state_hash, verifier)
    callback = redirect_uri(settings, platform)
    now = utcnow()
    session.add(
        OAuthState(
            state_hash=state_hash,
            user_id=user_id,
            platform=platform.value,
            code_verifier=sealed,
            key_id=key_id,
            redirect_uri=callback,
            expires_at=now + STATE_TTL,
        )
    )
    address = authorization_url(
        platform, settings, state=state, code_verifier=verifier, redirect_uri=callback
    )
    book = LogBook(user_id=user_id, platform=platform.value)
    book.secret(state, verifier)
    book.add(
        "oauth_authorize",
        LogStatus.SUCCESS,
        "authorization started",
        request={"redirect_uri": callback, "authorization_url": address},
    )
    book.write(session)
    return Authorization(address, callback, now + STATE_TTL)


# --- storing a connection -----------------------------------------------------------------


async def _own(
    session: AsyncSession, user_id: uuid.UUID, platform: Platform, *, lock: bool = False
) -> Credential | None:
    query = select(Credential).where(
        Credential.user_id == user_id, Credential.platform == platform.value
    )
    if lock:
        query = query.with_for_update()
    found: Credential | None = await session.scalar(query)
    return found


async def store_connection(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    platform: Platform,
    tokens: TokenSet,
    profile: Profile,
) -> Credential:
    """Insert or replace the user's connection to `platform` (one per user and platform)."""
    ring = keyring(settings)
    now = utcnow()
    existing = await _own(session, user_id, platform, lock=True)
    refresh = tokens.refresh_token
    if refresh is None and existing is not None and existing.status == ConnectionStatus.ACTIVE:
        # A new consent for a live connection that brings no refresh token (Google issues one
        # only at the first consent) keeps the stored one. A dead connection's is not kept.
        try:
            refresh = open_tokens(ring, existing)[1]
        except KeyringError:
            refresh = None
    sealed = seal_tokens(ring, user_id, platform.value, tokens.access_token, refresh)
    credential = existing
    if credential is None:
        credential = Credential(id=uuid.uuid4(), user_id=user_id, platform=platform.value)
        try:
            async with session.begin_nested():
                _apply(credential, tokens, profile, now)
                store_tokens(credential, sealed)
                session.add(credential)
        except IntegrityError:
            # A concurrent callback for the same user and platform inserted first: replace it.
            credential = await _own(session, user_id, platform, lock=True)
            if credential is None:  # pragma: no cover - the conflicting row vanished
                raise
    _apply(credential, tokens, profile, now)
    store_tokens(credential, sealed)
    await session.flush()
    await session.refresh(credential, ["created_at"])  # a server default, read back
    return credential


def _apply(credential: Credential, tokens: TokenSet, profile: Profile, now: datetime) -> None:
    credential.platform_user_id = profile.platform_user_id
    credential.username = profile.username
    credential.follower_count = profile.follower_count
    credential.follower_count_at = now
    credential.scopes = list(tokens.scopes)
    credential.status = ConnectionStatus.ACTIVE.value
    credential.expires_at = tokens.expires_at
    credential.refreshed_at = None
    credential.refresh_failures = 0
    credential.last_error = None
    # A refresh in flight read the tokens these replace: its outcome must not be written.
    credential.refresh_leased_until = None


# --- the creator's connections ------------------------------------------------------------


async def list_connections(session: AsyncSession, user_id: uuid.UUID) -> list[Credential]:
    rows = await session.scalars(
        select(Credential).where(Credential.user_id == user_id).order_by(Credential.platform)
    )
    return list(rows)


async def disconnect(session: AsyncSession, user_id: uuid.UUID, platform: Platform) -> None:
    """Forget the tokens; the row stays (status `disconnected`) so the history reads right."""
    credential = await _own(session, user_id, platform, lock=True)
    if credential is None:
        raise ConnectionNotFound(f"no {platform.value} connection")
    credential.status = ConnectionStatus.DISCONNECTED.value
    credential.access_token = b""
    credential.refresh_token = None
    credential.expires_at = None
    credential.refresh_failures = 0
    credential.last_error = None
    credential.refresh_leased_until = None  # a refresh in flight writes nothing now
    book = LogBook(user_id=user_id, platform=platform.value)
    book.add("disconnect", LogStatus.SUCCESS, "tokens deleted")
    book.write(session)
    await session.flush()


async def refresh_profile(
    session: AsyncSession,
    database: Database,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    platform: Platform,
) -> Credential:
    """Read the profile and follower count now (refreshing an expiring token first).

    A dead token makes the connection `reconnect_needed` (answered with the connection); a
    platform that fails answers 502/503 and changes nothing. The request's transaction (its
    authentication, the refresh's lease) is committed before the platform is called; the
    refresh's outcome is written in a transaction of its own (a rotated refresh token must be
    kept even if the profile read then fails), the profile in the request's new one.
    """
    credential = await _own(session, user_id, platform)
    if credential is None:
        raise ConnectionNotFound(f"no {platform.value} connection")
    if credential.status != ConnectionStatus.ACTIVE:
        raise ConnectionNotActive(
            f"the {platform.value} connection is {credential.status}; connect it again"
        )
    now = utcnow()
    book = LogBook(user_id=user_id, platform=platform.value)
    leased = None
    if credential.expires_at is not None and credential.expires_at <= now + _ALMOST_EXPIRED:
        leased = await take_lease(
            session,
            select(Credential.id).where(
                Credential.id == credential.id,
                Credential.status == ConnectionStatus.ACTIVE.value,
            ),
            lease_length(settings),
        )
        if leased is None:
            raise PlatformUnavailable(
                f"the {platform.value} token is being refreshed right now; try again in a moment"
            )
    await session.commit()  # nothing is held while the platform answers
    if leased is not None:
        credential = await _refresh_first(database, settings, leased, book)
        if credential.status == ConnectionStatus.RECONNECT_NEEDED:
            return credential
    ring = keyring(settings)
    try:
        access, _ = open_tokens(ring, credential)
    except KeyringError as error:
        raise EncryptionUnavailable(str(error)) from None
    try:
        async with Connector(platform, settings, book) as connector:
            profile = await connector.fetch_profile(access)
    except ConnectorError as error:
        if error.kind is not ErrorKind.INVALID_GRANT:
            await book.write_apart(database)
            raise platform_problem(error, platform, book) from None
        # Only if the token that was refused is still the stored one: a refresh or a
        # reconnect meanwhile brought another.
        changes: dict[str, Any] = {
            "status": ConnectionStatus.RECONNECT_NEEDED.value,
            "last_error": book.scrub(error.message),
        }
        unchanged = [Credential.access_token == credential.access_token]
    else:
        changes = {
            "username": profile.username,
            "follower_count": profile.follower_count,
            "follower_count_at": now,
        }
        unchanged = []
    written: Credential | None = await session.scalar(
        update(Credential)
        .where(
            Credential.id == credential.id,
            Credential.status == ConnectionStatus.ACTIVE.value,
            *unchanged,
        )
        .values(**changes)
        .returning(Credential)
        .execution_options(populate_existing=True)
    )
    book.write(session)
    await session.flush()
    if written is None:
        # Disconnected, reconnected or refreshed while the platform answered: as it is now.
        current = await _own(session, user_id, platform)
        if current is None:
            raise ConnectionNotFound(f"no {platform.value} connection")
        return current
    return written


async def _refresh_first(
    database: Database, settings: Settings, leased: Credential, book: LogBook
) -> Credential:
    """Refresh a leased connection's tokens for a profile read; the connection as written.

    A dead refresh token makes it `reconnect_needed`; any other failure ends the lease without
    counting it (the request changes nothing) and answers 503."""
    platform = Platform(leased.platform)
    refresh = await refresh_tokens(settings, leased, book)
    failed = refresh.outcome not in (RefreshOutcome.REFRESHED, RefreshOutcome.RECONNECT_NEEDED)
    async with database.session_scope() as session:
        written = await record_refresh(session, leased, {} if failed else refresh.changes)
        book.write(session)
    if failed:
        raise PlatformUnavailable(
            f"the {platform.value} token could not be refreshed: "
            f"{refresh.changes.get('last_error')}"
        )
    if written is None:
        raise PlatformUnavailable(
            f"the {platform.value} connection changed while its token was refreshed; try again"
        )
    return written
