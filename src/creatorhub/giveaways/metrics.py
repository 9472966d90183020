"""Seed 003 `SystemMetrics`: a day's figures, computed from the source tables.

* `daily_draws`: draws completed that day (UTC);
* `user_signups`: accounts created that day;
* `revenue`: credit packs sold that day, per currency (minor units; the ledger's transfers);
* `avg_participants_per_draw`: the entries of that day's completed draws, averaged, rounded
  down to a whole entrant (integers only);
* `error_rate`: of that day's finished draws (completed or failed), the failed share in basis
  points (0 when none finished).

Re-running a day replaces its rows with the same values (deleted, then inserted again).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CLEAR_DAY = text("DELETE FROM giveaways.system_metrics WHERE day = :day")

_COMPUTE_DAY = text(
    """
WITH bounds AS (
    SELECT (CAST(:day AS date)::timestamp AT TIME ZONE 'UTC') AS day_start,
           ((CAST(:day AS date) + 1)::timestamp AT TIME ZONE 'UTC') AS day_end
), finished AS (
    SELECT d.status, d.entries_count
      FROM giveaways.draws d, bounds b
     WHERE (d.status = 'completed' AND d.executed_at >= b.day_start AND d.executed_at < b.day_end)
        OR (d.status = 'failed' AND d.created_at >= b.day_start AND d.created_at < b.day_end)
), figures AS (
    SELECT 'daily_draws' AS metric_type, '' AS currency,
           count(*) FILTER (WHERE status = 'completed') AS value,
           jsonb_build_object('date', CAST(:day AS date)) AS metadata
      FROM finished
    UNION ALL
    SELECT 'avg_participants_per_draw', '',
           coalesce(sum(entries_count) FILTER (WHERE status = 'completed')
                    / nullif(count(*) FILTER (WHERE status = 'completed'), 0), 0),
           jsonb_build_object('date', CAST(:day AS date),
                              'draws', count(*) FILTER (WHERE status = 'completed'))
      FROM finished
    UNION ALL
    SELECT 'error_rate', '',
           coalesce(count(*) FILTER (WHERE status = 'failed') * 10000 / nullif(count(*), 0), 0),
           jsonb_build_object('date', CAST(:day AS date), 'unit', 'basis_points',
                              'failed', count(*) FILTER (WHERE status = 'failed'),
                              'finished', count(*))
      FROM finished
    UNION ALL
    SELECT 'user_signups', '', count(*), jsonb_build_object('date', CAST(:day AS date))
      FROM identity.users u, bounds b
     WHERE u.created_at >= b.day_start AND u.created_at < b.day_end
    UNION ALL
    SELECT 'revenue', t.currency, sum(t.amount),
           jsonb_build_object('date', CAST(:day AS date), 'packs', count(*))
      FROM ledger.transfers t, bounds b
     WHERE t.kind = 'giveaway_credit_purchase' AND t.currency <> 'CREDIT'
       AND t.created_at >= b.day_start AND t.created_at < b.day_end
     GROUP BY t.currency
)
INSERT INTO giveaways.system_metrics (metric_type, day, currency, value, metadata)
SELECT metric_type, CAST(:day AS date), currency, value, metadata FROM figures
RETURNING metric_type, currency, value
"""
)


async def compute_day(session: AsyncSession, day: date) -> dict[str, Any]:
    """Write the day's rows (replacing any of an earlier run): {metric: value}, revenue as
    {currency: amount}."""
    # Two statements: a row deleted and inserted again by one would meet its own key.
    await session.execute(_CLEAR_DAY, {"day": day})
    rows = (await session.execute(_COMPUTE_DAY, {"day": day})).all()
    figures: dict[str, Any] = {"revenue": {}}
    for metric, currency, value in rows:
        if metric == "revenue":
            figures["revenue"][currency] = int(value)
        else:
            figures[metric] = int(value)
    return figures


async def list_days(session: AsyncSession, first: date, last: date) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT metric_type, day, currency, value, metadata FROM giveaways.system_metrics"
            " WHERE day BETWEEN :first AND :last ORDER BY day, metric_type, currency"
        ),
        {"first": first, "last": last},
    )
    return [{**row._asdict(), "day": row.day.isoformat()} for row in rows]
