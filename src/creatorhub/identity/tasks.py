"""Periodic upkeep of the identity schema."""

from __future__ import annotations

import structlog

from creatorhub.identity.service import purge_expired
from creatorhub.jobs import job_app, task_database

log = structlog.get_logger(__name__)


@job_app.periodic(cron="41 * * * *", periodic_id="purge_expired_credentials")
@job_app.task(queue="maintenance", queueing_lock="purge_expired_credentials")
async def purge_expired_credentials(timestamp: int) -> dict[str, int]:
    """Delete expired tokens, old throttle windows and long-revoked sessions."""
    async with task_database().session_scope() as session:
        removed = await purge_expired(session)
    log.info("expired_credentials_purged", **removed)
    return removed
