"""Monthly billing summaries (seed 002 `billing_period_summaries`), computed from the ledger.

Two statements compute a month for everyone (or one user) from `campaigns.campaign_ledger_
movements` (migration 0023: every ledger transfer of campaign money, named funding, spend,
refund or fee) and the users' wallets: it deletes the month's rows and inserts them again, so a
recomputation gives the same rows (only `computed_at` moves), and every figure is a sum of
ledger transfers of that month (or, for `balance_end`, the wallets' balances after the month's
last transfer, from the ledger's balance chain).

Who has rows: an advertiser with campaign money moving in the month; a promoter who has ever
been paid by a campaign up to the month's end (so a month without earnings still shows their
balance and what carries forward).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.campaigns.billing.models import FIGURES
from creatorhub.kit.errors import Unprocessable

_COMPUTE = text(
    """
WITH moves AS (
    SELECT * FROM campaigns.campaign_ledger_movements
     WHERE created_at >= :start AND created_at < :stop
), advertisers AS (
    SELECT advertiser_id AS user_id, currency,
           coalesce(sum(amount) FILTER (WHERE movement = 'funding'), 0) AS funded,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'visibility'), 0) AS spent_visibility,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'consultant'), 0) AS spent_consultant,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'seller'), 0) AS spent_seller,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'salesman'), 0) AS spent_salesman,
           coalesce(sum(amount) FILTER (WHERE movement = 'refund'), 0) AS refunded,
           coalesce(sum(amount) FILTER (WHERE movement = 'fee'), 0) AS fees
      FROM moves
     WHERE CAST(:user_id AS uuid) IS NULL OR advertiser_id = :user_id
     GROUP BY advertiser_id, currency
), promoters AS (
    SELECT DISTINCT payee_id AS user_id, currency
      FROM campaigns.campaign_ledger_movements
     WHERE movement = 'spend' AND payee_id IS NOT NULL AND created_at < :stop
       AND (CAST(:user_id AS uuid) IS NULL OR payee_id = :user_id)
), earned AS (
    SELECT payee_id AS user_id, currency,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'visibility'), 0) AS visibility,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'consultant'), 0) AS consultant,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'seller'), 0) AS seller,
           coalesce(sum(amount) FILTER (WHERE movement = 'spend'
                                        AND campaign_type = 'salesman'), 0) AS salesman,
           coalesce(sum(amount) FILTER (WHERE movement = 'fee'), 0) AS fees
      FROM moves WHERE payee_id IS NOT NULL
     GROUP BY payee_id, currency
), wallets AS (
    SELECT p.user_id, p.currency, a.id AS account_id, a.kind
      FROM promoters AS p
      JOIN ledger.accounts AS a ON a.owner_type = 'user' AND a.owner_id = p.user_id
       AND a.currency = p.currency AND a.kind IN ('wallet_available', 'wallet_pending')
), paid AS (
    SELECT w.user_id, w.currency,
           coalesce(sum(t.amount) FILTER (WHERE t.kind = 'payout'
                                          AND t.debit_account_id = w.account_id), 0)
         - coalesce(sum(t.amount) FILTER (WHERE t.kind = 'payout_returned'
                                          AND t.credit_account_id = w.account_id), 0) AS paid_out
      FROM wallets AS w
      JOIN ledger.transfers AS t
        ON (t.debit_account_id = w.account_id OR t.credit_account_id = w.account_id)
       AND t.kind IN ('payout', 'payout_returned')
       AND t.created_at >= :start AND t.created_at < :stop
     WHERE w.kind = 'wallet_available'
     GROUP BY w.user_id, w.currency
), balances AS (
    SELECT w.user_id, w.currency, sum(coalesce(last.balance, 0)) AS balance_end
      FROM wallets AS w
      LEFT JOIN LATERAL (
          SELECT side.balance FROM (
              (SELECT t.debit_new_balance AS balance, t.debit_account_version AS version
                 FROM ledger.transfers AS t
                WHERE t.debit_account_id = w.account_id AND t.created_at < :stop
                ORDER BY t.debit_account_version DESC LIMIT 1)
              UNION ALL
              (SELECT t.credit_new_balance, t.credit_account_version
                 FROM ledger.transfers AS t
                WHERE t.credit_account_id = w.account_id AND t.created_at < :stop
                ORDER BY t.credit_account_version DESC LIMIT 1)
          ) AS side ORDER BY side.version DESC LIMIT 1
      ) AS last ON true
     GROUP BY w.user_id, w.currency
)
INSERT INTO campaigns.billing_period_summaries
    (user_id, period, role, currency, funded, spent_visibility, spent_consultant, spent_seller,
     spent_salesman, refunded, earned_visibility, earned_consultant, earned_seller,
     earned_salesman, fees, paid_out, balance_end, carried_forward, computed_at)
SELECT user_id, :period, 'advertiser', currency, funded, spent_visibility, spent_consultant,
       spent_seller, spent_salesman, refunded, 0, 0, 0, 0, fees, 0, 0, 0, :now
  FROM advertisers
UNION ALL
SELECT p.user_id, :period, 'promoter', p.currency, 0, 0, 0, 0, 0, 0,
       coalesce(e.visibility, 0), coalesce(e.consultant, 0), coalesce(e.seller, 0),
       coalesce(e.salesman, 0), coalesce(e.fees, 0), coalesce(d.paid_out, 0),
       coalesce(b.balance_end, 0),
       CASE WHEN coalesce(b.balance_end, 0) < :minimum THEN coalesce(b.balance_end, 0) ELSE 0 END,
       :now
  FROM promoters AS p
  LEFT JOIN earned AS e ON e.user_id = p.user_id AND e.currency = p.currency
  LEFT JOIN paid AS d ON d.user_id = p.user_id AND d.currency = p.currency
  LEFT JOIN balances AS b ON b.user_id = p.user_id AND b.currency = p.currency
RETURNING *
"""
)


_DELETE = text(
    "DELETE FROM campaigns.billing_period_summaries"
    " WHERE period = :period AND (CAST(:user_id AS uuid) IS NULL OR user_id = :user_id)"
)


def month_bounds(period: date) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's (UTC)."""
    start = datetime(period.year, period.month, 1, tzinfo=UTC)
    stop = (
        datetime(period.year + 1, 1, 1, tzinfo=UTC)
        if period.month == 12
        else datetime(period.year, period.month + 1, 1, tzinfo=UTC)
    )
    return start, stop


def parse_period(value: str) -> date:
    """`YYYY-MM` → the month's first day (422 `period_invalid` otherwise)."""
    try:
        year, month = value.split("-")
        period = date(int(year), int(month), 1)
    except ValueError:
        raise Unprocessable(
            "a period is a month: YYYY-MM", code="period_invalid", field="path.period"
        ) from None
    if not 2000 <= period.year <= 2999:
        raise Unprocessable(
            "a period is a month: YYYY-MM", code="period_invalid", field="path.period"
        )
    return period


async def compute_month(
    session: AsyncSession,
    period: date,
    *,
    minimum: int,
    now: datetime,
    user_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """(Re)compute the month's summaries: everyone's, or one user's (`user_id`). Answers the
    rows written, by user, role and currency."""
    start, stop = month_bounds(period)
    if start > now:
        raise Unprocessable(
            "that month has not started", code="period_in_future", field="path.period"
        )
    # Two statements: a row deleted and inserted again by one would meet its own key.
    await session.execute(_DELETE, {"period": period, "user_id": user_id})
    result = await session.execute(
        _COMPUTE,
        {
            "period": period,
            "start": start,
            "stop": stop,
            "minimum": minimum,
            "now": now,
            "user_id": user_id,
        },
    )
    rows = [dict(row) for row in result.mappings().all()]
    return sorted(rows, key=lambda row: (str(row["user_id"]), row["role"], row["currency"]))


CSV_COLUMNS = ("period", "role", "currency", *FIGURES)


def as_csv(rows: list[dict[str, Any]]) -> str:
    """The user's statement for a month as CSV, amounts in minor units."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [row["period"].strftime("%Y-%m"), row["role"], row["currency"]]
            + [row[name] for name in FIGURES]
        )
    return out.getvalue()
