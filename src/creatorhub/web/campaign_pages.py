"""The advertiser's campaign pages (issue 14): their campaigns by status with the wallet, a new
campaign (visibility, consultant and seller work with its budget range, or salesman with its
commission: issue 15), and one campaign's dashboard (budget, buttons that fund, pause, resume
and end it, spend per promoter, and views and spend per day as a chart; for consultant and
seller work its applications and deliverables instead, whose forms are campaign_work_pages';
for a salesman campaign its sales, webhook and import, whose forms are campaign_sales_pages').

Every handler calls the campaign services the API calls (`campaigns.service`,
`campaigns.stats`), never the API over HTTP, as the signed-in brand. Another advertiser's
campaign answers 404, like one that does not exist (the service's `campaign_not_found`). A form
that fails comes back with what was typed and the message next to its field (422); a service
refusal raises its Problem, shown as an error page, and the request's transaction rolls back.

Double submission: each button's effect is guarded by the service's state check under the
campaign's row lock (funding a funded campaign is 409 `campaign_not_draft`, and the ledger
transfer has a per-campaign idempotency key besides; pausing a paused one 409
`campaign_not_active`; ending an ended one 409), so a second click moves no money twice.

The chart is an inline SVG drawn on the server (no script, no external asset): `role="img"`
with a title and a description, and the same figures in a table below it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.campaigns import service, stats
from creatorhub.campaigns.models import CampaignStatus, CampaignType
from creatorhub.campaigns.schemas import CampaignCreate
from creatorhub.campaigns.service.common import ENDED
from creatorhub.campaigns.service.lifecycle import visibility_budget
from creatorhub.campaigns.work.models import WORK_TYPES
from creatorhub.campaigns.work.service import reads as work_reads
from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Problem
from creatorhub.payments import wallet
from creatorhub.payments.schemas import check_currency
from creatorhub.web.account import problem_field
from creatorhub.web.acting import field_errors, may_act, minor_units, money, refusals_as_pages
from creatorhub.web.campaign_chart import chart_of
from creatorhub.web.campaign_sales_view import brand_sales, sales_words, salesman_fields
from creatorhub.web.campaign_work_view import presented, words
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, navigation, render
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

Brand = Annotated[SignedIn, Depends(page_role(Role.BRAND))]
Short = Annotated[str, Form(max_length=200)]
# The dashboard lists this many campaigns, newest first (the API pages through all of them).
DASHBOARD_CAMPAIGNS = 100
# The chart shows at most this many days, through today.
CHART_DAYS = 30

navigation(Role.BRAND, "/brand/campaigns", "Campaigns")

FLASHES.update(
    {
        "campaign_created": ("ok", "The campaign is saved as a draft. Fund it to start it."),
        "campaign_funded": ("ok", "The campaign is funded from your wallet and active."),
        "campaign_not_draft": ("ok", "The campaign was funded already; nothing more was taken."),
        "campaign_paused": ("ok", "The campaign is paused: views do not count until it resumes."),
        "campaign_resumed": ("ok", "The campaign is active again."),
        "campaign_ended": ("ok", "The campaign has ended; what was not spent is refunded."),
        "campaign_ended_keeping": (
            "ok",
            "The campaign has ended. What its views still in validation can earn stays in"
            " escrow until they are settled; the rest is refunded, and so will be what they"
            " do not earn.",
        ),
        "campaign_cancelled": ("ok", "The draft is cancelled; no money had moved."),
        "campaign_already_ended": ("ok", "The campaign had ended already; nothing changed."),
    }
)

STATUS_LABELS = {
    "draft": "Draft: not funded",
    "active": "Active",
    "paused": "Paused",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
PAUSE_REASONS = {
    "advertiser": "paused by you",
    "budget_spent": "the budget is spent",
    "max_views": "every view it pays for is counted",
}


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


# --- the dashboard ---------------------------------------------------------------------------


@router.get("/brand/campaigns", response_class=HTMLResponse)
async def campaigns_dashboard(request: Request, me: Brand, session: DbSession) -> HTMLResponse:
    views = await service.advertiser_campaigns(
        session, me.principal.id, limit=DASHBOARD_CAMPAIGNS + 1, after=None
    )
    shown = views[:DASHBOARD_CAMPAIGNS]
    currency = shown[0].campaign.currency if shown else "USD"
    summary = await wallet.summary(session, me.principal.id, currency)
    groups = [
        ("active", "Active", [v for v in shown if v.campaign.status == CampaignStatus.ACTIVE]),
        ("paused", "Paused", [v for v in shown if v.campaign.status == CampaignStatus.PAUSED]),
        ("draft", "Drafts", [v for v in shown if v.campaign.status == CampaignStatus.DRAFT]),
        (
            "ended",
            "Ended",
            [v for v in shown if v.campaign.status in ENDED],
        ),
    ]
    return render(
        request,
        "campaign_brand_list.html",
        wallet=summary,
        groups=groups,
        more=len(views) > DASHBOARD_CAMPAIGNS,
        money=money,
        labels=STATUS_LABELS,
    )


# --- a new campaign -------------------------------------------------------------------------------

FIELDS = (
    "type",
    "title",
    "description",
    "destination_url",
    "cpv",
    "currency",
    "max_views",
    "max_views_per_promoter",
    "starts_on",
    "ends_on",
    "min_budget",
    "max_budget",
    "commission",
    "tracking_method",
    "budget",
    "shop_url",
)
# The types the form starts: visibility (views bought at a price), work in a budget range, or
# a commission on each sale (salesman).
FORM_TYPES = ("visibility", *WORK_TYPES, "salesman")


def _new_form(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    budget: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    defaults = {
        "type": "visibility",
        "currency": "USD",
        "max_views": "1000",
        "tracking_method": "ref_link",
    }
    return render(
        request,
        "campaign_brand_new.html",
        status_code,
        values={**dict.fromkeys(FIELDS, ""), **defaults, **(values or {})},
        errors=errors or {},
        budget=budget,
    )


def _day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%d").date()  # noqa: DTZ007 - a day, read as UTC


def _range_fields(values: dict[str, str], body: dict[str, Any], errors: dict[str, str]) -> None:
    """A consultant or seller campaign's range, typed in the currency (its budget is the
    range's top, the service's default)."""
    for name, noun in (("min_budget", "minimum budget"), ("max_budget", "maximum budget")):
        if "currency" in errors:
            return
        try:
            body[name] = minor_units(values[name], body["currency"], noun=noun)
        except ValueError as error:
            errors[name] = str(error)


def _visibility_fields(
    values: dict[str, str], body: dict[str, Any], errors: dict[str, str]
) -> None:
    body["destination_url"] = values["destination_url"].strip()
    if "currency" not in errors:
        try:
            body["cpv"] = minor_units(values["cpv"], body["currency"], noun="price per 100 views")
        except ValueError as error:
            errors["cpv"] = str(error)
    for name, label, optional in (
        ("max_views", "the number of views", False),
        ("max_views_per_promoter", "the views per promoter", True),
    ):
        text = values[name].strip().replace(",", "")
        if optional and not text:
            continue
        try:
            body[name] = int(text)
        except ValueError:
            errors[name] = f"Enter {label} as a whole number."


# The API's fields by the form's names (a salesman campaign's destination is its shop).
_FIELD_NAMES = {
    False: {"starts_at": "starts_on", "ends_at": "ends_on"},
    True: {
        "starts_at": "starts_on",
        "ends_at": "ends_on",
        "commission_per_sale": "commission",
        "destination_url": "shop_url",
    },
}


def _campaign_create(
    values: dict[str, str], now: datetime
) -> tuple[CampaignCreate | None, dict[str, str], str | None]:
    """The form's values as the API's request model, or a message per field at fault; with
    the budget the campaign will take (when the rate and the views are readable)."""
    errors: dict[str, str] = {}
    kind = values["type"] if values["type"] in FORM_TYPES else "visibility"
    body: dict[str, Any] = {
        "type": kind,
        "title": values["title"].strip(),
        "description": values["description"].strip(),
        "currency": values["currency"].strip().upper(),
    }
    try:
        body["currency"] = check_currency(body["currency"])
    except ValueError as error:
        errors["currency"] = str(error)[:1].upper() + str(error)[1:] + "."
    if kind in WORK_TYPES:
        _range_fields(values, body, errors)
    elif kind == CampaignType.SALESMAN:
        salesman_fields(values, body, errors)
    else:
        _visibility_fields(values, body, errors)
    try:
        starts = _day(values["starts_on"])
        # A start today starts now (midnight has passed); a later one at its midnight (UTC).
        if starts is not None and starts > now.date():
            body["starts_at"] = datetime.combine(starts, time(), tzinfo=UTC)
        elif starts is not None and starts < now.date():
            errors["starts_on"] = "Choose today or a later day."
    except ValueError:
        errors["starts_on"] = "Choose the first day, or leave it empty to start at once."
    try:
        ends = _day(values["ends_on"])
        if ends is None:
            errors["ends_on"] = "Choose the last day of the campaign."
        else:
            body["ends_at"] = datetime.combine(ends, time(23, 59, 59), tzinfo=UTC)
    except ValueError:
        errors["ends_on"] = "Choose the last day of the campaign."
    budget = None
    cpv, views = body.get("cpv"), body.get("max_views")
    if isinstance(cpv, int) and isinstance(views, int) and cpv > 0 and views > 0:
        budget = money(visibility_budget(cpv, views), body["currency"])
    if isinstance(body.get("max_budget"), int):
        budget = money(body["max_budget"], body["currency"])
    if kind == CampaignType.SALESMAN and isinstance(body.get("budget"), int):
        budget = money(body["budget"], body["currency"])
    try:
        draft = CampaignCreate.model_validate(body)
    except ValidationError as error:
        names = _FIELD_NAMES[kind == CampaignType.SALESMAN]
        for field, message in field_errors(error, names=names).items():
            errors.setdefault(field if field in FIELDS else "form", message)
        return None, errors, budget
    return (None, errors, budget) if errors else (draft, errors, budget)


@router.get("/brand/campaigns/new", response_class=HTMLResponse)
async def new_campaign_form(request: Request, me: Brand) -> HTMLResponse:
    return _new_form(request)


@router.post("/brand/campaigns/new")
async def create_campaign(
    request: Request,
    _: FormChecked,
    me: Brand,
    session: DbSession,
    type: Short = "visibility",
    title: Short = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
    destination_url: Annotated[str, Form(max_length=2048)] = "",
    cpv: Short = "",
    currency: Short = "",
    max_views: Short = "",
    max_views_per_promoter: Short = "",
    starts_on: Short = "",
    ends_on: Short = "",
    min_budget: Short = "",
    max_budget: Short = "",
    commission: Short = "",
    tracking_method: Short = "",
    budget: Short = "",
    shop_url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    may_act(me, moves_money=False)
    values = {
        "type": type if type in FORM_TYPES else "visibility",
        "title": title,
        "description": description,
        "destination_url": destination_url,
        "cpv": cpv,
        "currency": currency,
        "max_views": max_views,
        "max_views_per_promoter": max_views_per_promoter,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "min_budget": min_budget,
        "max_budget": max_budget,
        "commission": commission,
        "tracking_method": tracking_method,
        "budget": budget,
        "shop_url": shop_url,
    }
    now = utcnow()
    draft, errors, preview = _campaign_create(values, now)
    if draft is None:
        raise PageError(
            _new_form(request, values=values, errors=errors, budget=preview, status_code=422)
        )
    try:
        campaign = await service.create_campaign(
            session,
            advertiser_id=me.principal.id,
            draft=service.CampaignDraft(**draft.model_dump()),
            now=now,
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        named = problem_field(problem, "form")
        field = _FIELD_NAMES[values["type"] == CampaignType.SALESMAN].get(named, named)
        errors = {field if field in FIELDS else "form": _sentence(problem.detail)}
        raise PageError(
            _new_form(
                request, values=values, errors=errors, budget=preview, status_code=problem.status
            )
        ) from None
    return redirect(f"/brand/campaigns/{campaign.id}", flash="campaign_created", request=request)


def _sentence(detail: str | None) -> str:
    text = detail or "This campaign cannot be saved."
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# --- one campaign ----------------------------------------------------------------------------


@router.get("/brand/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(
    request: Request, campaign_id: uuid.UUID, me: Brand, session: DbSession
) -> Response:
    return await brand_campaign_page(request, campaign_id, me, session)


async def brand_campaign_page(
    request: Request,
    campaign_id: uuid.UUID,
    me: SignedIn,
    session: DbSession,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
    shown: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The campaign's dashboard; `failed` is a work or sales form's refusal shown on it (the
    form's `key`, the `message` and what was typed, `values`: campaign_work_pages); `shown`
    what a sales form answered (campaign_sales_pages)."""
    view = await service.own_view(session, campaign_id, me.principal.id)
    campaign = view.campaign
    today = utcnow().date()
    start = (campaign.funded_at or campaign.created_at).astimezone(UTC).date()
    end = min(today, campaign.ended_at.astimezone(UTC).date()) if campaign.ended_at else today
    start = max(start, end - timedelta(days=CHART_DAYS - 1))
    figures = await stats.campaign_stats(
        session,
        campaign_id=campaign_id,
        advertiser_id=me.principal.id,
        from_day=min(start, end),
        to_day=end,
    )
    pending = {
        p.promoter_campaign_id: max(
            p.in_range.counted - p.in_range.validated - p.in_range.rejected, 0
        )
        for p in figures.promoters
    }
    # Consultant and seller campaigns: their applications, offers, deliverables and works.
    applications = None
    if campaign.type in WORK_TYPES:
        found = await work_reads.campaign_applications(session, campaign_id, me.principal.id)
        applications = [presented(body) for body in found]
    sold = None  # a salesman campaign's sales, totals and webhook
    if campaign.type == CampaignType.SALESMAN:
        sold = await brand_sales(request, session, campaign, me.principal.id, shown)
    return render(
        request,
        "campaign_brand.html",
        status_code,
        **words(
            **sales_words(sold=sold),
            campaign=campaign,
            view=view,
            figures=figures,
            pending=pending,
            chart=chart_of(figures, campaign.currency),
            applications=applications,
            failed=failed or {},
            today=today.isoformat(),
            when=when,
            labels=STATUS_LABELS,
            reasons=PAUSE_REASONS,
        ),
    )


@router.post("/brand/campaigns/{campaign_id}/fund")
async def fund_campaign(
    request: Request, _: FormChecked, campaign_id: uuid.UUID, me: Brand, session: DbSession
) -> Response:
    may_act(me, moves_money=True)
    try:
        async with refusals_as_pages(request):
            await service.fund_from_wallet(
                session, campaign_id=campaign_id, advertiser_id=me.principal.id, now=utcnow()
            )
    except Problem as problem:
        # The second click of a double submission: nothing moved, the campaign is funded.
        if problem.code != "campaign_not_draft":
            raise
        return redirect(
            f"/brand/campaigns/{campaign_id}", flash="campaign_not_draft", request=request
        )
    return redirect(f"/brand/campaigns/{campaign_id}", flash="campaign_funded", request=request)


@router.post("/brand/campaigns/{campaign_id}/pause")
async def pause_campaign(
    request: Request, _: FormChecked, campaign_id: uuid.UUID, me: Brand, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await service.pause(
        session, campaign_id=campaign_id, advertiser_id=me.principal.id, now=utcnow()
    )
    return redirect(f"/brand/campaigns/{campaign_id}", flash="campaign_paused", request=request)


@router.post("/brand/campaigns/{campaign_id}/resume")
async def resume_campaign(
    request: Request, _: FormChecked, campaign_id: uuid.UUID, me: Brand, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await service.resume(
        session, campaign_id=campaign_id, advertiser_id=me.principal.id, now=utcnow()
    )
    return redirect(f"/brand/campaigns/{campaign_id}", flash="campaign_resumed", request=request)


@router.post("/brand/campaigns/{campaign_id}/end")
async def end_campaign(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    me: Brand,
    session: DbSession,
) -> Response:
    # The refund goes to the wallet in this transaction, or to a provider's charge later by a
    # job the service defers (the provider is never called inside the request).
    may_act(me, moves_money=False)
    try:
        ending = await service.end_campaign(session, campaign_id, by=me.principal.id, now=utcnow())
    except Problem as problem:
        # The second click of a double submission: it ended with the first, nothing moved.
        if problem.code != "campaign_ended":
            raise
        return redirect(
            f"/brand/campaigns/{campaign_id}", flash="campaign_already_ended", request=request
        )
    if ending.campaign.status == CampaignStatus.CANCELLED:
        flash = "campaign_cancelled"
    else:
        flash = "campaign_ended_keeping" if ending.kept_for_views else "campaign_ended"
    return redirect(f"/brand/campaigns/{campaign_id}", flash=flash, request=request)
