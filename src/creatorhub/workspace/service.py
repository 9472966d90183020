"""Workspace planning: a creator's shoots and uploads (seed 001).

Every row belongs to one creator; a row of another user is answered exactly like a missing one
(404), so ids of other accounts cannot be probed. Every check runs before the first write, and
the request's transaction rolls back on any refusal, so a refused request changes nothing.

Completion: `complete` is idempotent (a second call answers 200 with the first `completed_at`,
so a retried request is harmless); `reopen` undoes it, except for a shoot with a client review:
the review is about a completed shoot and stays so. For the same reason a reviewed shoot cannot
be deleted (the delete would cascade to the client's review and erase it from the portfolio).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import changed_fields, record_change, snapshot
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable
from creatorhub.workspace.models import Review, ReviewLink, Shoot, Upload
from creatorhub.workspace.review_status import ReviewStatus, shoots_with_status

Planned = TypeVar("Planned", Shoot, Upload)


async def get_own_shoot(
    session: AsyncSession, shoot_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Shoot:
    """The caller's shoot; 404 `shoot_not_found` for a missing one or another user's."""
    return await _get_own(session, Shoot, shoot_id, user_id, lock=lock)


async def get_own_upload(
    session: AsyncSession, upload_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Upload:
    """The caller's upload; 404 `upload_not_found` for a missing one or another user's."""
    return await _get_own(session, Upload, upload_id, user_id, lock=lock)


def _kind(model: type[Shoot] | type[Upload]) -> str:
    return "shoot" if model is Shoot else "upload"


async def _get_own(
    session: AsyncSession,
    model: type[Planned],
    row_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    lock: bool,
) -> Planned:
    query = select(model).where(model.id == row_id, model.user_id == user_id)
    if lock:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        kind = _kind(model)
        raise NotFound(f"no such {kind}", code=f"{kind}_not_found")
    return row


def _snapshot(row: Shoot | Upload) -> dict[str, Any]:
    return snapshot(row)


def _check_amount(amount: int | None, currency: str | None) -> None:
    """Seed 001 has a bare DECIMAL amount; here an amount always says its currency."""
    if amount is not None and currency is None:
        raise Unprocessable(
            "an amount needs its currency", code="currency_required", field="body.currency"
        )
    if amount is None and currency is not None:
        raise Unprocessable(
            "a currency without an amount: send both, or neither",
            code="amount_required",
            field="body.amount",
        )


async def _audit(
    session: AsyncSession,
    action: str,
    row: Shoot | Upload,
    actor_id: uuid.UUID,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    kind = _kind(type(row))
    await record_change(
        session,
        action=f"workspace.{kind}.{action}",
        entity_type=kind,
        entity_id=row.id,
        actor_id=actor_id,
        before=before,
        after=after,
    )


async def create_shoot(session: AsyncSession, user_id: uuid.UUID, fields: dict[str, Any]) -> Shoot:
    _check_amount(fields.get("amount"), fields.get("currency"))
    shoot = Shoot(user_id=user_id, completed=False, **fields)
    session.add(shoot)
    await session.flush()
    await session.refresh(shoot)  # server defaults: id, created_at
    await _audit(session, "create", shoot, user_id, after=_snapshot(shoot))
    return shoot


async def create_upload(
    session: AsyncSession, user_id: uuid.UUID, fields: dict[str, Any]
) -> Upload:
    upload = Upload(user_id=user_id, completed=False, **fields)
    session.add(upload)
    await session.flush()
    await session.refresh(upload)
    await _audit(session, "create", upload, user_id, after=_snapshot(upload))
    return upload


_REQUIRED = {Shoot: ("date", "brand_name"), Upload: ("date", "platform")}


async def update_row(session: AsyncSession, row: Planned, changes: dict[str, Any]) -> Planned:
    """Apply the fields the client sent (already validated one by one)."""
    for required in _REQUIRED[type(row)]:
        # Absent means unchanged; an explicit null on a required column is refused here.
        if required in changes and changes[required] is None:
            raise Unprocessable(
                f"{required} cannot be null", code="field_required", field=f"body.{required}"
            )
    if isinstance(row, Shoot):
        _check_amount(
            changes.get("amount", row.amount),
            changes.get("currency", row.currency),
        )
    before = _snapshot(row)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    old, new = changed_fields(before, _snapshot(row))
    if new:
        await _audit(session, "update", row, row.user_id, before=old, after=new)
    return row


async def has_review(session: AsyncSession, shoot_id: uuid.UUID) -> bool:
    found = await session.scalar(select(exists().where(Review.shoot_id == shoot_id)))
    return bool(found)


async def delete_row(session: AsyncSession, row: Shoot | Upload) -> None:
    if isinstance(row, Shoot) and await has_review(session, row.id):
        raise Conflict(
            "this shoot has a client review; it cannot be deleted", code="shoot_has_review"
        )
    await _audit(session, "delete", row, row.user_id, before=_snapshot(row))
    await session.delete(row)
    await session.flush()


async def complete(session: AsyncSession, row: Planned, now: datetime) -> Planned:
    """Mark done; a second call is a no-op that keeps the first time (idempotent)."""
    if row.completed:
        return row
    row.completed, row.completed_at = True, now
    await session.flush()
    await _audit(session, "complete", row, row.user_id, after={"completed_at": now})
    return row


async def reopen(session: AsyncSession, row: Planned, now: datetime) -> Planned:
    """Undo `complete`. A reviewed shoot stays completed (409 `shoot_has_review`); reopening a
    shoot revokes its live review link, since only a completed shoot can be reviewed."""
    if not row.completed:
        return row
    if isinstance(row, Shoot):
        if await has_review(session, row.id):
            raise Conflict(
                "this shoot has a client review; it stays completed", code="shoot_has_review"
            )
        await session.execute(
            update(ReviewLink)
            .where(
                ReviewLink.shoot_id == row.id,
                ReviewLink.revoked_at.is_(None),
                ReviewLink.used_at.is_(None),
            )
            .values(revoked_at=now)
        )
        row.review_link_generated_at = None  # as revoking the link by hand does
    before = {"completed_at": row.completed_at}
    row.completed, row.completed_at = False, None
    await session.flush()
    await _audit(session, "reopen", row, row.user_id, before=before)
    return row


def _sort_key(model: type[Shoot] | type[Upload]) -> ColumnElement[Any]:
    # A row without a time sorts first on its day, like an all-day event in a calendar.
    return func.coalesce(model.time, time.min)


async def list_rows(
    session: AsyncSession,
    model: type[Planned],
    user_id: uuid.UUID,
    *,
    from_date: date | None = None,
    to_date: date | None = None,
    completed: bool | None = None,
    limit: int,
    after: tuple[date, time, uuid.UUID] | None = None,
) -> list[Planned]:
    """The user's rows in date order (then time, then id): keyset-paginated after `after`.

    Date order, not creation order, because a plan is read by date; the (user_id, date) index
    serves both the window and the order.
    """
    query = _window(model, user_id, from_date, to_date, completed, limit, after)
    return list(await session.scalars(query))


async def list_shoots(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    now: datetime,
    from_date: date | None = None,
    to_date: date | None = None,
    completed: bool | None = None,
    limit: int,
    after: tuple[date, time, uuid.UUID] | None = None,
) -> list[tuple[Shoot, ReviewStatus]]:
    """`list_rows` of shoots, each with its review state, read in the same statement."""
    query = _window(Shoot, user_id, from_date, to_date, completed, limit, after)
    return await shoots_with_status(session, query, now)


def _window(
    model: type[Planned],
    user_id: uuid.UUID,
    from_date: date | None,
    to_date: date | None,
    completed: bool | None,
    limit: int,
    after: tuple[date, time, uuid.UUID] | None,
) -> Select[Any]:
    query = select(model).where(model.user_id == user_id)
    if from_date is not None:
        query = query.where(model.date >= from_date)
    if to_date is not None:
        query = query.where(model.date <= to_date)
    if completed is not None:
        query = query.where(model.completed.is_(completed))
    sort = _sort_key(model)
    if after is not None:
        day, at, row_id = after
        query = query.where(
            or_(
                model.date > day,
                and_(model.date == day, tuple_(sort, model.id) > tuple_(at, row_id)),
            )
        )
    return query.order_by(model.date, sort, model.id).limit(limit)


async def recent_shoots(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    now: datetime,
    limit: int,
    completed: bool | None = None,
) -> list[tuple[Shoot, ReviewStatus]]:
    """The user's latest shoots first (date, then time, then id, descending), each with its
    review state, in one statement: what the creator's pages list."""
    query = select(Shoot).where(Shoot.user_id == user_id)
    if completed is not None:
        query = query.where(Shoot.completed.is_(completed))
    sort = _sort_key(Shoot)
    query = query.order_by(Shoot.date.desc(), sort.desc(), Shoot.id.desc()).limit(limit)
    return await shoots_with_status(session, query, now)


async def recent_uploads(session: AsyncSession, user_id: uuid.UUID, *, limit: int) -> list[Upload]:
    """The user's latest uploads first (date, then time, then id, descending)."""
    sort = _sort_key(Upload)
    query = (
        select(Upload)
        .where(Upload.user_id == user_id)
        .order_by(Upload.date.desc(), sort.desc(), Upload.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(query))
