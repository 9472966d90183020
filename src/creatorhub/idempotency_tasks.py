"""Periodic upkeep of `kit.idempotency`'s table (schema `api`).

It lives outside `kit` because a task needs the job app (`creatorhub.jobs`), and kit imports
nothing but kit, config and db (tests/platform/test_imports.py).
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from creatorhub.jobs import job_app, task_database, task_settings
from creatorhub.kit.idempotency import purge_expired_keys

log = structlog.get_logger(__name__)


@job_app.periodic(cron="23 * * * *", periodic_id="purge_idempotency_keys")
@job_app.task(
    # The name it had as `creatorhub.kit.tasks`: jobs already queued, and procrastinate's record
    # of the periodic runs, find it under that name.
    name="creatorhub.kit.tasks.purge_idempotency_keys",
    queue="maintenance",
    queueing_lock="purge_idempotency_keys",
)
async def purge_idempotency_keys(timestamp: int) -> int:
    """Delete stored `Idempotency-Key` answers older than the retention."""
    retention = timedelta(hours=task_settings().idempotency_key_retention_hours)
    async with task_database().session_scope() as session:
        removed = await purge_expired_keys(session, retention)
    log.info("idempotency_keys_purged", removed=removed)
    return removed
