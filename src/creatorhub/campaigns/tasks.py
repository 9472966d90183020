"""The campaigns' background jobs (issue 14).

Part A (lifecycle): ending campaigns whose end date has passed, provider refunds of ended
campaigns. Parts B and C add theirs below.
"""

from __future__ import annotations

import uuid

import procrastinate
import structlog

from creatorhub.campaigns import service
from creatorhub.campaigns.service import CampaignConflict
from creatorhub.jobs import job_app, task_database
from creatorhub.kit.clock import utcnow
from creatorhub.payments.providers.base import ProviderError
from creatorhub.payments.tasks import provider_in

log = structlog.get_logger(__name__)


# --- part A: the lifecycle ----------------------------------------------------------------------


@job_app.task(
    name="creatorhub.campaigns.tasks.issue_refund",
    queue="payouts",
    retry=procrastinate.RetryStrategy(
        max_attempts=8, exponential_wait=2, retry_exceptions={ProviderError}
    ),
)
async def issue_refund(campaign_id: str, stage: str, amount: int) -> str:
    """Refund `amount` of an ended, provider-funded campaign to its charge: what it did not
    spend when it ended (`end`), or what it kept back for its last views and they did not earn
    (`rest`). The provider is called outside any lock; its idempotency key is derived from the
    campaign and the stage, so a retry cannot refund twice."""
    async with task_database().session_scope() as session:
        issued = await service.issue_provider_refund(
            session,
            provider_in(session),
            uuid.UUID(campaign_id),
            stage=service.RefundStage(stage),
            amount=amount,
            now=utcnow(),
        )
    outcome = "nothing" if issued is None else "issued"
    log.info(
        "campaign_refund", campaign_id=campaign_id, stage=stage, outcome=outcome, amount=issued
    )
    return outcome


async def end_due_campaigns(limit: int = 200) -> int:
    """End every campaign whose end date has passed (refunding what was not spent), each in
    its own transaction; a campaign locked meanwhile is left to the next run."""
    database = task_database()
    now = utcnow()
    async with database.session_scope() as session:
        due = await service.ended_campaign_ids(session, now, limit=limit)
    ended = 0
    for campaign_id in due:
        try:
            async with database.session_scope() as session:
                if await service.end_if_due(session, campaign_id, now) is not None:
                    ended += 1
        except CampaignConflict as refusal:  # ended meanwhile
            log.info("campaign_end_skipped", campaign_id=str(campaign_id), code=refusal.code)
    if ended:
        log.info("campaigns_ended_at_end_date", count=ended)
    return ended


@job_app.periodic(cron="* * * * *", periodic_id="end_due_campaigns")
@job_app.task(queue="maintenance", queueing_lock="end_due_campaigns")
async def end_due_campaigns_task(timestamp: int) -> int:
    return await end_due_campaigns()


# --- part C: settlement ---------------------------------------------------------------------


@job_app.periodic(cron="17 * * * *", periodic_id="settle_campaign_views")
@job_app.task(queue="maintenance", queueing_lock="settle_campaign_views")
async def settle_campaign_views(timestamp: int) -> dict[str, int]:
    """Hourly: validate the views past their window, settle every day past it (yesterday's,
    and any earlier one left unsettled), then roll up `view_stats` of the days still moving.
    Re-running changes nothing (campaigns.settlement)."""
    from creatorhub.campaigns import settlement
    from creatorhub.jobs import task_settings

    run = await settlement.settle_now(task_database(), task_settings(), utcnow())
    counts = {
        "validated": run.validated,
        "campaigns": len(run.campaigns),
        "paid": sum(result.amount for result in run.campaigns),
        "over_cap": sum(result.over_cap for result in run.campaigns),
        "paused": sum(result.paused for result in run.campaigns),
    }
    log.info("campaign_views_settled", through=run.through.isoformat(), **counts)
    return counts


@job_app.periodic(cron="*/10 * * * *", periodic_id="roll_up_view_stats")
@job_app.task(queue="maintenance", queueing_lock="roll_up_view_stats")
async def roll_up_view_stats(timestamp: int) -> int:
    """Every ten minutes: `view_stats` of yesterday and today, from the views (the advertiser's
    stats are this fresh; settled days are rolled up by their settlement)."""
    from datetime import timedelta

    from creatorhub.campaigns import settlement

    now = utcnow()
    today = now.date()
    async with task_database().session_scope() as session:
        return await settlement.rollup_view_stats(
            session, since=today - timedelta(days=1), until=today, now=now
        )


# --- part B: tracking -----------------------------------------------------------------------


@job_app.periodic(cron="7 * * * *", periodic_id="delete_old_view_salts")
@job_app.task(queue="maintenance", queueing_lock="delete_old_view_salts")
async def delete_old_view_salts(timestamp: int) -> int:
    """Hourly: delete the visitor-hash salts of the days before yesterday, after which no
    stored hash can be recomputed from an address, and those days' dedupe keys, which no click
    looks up any more (campaigns.tracking)."""
    from creatorhub.campaigns import tracking

    today = utcnow().date()
    async with task_database().session_scope() as session:
        deleted = await tracking.delete_old_salts(session, today=today)
        keys = await tracking.delete_old_unique_views(session, today=today)
    log.info("view_salts_deleted", deleted=deleted, unique_views_deleted=keys)
    return deleted


# --- issue 15: salesman campaigns -------------------------------------------------------------


@job_app.periodic(cron="27 * * * *", periodic_id="verify_campaign_sales")
@job_app.task(queue="maintenance", queueing_lock="verify_campaign_sales")
async def verify_campaign_sales(timestamp: int) -> int:
    """Hourly: credit the commissions of the sales whose refund window has passed to their
    promoters' wallets (campaigns.sales.service); each sale once, whatever reruns."""
    from creatorhub.campaigns.sales import service as sales
    from creatorhub.jobs import task_settings

    verified = await sales.verify_all_due(task_database(), task_settings(), utcnow())
    if verified:
        log.info("campaign_sales_verified", count=verified)
    return verified


@job_app.periodic(cron="40 2 1 * *", periodic_id="summarize_campaign_billing")
@job_app.task(queue="maintenance", queueing_lock="summarize_campaign_billing")
async def summarize_campaign_billing(timestamp: int) -> int:
    """On the 1st: the month that ended, summarized for everyone from the ledger
    (`billing_period_summaries`); rerunning replaces the rows with the same figures."""
    from datetime import timedelta

    from creatorhub.campaigns.billing import service as billing
    from creatorhub.jobs import task_settings

    now = utcnow()
    last_month = (now.replace(day=1) - timedelta(days=1)).date().replace(day=1)
    async with task_database().session_scope() as session:
        rows = len(
            await billing.compute_month(
                session, last_month, minimum=task_settings().payout_minimum_amount, now=now
            )
        )
    log.info("campaign_billing_summarized", period=last_month.isoformat(), rows=rows)
    return rows
