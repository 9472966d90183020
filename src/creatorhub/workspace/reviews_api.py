"""Review links and client reviews: the creator's endpoints (seed 001's review workflow).

The client never calls these: they open the link (a page, workspace/pages.py), whose form
records the review. Another user's shoot or review answers 404, as a missing one does.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import JSONResponse

from creatorhub.db import DbSession
from creatorhub.identity.deps import CurrentPrincipal, SealedOptionalIdempotency, require_roles
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.idempotency import SEALED_IDEMPOTENCY_RESPONSES
from creatorhub.kit.pagination import decode_cursor, encode_cursor
from creatorhub.kit.state import AppSettings
from creatorhub.workspace import reviews
from creatorhub.workspace.models import Review, Shoot
from creatorhub.workspace.reviews_schemas import (
    ReviewLinkOut,
    ReviewOut,
    ReviewShootOut,
    ReviewsPage,
)

router = APIRouter(
    prefix="/v1/workspace",
    tags=["workspace: reviews"],
    responses=problem_responses(400, 401, 403, 404, 422),
)

# Links and the list are the creator's tools (as shoots are); publishing is the reviewed
# creator's or an administrator's call.
CreatorPrincipal = Annotated[Principal, Depends(require_roles(Role.CREATOR))]


def review_out(review: Review, shoot: Shoot) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        shoot=ReviewShootOut(
            id=shoot.id,
            date=shoot.date,
            brand_name=shoot.brand_name,
            campaign_name=shoot.campaign_name,
        ),
        client_number=review.client_number,
        client_email=review.client_email,
        rating=review.rating,
        review_text=review.review_text,
        is_published=review.is_published,
        published_at=review.published_at,
        submitted_at=review.submitted_at,
    )


@router.post(
    "/shoots/{shoot_id}/review-link",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewLinkOut,
    responses=SEALED_IDEMPOTENCY_RESPONSES,
    summary="Make the client review link of a completed shoot (revokes the previous one)",
)
async def create_review_link(
    shoot_id: uuid.UUID,
    principal: CreatorPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: SealedOptionalIdempotency,
) -> JSONResponse:
    """The URL is shown only in this response (and to a retry with its `Idempotency-Key`, which
    keeps the answer encrypted): keep it or make a new one. It expires after
    `CREATORHUB_REVIEW_LINK_TTL_DAYS` (30 by default). 409 `shoot_not_completed` for a shoot
    not marked completed, 409 `already_reviewed` once the client has reviewed it."""
    link, token = await reviews.create_review_link(
        session,
        shoot_id=shoot_id,
        user_id=principal.id,
        ttl=timedelta(days=settings.review_link_ttl_days),
    )
    out = ReviewLinkOut(
        shoot_id=link.shoot_id,
        url=reviews.review_url(settings.link_base_url, token),
        expires_at=link.expires_at,
        created_at=link.created_at,
    )
    return await idem.respond(session, status.HTTP_201_CREATED, out)


@router.delete(
    "/shoots/{shoot_id}/review-link",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke the shoot's review link",
)
async def revoke_review_link(
    shoot_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> Response:
    """404 `review_link_not_found` when the shoot has no usable link."""
    await reviews.revoke_review_link(session, shoot_id=shoot_id, user_id=principal.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/reviews", summary="Your clients' reviews, newest first, with their shoots")
async def list_reviews(
    principal: CreatorPrincipal,
    session: DbSession,
    published: Annotated[
        bool | None, Query(description="true: published only; false: hidden only")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ReviewsPage:
    rows = await reviews.list_reviews(
        session,
        principal.id,
        limit=limit + 1,
        after=decode_cursor(cursor) if cursor else None,
        published=published,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return ReviewsPage(
        items=[review_out(review, shoot) for review, shoot in rows],
        next_cursor=encode_cursor(rows[-1][0].created_at, rows[-1][0].id) if more else None,
    )


@router.post(
    "/reviews/{review_id}/publish",
    summary="Show a review on your portfolio (the reviewed creator or an administrator)",
)
async def publish_review(
    review_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ReviewOut:
    return review_out(*await reviews.set_published(session, principal, review_id, True))


@router.post(
    "/reviews/{review_id}/hide",
    summary="Take a review off your portfolio (the reviewed creator or an administrator)",
)
async def hide_review(
    review_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> ReviewOut:
    return review_out(*await reviews.set_published(session, principal, review_id, False))
