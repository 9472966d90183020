"""The creator's client reviews: review links of completed shoots, and the reviews received,
published on the portfolio or hidden (seed 001's review workflow), on `workspace.reviews`.

A link's token is kept only as a hash, so its URL exists once: in the answer to the form that
made it (as `POST /v1/workspace/shoots/{id}/review-link` shows it once). That answer is the
page with the URL in a read-only input and a Copy button; reloading it sends the form again,
which makes a new link and withdraws the one shown before (the page says so). Links are
addressed by their shoot, as in the API: a shoot has at most one usable link.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from creatorhub.db import DbSession
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound
from creatorhub.kit.state import AppSettings
from creatorhub.web.acting import may_act
from creatorhub.web.csrf import FormChecked
from creatorhub.web.session import redirect
from creatorhub.web.studio_base import Creator, studio_page
from creatorhub.web.studio_shoots import review_label
from creatorhub.workspace import reviews, service

router = APIRouter(include_in_schema=False)

# The page lists this many completed shoots and reviews, latest first.
LISTED = 100


@router.get("/studio/reviews", response_class=HTMLResponse)
async def reviews_page(request: Request, me: Creator, session: DbSession) -> HTMLResponse:
    shoots = await service.recent_shoots(
        session, me.principal.id, now=utcnow(), limit=LISTED, completed=True
    )
    received = await reviews.list_reviews(session, me.principal.id, limit=LISTED)
    return studio_page(
        request,
        "studio_reviews.html",
        "reviews",
        shoots=shoots,
        received=received,
        review_label=review_label,
    )


@router.post("/studio/review-links", response_class=HTMLResponse)
async def make_review_link(
    request: Request,
    _: FormChecked,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
    shoot_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    may_act(me, moves_money=False)
    try:
        shoot_uuid = uuid.UUID(shoot_id.strip())
    except ValueError:
        raise NotFound("no such shoot", code="shoot_not_found") from None
    link, token = await reviews.create_review_link(
        session,
        shoot_id=shoot_uuid,
        user_id=me.principal.id,
        ttl=timedelta(days=settings.review_link_ttl_days),
    )
    shoot = await service.get_own_shoot(session, shoot_uuid, me.principal.id)
    return studio_page(
        request,
        "studio_review_link.html",
        "reviews",
        shoot=shoot,
        url=reviews.review_url(settings.link_base_url, token),
        expires_at=link.expires_at,
    )


@router.post("/studio/review-links/{shoot_id}/revoke")
async def revoke_review_link(
    request: Request, _: FormChecked, shoot_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await reviews.revoke_review_link(session, shoot_id=shoot_id, user_id=me.principal.id)
    return redirect("/studio/reviews", flash="link_revoked", request=request)


@router.post("/studio/reviews/{review_id}/publish")
async def publish_review(
    request: Request, _: FormChecked, review_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await reviews.set_published(session, me.principal, review_id, True)
    return redirect("/studio/reviews", flash="review_published", request=request)


@router.post("/studio/reviews/{review_id}/hide")
async def hide_review(
    request: Request, _: FormChecked, review_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await reviews.set_published(session, me.principal, review_id, False)
    return redirect("/studio/reviews", flash="review_hidden", request=request)
