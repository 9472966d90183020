"""The monthly statement page (issue 15): a brand's or creator's campaign money of a month, as
`GET /v1/me/billing-summaries/{YYYY-MM}` answers it (recomputed from the ledger when shown), with
the previous and next months and the CSV for their tax documentation.

* `GET /statements?period=YYYY-MM` (default: this month);
* `GET /statements/{YYYY-MM}.csv`: the same rows as CSV (an attachment).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from creatorhub.campaigns.billing import service as billing
from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.state import AppSettings
from creatorhub.web.acting import money
from creatorhub.web.render import navigation, render
from creatorhub.web.session import SignedIn, page_role

router = APIRouter(include_in_schema=False)

Statement = Annotated[SignedIn, Depends(page_role(Role.BRAND, Role.CREATOR))]
Period = Annotated[str | None, Query(max_length=7)]

navigation(Role.BRAND, "/statements", "Statements")
navigation(Role.CREATOR, "/statements", "Statements")

# What each role's rows show, in order: (column, label).
PROMOTER_LINES = (
    ("earned_visibility", "Earned: visibility campaigns (views)"),
    ("earned_consultant", "Earned: consultant campaigns"),
    ("earned_seller", "Earned: seller campaigns"),
    ("earned_salesman", "Earned: salesman campaigns (commissions)"),
    ("fees", "Platform fees"),
    ("paid_out", "Paid out"),
    ("balance_end", "Wallet at the month's end"),
    ("carried_forward", "Carried forward (below the payout minimum)"),
)
ADVERTISER_LINES = (
    ("funded", "Funded into campaigns"),
    ("spent_visibility", "Spent: visibility campaigns"),
    ("spent_consultant", "Spent: consultant campaigns"),
    ("spent_seller", "Spent: seller campaigns"),
    ("spent_salesman", "Spent: salesman campaigns"),
    ("fees", "Of the spend, platform fees"),
    ("refunded", "Refunded"),
)


def _month(period: str | None) -> date:
    return billing.parse_period(period) if period else utcnow().date().replace(day=1)


def _shift(month: date, months: int) -> date:
    if months < 0:
        return (month - timedelta(days=1)).replace(day=1)
    return (month + timedelta(days=32)).replace(day=1)


@router.get("/statements", response_class=HTMLResponse)
async def statements_page(
    request: Request,
    me: Statement,
    session: DbSession,
    settings: AppSettings,
    period: Period = None,
) -> HTMLResponse:
    month = _month(period)
    rows = await billing.compute_month(
        session,
        month,
        minimum=settings.payout_minimum_amount,
        now=utcnow(),
        user_id=me.principal.id,
    )
    following = _shift(month, 1)
    return render(
        request,
        "statements.html",
        month=month,
        rows=rows,
        previous=_shift(month, -1).strftime("%Y-%m"),
        following=following.strftime("%Y-%m") if following <= utcnow().date() else None,
        lines={"promoter": PROMOTER_LINES, "advertiser": ADVERTISER_LINES},
        minimum=settings.payout_minimum_amount,
        money=money,
    )


@router.get("/statements/{period}.csv")
async def statement_csv(
    period: str, me: Statement, session: DbSession, settings: AppSettings
) -> Response:
    month = billing.parse_period(period)
    rows = await billing.compute_month(
        session,
        month,
        minimum=settings.payout_minimum_amount,
        now=utcnow(),
        user_id=me.principal.id,
    )
    return Response(
        billing.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="creatorhub-statement-{period}.csv"',
            "Cache-Control": "no-store",
        },
    )
