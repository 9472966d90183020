"""Jobs of the marketplace: closing ended jobs, provider refunds, the daily analytics rollup."""

from __future__ import annotations

import uuid
from datetime import timedelta

import procrastinate
import structlog

from creatorhub.jobs import job_app, task_database
from creatorhub.kit.clock import utcnow
from creatorhub.marketplace import analytics, service
from creatorhub.marketplace.errors import GuardedRecord, record_refusal
from creatorhub.payments.providers.base import ProviderError
from creatorhub.payments.tasks import provider_in

log = structlog.get_logger(__name__)


@job_app.task(
    queue="payouts",
    retry=procrastinate.RetryStrategy(
        max_attempts=8, exponential_wait=2, retry_exceptions={ProviderError}
    ),
)
async def issue_refund(refund_uid: str) -> str:
    """Refund a provider-funded job's unused budget (the provider is called outside any job
    lock; its idempotency key is the refund id, so a retry cannot refund twice)."""
    async with task_database().session_scope() as session:
        refund = await service.issue_provider_refund(
            session, provider_in(session), uuid.UUID(refund_uid), now=utcnow()
        )
    outcome = "missing" if refund is None else "issued"
    log.info("marketplace_refund", refund_uid=refund_uid, outcome=outcome)
    return outcome


async def close_ended_jobs(limit: int = 200) -> int:
    """Close every job whose end_date has passed, each in its own transaction (one refusal
    does not keep the others open)."""
    database = task_database()
    now = utcnow()
    async with database.session_scope() as session:
        due = await service.ended_job_uids(session, now, limit=limit)
    closed = 0
    for job_uid in due:
        try:
            async with database.session_scope() as session:
                closing = await service.close_ended_job(session, job_uid, now)
                if closing is None:
                    continue
                closed += 1
        except GuardedRecord as refusal:
            await record_refusal(database, refusal, None)
            log.warning("job_close_refused", job_uid=str(job_uid), code=refusal.code)
    if closed:
        log.info("jobs_closed_at_end_date", count=closed)
    return closed


@job_app.periodic(cron="* * * * *", periodic_id="close_ended_jobs")
@job_app.task(queue="maintenance", queueing_lock="close_ended_jobs")
async def close_ended_jobs_task(timestamp: int) -> int:
    return await close_ended_jobs()


@job_app.periodic(cron="10 0 * * *", periodic_id="marketplace_analytics_rollup")
@job_app.task(queue="maintenance", queueing_lock="marketplace_analytics_rollup")
async def rollup_analytics(timestamp: int) -> int:
    """Yesterday's (UTC) platform and financial rows, rebuilt from the source tables."""
    yesterday = (utcnow() - timedelta(days=1)).date()
    async with task_database().session_scope() as session:
        _platform, financial = await analytics.rollup_day(session, yesterday)
    log.info(
        "marketplace_analytics_rolled_up", day=yesterday.isoformat(), currencies=len(financial)
    )
    return len(financial)
