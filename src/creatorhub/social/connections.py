"""Connecting a platform account (OAuth 2 authorization code with state and PKCE), keeping its
tokens fresh, and reading its profile.

The flow: `start_authorization` stores an `OAuthState` (the SHA-256 of a random `state`, the
PKCE verifier sealed, valid 10 minutes) and returns the platform's consent URL. The platform
sends the browser to the callback with `code` and `state`; `complete_authorization` finds the
state (it names the creator: the callback carries no bearer token), exchanges the code with the
verifier, reads the profile and follower count, stores the tokens sealed, and marks the state
used. A wrong, unknown, expired, used or other-platform state is a 400 `invalid_oauth_state`
and changes nothing; only the attempt is logged (in a transaction of its own).

Refreshing (`refresh_tokens`, used by the periodic job and before a profile read):

* success: the new access token and expiry are stored; a rotated refresh token is stored; an
  answer without one (or with an empty one) keeps the stored refresh token;
* `invalid_grant`: the connection becomes `reconnect_needed` (only a new consent helps);
* anything else (network, 5xx, 429, our app refused): `refresh_failures` + 1 and `last_error`;
  the next run tries again.

Known limit: the callback trusts the `state` alone to name the creator (a bearer-token API has
no browser session to bind it to); a state is single-use, unguessable and lives 10 minutes.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
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
from creatorhub.social.platforms import PlatformNotConfigured, app_credentials, redirect_uri
from creatorhub.social.vault import (
    EncryptionUnavailable,
    keyring,
    open_tokens,
    open_verifier,
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


def _platform_problem(error: ConnectorError, platform: Platform, book: LogBook) -> Problem:
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


# --- the callback -------------------------------------------------------------------------


async def _refuse(
    database: Database,
    problem: Problem,
    *,
    platform: Platform,
    user_id: uuid.UUID | None,
    book: LogBook | None = None,
) -> Problem:
    """Log a refused callback apart (the request rolls back) and return the problem to raise."""
    book = book or LogBook(user_id=user_id, platform=platform.value)
    book.add("oauth_callback", LogStatus.FAILURE, f"{problem.code}: {problem.detail}")
    await book.write_apart(database)
    return problem


async def complete_authorization(
    session: AsyncSession,
    database: Database,
    settings: Settings,
    *,
    platform: Platform,
    state: str | None,
    code: str | None,
    error: str | None,
    error_description: str | None,
) -> Credential:
    now = utcnow()
    row = None
    if state:
        row = await session.scalar(
            select(OAuthState).where(OAuthState.state_hash == token_hash(state)).with_for_update()
        )
    if row is None or row.platform != platform.value or row.used_at is not None:
        raise await _refuse(
            database,
            InvalidOAuthState(
                "this authorization is unknown, already used, or for another platform"
            ),
            platform=platform,
            user_id=row.user_id if row is not None else None,
        )
    if row.expires_at <= now:
        raise await _refuse(
            database,
            InvalidOAuthState("this authorization expired; start again"),
            platform=platform,
            user_id=row.user_id,
        )
    if error:
        denied = error == "access_denied"
        cls = OAuthDenied if denied else OAuthFailed
        detail = "the authorization was declined" if denied else f"{platform.value}: {error}"
        if error_description:
            detail += f" ({error_description[:200]})"
        raise await _refuse(database, cls(detail), platform=platform, user_id=row.user_id)
    if not code:
        raise await _refuse(
            database,
            OAuthFailed("the callback carries no authorization code", code="oauth_code_missing"),
            platform=platform,
            user_id=row.user_id,
        )

    ring = keyring(settings)
    try:
        verifier = open_verifier(ring, row)
    except KeyringError as failure:
        raise await _refuse(
            database,
            InvalidOAuthState(f"this authorization cannot be completed: {failure}"),
            platform=platform,
            user_id=row.user_id,
        ) from None
    book = LogBook(user_id=row.user_id, platform=platform.value)
    book.secret(state, verifier)
    async with Connector(platform, settings, book) as connector:
        try:
            tokens = await connector.exchange_code(
                code=code, code_verifier=verifier, redirect_uri=row.redirect_uri
            )
        except ConnectorError as failure:
            problem = (
                OAuthCodeRejected(
                    f"{platform.value} refused the authorization code: "
                    f"{book.scrub(failure.message)}"
                )
                if failure.kind is ErrorKind.INVALID_GRANT
                else _platform_problem(failure, platform, book)
            )
            raise await _refuse(
                database, problem, platform=platform, user_id=row.user_id, book=book
            ) from None
        try:
            profile = await connector.fetch_profile(tokens.access_token)
        except ConnectorError as failure:
            raise await _refuse(
                database,
                _platform_problem(failure, platform, book),
                platform=platform,
                user_id=row.user_id,
                book=book,
            ) from None

    credential = await _store(
        session, settings, user_id=row.user_id, platform=platform, tokens=tokens, profile=profile
    )
    row.used_at = now
    book.add("oauth_callback", LogStatus.SUCCESS, f"connected {profile.username or ''}".strip())
    book.write(session)
    return credential


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


async def _store(
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


# --- refreshing ---------------------------------------------------------------------------


class RefreshOutcome(StrEnum):
    REFRESHED = "refreshed"
    RETRY = "retry"  # transient: the next run tries again
    FAILED = "failed"  # not the creator's fault (our app refused, a key missing): retried too
    RECONNECT_NEEDED = "reconnect_needed"


async def refresh_tokens(
    settings: Settings, credential: Credential, book: LogBook
) -> RefreshOutcome:
    """Refresh one connection's tokens in place (the caller holds its row lock and commits)."""
    platform = Platform(credential.platform)
    try:
        ring = keyring(settings)
        access, refresh = open_tokens(ring, credential)
    except (KeyringError, Problem) as error:
        message = f"the stored tokens cannot be opened: {error}"
        book.add("refresh_token", LogStatus.FAILURE, message)
        credential.refresh_failures += 1
        credential.last_error = message[:500]
        return RefreshOutcome.FAILED
    try:
        async with Connector(platform, settings, book) as connector:
            tokens = await connector.refresh(access_token=access, refresh_token=refresh)
    except PlatformNotConfigured as error:
        book.add("refresh_token", LogStatus.FAILURE, str(error.detail))
        credential.refresh_failures += 1
        credential.last_error = str(error.detail)[:500]
        return RefreshOutcome.FAILED
    except ConnectorError as error:
        # Shown to the creator (`last_error`): cut out any secret the platform echoed back.
        credential.last_error = book.scrub(error.message)
        if error.kind is ErrorKind.INVALID_GRANT:
            credential.status = ConnectionStatus.RECONNECT_NEEDED.value
            if not any(entry.action == "refresh_token" for entry in book.entries):
                book.add("refresh_token", LogStatus.FAILURE, error.message)
            return RefreshOutcome.RECONNECT_NEEDED
        credential.refresh_failures += 1
        return RefreshOutcome.RETRY if error.kind is ErrorKind.TRANSIENT else RefreshOutcome.FAILED
    # Never replace a stored refresh token with nothing; a rotated one replaces it.
    store_tokens(
        credential,
        seal_tokens(
            ring,
            credential.user_id,
            credential.platform,
            tokens.access_token,
            tokens.refresh_token or refresh,
        ),
    )
    credential.expires_at = tokens.expires_at
    # The wall clock, not `now` (when the run decided what was due): with `expires_at`, which
    # the answer's `expires_in` counts from this moment, it gives the token's life.
    credential.refreshed_at = utcnow()
    credential.refresh_failures = 0
    credential.last_error = None
    return RefreshOutcome.REFRESHED


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
    platform that fails answers 502/503 and changes nothing.
    """
    credential = await _own(session, user_id, platform, lock=True)
    if credential is None:
        raise ConnectionNotFound(f"no {platform.value} connection")
    if credential.status != ConnectionStatus.ACTIVE:
        raise ConnectionNotActive(
            f"the {platform.value} connection is {credential.status}; connect it again"
        )
    now = utcnow()
    book = LogBook(user_id=user_id, platform=platform.value)
    if credential.expires_at is not None and credential.expires_at <= now + _ALMOST_EXPIRED:
        outcome = await refresh_tokens(settings, credential, book)
        if outcome is RefreshOutcome.RECONNECT_NEEDED:
            book.write(session)
            await session.flush()
            return credential
        if outcome is not RefreshOutcome.REFRESHED:
            await book.write_apart(database)
            raise PlatformUnavailable(
                f"the {platform.value} token could not be refreshed: {credential.last_error}"
            )
    ring = keyring(settings)
    try:
        access, _ = open_tokens(ring, credential)
    except KeyringError as error:
        raise EncryptionUnavailable(str(error)) from None
    try:
        async with Connector(platform, settings, book) as connector:
            profile = await connector.fetch_profile(access)
    except ConnectorError as error:
        if error.kind is ErrorKind.INVALID_GRANT:
            credential.status = ConnectionStatus.RECONNECT_NEEDED.value
            credential.last_error = book.scrub(error.message)
            book.write(session)
            await session.flush()
            return credential
        await book.write_apart(database)
        raise _platform_problem(error, platform, book) from None
    credential.username = profile.username
    credential.follower_count = profile.follower_count
    credential.follower_count_at = now
    book.write(session)
    await session.flush()
    return credential
