"""The caller of a request, and finding accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.identity.models import AccountStatus, Role, User
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
