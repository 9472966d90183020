"""What the campaign stats routes show (issue 14, part C): the advertiser's daily series, totals
and spend per promoter (from `view_stats`, the allocation and the promoter campaigns: one
statement after the campaign's), and a promoter's own figures (live from their views, their
settlements and the ledger's fee transfers: one statement)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.kit.errors import NotFound, Unprocessable

MAX_RANGE_DAYS = 366


class ViewCounts(BaseModel):
    counted: int = Field(description="views counted (unique visitors per campaign and day)")
    dropped_duplicate: int
    dropped_bot: int
    dropped_rate_limited: int
    dropped_inactive: int = Field(description="clicks while the campaign was not active")
    dropped_over_cap: int = Field(description="past max_views, a promoter's cap or the budget")
    validated: int = Field(description="counted views past their validation window")
    rejected: int
    paid_views: int
    paid_amount: int = Field(description="gross paid to promoters, minor units")


class DayStats(ViewCounts):
    day: date


class PromoterSpend(BaseModel):
    promoter_campaign_id: uuid.UUID
    promoter_id: uuid.UUID
    status: str
    views_generated: int = Field(description="views counted since joining")
    spent: int = Field(description="gross paid to this promoter since joining, minor units")
    in_range: ViewCounts


class Budget(BaseModel):
    allocated: int
    spent: int
    refunded: int
    left: int


class CampaignStatsOut(BaseModel):
    campaign_id: uuid.UUID
    currency: str
    cpv: int | None
    status: str
    pause_reason: str | None
    from_day: date = Field(serialization_alias="from")
    to_day: date = Field(serialization_alias="to")
    budget: Budget | None = Field(description="None until funded")
    totals: ViewCounts
    days: list[DayStats]
    promoters: list[PromoterSpend]


class Earnings(BaseModel):
    gross: int = Field(description="what the settled views paid, minor units")
    fee: int = Field(description="the platform's fee out of it")
    net: int = Field(description="credited to the promoter's wallet (pending or available)")
    carried: int = Field(
        description="hundredths of a minor unit carried to the next settled day (0-99)"
    )


class ParticipationStatsOut(BaseModel):
    promoter_campaign_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_title: str
    currency: str
    cpv: int | None
    status: str
    counted: int = Field(description="views counted (pending + validated + paid + rejected)")
    pending: int = Field(description="counted, in their validation window")
    validated: int = Field(description="past the window, waiting for the day's settlement")
    paid: int
    rejected: int
    over_cap: int
    dropped: int = Field(description="clicks not counted: duplicates, bots, rate-limited...")
    settled_days: int
    earnings: Earnings


_COUNT_NAMES = tuple(ViewCounts.model_fields)

_CAMPAIGN = text(
    "SELECT c.id, c.advertiser_id, c.currency, c.cpv, c.status, c.pause_reason,"
    " b.allocated_amount, b.spent_amount, b.refunded_amount"
    " FROM campaigns.campaigns c"
    " LEFT JOIN campaigns.campaign_budget_allocations b ON b.campaign_id = c.id"
    " WHERE c.id = :campaign_id"
)

_PROMOTERS_WITH_DAYS = text(
    "SELECT pc.id AS promoter_campaign_id, pc.promoter_id, pc.status, pc.views_generated,"
    " pc.spent_budget, s.day, " + ", ".join(f"s.{name}" for name in _COUNT_NAMES) + " FROM"
    " campaigns.promoter_campaigns pc"
    " LEFT JOIN campaigns.view_stats s ON s.promoter_campaign_id = pc.id"
    "  AND s.day BETWEEN :from_day AND :to_day"
    " WHERE pc.campaign_id = :campaign_id ORDER BY pc.joined_at, pc.id, s.day"
)


def no_such_campaign() -> NotFound:
    # The answer for a campaign that does not exist and for another advertiser's.
    return NotFound("no such campaign", code="campaign_not_found")


def check_range(from_day: date, to_day: date) -> None:
    if from_day > to_day:
        raise Unprocessable("`from` is after `to`", code="invalid_date_range", field="query.from")
    if (to_day - from_day).days >= MAX_RANGE_DAYS:
        raise Unprocessable(
            f"at most {MAX_RANGE_DAYS} days at once", code="invalid_date_range", field="query.to"
        )


def _zero() -> dict[str, int]:
    return dict.fromkeys(_COUNT_NAMES, 0)


async def campaign_stats(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    from_day: date,
    to_day: date,
) -> CampaignStatsOut:
    """The advertiser's stats of their campaign over the days `from_day`..`to_day` (UTC), as
    of the last roll-up of `view_stats` (settlement rolls its days up; a periodic job the
    recent days); the budget and spend per promoter as they are now."""
    check_range(from_day, to_day)
    campaign = (await session.execute(_CAMPAIGN, {"campaign_id": campaign_id})).mappings().first()
    if campaign is None or campaign["advertiser_id"] != advertiser_id:
        raise no_such_campaign()
    rows = (
        (
            await session.execute(
                _PROMOTERS_WITH_DAYS,
                {"campaign_id": campaign_id, "from_day": from_day, "to_day": to_day},
            )
        )
        .mappings()
        .all()
    )
    totals = _zero()
    by_day: dict[date, dict[str, int]] = {}
    promoters: dict[uuid.UUID, PromoterSpend] = {}
    for row in rows:
        pc_id: uuid.UUID = row["promoter_campaign_id"]
        spend = promoters.get(pc_id)
        if spend is None:
            spend = promoters[pc_id] = PromoterSpend(
                promoter_campaign_id=pc_id,
                promoter_id=row["promoter_id"],
                status=row["status"],
                views_generated=row["views_generated"],
                spent=row["spent_budget"],
                in_range=ViewCounts(**_zero()),
            )
        if row["day"] is None:
            continue
        day = by_day.setdefault(row["day"], _zero())
        for name in _COUNT_NAMES:
            value = int(row[name])
            day[name] += value
            totals[name] += value
            setattr(spend.in_range, name, getattr(spend.in_range, name) + value)
    budget = None
    if campaign["allocated_amount"] is not None:
        allocated, spent, refunded = (
            int(campaign["allocated_amount"]),
            int(campaign["spent_amount"]),
            int(campaign["refunded_amount"]),
        )
        budget = Budget(
            allocated=allocated, spent=spent, refunded=refunded, left=allocated - spent - refunded
        )
    return CampaignStatsOut(
        campaign_id=campaign["id"],
        currency=campaign["currency"],
        cpv=campaign["cpv"],
        status=campaign["status"],
        pause_reason=campaign["pause_reason"],
        from_day=from_day,
        to_day=to_day,
        budget=budget,
        totals=ViewCounts(**totals),
        days=[DayStats(day=day, **counts) for day, counts in sorted(by_day.items())],
        promoters=list(promoters.values()),
    )


_PARTICIPATION = text(
    """
SELECT pc.id, pc.campaign_id, pc.status, pc.spent_budget, c.title, c.currency, c.cpv,
       v.*, s.*,
       (SELECT coalesce(sum(t.amount), 0) FROM campaigns.view_settlements f
          JOIN ledger.transfers t ON t.idempotency_key =
               'campaign-views:' || f.promoter_campaign_id || ':' || to_char(f.day, 'YYYY-MM-DD')
               || '\\:fee'
         WHERE f.promoter_campaign_id = pc.id) AS fee
FROM campaigns.promoter_campaigns pc
JOIN campaigns.campaigns c ON c.id = pc.campaign_id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE outcome IN ('pending', 'validated', 'rejected', 'paid'))
             AS counted,
           count(*) FILTER (WHERE outcome = 'pending') AS pending,
           count(*) FILTER (WHERE outcome = 'validated') AS validated,
           count(*) FILTER (WHERE outcome = 'paid') AS paid,
           count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
           count(*) FILTER (WHERE outcome = 'over_cap') AS over_cap,
           count(*) FILTER (WHERE outcome IN ('duplicate', 'bot', 'rate_limited',
                                              'campaign_inactive')) AS dropped
    FROM campaigns.views WHERE promoter_campaign_id = pc.id) v
CROSS JOIN LATERAL (
    SELECT count(*) AS settled_days, coalesce(sum(amount), 0) AS gross,
           coalesce((array_agg(carry_after ORDER BY day DESC))[1], 0) AS carried
    FROM campaigns.view_settlements WHERE promoter_campaign_id = pc.id) s
WHERE pc.id = :promoter_campaign_id AND pc.promoter_id = :promoter_id
"""
)


async def participation_stats(
    session: AsyncSession, *, promoter_campaign_id: uuid.UUID, promoter_id: uuid.UUID
) -> ParticipationStatsOut:
    """The promoter's own figures in one campaign, live: views by state and earnings (gross,
    the platform's fee, net, the fraction carried). Another promoter's is 404."""
    row = (
        (
            await session.execute(
                _PARTICIPATION,
                {"promoter_campaign_id": promoter_campaign_id, "promoter_id": promoter_id},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("you have not joined this campaign", code="participation_not_found")
    gross, fee = int(row["gross"]), int(row["fee"])
    return ParticipationStatsOut(
        promoter_campaign_id=row["id"],
        campaign_id=row["campaign_id"],
        campaign_title=row["title"],
        currency=row["currency"],
        cpv=row["cpv"],
        status=row["status"],
        counted=row["counted"],
        pending=row["pending"],
        validated=row["validated"],
        paid=row["paid"],
        rejected=row["rejected"],
        over_cap=row["over_cap"],
        dropped=row["dropped"],
        settled_days=row["settled_days"],
        earnings=Earnings(gross=gross, fee=fee, net=gross - fee, carried=int(row["carried"])),
    )
