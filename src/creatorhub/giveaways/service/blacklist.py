"""The host's blacklist (seed 003 `Blacklist`): usernames excluded from their draws, on one
platform or `all`. An entry is deactivated, never deleted: a certificate names the blacklist it
was drawn with, and the host's page shows what changed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.giveaways.models import BLACKLIST_PLATFORMS, BlacklistEntry
from creatorhub.giveaways.proof import canonical
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable


class BlacklistDuplicate(Conflict):
    code = "blacklist_duplicate"


class BlacklistEntryNotFound(NotFound):
    code = "blacklist_entry_not_found"


class InvalidUsername(Unprocessable):
    code = "invalid_username"


def normalize_username(username: str) -> str:
    """What the draws compare, exactly as entries are normalized (`proof.canonical`): NFC, no
    leading '@', lower case; inner whitespace becomes '_' as it does for imported names.
    422 `invalid_username` for what cannot be a username."""
    try:
        return canonical.normalize_username("_".join(username.split()))
    except canonical.EntryError as error:
        raise InvalidUsername(
            "a username has no '@' inside and no control character", field="body.username"
        ) from error


async def add(
    session: AsyncSession,
    *,
    host_id: uuid.UUID,
    platform: str,
    username: str,
    reason: str | None,
) -> BlacklistEntry:
    """Add a username; one already listed for the same platform is a 409
    `blacklist_duplicate` (an inactive one is re-activated instead, keeping its history)."""
    name = normalize_username(username)
    if len(name) > 100:
        raise InvalidUsername("a username is at most 100 characters", field="body.username")
    assert platform in BLACKLIST_PLATFORMS  # the schema's Literal refused anything else
    row = (
        await session.execute(
            insert(BlacklistEntry)
            .values(user_id=host_id, platform=platform, username=name, reason=reason)
            .on_conflict_do_update(
                constraint="uq_blacklist_user_username",
                set_={"is_active": True, "reason": reason, "updated_at": utcnow()},
                where=BlacklistEntry.is_active.is_(False),
            )
            .returning(BlacklistEntry)
        )
    ).scalar_one_or_none()
    if row is None:
        raise BlacklistDuplicate(
            f"{name!r} is already on your blacklist for {platform}", field="body.username"
        )
    return row


async def deactivate(session: AsyncSession, *, host_id: uuid.UUID, entry_id: uuid.UUID) -> None:
    changed = (
        await session.execute(
            update(BlacklistEntry)
            .where(BlacklistEntry.id == entry_id, BlacklistEntry.user_id == host_id)
            .values(is_active=False, updated_at=utcnow())
            .returning(BlacklistEntry.id)
        )
    ).scalar_one_or_none()
    if changed is None:
        raise BlacklistEntryNotFound("no such entry on your blacklist")


async def list_entries(
    session: AsyncSession, host_id: uuid.UUID, *, active_only: bool = False
) -> Sequence[BlacklistEntry]:
    query = select(BlacklistEntry).where(BlacklistEntry.user_id == host_id)
    if active_only:
        query = query.where(BlacklistEntry.is_active)
    return (
        (await session.execute(query.order_by(BlacklistEntry.platform, BlacklistEntry.username)))
        .scalars()
        .all()
    )
