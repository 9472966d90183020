"""The campaigns' background jobs (issue 14): being written."""

from __future__ import annotations

import structlog

from creatorhub.jobs import job_app, task_database
from creatorhub.kit.clock import utcnow

log = structlog.get_logger(__name__)


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
