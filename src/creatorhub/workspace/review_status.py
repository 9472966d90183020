"""A shoot's review state, as the creator sees it on their completed shoots (seed 001, step 4).

The seed tracks only `review_link_generated_at`, which says a link was made, not what became of
it. The state is derived from the shoot's review and its newest review link:

* `none`: no link was ever made;
* `link_open`: the newest link can still take the review (until `link_expires_at`);
* `reviewed`: the client's review is recorded (`review_id`; `published` or hidden);
* `link_expired`: the newest link outlived its lifetime unused (at `link_expires_at`);
* `link_revoked`: the newest link was withdrawn (by hand, or by reopening the shoot).

A review wins over any link (the link that took it is used up, and no other can be made). It is
computed from columns read in the same statement as the shoots (`with_review_status` adds an
outer join to the review and a lateral join to the newest link, served by
`idx_review_links_shoot`), so a page of shoots costs one query, not one per shoot; expiry is
decided in Python with the platform's clock, as the review form decides it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.workspace.models import Review, ReviewLink, Shoot

ReviewState = Literal["none", "link_open", "reviewed", "link_expired", "link_revoked"]


@dataclass(frozen=True)
class ReviewStatus:
    state: ReviewState
    link_expires_at: datetime | None = None
    review_id: uuid.UUID | None = None
    published: bool | None = None


NO_REVIEW = ReviewStatus("none")


def with_review_status(query: Select[Any]) -> Select[Any]:
    """`query` (selecting a `Shoot`) with the four columns `status_of` reads, in this order:
    review id, review published, newest link's expiry, newest link's revocation."""
    newest = (
        select(ReviewLink.expires_at, ReviewLink.revoked_at)
        .where(ReviewLink.shoot_id == Shoot.id)
        .order_by(ReviewLink.created_at.desc(), ReviewLink.id.desc())
        .limit(1)
        .lateral("newest_link")
    )
    return (
        query.outerjoin(Review, Review.shoot_id == Shoot.id)
        .outerjoin(newest, true())
        .add_columns(Review.id, Review.is_published, newest.c.expires_at, newest.c.revoked_at)
    )


def status_of(
    review_id: uuid.UUID | None,
    published: bool | None,
    link_expires_at: datetime | None,
    link_revoked_at: datetime | None,
    now: datetime,
) -> ReviewStatus:
    if review_id is not None:
        return ReviewStatus("reviewed", review_id=review_id, published=bool(published))
    if link_expires_at is None:
        return NO_REVIEW
    if link_revoked_at is not None:
        return ReviewStatus("link_revoked")
    if link_expires_at <= now:
        return ReviewStatus("link_expired", link_expires_at=link_expires_at)
    return ReviewStatus("link_open", link_expires_at=link_expires_at)


async def shoots_with_status(
    session: AsyncSession, query: Select[Any], now: datetime
) -> list[tuple[Shoot, ReviewStatus]]:
    """Run a `select(Shoot)...` with the review state of each shoot, in one statement."""
    rows: Sequence[Any] = (await session.execute(with_review_status(query))).all()
    return [
        (shoot, status_of(review_id, published, expires_at, revoked_at, now))
        for shoot, review_id, published, expires_at, revoked_at in rows
    ]


async def review_status(session: AsyncSession, shoot: Shoot, now: datetime) -> ReviewStatus:
    """One shoot's state, read after a change to it (completing, reopening, editing)."""
    ((_, status),) = await shoots_with_status(
        session, select(Shoot).where(Shoot.id == shoot.id), now
    )
    return status
