"""The tracking link of a visibility campaign (`GET /t/{code}`, outside the API: a visitor's
browser follows it) and the admin's rejection of a promoter's pending views."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from creatorhub.campaigns import tracking
from creatorhub.db import DbSession
from creatorhub.identity.deps import AdminPrincipal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound, problem_responses
from creatorhub.kit.request_context import current_request

router = APIRouter()

# Never cached: every visit must reach us to be counted (a cached redirect would not be).
_REDIRECT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get("/t/{code}", include_in_schema=False)
async def follow_tracking_link(code: str, request: Request, session: DbSession) -> Response:
    """Record the click and send the visitor on to the campaign's destination (302). The
    request's session is in autocommit (a GET): the click is one statement that commits by
    itself before the redirect is answered. An unknown code is a 404 page, nothing recorded."""
    context = current_request()
    click = await tracking.record_click(
        session,
        request.app.state.settings,
        code=code,
        ip=context.ip if context else None,
        user_agent=context.user_agent if context else None,
        now=utcnow(),
    )
    if click is None:
        raise NotFound("this tracking link does not exist")
    return Response(
        status_code=302, headers={"Location": click.destination_url, **_REDIRECT_HEADERS}
    )


admin_router = APIRouter(
    prefix="/v1/admin/campaigns", tags=["admin"], responses=problem_responses(401, 403, 422)
)


class RejectViewsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why, kept with each view")


class RejectViewsOut(BaseModel):
    promoter_campaign_id: uuid.UUID
    rejected_views: int = Field(description="Pending views now rejected (others are unchanged)")


@admin_router.post(
    "/{campaign_id}/promoters/{promoter_id}/reject-views",
    summary="Reject a promoter's pending views of a campaign (administrators)",
    responses=problem_responses(404),
)
async def reject_views(
    campaign_id: uuid.UUID,
    promoter_id: uuid.UUID,
    body: RejectViewsIn,
    admin: AdminPrincipal,
    session: DbSession,
) -> RejectViewsOut:
    """The promoter's views of the campaign still in their validation window become rejected,
    with the reason; validated, paid and dropped views are not touched. Audited. 404 when the
    promoter never joined the campaign."""
    rejection = await tracking.reject_views(
        session,
        campaign_id=campaign_id,
        promoter_id=promoter_id,
        reason=body.reason.strip() or body.reason,
        by=admin.id,
    )
    return RejectViewsOut(
        promoter_campaign_id=rejection.promoter_campaign_id,
        rejected_views=rejection.rejected_views,
    )


router.include_router(admin_router)
