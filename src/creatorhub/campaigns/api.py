"""Campaign endpoints (issue 14, part A): the lifecycle, funding, participation, matching and
the advertiser and promoter details.

Advertisers (brands) create, fund, pause, resume and end their campaigns; promoters
(creators) browse the campaigns that match them, join (getting their tracking link), leave,
and follow their participations. Requests that move money (fund, end) take an
`Idempotency-Key`; funding also needs a verified e-mail address. Another advertiser's campaign
answers 404, the same as one that does not exist; an active campaign's public view is anyone's,
and a promoter keeps seeing the campaigns they joined.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from creatorhub.campaigns import service
from creatorhub.campaigns.models import CampaignType
from creatorhub.campaigns.schemas import (
    AdvertiserDetailsIn,
    AdvertiserDetailsOut,
    CampaignCreate,
    CampaignFund,
    CampaignOut,
    CampaignsPage,
    FundCampaignOut,
    ParticipationOut,
    ParticipationsPage,
    PromoterDetailsIn,
    PromoterDetailsOut,
    VerificationIn,
)
from creatorhub.campaigns.service import profiles
from creatorhub.campaigns.service.common import CampaignView
from creatorhub.campaigns.service.present import campaign_out, participation_out
from creatorhub.db import DbSession
from creatorhub.identity.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    Idempotency,
    OptionalIdempotency,
    require_roles,
)
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.idempotency import OPTIONAL_IDEMPOTENCY_RESPONSES
from creatorhub.kit.pagination import decode_cursor, encode_cursor
from creatorhub.kit.state import AppSettings
from creatorhub.payments.tasks import provider_in

responses = problem_responses(400, 401, 403, 404, 409, 422)
router = APIRouter(tags=["campaigns"], responses=responses)

BrandPrincipal = Annotated[Principal, Depends(require_roles(Role.BRAND))]
CreatorPrincipal = Annotated[Principal, Depends(require_roles(Role.CREATOR))]
VerifiedBrand = Annotated[Principal, Depends(require_roles(Role.BRAND, verified_email=True))]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]
Filter = Annotated[str | None, Query(min_length=1, max_length=60)]


def _page_of(views: list[CampaignView], limit: int) -> CampaignsPage:
    more = len(views) > limit
    views = views[:limit]
    last = views[-1].campaign if views else None
    return CampaignsPage(
        items=[campaign_out(view, advertiser=True) for view in views],
        next_cursor=encode_cursor(last.created_at, last.id) if more and last else None,
    )


# --- advertisers --------------------------------------------------------------------------


@router.post(
    "/v1/campaigns",
    status_code=201,
    response_model=CampaignOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Create a campaign (a draft)",
)
async def create_campaign(
    body: CampaignCreate, principal: BrandPrincipal, session: DbSession, idem: OptionalIdempotency
) -> JSONResponse:
    """The campaign goes active once funded (`POST /v1/campaigns/{id}/fund`). Visibility:
    cpv > 0 (per 100 views), max_views >= 100, an http(s) destination_url; the budget defaults
    to ceil(cpv * max_views / 100) and must cover it."""
    draft = service.CampaignDraft(**body.model_dump())
    campaign = await service.create_campaign(
        session, advertiser_id=principal.id, draft=draft, now=utcnow()
    )
    view = CampaignView(
        campaign=campaign,
        allocation=None,
        escrow_balance=0,
        escrow_reserved=0,
        promoters=[],
        caller_joined=False,
    )
    return await idem.respond(session, 201, campaign_out(view, advertiser=True))


@router.get("/v1/campaigns", response_model=CampaignsPage, summary="Your campaigns, newest first")
async def list_campaigns(
    principal: BrandPrincipal, session: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> CampaignsPage:
    """Each with its allocation and escrow (the promoters: `GET /v1/campaigns/{id}`)."""
    after = decode_cursor(cursor) if cursor else None
    views = await service.advertiser_campaigns(session, principal.id, limit=limit + 1, after=after)
    return _page_of(views, limit)


@router.post(
    "/v1/campaigns/{campaign_id}/fund", response_model=FundCampaignOut, summary="Fund a campaign"
)
async def fund_campaign(
    campaign_id: uuid.UUID,
    body: CampaignFund,
    principal: VerifiedBrand,
    session: DbSession,
    settings: AppSettings,
    idem: Idempotency,
) -> JSONResponse:
    """Move the budget into the campaign's escrow: from your wallet now (the campaign goes
    active), or through a provider charge (active when the provider confirms it), of one of
    your saved payment methods with `payment_method_id`."""
    if body.source == "wallet":
        await service.fund_from_wallet(
            session, campaign_id=campaign_id, advertiser_id=principal.id, now=utcnow(), answer=idem
        )
        return idem.response
    provider = provider_in(session)
    await service.fund_through_provider(
        session,
        provider,
        campaign_id=campaign_id,
        advertiser_id=principal.id,
        auto_confirm=settings.sandbox_auto_confirm and provider.name == "sandbox",
        answer=idem,
        payment_method_id=body.payment_method_id,
    )
    return idem.response


@router.post(
    "/v1/campaigns/{campaign_id}/pause", response_model=CampaignOut, summary="Pause a campaign"
)
async def pause_campaign(
    campaign_id: uuid.UUID, principal: BrandPrincipal, session: DbSession
) -> CampaignOut:
    """Views stop counting until it resumes."""
    await service.pause(session, campaign_id=campaign_id, advertiser_id=principal.id, now=utcnow())
    return campaign_out(await service.own_view(session, campaign_id, principal.id), advertiser=True)


@router.post(
    "/v1/campaigns/{campaign_id}/resume", response_model=CampaignOut, summary="Resume a campaign"
)
async def resume_campaign(
    campaign_id: uuid.UUID, principal: BrandPrincipal, session: DbSession
) -> CampaignOut:
    """Refused (409 `budget_spent`) when nothing of the budget is left."""
    await service.resume(session, campaign_id=campaign_id, advertiser_id=principal.id, now=utcnow())
    return campaign_out(await service.own_view(session, campaign_id, principal.id), advertiser=True)


@router.post(
    "/v1/campaigns/{campaign_id}/end", response_model=CampaignOut, summary="End a campaign"
)
async def end_campaign(
    campaign_id: uuid.UUID, principal: BrandPrincipal, session: DbSession, idem: Idempotency
) -> JSONResponse:
    """What was not spent is refunded to where the budget came from (your wallet at once, or
    the provider's charge shortly); a draft is cancelled."""
    await service.end_campaign(session, campaign_id, by=principal.id, now=utcnow())
    view = await service.own_view(session, campaign_id, principal.id)
    return await idem.respond(session, 200, campaign_out(view, advertiser=True))


# --- promoters ----------------------------------------------------------------------------


@router.get(
    "/v1/campaigns/browse", response_model=CampaignsPage, summary="Campaigns that match you"
)
async def browse_campaigns(
    principal: CreatorPrincipal,
    session: DbSession,
    type: Annotated[CampaignType | None, Query()] = None,
    category: Filter = None,
    language: Filter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> CampaignsPage:
    """Active campaigns whose follower minimum you reach and whose categories and languages
    (when they name any) share one with your creator profile, newest first."""
    after = decode_cursor(cursor) if cursor else None
    rows = await service.browse(
        session,
        principal.id,
        type_=type.value if type else None,
        category=category,
        language=language,
        limit=limit + 1,
        after=after,
        now=utcnow(),
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        campaign_out(
            CampaignView(
                campaign=row,
                allocation=None,
                escrow_balance=0,
                escrow_reserved=0,
                promoters=[],
                caller_joined=False,
            ),
            advertiser=False,
        )
        for row in rows
    ]
    return CampaignsPage(
        items=items,
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
    )


@router.get(
    "/v1/campaigns/participations",
    response_model=ParticipationsPage,
    summary="Your participations, newest first",
)
async def list_participations(
    principal: CreatorPrincipal,
    session: DbSession,
    settings: AppSettings,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ParticipationsPage:
    """Each with its tracking link, counted views, what is held and what was paid, and the
    campaign's public view."""
    after = decode_cursor(cursor) if cursor else None
    rows = await service.participations(session, principal.id, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    base = settings.link_base_url
    items = [
        participation_out(
            participation,
            base,
            campaign_out(
                CampaignView(
                    campaign=campaign,
                    allocation=None,
                    escrow_balance=0,
                    escrow_reserved=0,
                    promoters=[],
                    caller_joined=True,
                ),
                advertiser=False,
            ),
        )
        for participation, campaign in rows
    ]
    last = rows[-1][0] if rows else None
    return ParticipationsPage(
        items=items,
        next_cursor=encode_cursor(last.joined_at, last.id) if more and last else None,
    )


@router.get("/v1/campaigns/{campaign_id}", response_model=CampaignOut, summary="A campaign")
async def get_campaign(
    campaign_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> CampaignOut:
    """Its advertiser sees everything (allocation, escrow, per-promoter totals); a promoter who
    joined it, or anyone while it is active, its public view; anyone else 404."""
    view, is_advertiser = await service.visible_campaign(session, campaign_id, principal.id)
    return campaign_out(view, advertiser=is_advertiser)


@router.post(
    "/v1/campaigns/{campaign_id}/join",
    status_code=201,
    response_model=ParticipationOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Join a campaign",
)
async def join_campaign(
    campaign_id: uuid.UUID,
    principal: CreatorPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: OptionalIdempotency,
) -> JSONResponse:
    """Your participation, with your tracking link (`/t/{code}`): views through it count."""
    participation = await service.join(
        session, campaign_id=campaign_id, promoter_id=principal.id, now=utcnow()
    )
    return await idem.respond(
        session, 201, participation_out(participation, settings.link_base_url)
    )


@router.post(
    "/v1/campaigns/{campaign_id}/leave",
    response_model=ParticipationOut,
    summary="Leave a campaign",
)
async def leave_campaign(
    campaign_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession, settings: AppSettings
) -> ParticipationOut:
    """Your link stops counting views; what you earned stays yours."""
    participation = await service.leave(
        session, campaign_id=campaign_id, promoter_id=principal.id, now=utcnow()
    )
    return participation_out(participation, settings.link_base_url)


# --- profiles -----------------------------------------------------------------------------


@router.get(
    "/v1/me/advertiser-details",
    response_model=AdvertiserDetailsOut,
    summary="Your advertiser details",
)
async def get_advertiser_details(
    principal: BrandPrincipal, session: DbSession
) -> AdvertiserDetailsOut:
    return await profiles.advertiser_details(session, principal.id)


@router.put(
    "/v1/me/advertiser-details",
    response_model=AdvertiserDetailsOut,
    summary="Set your advertiser details",
)
async def put_advertiser_details(
    body: AdvertiserDetailsIn, principal: BrandPrincipal, session: DbSession
) -> AdvertiserDetailsOut:
    """Company, website, business categories; the platform then verifies you
    (`verification_status` pending; read-only)."""
    return await profiles.put_advertiser_details(session, principal.id, body, utcnow())


@router.get(
    "/v1/me/promoter-details", response_model=PromoterDetailsOut, summary="Your promoter details"
)
async def get_promoter_details(
    principal: CreatorPrincipal, session: DbSession
) -> PromoterDetailsOut:
    return await profiles.promoter_details(session, principal.id)


@router.put(
    "/v1/me/promoter-details",
    response_model=PromoterDetailsOut,
    summary="Set your promoter details",
)
async def put_promoter_details(
    body: PromoterDetailsIn, principal: CreatorPrincipal, session: DbSession
) -> PromoterDetailsOut:
    """Demographics; languages, skills, categories and followers are your creator profile's
    (`PUT /v1/me/creator-profile`)."""
    return await profiles.put_promoter_details(session, principal.id, body, utcnow())


@router.post(
    "/v1/admin/advertisers/{user_id}/verification",
    response_model=AdvertiserDetailsOut,
    summary="Verify or reject an advertiser",
)
async def verify_advertiser(
    user_id: uuid.UUID, body: VerificationIn, principal: AdminPrincipal, session: DbSession
) -> AdvertiserDetailsOut:
    return await profiles.set_verification(
        session, user_id=user_id, status=body.status, admin_id=principal.id, now=utcnow()
    )
