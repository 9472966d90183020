"""Periodic upkeep of the platform's own tables (schema `api`)."""

from __future__ import annotations

from datetime import timedelta

import structlog

from creatorhub.jobs import job_app, task_database, task_settings
from creatorhub.kit.idempotency import purge_expired_keys

log = structlog.get_logger(__name__)


@job_app.periodic(cron="23 * * * *", periodic_id="purge_idempotency_keys")
@job_app.task(queue="maintenance", queueing_lock="purge_idempotency_keys")
async def purge_idempotency_keys(timestamp: int) -> int:
    """Delete stored `Idempotency-Key` answers older than the retention."""
    retention = timedelta(hours=task_settings().idempotency_key_retention_hours)
    async with task_database().session_scope() as session:
        removed = await purge_expired_keys(session, retention)
    log.info("idempotency_keys_purged", removed=removed)
    return removed
