"""Admin endpoints of seed 000's daily analytics: read the rows, recompute days.

Ranges are inclusive UTC days, `to` on or after `from`, at most `analytics.MAX_DAYS` long and
not in the future (today is allowed: its rows are partial until the day ends). The definitions
of every metric are in `creatorhub.marketplace.analytics`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from creatorhub.audit.service import record_change
from creatorhub.db import DbSession
from creatorhub.identity.deps import AdminPrincipal
from creatorhub.kit.errors import problem_responses
from creatorhub.marketplace import analytics

router = APIRouter(
    prefix="/v1/admin/marketplace/analytics",
    tags=["admin"],
    responses=problem_responses(401, 403, 422),
)


class PlatformAnalyticsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    date: date
    total_users: int
    total_artists: int = Field(description="Users with the brand role")
    total_influencers: int = Field(description="Users with the creator role")
    active_users_daily: int
    jobs_created: int
    jobs_closed: int
    total_influencer_claims: int
    system_events_logged: int
    escrow_events_logged: int
    computed_at: datetime


class FinancialAnalyticsOut(BaseModel):
    """One day's marketplace money in one currency, in integer minor units."""

    model_config = ConfigDict(from_attributes=True)

    date: date
    currency: str
    total_payouts: int = Field(description="Gross escrow releases to creators")
    payouts_count: int
    total_refunds: int = Field(description="Unfilled slots' escrow returned to brands")
    refunds_count: int
    platform_fees: int
    net_revenue: int = Field(description="What the platform kept: its fees")
    largest_single_payout: int
    largest_single_refund: int
    computed_at: datetime


class RollupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date = Field(alias="from")
    to: date


class RollupOut(BaseModel):
    days: int
    platform: list[PlatformAnalyticsOut]
    financial: list[FinancialAnalyticsOut]


FromDay = Annotated[date, Query(alias="from", description="First UTC day, YYYY-MM-DD")]
ToDay = Annotated[date, Query(description="Last UTC day (inclusive), YYYY-MM-DD")]


@router.get("/platform", response_model=list[PlatformAnalyticsOut])
async def get_platform(
    admin: AdminPrincipal, session: DbSession, from_: FromDay, to: ToDay
) -> list[PlatformAnalyticsOut]:
    """The stored daily platform rows of the range; days never rolled up are absent."""
    analytics.check_range(from_, to)
    rows = await analytics.platform_rows(session, from_, to)
    return [PlatformAnalyticsOut.model_validate(row) for row in rows]


@router.get("/financial", response_model=list[FinancialAnalyticsOut])
async def get_financial(
    admin: AdminPrincipal,
    session: DbSession,
    from_: FromDay,
    to: ToDay,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> list[FinancialAnalyticsOut]:
    """The stored daily money rows of the range, one per day and currency with activity."""
    analytics.check_range(from_, to)
    rows = await analytics.financial_rows(session, from_, to, currency)
    return [FinancialAnalyticsOut.model_validate(row) for row in rows]


@router.post("/rollup", response_model=RollupOut)
async def post_rollup(body: RollupIn, admin: AdminPrincipal, session: DbSession) -> RollupOut:
    """Recompute the range's rows from the source tables now, and return them."""
    analytics.check_range(body.from_, body.to)
    platform, financial = await analytics.rollup(session, body.from_, body.to)
    await record_change(
        session,
        action="marketplace.analytics.rollup",
        entity_type="marketplace_analytics",
        entity_id=None,
        actor_id=admin.id,
        after={"from": body.from_.isoformat(), "to": body.to.isoformat()},
    )
    return RollupOut(
        days=len(platform),
        platform=[PlatformAnalyticsOut.model_validate(row) for row in platform],
        financial=[FinancialAnalyticsOut.model_validate(row) for row in financial],
    )
