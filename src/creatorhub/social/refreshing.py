"""Refreshing a connection's tokens without a transaction open while the platform is called.

A refresh is three steps (issue 12: no row lock or transaction waits on the network):

1. **lease** (`take_lease`): one short committed transaction sets `refresh_leased_until` on the
   connection, from a `FOR UPDATE SKIP LOCKED` pick of those whose lease is free (never taken,
   or run out). Another run meanwhile skips the connection, without waiting: two workers never
   refresh the same token at once, which matters where the platform rotates refresh tokens
   (TikTok), since the loser would send a token the winner just replaced and get
   `invalid_grant`;
2. **the call** (`refresh_tokens`), holding nothing;
3. **the outcome** (`record_refresh`), in a second short transaction, written only if the lease
   is still the one taken: a reconnect or a disconnect meanwhile cleared it (their tokens win),
   and a refresher whose lease ran out and was taken by another does not overwrite that one's
   result. The lease is cleared with it.

A worker that dies between 1 and 3 leaves the lease to run out (`lease_length`); the next run
takes the connection again.

Outcomes:

* success: the new access token and expiry are stored; a rotated refresh token is stored; an
  answer without one (or with an empty one) keeps the stored refresh token;
* `invalid_grant`: the connection becomes `reconnect_needed` (only a new consent helps);
* anything else (network, 5xx, 429, our app refused): `refresh_failures` + 1 and `last_error`;
  the next run tries again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.kit.clock import utcnow
from creatorhub.kit.crypto import KeyringError
from creatorhub.kit.errors import Problem
from creatorhub.social.connectors import Connector, ConnectorError, ErrorKind
from creatorhub.social.logbook import LogBook
from creatorhub.social.models import ConnectionStatus, Credential, LogStatus, Platform
from creatorhub.social.platforms import PlatformNotConfigured
from creatorhub.social.vault import keyring, open_tokens, seal_tokens

log = structlog.get_logger(__name__)

# A refresh is one call to the platform, each of whose steps (connect, send, read) waits at most
# `social_http_timeout_seconds`; the margin covers a worker that is merely slow.
_CALL_STEPS = 4
_LEASE_MARGIN_SECONDS = 60.0


def lease_length(settings: Settings) -> timedelta:
    """How long a refresh's lease lasts: longer than its call to the platform can take."""
    return timedelta(
        seconds=_CALL_STEPS * settings.social_http_timeout_seconds + _LEASE_MARGIN_SECONDS
    )


def lease_free() -> ColumnElement[bool]:
    """No refresh of the connection is in flight (or the one that was ran out of time)."""
    return or_(
        Credential.refresh_leased_until.is_(None), Credential.refresh_leased_until < func.now()
    )


async def take_lease(
    session: AsyncSession, candidates: Select[Any], length: timedelta
) -> Credential | None:
    """Lease the first of `candidates` (ids; their own conditions, `lease_free()` is added)
    that no other transaction holds, in the caller's transaction, which the caller commits
    before calling the platform; the connection as leased, or None."""
    pick = candidates.where(lease_free()).limit(1).with_for_update(skip_locked=True)
    leased: Credential | None = await session.scalar(
        update(Credential)
        .where(Credential.id.in_(pick))
        .values(refresh_leased_until=func.now() + length)
        .returning(Credential)
    )
    return leased


class RefreshOutcome(StrEnum):
    REFRESHED = "refreshed"
    RETRY = "retry"  # transient: the next run tries again
    FAILED = "failed"  # not the creator's fault (our app refused, a key missing): retried too
    RECONNECT_NEEDED = "reconnect_needed"


@dataclass
class Refresh:
    """What a refresh found out, to be written by `record_refresh`: the columns it changes."""

    outcome: RefreshOutcome
    changes: dict[str, Any] = field(default_factory=dict)


def _failed(outcome: RefreshOutcome, message: str) -> Refresh:
    return Refresh(
        outcome,
        {"refresh_failures": Credential.refresh_failures + 1, "last_error": message[:500]},
    )


async def refresh_tokens(settings: Settings, credential: Credential, book: LogBook) -> Refresh:
    """Ask the platform for new tokens for `credential` (leased; no transaction is open)."""
    platform = Platform(credential.platform)
    try:
        ring = keyring(settings)
        access, refresh = open_tokens(ring, credential)
    except (KeyringError, Problem) as error:
        message = f"the stored tokens cannot be opened: {error}"
        book.add("refresh_token", LogStatus.FAILURE, message)
        return _failed(RefreshOutcome.FAILED, message)
    try:
        async with Connector(platform, settings, book) as connector:
            tokens = await connector.refresh(access_token=access, refresh_token=refresh)
    except PlatformNotConfigured as error:
        book.add("refresh_token", LogStatus.FAILURE, str(error.detail))
        return _failed(RefreshOutcome.FAILED, str(error.detail))
    except ConnectorError as error:
        # Shown to the creator (`last_error`): cut out any secret the platform echoed back.
        shown = book.scrub(error.message)
        if error.kind is ErrorKind.INVALID_GRANT:
            if not any(entry.action == "refresh_token" for entry in book.entries):
                book.add("refresh_token", LogStatus.FAILURE, error.message)
            return Refresh(
                RefreshOutcome.RECONNECT_NEEDED,
                {"status": ConnectionStatus.RECONNECT_NEEDED.value, "last_error": shown},
            )
        kind = RefreshOutcome.RETRY if error.kind is ErrorKind.TRANSIENT else RefreshOutcome.FAILED
        return _failed(kind, shown)
    # Never replace a stored refresh token with nothing; a rotated one replaces it.
    sealed = seal_tokens(
        ring,
        credential.user_id,
        credential.platform,
        tokens.access_token,
        tokens.refresh_token or refresh,
    )
    return Refresh(
        RefreshOutcome.REFRESHED,
        {
            "access_token": sealed.access_token,
            "refresh_token": sealed.refresh_token,
            "key_id": sealed.key_id,
            "expires_at": tokens.expires_at,
            # The wall clock, not `now` (when the run decided what was due): with `expires_at`,
            # which the answer's `expires_in` counts from this moment, it gives the token's life.
            "refreshed_at": utcnow(),
            "refresh_failures": 0,
            "last_error": None,
        },
    )


async def record_refresh(
    session: AsyncSession, leased: Credential, changes: dict[str, Any]
) -> Credential | None:
    """Write a refresh's outcome (`changes`, possibly none) and end the lease, if the lease is
    still the one `leased` took; the connection as written, or None when the lease was lost
    (nothing is written then)."""
    written: Credential | None = await session.scalar(
        update(Credential)
        .where(
            Credential.id == leased.id,
            Credential.refresh_leased_until == leased.refresh_leased_until,
        )
        .values(**changes, refresh_leased_until=None)
        .returning(Credential)
        .execution_options(populate_existing=True)
    )
    if written is None:
        log.warning(
            "social_refresh_lease_lost", credential_id=str(leased.id), platform=leased.platform
        )
    return written
