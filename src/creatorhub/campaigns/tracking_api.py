"""The tracking link of a visibility campaign (`GET /t/{code}`, outside the API: a visitor's
browser follows it) and the admin's rejection of a promoter's pending views."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from creatorhub.campaigns import tracking
from creatorhub.db import DbSession
from creatorhub.identity.deps import AdminPrincipal
from creatorhub.identity.schemas import RequestModel
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound, Problem, problem_responses
from creatorhub.kit.request_context import current_request

router = APIRouter()

# Never cached: every visit must reach us to be counted (a cached redirect would not be).
_REDIRECT_HEADERS = [(b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer")]
# What a Location may hold as it is (Starlette's RedirectResponse quotes the rest the same way).
_URL_SAFE = ":/%#?=@[]!$&'()*+,;"


class TrackingLinks:
    """`GET /t/{code}`: record the click and send the visitor on to the campaign's destination
    (302). A plain ASGI app under the app's middleware (request id, client address, security
    headers, access log): no dependency resolution, no request session, no response model; the
    click is one statement in autocommit (`tracking.record_click`), committed before the
    redirect is answered. An unknown code is a 404 page (the app's error pages), nothing
    recorded; HEAD answers the same redirect and records nothing; another method is a 405."""

    # What the access log and the metrics name the request by (a Mount sets no route).
    path = "/t/{code}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            raise Problem(
                "a tracking link is followed with GET",
                status=405,
                code="method_not_allowed",
                headers={"Allow": "GET, HEAD"},
            )
        code = scope["path"].removeprefix("/t/")
        app = scope["app"]
        destination: str | None
        if method == "HEAD":
            # A link checker asking where it leads: told, nothing recorded (no visit).
            destination = await tracking.destination_of(app.state.db, code)
        else:
            context = current_request()
            click = await tracking.record_click(
                app.state.db,
                app.state.settings,
                code=code,
                ip=context.ip if context else None,
                user_agent=context.user_agent if context else None,
                now=utcnow(),
            )
            destination = None if click is None else click.destination_url
        if destination is None:
            raise NotFound("this tracking link does not exist")
        location = quote(destination, safe=_URL_SAFE).encode("ascii")
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [
                    (b"location", location),
                    (b"content-length", b"0"),
                    *_REDIRECT_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


router.routes.append(Mount("/t", app=TrackingLinks(), name="tracking_link"))


admin_router = APIRouter(
    prefix="/v1/admin/campaigns", tags=["admin"], responses=problem_responses(401, 403, 422)
)


class RejectViewsIn(RequestModel):
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
        Field(description="Why, kept with each view"),
    ]


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
        reason=body.reason,
        by=admin.id,
    )
    return RejectViewsOut(
        promoter_campaign_id=rejection.promoter_campaign_id,
        rejected_views=rejection.rejected_views,
    )


router.include_router(admin_router)
