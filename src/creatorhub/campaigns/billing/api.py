"""Billing summaries (issue 15): each user's monthly statement of campaign money, as JSON or
CSV (their tax documentation), and the administrators' recomputation of a month.

A user's statement is recomputed from the ledger when they ask for it (the figures of a month
still running move until it ends); the monthly job recomputes the month that ended for
everyone."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field

from creatorhub.campaigns.billing import service
from creatorhub.db import DbSession
from creatorhub.identity.deps import AdminPrincipal, CurrentPrincipal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.state import AppSettings

router = APIRouter(tags=["campaign billing"], responses=problem_responses(401, 403, 422))

Period = Annotated[str, Path(min_length=7, max_length=7, description="YYYY-MM")]


class SummaryOut(BaseModel):
    user_id: uuid.UUID
    period: date
    role: str = Field(description="promoter or advertiser")
    currency: str
    funded: int
    spent_visibility: int
    spent_consultant: int
    spent_seller: int
    spent_salesman: int
    refunded: int
    earned_visibility: int
    earned_consultant: int
    earned_seller: int
    earned_salesman: int
    fees: int = Field(
        description="the platform's fees: on a promoter's earnings, or within an advertiser's spend"
    )
    paid_out: int
    balance_end: int = Field(description="a promoter's wallets at the month's end")
    carried_forward: int = Field(description="that balance when below the payout minimum")
    computed_at: datetime


class SummariesOut(BaseModel):
    items: list[SummaryOut]


class RecomputedOut(BaseModel):
    period: date
    rows: int


def _items(rows: list[dict[str, Any]]) -> SummariesOut:
    return SummariesOut(items=[SummaryOut.model_validate(row) for row in rows])


async def _mine(
    session: DbSession, settings: AppSettings, principal: CurrentPrincipal, period: str
) -> list[dict[str, Any]]:
    return await service.compute_month(
        session,
        service.parse_period(period),
        minimum=settings.payout_minimum_amount,
        now=utcnow(),
        user_id=principal.id,
    )


@router.get(
    "/v1/me/billing-summaries/{period}",
    response_model=SummariesOut,
    summary="Your campaign statement of a month",
)
async def my_summary(
    period: Period, principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> SummariesOut:
    """A row per role you had (promoter, advertiser) and currency; amounts in minor units."""
    return _items(await _mine(session, settings, principal, period))


@router.get(
    "/v1/me/billing-summaries/{period}/csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the statement as CSV"}},
    summary="Your campaign statement of a month, as CSV",
)
async def my_summary_csv(
    period: Period, principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> Response:
    rows = await _mine(session, settings, principal, period)
    return Response(
        service.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="creatorhub-statement-{period}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/v1/admin/billing-summaries/{period}",
    response_model=RecomputedOut,
    summary="Recompute a month's summaries for everyone",
)
async def recompute(
    period: Period, principal: AdminPrincipal, session: DbSession, settings: AppSettings
) -> RecomputedOut:
    month = service.parse_period(period)
    rows = await service.compute_month(
        session, month, minimum=settings.payout_minimum_amount, now=utcnow()
    )
    return RecomputedOut(period=month, rows=len(rows))
