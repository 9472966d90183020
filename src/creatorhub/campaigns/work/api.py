"""Consultant and seller endpoints (issue 15): applications and their negotiation,
deliverables and their works, disputes.

A promoter (creator) applies to a campaign; the application's parties (its promoter and the
campaign's advertiser) read it and answer each other's offers; anyone else gets 404. Every
step answers with the application as it is after it (its offers, deliverables and works), so
a client never needs a second request. Money moves when a promoter agrees to a deliverable
(its amount held on the campaign's escrow), when its work is approved (paid at once, less the
platform fee) and when an admin decides a dispute; a repeated approval is refused (409
`already_approved`) and pays nothing.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from creatorhub.campaigns.work.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationsOut,
    DeliverableIn,
    DisputedDeliverableOut,
    DisputesOut,
    OfferIn,
    ReasonIn,
    ResolutionIn,
    WorkIn,
)
from creatorhub.campaigns.work.service import applications, deliverables, reads
from creatorhub.db import DbSession
from creatorhub.identity.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    OptionalIdempotency,
    require_roles,
)
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.idempotency import OPTIONAL_IDEMPOTENCY_RESPONSES, Responder
from creatorhub.kit.state import AppSettings

router = APIRouter(
    tags=["campaign work"], responses=problem_responses(400, 401, 403, 404, 409, 422)
)

BrandPrincipal = Annotated[Principal, Depends(require_roles(Role.BRAND))]
CreatorPrincipal = Annotated[Principal, Depends(require_roles(Role.CREATOR))]


def _out(body: dict[str, Any]) -> ApplicationOut:
    return ApplicationOut.model_validate(body)


async def _answer(
    session: DbSession,
    application_id: uuid.UUID,
    viewer: uuid.UUID,
    status: int = 200,
    idem: Responder | None = None,
) -> JSONResponse:
    """The application as it is now; for a create, stored with its Idempotency-Key (`idem`)
    so that a retry is answered the same and creates nothing."""
    body = _out(await reads.application(session, application_id, viewer))
    if idem is not None:
        return await idem.respond(session, status, body)
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


# --- applications -------------------------------------------------------------------------


@router.post(
    "/v1/campaigns/{campaign_id}/applications",
    status_code=201,
    response_model=ApplicationOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Apply to a consultant or seller campaign",
)
async def apply(
    campaign_id: uuid.UUID,
    body: ApplicationIn,
    principal: CreatorPrincipal,
    session: DbSession,
    idem: OptionalIdempotency,
) -> JSONResponse:
    """Your proposal is the negotiation's first offer; the advertiser accepts it, counters or
    rejects it."""
    application = await applications.apply(
        session,
        campaign_id=campaign_id,
        promoter_id=principal.id,
        proposed_rate=body.proposed_rate,
        note=body.note,
        now=utcnow(),
    )
    return await _answer(session, application.id, principal.id, 201, idem)


@router.get(
    "/v1/campaigns/{campaign_id}/applications",
    response_model=ApplicationsOut,
    summary="Your campaign's applications",
)
async def campaign_applications(
    campaign_id: uuid.UUID, principal: BrandPrincipal, session: DbSession
) -> ApplicationsOut:
    """Oldest first, each with its offers, deliverables and works."""
    items = await reads.campaign_applications(session, campaign_id, principal.id)
    return ApplicationsOut(items=[_out(item) for item in items])


@router.get(
    "/v1/campaign-applications", response_model=ApplicationsOut, summary="Your applications"
)
async def my_applications(
    principal: CreatorPrincipal,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> ApplicationsOut:
    """Newest first, each with its offers, deliverables (what is due) and works."""
    items = await reads.promoter_applications(session, principal.id, limit=limit)
    return ApplicationsOut(items=[_out(item) for item in items])


@router.get(
    "/v1/campaign-applications/{application_id}",
    response_model=ApplicationOut,
    summary="An application",
)
async def get_application(
    application_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ApplicationOut:
    return _out(await reads.application(session, application_id, principal.id))


@router.post(
    "/v1/campaign-applications/{application_id}/offers",
    response_model=ApplicationOut,
    summary="Counter the open offer",
)
async def counter_offer(
    application_id: uuid.UUID, body: OfferIn, principal: CurrentPrincipal, session: DbSession
) -> JSONResponse:
    """Either party, when the open offer is the other's: yours replaces it."""
    await applications.counter(
        session,
        application_id=application_id,
        actor_id=principal.id,
        amount=body.amount,
        note=body.note,
        now=utcnow(),
    )
    return await _answer(session, application_id, principal.id)


@router.post(
    "/v1/campaign-applications/{application_id}/accept",
    response_model=ApplicationOut,
    summary="Accept the open offer",
)
async def accept_offer(
    application_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> JSONResponse:
    """The party the open offer waits for accepts it: the application is accepted at its
    amount (committed from the campaign's max_budget)."""
    await applications.accept(
        session, application_id=application_id, actor_id=principal.id, now=utcnow()
    )
    return await _answer(session, application_id, principal.id)


@router.post(
    "/v1/campaign-applications/{application_id}/reject",
    response_model=ApplicationOut,
    summary="Reject an application",
)
async def reject_application(
    application_id: uuid.UUID, body: ReasonIn, principal: BrandPrincipal, session: DbSession
) -> JSONResponse:
    await applications.reject(
        session,
        application_id=application_id,
        advertiser_id=principal.id,
        reason=body.reason,
        now=utcnow(),
    )
    return await _answer(session, application_id, principal.id)


@router.post(
    "/v1/campaign-applications/{application_id}/withdraw",
    response_model=ApplicationOut,
    summary="Withdraw your application",
)
async def withdraw_application(
    application_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> JSONResponse:
    await applications.withdraw(
        session, application_id=application_id, promoter_id=principal.id, now=utcnow()
    )
    return await _answer(session, application_id, principal.id)


@router.post(
    "/v1/campaign-applications/{application_id}/agree-to-close",
    response_model=ApplicationOut,
    summary="Agree that the campaign completes below its min_budget",
)
async def agree_to_close(
    application_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> JSONResponse:
    await applications.agree_to_close(
        session, application_id=application_id, promoter_id=principal.id, now=utcnow()
    )
    return await _answer(session, application_id, principal.id)


# --- deliverables -------------------------------------------------------------------------


@router.post(
    "/v1/campaign-applications/{application_id}/deliverables",
    status_code=201,
    response_model=ApplicationOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Propose a deliverable",
)
async def propose_deliverable(
    application_id: uuid.UUID,
    body: DeliverableIn,
    principal: BrandPrincipal,
    session: DbSession,
    idem: OptionalIdempotency,
) -> JSONResponse:
    """Against an accepted application, within what its agreed amount has left; nothing is
    held until the promoter agrees."""
    await deliverables.propose(
        session,
        application_id=application_id,
        advertiser_id=principal.id,
        title=body.title,
        description=body.description,
        due_date=body.due_date,
        amount=body.amount,
        now=utcnow(),
    )
    return await _answer(session, application_id, principal.id, 201, idem)


@router.post(
    "/v1/campaign-deliverables/{deliverable_id}/agree",
    response_model=ApplicationOut,
    summary="Agree to a deliverable",
)
async def agree_deliverable(
    deliverable_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> JSONResponse:
    """Its amount is held on the campaign's escrow for you until its work is approved."""
    deliverable = await deliverables.agree(
        session, deliverable_id=deliverable_id, promoter_id=principal.id, now=utcnow()
    )
    return await _answer(session, deliverable.application_id, principal.id)


@router.post(
    "/v1/campaign-deliverables/{deliverable_id}/cancel",
    response_model=ApplicationOut,
    summary="Cancel a deliverable",
)
async def cancel_deliverable(
    deliverable_id: uuid.UUID, principal: BrandPrincipal, session: DbSession
) -> JSONResponse:
    """Proposed, agreed or waiting for changes (not in review or dispute): its hold is
    released to the campaign."""
    deliverable = await deliverables.cancel(
        session, deliverable_id=deliverable_id, advertiser_id=principal.id, now=utcnow()
    )
    return await _answer(session, deliverable.application_id, principal.id)


@router.post(
    "/v1/campaign-deliverables/{deliverable_id}/works",
    status_code=201,
    response_model=ApplicationOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Submit a deliverable's work",
)
async def submit_work(
    deliverable_id: uuid.UUID,
    body: WorkIn,
    principal: CreatorPrincipal,
    session: DbSession,
    idem: OptionalIdempotency,
) -> JSONResponse:
    """Links to the work and a note; after a request for changes, the next revision."""
    deliverable = await deliverables.submit_work(
        session,
        deliverable_id=deliverable_id,
        promoter_id=principal.id,
        links=list(body.links),
        note=body.note,
        now=utcnow(),
    )
    return await _answer(session, deliverable.application_id, principal.id, 201, idem)


@router.post(
    "/v1/campaign-deliverables/{deliverable_id}/approve",
    response_model=ApplicationOut,
    summary="Approve a deliverable's work (pays it)",
)
async def approve_work(
    deliverable_id: uuid.UUID,
    principal: BrandPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> JSONResponse:
    """The promoter is paid the deliverable's amount at once, less the platform fee."""
    deliverable = await deliverables.approve(
        session,
        settings,
        deliverable_id=deliverable_id,
        advertiser_id=principal.id,
        now=utcnow(),
    )
    return await _answer(session, deliverable.application_id, principal.id)


@router.post(
    "/v1/campaign-deliverables/{deliverable_id}/request-changes",
    response_model=ApplicationOut,
    summary="Reject a deliverable's work, saying what to change",
)
async def request_changes(
    deliverable_id: uuid.UUID, body: ReasonIn, principal: BrandPrincipal, session: DbSession
) -> JSONResponse:
    deliverable = await deliverables.request_changes(
        session,
        deliverable_id=deliverable_id,
        advertiser_id=principal.id,
        reason=body.reason,
        now=utcnow(),
    )
    return await _answer(session, deliverable.application_id, principal.id)


@router.post(
    "/v1/campaign-deliverables/{deliverable_id}/dispute",
    response_model=ApplicationOut,
    summary="Contest the rejection of your work",
)
async def dispute(
    deliverable_id: uuid.UUID, body: ReasonIn, principal: CreatorPrincipal, session: DbSession
) -> JSONResponse:
    """An admin decides: pay it, pay part of it, or refund the campaign."""
    deliverable = await deliverables.dispute(
        session,
        deliverable_id=deliverable_id,
        promoter_id=principal.id,
        reason=body.reason,
        now=utcnow(),
    )
    return await _answer(session, deliverable.application_id, principal.id)


# --- admins -------------------------------------------------------------------------------


@router.get(
    "/v1/admin/campaign-disputes",
    response_model=DisputesOut,
    summary="Deliverables in dispute",
)
async def list_disputes(principal: AdminPrincipal, session: DbSession) -> DisputesOut:
    """Oldest dispute first."""
    items = await reads.disputed_deliverables(session)
    return DisputesOut(items=[DisputedDeliverableOut.model_validate(item) for item in items])


@router.post(
    "/v1/admin/campaign-deliverables/{deliverable_id}/resolve",
    response_model=DisputedDeliverableOut,
    summary="Decide a dispute",
)
async def resolve_dispute(
    deliverable_id: uuid.UUID,
    body: ResolutionIn,
    principal: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> DisputedDeliverableOut:
    """Audited with your decision and note."""
    await deliverables.resolve(
        session,
        settings,
        deliverable_id=deliverable_id,
        admin_id=principal.id,
        decision=body.decision,
        amount=body.amount,
        note=body.note,
        now=utcnow(),
    )
    return DisputedDeliverableOut.model_validate(
        await reads.deliverable_for_admin(session, deliverable_id)
    )
