"""Periodic renewal of subscriptions (see `creatorhub.payments.billing`)."""

from __future__ import annotations

import structlog

from creatorhub.jobs import job_app, task_database, task_settings
from creatorhub.kit.clock import utcnow
from creatorhub.payments.billing import renew_due

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
# Batches per run at most: a backlog beyond this waits for the next run (10 minutes).
MAX_BATCHES = 20


@job_app.periodic(cron="*/10 * * * *", periodic_id="renew_subscriptions")
@job_app.task(queue="maintenance", queueing_lock="renew_subscriptions")
async def renew_subscriptions(timestamp: int) -> dict[str, int]:
    """Charge, cancel or mark past due every subscription whose period has ended.

    Each batch is its own transaction, so a long backlog commits as it goes.
    """
    totals = {"renewed": 0, "past_due": 0, "canceled": 0, "expired": 0}
    for _ in range(MAX_BATCHES):
        async with task_database().session_scope() as session:
            report = await renew_due(session, task_settings(), utcnow(), BATCH_SIZE)
        for outcome, count in report.as_dict().items():
            totals[outcome] += count
        if not report.more_due:
            break
    log.info("subscriptions_renewal_run", **totals)
    return totals
