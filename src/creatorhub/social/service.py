"""Connected platform accounts: what other modules may ask of `social`.

The OAuth flow, token storage and refresh live in this module's other files; this is the read
side the portfolio and the giveaway tool use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.social.models import Credential


@dataclass(frozen=True)
class ConnectedPlatform:
    platform: str
    username: str | None
    follower_count: int | None
    follower_count_at: datetime | None
    status: str


async def connected_platforms(session: AsyncSession, user_id: uuid.UUID) -> list[ConnectedPlatform]:
    """The user's connections (any status), by platform name; never their tokens."""
    rows = await session.execute(
        select(
            Credential.platform,
            Credential.username,
            Credential.follower_count,
            Credential.follower_count_at,
            Credential.status,
        )
        .where(Credential.user_id == user_id)
        .order_by(Credential.platform)
    )
    return [ConnectedPlatform(*row) for row in rows]
