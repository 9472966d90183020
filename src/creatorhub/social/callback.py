"""The OAuth callback: the platform sends the browser back with `code` and `state`.

`complete_authorization` finds the state (it names the creator: the callback carries no bearer
token), exchanges the code with the PKCE verifier, reads the profile and follower count, and
stores the connection with its tokens sealed. No transaction is open while the platform is
called (issue 12), so the work is three steps, each its own:

1. **the state is used up** in a short committed transaction: one `UPDATE ... SET used_at`
   of the state if it is unused, for this platform and not expired, whose verifier is then
   opened (a verifier that cannot be opened rolls it back). A second callback with the same
   state, at the same moment or later, finds it used and is refused at once;
2. **the platform is called** (code exchange, profile) holding nothing;
3. **the connection is stored** with the callback's log in a second short transaction.

A refused callback changes nothing: a state refused in step 1 stays as it was, and a platform
refusal in step 2 gives the state back (unused, if it is still the one this callback took) in
the transaction that logs the refusal. A process that dies in step 2 leaves the state used:
nothing was stored, the creator connects again, and the purge job deletes the state once it
expires. Callbacks with an `error` (consent declined) or without a code call nothing: they
only read the state, to answer the right refusal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow
from creatorhub.kit.crypto import KeyringError
from creatorhub.kit.errors import Problem
from creatorhub.kit.tokens import token_hash
from creatorhub.social.connections import (
    InvalidOAuthState,
    OAuthCodeRejected,
    OAuthDenied,
    OAuthFailed,
    platform_problem,
    store_connection,
)
from creatorhub.social.connectors import Connector, ConnectorError, ErrorKind
from creatorhub.social.logbook import LogBook
from creatorhub.social.models import Credential, LogStatus, OAuthState, Platform
from creatorhub.social.vault import keyring, open_verifier


async def _refuse(
    database: Database,
    problem: Problem,
    *,
    platform: Platform,
    user_id: uuid.UUID | None,
    book: LogBook | None = None,
    taken: TakenState | None = None,
) -> Problem:
    """Log a refused callback apart, giving back the state it took if any, and return the
    problem to raise."""
    book = book or LogBook(user_id=user_id, platform=platform.value)
    book.add("oauth_callback", LogStatus.FAILURE, f"{problem.code}: {problem.detail}")
    async with database.session_scope() as session:
        if taken is not None:
            await session.execute(
                update(OAuthState)
                .where(
                    OAuthState.state_hash == taken.state.state_hash,
                    OAuthState.used_at == taken.used_at,
                )
                .values(used_at=None)
            )
        book.write(session)
    return problem


def _unusable(row: OAuthState | None, platform: Platform, now: datetime) -> Problem | None:
    """Why this state cannot complete an authorization on `platform` now (None: it can)."""
    if row is None or row.platform != platform.value or row.used_at is not None:
        return InvalidOAuthState(
            "this authorization is unknown, already used, or for another platform"
        )
    if row.expires_at <= now:
        return InvalidOAuthState("this authorization expired; start again")
    return None


@dataclass(frozen=True)
class TakenState:
    """A state this callback used up (`used_at` is its mark), and its opened verifier."""

    state: OAuthState
    used_at: datetime
    verifier: str


async def _take_state(
    database: Database,
    settings: Settings,
    *,
    state_hash: bytes | None,
    platform: Platform,
    now: datetime,
) -> TakenState:
    """Use the state up (committed), or raise the refusal: unknown, used (by another callback
    too, a moment ago), another platform's, expired, or its verifier cannot be opened."""
    ring = keyring(settings)
    problem: Problem | None = None
    user_id: uuid.UUID | None = None
    async with database.session_scope() as session:
        row: OAuthState | None = None
        if state_hash is not None:
            row = await session.scalar(
                update(OAuthState)
                .where(
                    OAuthState.state_hash == state_hash,
                    OAuthState.platform == platform.value,
                    OAuthState.used_at.is_(None),
                    OAuthState.expires_at > now,
                )
                .values(used_at=now)
                .returning(OAuthState)
            )
        if row is None:
            # Refused: read it to say why (and whose it is, for the log).
            found = None
            if state_hash is not None:
                found = await session.scalar(
                    select(OAuthState).where(OAuthState.state_hash == state_hash)
                )
            problem = _unusable(found, platform, now) or InvalidOAuthState(
                "this authorization is unknown, already used, or for another platform"
            )
            user_id = found.user_id if found is not None else None
        else:
            user_id = row.user_id
            try:
                verifier = open_verifier(ring, row)
            except KeyringError as failure:
                await session.rollback()  # the state stays unused
                problem = InvalidOAuthState(f"this authorization cannot be completed: {failure}")
    if problem is not None:
        raise await _refuse(database, problem, platform=platform, user_id=user_id) from None
    assert row is not None
    return TakenState(row, now, verifier)


async def _refuse_consent_error(
    database: Database,
    *,
    state_hash: bytes | None,
    platform: Platform,
    now: datetime,
    error: str | None,
    error_description: str | None,
) -> Problem:
    """The refusal of a callback that carries an error or no code: nothing to exchange, so
    the state is only read (and stays as it is)."""
    row = None
    if state_hash is not None:
        async with database.read_scope() as session:
            row = await session.scalar(
                select(OAuthState).where(OAuthState.state_hash == state_hash)
            )
    user_id = row.user_id if row is not None else None
    problem = _unusable(row, platform, now)
    if problem is None and error:
        denied = error == "access_denied"
        cls = OAuthDenied if denied else OAuthFailed
        detail = "the authorization was declined" if denied else f"{platform.value}: {error}"
        if error_description:
            detail += f" ({error_description[:200]})"
        problem = cls(detail)
    if problem is None:
        problem = OAuthFailed(
            "the callback carries no authorization code", code="oauth_code_missing"
        )
    return await _refuse(database, problem, platform=platform, user_id=user_id)


async def complete_authorization(
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
    state_hash = token_hash(state) if state else None
    if error or not code:
        raise await _refuse_consent_error(
            database,
            state_hash=state_hash,
            platform=platform,
            now=now,
            error=error,
            error_description=error_description,
        )
    taken = await _take_state(database, settings, state_hash=state_hash, platform=platform, now=now)
    row = taken.state
    book = LogBook(user_id=row.user_id, platform=platform.value)
    book.secret(state, taken.verifier)
    async with Connector(platform, settings, book) as connector:
        try:
            tokens = await connector.exchange_code(
                code=code, code_verifier=taken.verifier, redirect_uri=row.redirect_uri
            )
        except ConnectorError as failure:
            problem = (
                OAuthCodeRejected(
                    f"{platform.value} refused the authorization code: "
                    f"{book.scrub(failure.message)}"
                )
                if failure.kind is ErrorKind.INVALID_GRANT
                else platform_problem(failure, platform, book)
            )
            raise await _refuse(
                database, problem, platform=platform, user_id=row.user_id, book=book, taken=taken
            ) from None
        try:
            profile = await connector.fetch_profile(tokens.access_token)
        except ConnectorError as failure:
            raise await _refuse(
                database,
                platform_problem(failure, platform, book),
                platform=platform,
                user_id=row.user_id,
                book=book,
                taken=taken,
            ) from None

    async with database.session_scope() as session:
        credential = await store_connection(
            session,
            settings,
            user_id=row.user_id,
            platform=platform,
            tokens=tokens,
            profile=profile,
        )
        book.add("oauth_callback", LogStatus.SUCCESS, f"connected {profile.username or ''}".strip())
        book.write(session)
    return credential
