"""Seed 000's daily analytics: `platform_analytics` and `financial_analytics`, rebuilt from sources.

A day is the UTC day [day 00:00, day+1 00:00). A rollup recomputes whole days from the source
tables and upserts them, so re-running a day gives the same rows (only `computed_at` changes),
and late-arriving source rows are picked up by the next run. Each table is computed by one
set-based statement for the whole range of days, whatever its length.

Platform metrics (one row per day):

- total_users, total_artists, total_influencers: `identity.users` created before the end of the
  day and not deleted by then (`deleted_at` unset or later). Suspended and banned accounts still
  exist and are counted. Artists are users with the `brand` role, influencers those with the
  `creator` role (a user with both counts in both); roles are not historized, so a past day uses
  each user's roles as they are now. Rows erased for good are no longer counted on any day.
- active_users_daily: distinct users who did something that day: an auth session created or
  refreshed (`identity.auth_sessions.created_at` / `last_refreshed_at`), a claim, a content
  submission, or a job created. A session keeps only its latest refresh, so a day is most exact
  when rolled up soon after it ends (the nightly run).
- jobs_created / jobs_closed: `marketplace.jobs` by `created_at` / `closed_at` (jobs created and
  never funded count too: creating one is the brand's action).
- total_influencer_claims: `marketplace.claims` by `claimed_at`.
- system_events_logged: `audit.system_logs` by `log_time`, every component: the seed's one
  system_logs table held every blocked action, the wallet's included.
- escrow_events_logged: `marketplace.escrow_events` by `created_at`.

Financial metrics (one row per day and currency, in integer minor units), from the ledger's
transfers by their `created_at`: the ledger is where money moves, the marketplace's rows only
record it.

- total_payouts / payouts_count / largest_single_payout: transfers of kind `escrow_release`
  referencing an `influencer_job`: the gross amount a job's escrow released to a creator when the
  brand approved their content.
- platform_fees: transfers of kind `platform_fee` referencing an `influencer_job`: the fee taken
  from those releases.
- total_refunds / refunds_count / largest_single_refund: transfers of kind `refund` referencing
  an `unfilled_refund`: a job's unspent escrow going back to the brand.
- net_revenue = platform_fees. The fees are the platform's only marketplace revenue; payouts and
  refunds are the brands' money passing through the platform, not income.

A currency with no such transfer on a day has no row for that day; a row left by an earlier run
for a day and currency that no longer has activity is deleted, so "no row" always means "none".

These are read-only reporting queries over other modules' tables (identity, audit, ledger): one
statement per table is only possible by reading them directly, which the module rule (reach
another module through its services) gives up here on purpose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unprocessable
from creatorhub.marketplace.models import FinancialAnalytics, PlatformAnalytics

# The longest range of days read or recomputed at once.
MAX_DAYS = 366


def check_range(first: date, last: date) -> None:
    """422 unless first..last is a range of at most MAX_DAYS days, none of them in the future."""
    if last < first:
        raise Unprocessable(
            "`to` must be on or after `from`", code="invalid_date_range", field="to"
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise Unprocessable(
            f"a range covers at most {MAX_DAYS} days", code="date_range_too_long", field="to"
        )
    # last >= first here, so a future `from` implies a future `to`.
    if last > utcnow().date():
        raise Unprocessable(
            "the range must not reach past today (UTC)", code="date_in_future", field="to"
        )


# Rollups of overlapping days in concurrent transactions would each delete and upsert from
# their own snapshot; one at a time, the last to commit is the freshest.
ROLLUP_LOCK_KEY = int.from_bytes(b"mkt-anly", "big", signed=True)

# Every source is filtered by a plain range on its timestamp (:lo <= ts < :hi, so an index on
# it is used where there is one) and grouped by the UTC calendar day of that timestamp, whatever
# the session's TimeZone.
PLATFORM_SQL = """
WITH days AS (
    SELECT CAST(d AS date) AS day
    FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
),
-- A user exists from created_at until deleted_at: +1 on the day created, -1 on the day
-- deleted, and the running sum over the days is the count at each day's end. Changes before
-- the first day all fold into it, so users are read once, not once per day.
user_changes AS (
    SELECT greatest(change_day, CAST(:first AS date)) AS day,
           sum(delta) AS users,
           sum(delta) FILTER (WHERE 'brand' = ANY (roles)) AS artists,
           sum(delta) FILTER (WHERE 'creator' = ANY (roles)) AS influencers
    FROM (
        SELECT CAST(created_at AT TIME ZONE 'UTC' AS date) AS change_day, 1 AS delta, roles
        FROM identity.users WHERE created_at < :hi
        UNION ALL
        SELECT CAST(deleted_at AT TIME ZONE 'UTC' AS date), -1, roles
        FROM identity.users WHERE deleted_at < :hi AND created_at < :hi
    ) AS changes
    GROUP BY 1
),
active AS (
    SELECT CAST(at AT TIME ZONE 'UTC' AS date) AS day, count(DISTINCT user_id) AS n
    FROM (
        SELECT user_id, created_at AS at FROM identity.auth_sessions
        WHERE created_at >= :lo AND created_at < :hi
        UNION ALL
        SELECT user_id, last_refreshed_at FROM identity.auth_sessions
        WHERE last_refreshed_at >= :lo AND last_refreshed_at < :hi
        UNION ALL
        SELECT influencer_id, claimed_at FROM marketplace.claims
        WHERE claimed_at >= :lo AND claimed_at < :hi
        UNION ALL
        SELECT user_uid, submitted_at FROM marketplace.content_submissions
        WHERE submitted_at >= :lo AND submitted_at < :hi
        UNION ALL
        SELECT creator_uid, created_at FROM marketplace.jobs
        WHERE created_at >= :lo AND created_at < :hi
    ) AS acts
    GROUP BY 1
),
jobs_created AS (
    SELECT CAST(created_at AT TIME ZONE 'UTC' AS date) AS day, count(*) AS n
    FROM marketplace.jobs WHERE created_at >= :lo AND created_at < :hi GROUP BY 1
),
jobs_closed AS (
    SELECT CAST(closed_at AT TIME ZONE 'UTC' AS date) AS day, count(*) AS n
    FROM marketplace.jobs WHERE closed_at >= :lo AND closed_at < :hi GROUP BY 1
),
claims AS (
    SELECT CAST(claimed_at AT TIME ZONE 'UTC' AS date) AS day, count(*) AS n
    FROM marketplace.claims WHERE claimed_at >= :lo AND claimed_at < :hi GROUP BY 1
),
system_events AS (
    SELECT CAST(log_time AT TIME ZONE 'UTC' AS date) AS day, count(*) AS n
    FROM audit.system_logs WHERE log_time >= :lo AND log_time < :hi GROUP BY 1
),
escrow_events AS (
    SELECT CAST(created_at AT TIME ZONE 'UTC' AS date) AS day, count(*) AS n
    FROM marketplace.escrow_events WHERE created_at >= :lo AND created_at < :hi GROUP BY 1
)
INSERT INTO marketplace.platform_analytics AS pa
    (date, total_users, total_artists, total_influencers, active_users_daily, jobs_created,
     jobs_closed, total_influencer_claims, system_events_logged, escrow_events_logged, computed_at)
SELECT days.day,
       CAST(coalesce(sum(user_changes.users) OVER running, 0) AS integer),
       CAST(coalesce(sum(user_changes.artists) OVER running, 0) AS integer),
       CAST(coalesce(sum(user_changes.influencers) OVER running, 0) AS integer),
       coalesce(active.n, 0), coalesce(jobs_created.n, 0), coalesce(jobs_closed.n, 0),
       coalesce(claims.n, 0), coalesce(system_events.n, 0), coalesce(escrow_events.n, 0), now()
FROM days
LEFT JOIN user_changes ON user_changes.day = days.day
LEFT JOIN active ON active.day = days.day
LEFT JOIN jobs_created ON jobs_created.day = days.day
LEFT JOIN jobs_closed ON jobs_closed.day = days.day
LEFT JOIN claims ON claims.day = days.day
LEFT JOIN system_events ON system_events.day = days.day
LEFT JOIN escrow_events ON escrow_events.day = days.day
WINDOW running AS (ORDER BY days.day)
ON CONFLICT (date) DO UPDATE SET
    total_users = EXCLUDED.total_users, total_artists = EXCLUDED.total_artists,
    total_influencers = EXCLUDED.total_influencers,
    active_users_daily = EXCLUDED.active_users_daily, jobs_created = EXCLUDED.jobs_created,
    jobs_closed = EXCLUDED.jobs_closed, total_influencer_claims = EXCLUDED.total_influencer_claims,
    system_events_logged = EXCLUDED.system_events_logged,
    escrow_events_logged = EXCLUDED.escrow_events_logged, computed_at = EXCLUDED.computed_at
RETURNING pa.*
"""

# ledger.transfers has no index on created_at: this scans the marketplace's transfers (by the
# (reference_type, reference_id) index) or the table, once per rollup whatever the number of days.
FINANCIAL_SQL = """
WITH moves AS (
    SELECT CAST(created_at AT TIME ZONE 'UTC' AS date) AS day, currency, amount,
           CASE kind WHEN 'escrow_release' THEN 'payout' WHEN 'platform_fee' THEN 'fee'
                     ELSE 'refund' END AS what
    FROM ledger.transfers
    WHERE created_at >= :lo AND created_at < :hi
      AND ((kind IN ('escrow_release', 'platform_fee') AND reference_type = 'influencer_job')
           OR (kind = 'refund' AND reference_type = 'unfilled_refund'))
      -- Jobs are priced in ISO currencies; a CREDIT row would break the table's check and with
      -- it the whole day's rollup.
      AND currency ~ '^[A-Z]{3}$'
),
daily AS (
    SELECT day, currency,
           coalesce(sum(amount) FILTER (WHERE what = 'payout'), 0) AS total_payouts,
           count(*) FILTER (WHERE what = 'payout') AS payouts_count,
           coalesce(sum(amount) FILTER (WHERE what = 'refund'), 0) AS total_refunds,
           count(*) FILTER (WHERE what = 'refund') AS refunds_count,
           coalesce(sum(amount) FILTER (WHERE what = 'fee'), 0) AS platform_fees,
           coalesce(max(amount) FILTER (WHERE what = 'payout'), 0) AS largest_single_payout,
           coalesce(max(amount) FILTER (WHERE what = 'refund'), 0) AS largest_single_refund
    FROM moves
    GROUP BY day, currency
),
-- Rows of an earlier run whose day and currency have no activity any more. (Same snapshot as
-- the insert below, and disjoint from it: no row is both deleted and upserted.)
stale AS (
    DELETE FROM marketplace.financial_analytics AS f
    WHERE f.date BETWEEN CAST(:first AS date) AND CAST(:last AS date)
      AND NOT EXISTS (SELECT 1 FROM daily WHERE daily.day = f.date
                                            AND daily.currency = f.currency)
)
INSERT INTO marketplace.financial_analytics AS fa
    (date, currency, total_payouts, payouts_count, total_refunds, refunds_count, platform_fees,
     net_revenue, largest_single_payout, largest_single_refund, computed_at)
SELECT day, currency, total_payouts, payouts_count, total_refunds, refunds_count, platform_fees,
       platform_fees, largest_single_payout, largest_single_refund, now()
FROM daily
ON CONFLICT (date, currency) DO UPDATE SET
    total_payouts = EXCLUDED.total_payouts, payouts_count = EXCLUDED.payouts_count,
    total_refunds = EXCLUDED.total_refunds, refunds_count = EXCLUDED.refunds_count,
    platform_fees = EXCLUDED.platform_fees, net_revenue = EXCLUDED.net_revenue,
    largest_single_payout = EXCLUDED.largest_single_payout,
    largest_single_refund = EXCLUDED.largest_single_refund, computed_at = EXCLUDED.computed_at
RETURNING fa.*
"""


def _bounds(first: date, last: date) -> dict[str, object]:
    if last < first:
        raise Unprocessable("the last day is before the first", code="invalid_date_range")
    return {
        "first": first,
        "last": last,
        "lo": datetime.combine(first, time(), UTC),
        "hi": datetime.combine(last + timedelta(days=1), time(), UTC),
    }


async def rollup(
    session: AsyncSession, first: date, last: date
) -> tuple[list[PlatformAnalytics], list[FinancialAnalytics]]:
    """Recompute and upsert the days first..last (inclusive); their rows, by date (and currency)."""
    params = _bounds(first, last)
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROLLUP_LOCK_KEY})
    # populate_existing: rows of these days already in the session take the new values.
    platform = list(
        await session.scalars(
            select(PlatformAnalytics)
            .from_statement(text(PLATFORM_SQL).bindparams(**params))
            .execution_options(populate_existing=True)
        )
    )
    financial = list(
        await session.scalars(
            select(FinancialAnalytics)
            .from_statement(text(FINANCIAL_SQL).bindparams(**params))
            .execution_options(populate_existing=True)
        )
    )
    platform.sort(key=lambda row: row.date)
    financial.sort(key=lambda row: (row.date, row.currency))
    return platform, financial


async def rollup_day(
    session: AsyncSession, day: date
) -> tuple[PlatformAnalytics, list[FinancialAnalytics]]:
    """Recompute one UTC day: its platform row and its financial rows (one per currency)."""
    platform, financial = await rollup(session, day, day)
    return platform[0], financial


async def rollup_range(session: AsyncSession, start: date, end: date) -> int:
    """Recompute the days start..end (inclusive); the number of days rolled up."""
    await rollup(session, start, end)
    return (end - start).days + 1


async def platform_rows(session: AsyncSession, start: date, end: date) -> list[PlatformAnalytics]:
    """The stored platform rows of start..end (inclusive), by date (days not rolled up: none)."""
    rows = await session.scalars(
        select(PlatformAnalytics)
        .where(PlatformAnalytics.date.between(start, end))
        .order_by(PlatformAnalytics.date)
    )
    return list(rows)


async def financial_rows(
    session: AsyncSession, start: date, end: date, currency: str | None = None
) -> list[FinancialAnalytics]:
    """The stored financial rows of start..end (inclusive), by date and currency."""
    query = select(FinancialAnalytics).where(FinancialAnalytics.date.between(start, end))
    if currency is not None:
        query = query.where(FinancialAnalytics.currency == currency)
    rows = await session.scalars(
        query.order_by(FinancialAnalytics.date, FinancialAnalytics.currency)
    )
    return list(rows)


__all__ = [
    "financial_rows",
    "platform_rows",
    "rollup",
    "rollup_day",
    "rollup_range",
]
