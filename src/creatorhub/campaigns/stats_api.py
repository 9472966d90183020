"""Campaign stats and settlement routes (issue 14, part C).

* `GET /v1/campaigns/{campaign_id}/stats?from=&to=`: the advertiser's daily series, totals,
  budget and spend per promoter (another advertiser's campaign is 404, as one that does not
  exist);
* `GET /v1/campaigns/participations/{promoter_campaign_id}/stats`: a promoter's own views
  (counted, pending, validated, paid...) and earnings (gross, fee, net, the fraction carried);
* `POST /v1/admin/campaigns/settle`: an admin runs validation and settlement now, through a
  day (default: every day past its validation window); what the hourly job does.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from creatorhub.campaigns import settlement, stats
from creatorhub.db import DbSession
from creatorhub.identity.deps import AdminPrincipal, require_roles
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unprocessable, problem_responses
from creatorhub.kit.state import AppDatabase, AppSettings

responses = problem_responses(401, 403, 404, 422)
router = APIRouter(tags=["campaigns"], responses=responses)

Advertiser = Annotated[Principal, Depends(require_roles(Role.BRAND))]
Promoter = Annotated[Principal, Depends(require_roles(Role.CREATOR))]
DEFAULT_DAYS = 30


@router.get(
    "/v1/campaigns/{campaign_id}/stats",
    response_model=stats.CampaignStatsOut,
    response_model_by_alias=True,
    summary="A campaign's views and spend by day and promoter (its advertiser)",
)
async def campaign_stats(
    campaign_id: uuid.UUID,
    session: DbSession,
    me: Advertiser,
    from_day: Annotated[date | None, Query(alias="from")] = None,
    to_day: Annotated[date | None, Query(alias="to")] = None,
) -> stats.CampaignStatsOut:
    """Days are UTC; by default the last 30 days through today. The counts are `view_stats`
    as last rolled up (settlement rolls up what it settles, the hourly job the recent days)."""
    today = utcnow().date()
    to_day = to_day or today
    from_day = from_day or to_day - timedelta(days=DEFAULT_DAYS - 1)
    return await stats.campaign_stats(
        session, campaign_id=campaign_id, advertiser_id=me.id, from_day=from_day, to_day=to_day
    )


@router.get(
    "/v1/campaigns/participations/{promoter_campaign_id}/stats",
    response_model=stats.ParticipationStatsOut,
    summary="The promoter's own views and earnings in one campaign",
)
async def participation_stats(
    promoter_campaign_id: uuid.UUID, session: DbSession, me: Promoter
) -> stats.ParticipationStatsOut:
    return await stats.participation_stats(
        session, promoter_campaign_id=promoter_campaign_id, promoter_id=me.id
    )


class SettleBody(BaseModel):
    day: date | None = Field(
        default=None,
        description="settle every unsettled day through this one (UTC); default: every day"
        " past its validation window",
    )


class SettledCampaign(BaseModel):
    campaign_id: uuid.UUID
    days: int = Field(description="promoter-days settled")
    paid_views: int
    over_cap: int
    amount: int
    paused: bool


class SettleOut(BaseModel):
    through: date
    validated: int = Field(description="views validated by this run")
    campaigns: list[SettledCampaign]


@router.post(
    "/v1/admin/campaigns/settle",
    response_model=SettleOut,
    summary="Validate due views and settle campaigns now (admin)",
)
async def settle(
    body: SettleBody, me: AdminPrincipal, database: AppDatabase, settings: AppSettings
) -> SettleOut:
    """What the hourly job does, now. Re-running changes nothing (each promoter's day is
    settled once); a day whose views are still in their validation window is refused (422
    `day_in_validation_window`): settling it would leave its later-validated views unpaid."""
    now = utcnow()
    window = settlement.validation_window(settings)
    last = settlement.settleable_through(now, window)
    if body.day is not None and body.day > last:
        raise Unprocessable(
            f"views of {body.day} are still in their validation window; the last day that can"
            f" be settled is {last}",
            code="day_in_validation_window",
            field="body.day",
        )
    run = await settlement.settle_due(
        database,
        now=now,
        window=window,
        hold_days=settings.earnings_hold_days,
        fee_shards=settings.fee_shards,
        through=body.day,
        by=me.id,
    )
    return SettleOut(
        through=run.through,
        validated=run.validated,
        campaigns=[
            SettledCampaign(
                campaign_id=result.campaign_id,
                days=len(result.days),
                paid_views=sum(d.paid_views for d in result.days),
                over_cap=result.over_cap,
                amount=result.amount,
                paused=result.paused,
            )
            for result in run.campaigns
        ],
    )
