"""The caller of a request, and finding accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import JSON, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.identity.models import (
    AccountStatus,
    BrandProfile,
    CreatorProfile,
    FollowerEstimate,
    Role,
    User,
)
from creatorhub.kit.errors import NotFound


@dataclass(frozen=True)
class Principal:
    """The caller of a request: the account and the login session its token belongs to."""

    user: User
    session_id: uuid.UUID

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    def has_role(self, role: Role) -> bool:
        return self.user.has_role(role)

    @property
    def email_verified(self) -> bool:
        # The user row came with the token check (one statement): no query of its own.
        return self.user.email_verified_at is not None


def email_key(email: str) -> str:
    return email.strip().lower()


async def user_by_email(session: AsyncSession, email: str, *, lock: bool = False) -> User | None:
    query = select(User).where(
        func.lower(User.email) == email_key(email), User.status != AccountStatus.DELETED.value
    )
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or user.status == AccountStatus.DELETED.value:
        raise NotFound("no such user", code="user_not_found")
    return user


@dataclass(frozen=True)
class AccountProfiles:
    """What an account shows besides its own row: its creator profile (with the declared
    follower counts, by platform) and its brand profile, each None when it has none."""

    creator: CreatorProfile | None
    brand: BrandProfile | None
    followers: dict[str, int] = field(default_factory=dict)


async def account_profiles(session: AsyncSession, user_id: uuid.UUID) -> AccountProfiles:
    """Both profiles and the follower counts in one statement (the account page's one query
    after authentication), instead of one each."""
    followers = (
        select(
            type_coerce(
                func.json_object_agg(FollowerEstimate.platform, FollowerEstimate.followers), JSON
            )
        )
        .where(FollowerEstimate.user_id == User.id)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(CreatorProfile, BrandProfile, followers.label("followers"))
            .select_from(User)
            .outerjoin(CreatorProfile, CreatorProfile.user_id == User.id)
            .outerjoin(BrandProfile, BrandProfile.user_id == User.id)
            .where(User.id == user_id)
        )
    ).one_or_none()
    if row is None:
        return AccountProfiles(creator=None, brand=None)
    creator, brand, counts = row
    return AccountProfiles(
        creator=creator,
        brand=brand,
        # By platform, as the profile shows them.
        followers={str(k): int(v) for k, v in sorted((counts or {}).items())},
    )
