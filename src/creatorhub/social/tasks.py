"""Jobs of the social module: keep OAuth tokens fresh, forget finished authorizations.

`refresh_social_tokens` runs every 10 minutes. A connection is due when its token expires within
the margin: `social_refresh_margin_seconds` (default a day), but at most a third of the token's
life, so an hour-long YouTube token is refreshed 20 minutes before it ends rather than at every
run, and a 60-day Instagram token a day before. Connections whose platform offers no refresh
(Facebook user tokens, or a token stored without a refresh token) are taken only once expired,
and become `reconnect_needed`.

Each connection is leased (`social.refreshing`): the lease is committed, the platform called
with no transaction open, and the outcome written in a second transaction under the same lease.
Two runs at once never refresh the same connection, and neither waits for the other. A transient
failure leaves the connection due, so the next run retries it, as it does a connection whose
refresh died with its worker once the lease ran out; each connection is tried at most once per
run.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

import structlog
from sqlalchemy import ColumnElement, and_, delete, func, literal, or_, select

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import job_app, task_database, task_settings
from creatorhub.kit.clock import utcnow
from creatorhub.social.logbook import LogBook
from creatorhub.social.models import ConnectionStatus, Credential, OAuthState, Platform
from creatorhub.social.platforms import spec_for
from creatorhub.social.refreshing import lease_length, record_refresh, refresh_tokens, take_lease

log = structlog.get_logger(__name__)

MAX_REFRESHES_PER_RUN = 500


def _due(settings: Settings, now: datetime) -> ColumnElement[bool]:
    with_refresh_token = [
        p.value for p in Platform if spec_for(p, settings).refresh == "refresh_token"
    ]
    self_refreshing = [
        p.value for p in Platform if spec_for(p, settings).refresh == "reexchange_access_token"
    ]
    refreshable = or_(
        and_(Credential.refresh_token.is_not(None), Credential.platform.in_(with_refresh_token)),
        Credential.platform.in_(self_refreshing),
    )
    issued = func.coalesce(Credential.refreshed_at, Credential.created_at)
    # In seconds: the token's life (from its issue to its expiry) and what is left of it.
    life = func.extract("epoch", Credential.expires_at - issued)
    left = func.extract("epoch", Credential.expires_at - literal(now))
    margin = func.least(settings.social_refresh_margin_seconds, life / 3)
    return and_(
        Credential.status == ConnectionStatus.ACTIVE.value,
        Credential.expires_at.is_not(None),
        or_(and_(refreshable, left <= margin), Credential.expires_at <= now),
    )


async def refresh_due_credentials(
    database: Database, settings: Settings, *, now: datetime | None = None
) -> dict[str, int]:
    """Refresh every connection that is due; counts by outcome."""
    now = now or utcnow()
    counts: Counter[str] = Counter()
    tried: list[uuid.UUID] = []
    length = lease_length(settings)
    while len(tried) < MAX_REFRESHES_PER_RUN:
        candidates = (
            select(Credential.id).where(_due(settings, now)).order_by(Credential.expires_at)
        )
        if tried:
            candidates = candidates.where(Credential.id.not_in(tried))
        async with database.session_scope() as session:
            credential = await take_lease(session, candidates, length)
        if credential is None:
            break
        tried.append(credential.id)
        book = LogBook(user_id=credential.user_id, platform=credential.platform, ip=None)
        refresh = await refresh_tokens(settings, credential, book)
        async with database.session_scope() as session:
            written = await record_refresh(session, credential, refresh.changes)
            # The calls happened whether or not the outcome could be written.
            book.write(session)
        outcome = refresh.outcome.value if written is not None else "lease_lost"
        counts[outcome] += 1
        log.info(
            "social_token_refresh",
            credential_id=str(credential.id),
            platform=credential.platform,
            outcome=outcome,
        )
    return dict(counts)


async def purge_oauth_states(database: Database, *, now: datetime | None = None) -> int:
    """Delete authorizations past their expiry (used or not): they can never complete."""
    async with database.session_scope() as session:
        result = await session.execute(
            delete(OAuthState).where(OAuthState.expires_at < (now or utcnow()))
        )
    removed: int = getattr(result, "rowcount", 0) or 0
    return removed


@job_app.periodic(cron="*/10 * * * *", periodic_id="refresh_social_tokens")
@job_app.task(queue="social", queueing_lock="refresh_social_tokens")
async def refresh_social_tokens(timestamp: int) -> dict[str, int]:
    database, settings = task_database(), task_settings()
    counts = await refresh_due_credentials(database, settings)
    counts["oauth_states_purged"] = await purge_oauth_states(database)
    log.info("social_tokens_refreshed", **counts)
    return counts
