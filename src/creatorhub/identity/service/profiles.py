"""Account details and the creator and brand profiles."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import changed_fields, record_change, snapshot
from creatorhub.db import is_unique_violation
from creatorhub.identity.models import (
    AccountStatus,
    BrandProfile,
    CreatorProfile,
    FollowerEstimate,
    User,
)
from creatorhub.identity.schemas import BrandProfileIn, CreatorProfileIn, UserUpdate
from creatorhub.identity.service.lookup import Principal
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable

# Profile addresses that name a page or path of the platform, or could pass for its voice
# (`/portfolio/admin`): refused with 422 `slug_reserved`. The slug's shape (lower case, 3-50
# characters) is the schema's; its uniqueness (409 `slug_taken`) the database's.
_RESERVED = (
    "about account accounts admin administrator api app assets auth billing blog brand brands"
    " calendar campaigns confirm-email-change contact creator creatorhub creators dashboard docs"
    " edit email explore fans feeds giveaways healthz help home ical index jobs login logout"
    " mail marketplace me metrics moderation moderator new null oauth openapi payments"
    " portfolio portfolios privacy readyz redoc register reset-password review reviews root"
    " search security settings signin signup static status support system terms undefined user"
    " users v1 v2 verify-email webhook webhooks workspace www"
)
RESERVED_SLUGS = frozenset(_RESERVED.split())


async def update_user(
    session: AsyncSession, actor: Principal, user: User, changes: UserUpdate
) -> User:
    before = snapshot(user)
    values: dict[str, Any] = changes.model_dump(exclude_unset=True)
    for key, value in values.items():
        if key == "display_name" and value is None:
            continue
        setattr(user, key, value)
    try:
        await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc, "uq_users_username_lower"):
            raise Conflict(
                "the username is taken", code="username_taken", field="body.username"
            ) from None
        raise
    await session.refresh(user)
    old, new = changed_fields(before, snapshot(user))
    if new:
        await record_change(
            session,
            action="user.updated",
            entity_type="user",
            entity_id=user.id,
            actor_id=actor.id,
            before=old,
            after=new,
        )
    return user


async def follower_total(session: AsyncSession, user_id: uuid.UUID) -> int | None:
    """A creator's audience: followers summed over their platforms; None when none is declared.

    Jobs match creators on this (seed 000's influence_min / influence_max).
    """
    total: int | None = await session.scalar(select(follower_total_of(user_id)))
    return None if total is None else int(total)


def follower_total_of(user_id: uuid.UUID) -> ScalarSelect[int | None]:
    """`follower_total` as a subquery, for a caller that reads it in a statement of its own (a
    claim reads it with the job it locks: one round trip for both)."""
    return (
        select(func.sum(FollowerEstimate.followers))
        .where(FollowerEstimate.user_id == user_id)
        .scalar_subquery()
    )


async def get_creator_profile(
    session: AsyncSession, user_id: uuid.UUID
) -> tuple[CreatorProfile, dict[str, int]] | None:
    profile = await session.get(CreatorProfile, user_id)
    if profile is None:
        return None
    rows = await session.execute(
        select(FollowerEstimate.platform, FollowerEstimate.followers)
        .where(FollowerEstimate.user_id == user_id)
        .order_by(FollowerEstimate.platform)
    )
    return profile, {row.platform: row.followers for row in rows}


def follower_estimates_of(user_id: ColumnElement[uuid.UUID]) -> ScalarSelect[Any]:
    """The declared follower estimates as one JSON object, platform → followers, by platform
    name, as SQL correlated to `user_id` (json, not jsonb, to keep that order)."""
    # json_object_agg(platform, followers ORDER BY platform)
    estimates = func.json_object_agg(
        FollowerEstimate.platform,
        aggregate_order_by(FollowerEstimate.followers, FollowerEstimate.platform),
    )
    return (
        select(func.coalesce(estimates, literal_column("'{}'::json")))
        .where(FollowerEstimate.user_id == user_id)
        .scalar_subquery()
    )


def public_name_of(user_id: ColumnElement[uuid.UUID]) -> ScalarSelect[Any]:
    """Who a user is to others, as SQL correlated to `user_id`: a JSON object with the display
    name and, for a creator with a public profile, its slug (null for no such user)."""
    return (
        select(
            func.jsonb_build_object("display_name", User.display_name, "slug", CreatorProfile.slug)
        )
        .select_from(User)
        .outerjoin(CreatorProfile, CreatorProfile.user_id == User.id)
        .where(User.id == user_id)
        .scalar_subquery()
    )


def creator_by_slug(slug: str, *also: ColumnElement[Any]) -> Select[*tuple[Any, ...]]:
    """The active creator at `slug` (case-insensitive): the account, the profile and the
    follower estimates, with `also` (SQL the caller reads in the same statement, correlated to
    `User.id`): one round trip for a public page."""
    estimates = follower_estimates_of(User.id.expression).label("estimates")
    return (
        select(User, CreatorProfile, estimates, *also)
        .join(User, User.id == CreatorProfile.user_id)
        .where(
            func.lower(CreatorProfile.slug) == slug.lower(),
            User.status == AccountStatus.ACTIVE.value,
        )
    )


def no_creator_here() -> NotFound:
    return NotFound("no creator has this profile address", code="creator_not_found")


async def get_creator_by_slug(
    session: AsyncSession, slug: str
) -> tuple[User, CreatorProfile, dict[str, int]]:
    row = (await session.execute(creator_by_slug(slug))).one_or_none()
    if row is None:
        raise no_creator_here()
    return row.User, row.CreatorProfile, dict(row.estimates)


async def put_creator_profile(
    session: AsyncSession, principal: Principal, data: CreatorProfileIn
) -> tuple[CreatorProfile, dict[str, int]]:
    user = principal.user
    if data.slug.lower() in RESERVED_SLUGS:
        raise Unprocessable(
            "this profile address is reserved by the platform",
            code="slug_reserved",
            field="body.slug",
        )
    fields = data.model_dump(exclude={"follower_estimates"})
    existing = await get_creator_profile(session, user.id)
    before = snapshot(existing[0]) if existing else None
    profile = existing[0] if existing else CreatorProfile(user_id=user.id)
    for key, value in fields.items():
        setattr(profile, key, value)
    session.add(profile)
    try:
        await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc, "uq_creator_profiles_slug_lower"):
            raise Conflict(
                "the profile address is taken", code="slug_taken", field="body.slug"
            ) from None
        raise
    await session.execute(delete(FollowerEstimate).where(FollowerEstimate.user_id == user.id))
    for platform, followers in data.follower_estimates.items():
        session.add(FollowerEstimate(user_id=user.id, platform=platform, followers=followers))
    await session.flush()
    await session.refresh(profile)
    await record_change(
        session,
        action="creator_profile.saved",
        entity_type="creator_profile",
        entity_id=user.id,
        actor_id=user.id,
        before=before,
        after={**snapshot(profile), "follower_estimates": data.follower_estimates},
    )
    return profile, dict(sorted(data.follower_estimates.items()))


async def put_brand_profile(
    session: AsyncSession, principal: Principal, data: BrandProfileIn
) -> BrandProfile:
    user = principal.user
    profile = await session.get(BrandProfile, user.id)
    before = snapshot(profile) if profile else None
    if profile is None:
        profile = BrandProfile(user_id=user.id)
        session.add(profile)
    for key, value in data.model_dump().items():
        setattr(profile, key, value)
    await session.flush()
    await session.refresh(profile)
    await record_change(
        session,
        action="brand_profile.saved",
        entity_type="brand_profile",
        entity_id=user.id,
        actor_id=user.id,
        before=before,
        after=snapshot(profile),
    )
    return profile


async def get_brand_profile(session: AsyncSession, user_id: uuid.UUID) -> BrandProfile | None:
    return await session.get(BrandProfile, user_id)
