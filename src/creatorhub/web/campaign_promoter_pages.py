"""The promoter's campaign pages (issue 14): the active campaigns that match them and the ones
they joined; one campaign with its Join button, and once joined their tracking link (with a
Copy button) and their own figures: views counted, pending (payable after the validation
window), validated, paid, earnings and the fraction of a cent carried to the next day.

The services are the API's (`campaigns.service` for browsing and joining,
`campaigns.stats.participation_stats` for the figures, which answers only the promoter's own
participation). A campaign a promoter may not see (a draft, another's ended campaign they never
joined) is 404, like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from creatorhub.campaigns import service, stats
from creatorhub.campaigns.models import CampaignType, PromoterCampaign
from creatorhub.campaigns.service.present import tracking_link
from creatorhub.campaigns.work.models import WORK_TYPES
from creatorhub.campaigns.work.service import page_reads
from creatorhub.config import Settings
from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound
from creatorhub.kit.state import AppSettings
from creatorhub.web.acting import may_act, money
from creatorhub.web.campaign_pages import PAUSE_REASONS, STATUS_LABELS, when
from creatorhub.web.campaign_sales_view import creator_sales_page
from creatorhub.web.campaign_work_view import presented, words
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import navigation, render
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

Creator = Annotated[SignedIn, Depends(page_role(Role.CREATOR))]
# How many matching campaigns and participations the list shows (the API pages through all).
LISTED = 50

navigation(Role.CREATOR, "/creator/campaigns", "Campaigns")

FLASHES.update(
    {
        "campaign_joined": ("ok", "You joined the campaign: share your link below."),
        "campaign_left": ("ok", "You left the campaign: your link no longer counts views."),
    }
)


def per_100(cpv: int | None, currency: str) -> str:
    return f"{money(cpv or 0, currency)} per 100 views"


@router.get("/creator/campaigns", response_class=HTMLResponse)
async def campaigns_list(request: Request, me: Creator, session: DbSession) -> HTMLResponse:
    joined = await service.participations(session, me.principal.id, limit=LISTED, after=None)
    mine = {campaign.id for _, campaign in joined}
    matching = await service.browse(
        session,
        me.principal.id,
        type_=None,
        category=None,
        language=None,
        limit=LISTED + len(mine),
        after=None,
    )
    return render(
        request,
        "campaign_creator_list.html",
        matching=[c for c in matching if c.id not in mine][:LISTED],
        joined=joined,
        money=money,
        per_100=per_100,
        labels=STATUS_LABELS,
    )


@router.get("/creator/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(
    request: Request,
    campaign_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    return await creator_campaign_page(request, campaign_id, me, session, settings)


async def creator_campaign_page(
    request: Request,
    campaign_id: uuid.UUID,
    me: SignedIn,
    session: DbSession,
    settings: Settings,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The campaign as the promoter sees it; for a consultant or seller campaign, their
    application (`failed`: a work form's refusal shown on it, campaign_work_pages); for a
    salesman campaign, their sales (`failed`: the coupon form's, campaign_sales_pages)."""
    application: dict[str, Any] | None = None
    try:
        if failed is None:
            view, _ = await service.visible_campaign(session, campaign_id, me.principal.id)
        else:  # a refusal of what they did on it a moment ago: shown whatever its status
            view = await service.campaign_view(session, campaign_id, me.principal.id)
    except NotFound:
        # A consultant or seller campaign stays visible to the promoters who applied to it.
        view = await service.campaign_view(session, campaign_id, me.principal.id)
        if view.campaign.type in WORK_TYPES:
            application = await page_reads.promoter_application(
                session, campaign_id, me.principal.id
            )
        if application is None:
            raise
    campaign = view.campaign
    if campaign.type in WORK_TYPES:
        if application is None:
            application = await page_reads.promoter_application(
                session, campaign_id, me.principal.id
            )
        return render(
            request,
            "campaign_work_creator.html",
            status_code,
            **words(
                campaign=campaign,
                application=presented(application) if application else None,
                failed=failed or {},
                when=when,
                labels=STATUS_LABELS,
                reasons=PAUSE_REASONS,
            ),
        )
    mine: dict[str, Any] | None = next(
        (p for p in view.promoters if p["promoter_id"] == str(me.principal.id)), None
    )
    if campaign.type == CampaignType.SALESMAN:  # their referral link, coupon code and sales
        joined = None
        if mine is not None:
            joined = await session.get(PromoterCampaign, uuid.UUID(mine["participation_id"]))
        return await creator_sales_page(
            request,
            session,
            settings,
            campaign,
            joined,
            failed=failed or {},
            status_code=status_code,
            when=when,
            labels=STATUS_LABELS,
            reasons=PAUSE_REASONS,
        )
    figures: stats.ParticipationStatsOut | None = None
    link = None
    participation: PromoterCampaign | None = None
    if mine is not None:
        participation_id = uuid.UUID(mine["participation_id"])
        figures = await stats.participation_stats(
            session, promoter_campaign_id=participation_id, promoter_id=me.principal.id
        )
        participation = await session.get(PromoterCampaign, participation_id)
        assert participation is not None
        link = tracking_link(settings.link_base_url, participation.tracking_code)
    return render(
        request,
        "campaign_creator.html",
        campaign=campaign,
        participation=participation,
        figures=figures,
        link=link,
        window_hours=settings.campaign_view_validation_hours,
        hold_days=settings.earnings_hold_days,
        money=money,
        per_100=per_100,
        when=when,
        labels=STATUS_LABELS,
        reasons=PAUSE_REASONS,
    )


@router.post("/creator/campaigns/{campaign_id}/join")
async def join_campaign(
    request: Request, _: FormChecked, campaign_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await service.join(session, campaign_id=campaign_id, promoter_id=me.principal.id, now=utcnow())
    return redirect(f"/creator/campaigns/{campaign_id}", flash="campaign_joined", request=request)


@router.post("/creator/campaigns/{campaign_id}/leave")
async def leave_campaign(
    request: Request, _: FormChecked, campaign_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await service.leave(session, campaign_id=campaign_id, promoter_id=me.principal.id, now=utcnow())
    return redirect(f"/creator/campaigns/{campaign_id}", flash="campaign_left", request=request)
