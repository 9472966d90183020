"""The caller of a request, and finding accounts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, func, select, tuple_, type_coerce
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from creatorhub.identity.models import (
    AccountStatus,
    BrandProfile,
    CreatorProfile,
    FollowerEstimate,
    Role,
    User,
)
from creatorhub.kit.errors import NotFound


class Principal:
    """The caller of a request: the account and the login session its token belongs to.

    Authentication reads the account as one Core row with the token (`authenticate`), not as
    ORM objects (loading three cost about 0.4 ms of every request): what requests check is here
    as plain attributes (`id`, `status`, `roles`, `email`, `email_verified_at`). `user`, the
    account as an ORM `User` for the routes that show more of it or change it, is made from
    that same row the first time it is asked for and joined to the request's session as if it
    had been loaded: no statement either way, and the session's `User` for this id is that one.
    """

    __slots__ = (
        "_columns",
        "_session",
        "_user",
        "email",
        "email_verified_at",
        "id",
        "roles",
        "session_id",
        "status",
    )

    def __init__(self, user: User, session_id: uuid.UUID) -> None:
        """The principal of an account loaded as an ORM object (a job or the demo acting for
        it)."""
        self._user: User | None = user
        self._columns: Mapping[str, Any] | None = None
        self._session: AsyncSession | None = None
        self.session_id = session_id
        self.id: uuid.UUID = user.id
        self.status: str = user.status
        self.roles: Sequence[str] = user.roles
        self.email: str = user.email
        self.email_verified_at: datetime | None = user.email_verified_at

    @classmethod
    def of_row(
        cls, columns: Mapping[str, Any], session_id: uuid.UUID, session: AsyncSession
    ) -> Principal:
        """The principal of an account read as a row (`columns`: every column of
        identity.users by attribute name), for `session`'s request."""
        principal = cls.__new__(cls)
        principal._user = None
        principal._columns = columns
        principal._session = session
        principal.session_id = session_id
        principal.id = columns["id"]
        principal.status = columns["status"]
        principal.roles = columns["roles"]
        principal.email = columns["email"]
        principal.email_verified_at = columns["email_verified_at"]
        session.info[_CALLER] = columns
        return principal

    @property
    def user(self) -> User:
        if self._user is None:
            assert self._columns is not None and self._session is not None
            self._user = _user_in_session(self._session, self._columns)
        return self._user

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    @property
    def email_verified(self) -> bool:
        # The account came with the token check (one statement): no query of its own.
        return self.email_verified_at is not None

    def __repr__(self) -> str:
        return f"Principal(id={self.id!s}, session_id={self.session_id!s})"


# Where a request's session keeps the caller's row (`Session.info`), so that `get_user` of the
# caller's own id finds the account authentication read, as the identity map did when it was
# loaded as an ORM object.
_CALLER = "creatorhub.caller"

USER_ATTRIBUTES = tuple(attr.key for attr in sa_inspect(User).column_attrs)


def _user_in_session(session: AsyncSession, columns: Mapping[str, Any]) -> User:
    """The session's `User` for the row's id: the one it holds, else one made from the row
    (every column, so nothing is left to load) and joined to it as loaded, without a statement.
    Changes to it are flushed as to any loaded object."""
    sync = session.sync_session
    held = sync.identity_map.get(identity_key(User, columns["id"]))
    if held is not None:
        return held
    user = User(**{name: columns[name] for name in USER_ATTRIBUTES})
    make_transient_to_detached(user)  # as if loaded: clean, its key set
    sync.add(user)
    return user


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
    caller: Mapping[str, Any] | None = session.info.get(_CALLER)
    if caller is not None and caller["id"] == user_id:
        # The caller's own account: authentication read it (no statement, as when the identity
        # map held it).
        user: User | None = _user_in_session(session, caller)
    else:
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


def _like_pattern(text_: str) -> str:
    """`text_` as a literal inside a LIKE pattern (its wildcards and the escape escaped)."""
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_users(
    session: AsyncSession,
    query: str,
    *,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[User]:
    """Accounts (deleted ones left out) whose e-mail address starts with `query` or whose
    display name contains it, case-insensitively; every account for an empty `query`. Newest
    first; `before` is the (created_at, id) of the last one already seen (the admin pages)."""
    statement = (
        select(User)
        .where(User.status != AccountStatus.DELETED.value)
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(limit)
    )
    wanted = query.strip()
    if wanted:
        literal = _like_pattern(wanted.lower())
        statement = statement.where(
            func.lower(User.email).like(f"{literal}%", escape="\\")
            | func.lower(User.display_name).like(f"%{literal}%", escape="\\")
        )
    if before is not None:
        statement = statement.where(tuple_(User.created_at, User.id) < before)
    return list((await session.scalars(statement)).all())
