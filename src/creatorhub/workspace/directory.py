"""The public directory of creators' portfolios (the landing page lists it).

A creator's portfolio is public as soon as the account is active and has a creator profile
(`get_portfolio` shows the same ones): the directory lists exactly those, by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.identity.models import AccountStatus, CreatorProfile, User

DIRECTORY_SIZE = 24


@dataclass(frozen=True)
class DirectoryEntry:
    slug: str
    display_name: str
    categories: list[str]


async def portfolio_directory(
    session: AsyncSession, *, limit: int = DIRECTORY_SIZE
) -> list[DirectoryEntry]:
    """Published portfolios, by display name (one statement)."""
    rows = await session.execute(
        select(CreatorProfile.slug, User.display_name, CreatorProfile.categories)
        .join(User, User.id == CreatorProfile.user_id)
        .where(User.status == AccountStatus.ACTIVE.value)
        .order_by(func.lower(User.display_name), CreatorProfile.slug)
        .limit(limit)
    )
    return [DirectoryEntry(slug, name, list(categories)) for slug, name, categories in rows]
