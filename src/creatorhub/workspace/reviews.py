"""Client reviews of completed shoots, through review links (seed 001's review-link workflow).

* A link is made for the creator's own *completed* shoot that has no review yet; making one
  revokes the live one. Its token is `review_<unix time>_<43 URL-safe characters>`: the seed's
  `review_[timestamp]_[random]`, whose random part is `secrets.token_urlsafe(32)`, 256 bits. The
  timestamp is only readable sugar; validity is decided by the stored row. Only the token's
  SHA-256 is stored, so the URL is shown once.
* Opening a link (`describe_link`) reads and never writes: mail scanners open links before
  people do. Only the form's POST (`submit_review`) records the review and uses the link up.
* One review per shoot: `uq_reviews_shoot` and the link's `used_at`, written under the shoot's
  row lock, which link generation takes too (lock order: shoot, then link).
* Reviews arrive hidden; the creator (or an administrator) publishes or hides them, and the
  portfolio shows the published ones.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change
from creatorhub.db import first_as_json
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal, get_user
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, Gone, NotFound
from creatorhub.kit.tokens import new_token, token_hash
from creatorhub.workspace.models import Review, ReviewLink, Shoot
from creatorhub.workspace.reviews_schemas import ReviewForm
from creatorhub.workspace.service import get_own_shoot

TOKEN_RANDOM_BITS = 256  # secrets.token_urlsafe(32), through kit.tokens.new_token
TOKEN_SHAPE = re.compile(r"^review_[0-9]{1,12}_[A-Za-z0-9_\-]{43}$")


def new_review_token(now: datetime) -> str:
    """`review_<unix seconds>_<256 random bits, URL-safe base64>`."""
    return new_token(f"review_{int(now.timestamp())}")


def review_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/review/{token}"


# --- the creator's side ---------------------------------------------------------------------


async def _has_review(session: AsyncSession, shoot_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Review.id).where(Review.shoot_id == shoot_id))
    return found is not None


async def _revoke_live(session: AsyncSession, shoot_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(ReviewLink)
        .where(
            ReviewLink.shoot_id == shoot_id,
            ReviewLink.revoked_at.is_(None),
            ReviewLink.used_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(ReviewLink.id)
    )
    return len(result.all())


async def create_review_link(
    session: AsyncSession, *, shoot_id: uuid.UUID, user_id: uuid.UUID, ttl: timedelta
) -> tuple[ReviewLink, str]:
    """A new link for the caller's completed, unreviewed shoot; the live one is revoked.

    Returns the link and its token, which exists nowhere else after this request.
    """
    shoot = await get_own_shoot(session, shoot_id, user_id, lock=True)
    if not shoot.completed:
        raise Conflict(
            "review links are for completed shoots: mark the shoot completed first",
            code="shoot_not_completed",
        )
    if await _has_review(session, shoot.id):
        raise Conflict("the client has already reviewed this shoot", code="already_reviewed")
    now = utcnow()
    revoked = await _revoke_live(session, shoot.id, now)
    token = new_review_token(now)
    link = ReviewLink(
        shoot_id=shoot.id,
        user_id=user_id,
        token_hash=token_hash(token),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(link)
    shoot.review_link_generated_at = now
    await session.flush()
    await record_change(
        session,
        action="review_link.created",
        entity_type="shoot",
        entity_id=shoot.id,
        actor_id=user_id,
        after={"review_link_id": link.id, "expires_at": link.expires_at, "revoked": revoked},
    )
    return link, token


async def revoke_review_link(
    session: AsyncSession, *, shoot_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Revoke the shoot's live link; 404 `review_link_not_found` when it has none."""
    shoot = await get_own_shoot(session, shoot_id, user_id, lock=True)
    if not await _revoke_live(session, shoot.id, utcnow()):
        raise NotFound("the shoot has no usable review link", code="review_link_not_found")
    shoot.review_link_generated_at = None
    await session.flush()
    await record_change(
        session,
        action="review_link.revoked",
        entity_type="shoot",
        entity_id=shoot.id,
        actor_id=user_id,
    )


async def list_reviews(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
    published: bool | None = None,
) -> list[tuple[Review, Shoot]]:
    """The user's reviews with their shoots, newest first, keyset-paginated."""
    query = (
        select(Review, Shoot)
        .join(Shoot, Shoot.id == Review.shoot_id)
        .where(Review.user_id == user_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(limit)
    )
    if published is not None:
        query = query.where(Review.is_published.is_(published))
    if after is not None:
        query = query.where(tuple_(Review.created_at, Review.id) < tuple_(*after))
    rows = await session.execute(query)
    return [(review, shoot) for review, shoot in rows.all()]


async def set_published(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID, published: bool
) -> tuple[Review, Shoot]:
    """Publish or hide a review: its creator or an administrator; others get 404."""
    review = await session.scalar(select(Review).where(Review.id == review_id).with_for_update())
    if review is None or (review.user_id != principal.id and not principal.has_role(Role.ADMIN)):
        raise NotFound("no such review", code="review_not_found")
    if review.is_published != published:
        review.is_published = published
        review.published_at = utcnow() if published else None
        await session.flush()
        await record_change(
            session,
            action="review.published" if published else "review.hidden",
            entity_type="review",
            entity_id=review.id,
            actor_id=principal.id,
            before={"is_published": not published},
            after={"is_published": published},
        )
    shoot = await session.get(Shoot, review.shoot_id)
    assert shoot is not None
    return review, shoot


# --- the client's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class LinkView:
    """What the review form shows about the shoot the link is for."""

    creator_name: str
    shoot_date: date
    brand_name: str
    expires_at: datetime


def _unknown_link() -> NotFound:
    return NotFound(
        "this review link is not valid: check that the whole link was copied",
        code="review_link_not_found",
    )


async def _link_by_token(session: AsyncSession, token: str, *, lock: bool = False) -> ReviewLink:
    if not TOKEN_SHAPE.match(token):
        raise _unknown_link()
    query = select(ReviewLink).where(ReviewLink.token_hash == token_hash(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    link = await session.scalar(query)
    if link is None:
        raise _unknown_link()
    return link


async def _check_usable(
    session: AsyncSession, link: ReviewLink, shoot: Shoot, *, posting: bool
) -> None:
    """Raise the problem that keeps the link from taking a review, if any."""
    if link.used_at is not None or await _has_review(session, shoot.id):
        if posting:
            raise Conflict(
                "a review of this shoot was already recorded; there can be only one",
                code="already_reviewed",
            )
        raise Gone("this link was already used: the review was recorded", code="review_link_used")
    if link.revoked_at is not None:
        raise Gone(
            "this link was withdrawn by the creator; ask them for a new one",
            code="review_link_revoked",
        )
    if link.expires_at <= utcnow():
        raise Gone(
            "this link has expired; ask the creator for a new one", code="review_link_expired"
        )
    if not shoot.completed:
        raise Conflict("this shoot is no longer marked as completed", code="shoot_not_completed")


async def _view(session: AsyncSession, link: ReviewLink, shoot: Shoot) -> LinkView:
    creator = await get_user(session, shoot.user_id)
    return LinkView(
        creator_name=creator.display_name,
        shoot_date=shoot.date,
        brand_name=shoot.brand_name,
        expires_at=link.expires_at,
    )


async def describe_link(session: AsyncSession, token: str) -> LinkView:
    """What the form shows for a usable link, or the problem. Reads only: opening a link (as
    mail scanners do) writes nothing, not even a "seen" time."""
    link = await _link_by_token(session, token)
    shoot = await session.get(Shoot, link.shoot_id)
    assert shoot is not None  # review_links.shoot_id is a cascading foreign key
    await _check_usable(session, link, shoot, posting=False)
    return await _view(session, link, shoot)


async def submit_review(session: AsyncSession, token: str, form: ReviewForm) -> LinkView:
    """Record the client's review and use the link up (once per shoot)."""
    link = await _link_by_token(session, token)
    # The shoot's lock first, as link generation takes it: a new link cannot be made while
    # this review is being recorded, and two submissions of one link run one after the other.
    shoot = await session.scalar(
        select(Shoot)
        .where(Shoot.id == link.shoot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert shoot is not None
    link = await _link_by_token(session, token, lock=True)
    await _check_usable(session, link, shoot, posting=True)
    now = utcnow()
    review = Review(
        shoot_id=shoot.id,
        user_id=shoot.user_id,
        review_link_id=link.id,
        client_number=form.client_number,
        client_email=form.client_email,
        rating=form.rating,
        review_text=form.review_text,
        created_at=now,
        submitted_at=now,
    )
    session.add(review)
    link.used_at = now
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_reviews_shoot" in str(exc.orig):
            raise Conflict(
                "a review of this shoot was already recorded; there can be only one",
                code="already_reviewed",
            ) from None
        raise
    await record_change(
        session,
        action="review.submitted",
        entity_type="review",
        entity_id=review.id,
        actor_id=None,
        # The client's phone and e-mail stay in the review row, out of the audit trail.
        after={"shoot_id": shoot.id, "rating": review.rating},
    )
    return await _view(session, link, shoot)


# --- what the portfolio shows ---------------------------------------------------------------


def mean_rating(count: int, total: int) -> tuple[int, Decimal | None]:
    """`count` ratings adding up to `total`: the count and their mean to one decimal (half up),
    exact: the sum and count are integers and the division is decimal."""
    if not count:
        return 0, None
    mean = (Decimal(total) / Decimal(count)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return count, mean


def published_rating_of(user_id: ColumnElement[uuid.UUID]) -> ScalarSelect[Any]:
    """The number of the user's published reviews and the sum of their ratings, as one JSON
    object {count, total}, as SQL correlated to `user_id` (`mean_rating` makes the summary)."""
    return (
        select(
            func.json_build_object(
                "count", func.count(Review.id), "total", func.coalesce(func.sum(Review.rating), 0)
            )
        )
        .where(Review.user_id == user_id, Review.is_published.is_(True))
        .scalar_subquery()
    )


def published_reviews_of(user_id: ColumnElement[uuid.UUID], *, limit: int) -> ColumnElement[Any]:
    """The user's published reviews, newest first, at most `limit`, as a JSON array of
    {rating, review_text, submitted_at}, as SQL correlated to `user_id`."""
    review = func.json_build_object(
        "rating",
        Review.rating,
        "review_text",
        Review.review_text,
        "submitted_at",
        Review.submitted_at,
    )
    return first_as_json(
        select(
            func.array_agg(aggregate_order_by(review, Review.submitted_at.desc(), Review.id.desc()))
        )
        .where(Review.user_id == user_id, Review.is_published.is_(True))
        .scalar_subquery(),
        limit,
    )
