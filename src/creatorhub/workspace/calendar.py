"""A creator's calendar: blocked date ranges, the combined view, and the secret iCalendar feed.

Blocked dates are inclusive ranges (one row for a two-week holiday), each with an optional reason
and whether that reason may be shown to others. The combined view is every shoot, upload and
blocked range of a window of at most a year.

The feed is an RFC 5545 calendar at `{public_base_url}/calendar/{token}.ics`, for Google or Apple
Calendar's "subscribe by URL". The token is a bearer secret: only its SHA-256 is stored, making a
new one revokes the old one, and a revoked or unknown token gets a bare 404. Choices in it:

* Shoot and upload times are wall-clock times at the place of the shoot, entered without a zone,
  so a timed event is *floating* (no TZID, no `Z`): 10:00 stays 10:00 in the creator's calendar.
  Stamping them UTC would move every event by the creator's offset. A row without a time is an
  all-day event. The seed has no end time: timed events last `TIMED_EVENT_LENGTH` so calendar
  apps draw a block rather than a line.
* A blocked range is all-day with DTEND exclusive (end_date + 1 day), as RFC 5545 says; with
  its reason whether public or not, since the feed is the owner's own calendar.
* UIDs are `{row id}@creatorhub` so a re-fetch updates events instead of duplicating them;
  DTSTAMP is when the feed was generated (RFC 5545 for a calendar with METHOD).
* Events from `FEED_PAST_DAYS` ago onwards, at most `FEED_MAX_EVENTS` of each kind: a feed is
  fetched every few hours, forever, and years of history would make each fetch heavier.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from icalendar import Calendar, Event
from sqlalchemy import ColumnElement, Select, func, literal_column, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
from creatorhub.db import first_as_json
from creatorhub.kit.errors import NotFound, Unprocessable
from creatorhub.kit.tokens import new_token, token_hash
from creatorhub.workspace.models import BlockedDates, CalendarFeed, Shoot, Upload
from creatorhub.workspace.review_status import ReviewStatus, shoots_with_status
from creatorhub.workspace.schemas import MAX_RANGE_DAYS

FEED_PREFIX = "chc"  # kit.tokens prefixes: cha/chr sessions, che e-mail, chc calendar feeds
FEED_TOKEN_MAX_LENGTH = 100
FEED_PAST_DAYS = 366
FEED_MAX_EVENTS = 2000
VIEW_MAX_ROWS = 1000  # per kind, in the combined view
TIMED_EVENT_LENGTH = timedelta(hours=1)
PRODID = "-//creatorhub//workspace calendar//EN"

Row = TypeVar("Row", Shoot, Upload)


def check_range(start: date, end: date, *, field: str) -> None:
    """End not before start, and at most `MAX_RANGE_DAYS` days (both ends counted)."""
    if end < start:
        raise Unprocessable(
            "the end date is before the start date", code="invalid_date_range", field=field
        )
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Unprocessable(
            f"a range covers at most {MAX_RANGE_DAYS} days",
            code="date_range_too_long",
            field=field,
        )


# --- blocked dates ---------------------------------------------------------------------------


async def create_block(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    start_date: date,
    end_date: date | None,
    reason: str | None,
    reason_public: bool,
) -> BlockedDates:
    end = end_date if end_date is not None else start_date
    check_range(start_date, end, field="body.end_date")
    block = BlockedDates(
        user_id=user_id,
        start_date=start_date,
        end_date=end,
        reason=reason,
        reason_public=reason_public,
    )
    session.add(block)
    await session.flush()
    await session.refresh(block)
    await record_change(
        session,
        action="workspace.block.create",
        entity_type="blocked_dates",
        entity_id=block.id,
        actor_id=user_id,
        after=snapshot(block),
    )
    return block


async def get_own_block(
    session: AsyncSession, block_id: uuid.UUID, user_id: uuid.UUID
) -> BlockedDates:
    block = await session.scalar(
        select(BlockedDates).where(BlockedDates.id == block_id, BlockedDates.user_id == user_id)
    )
    if block is None:
        raise NotFound("no such blocked range", code="block_not_found")
    return block


async def delete_block(session: AsyncSession, block: BlockedDates) -> None:
    await record_change(
        session,
        action="workspace.block.delete",
        entity_type="blocked_dates",
        entity_id=block.id,
        actor_id=block.user_id,
        before=snapshot(block),
    )
    await session.delete(block)
    await session.flush()


def _overlapping(from_date: date | None, to_date: date | None) -> list[object]:
    conditions: list[object] = []
    if to_date is not None:
        conditions.append(BlockedDates.start_date <= to_date)
    if from_date is not None:
        conditions.append(BlockedDates.end_date >= from_date)
    return conditions


async def list_blocks(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    from_date: date | None = None,
    to_date: date | None = None,
    limit: int,
    after: tuple[date, uuid.UUID] | None = None,
) -> list[BlockedDates]:
    """Ranges overlapping [from_date, to_date] (either open), by start date, keyset pages."""
    query = select(BlockedDates).where(
        BlockedDates.user_id == user_id,
        *_overlapping(from_date, to_date),  # type: ignore[arg-type]
    )
    if after is not None:
        query = query.where(
            tuple_(BlockedDates.start_date, BlockedDates.id) > tuple_(after[0], after[1])
        )
    query = query.order_by(BlockedDates.start_date, BlockedDates.id).limit(limit)
    return list(await session.scalars(query))


def blocks_of(
    user_id: ColumnElement[uuid.UUID], *, from_date: date, to_date: date, limit: int
) -> ColumnElement[Any]:
    """`list_blocks`' first page as a JSON array of {start_date, end_date, reason,
    reason_public}, as SQL correlated to `user_id`: for a page that reads them in its own
    statement."""
    block = func.json_build_object(
        "start_date",
        BlockedDates.start_date,
        "end_date",
        BlockedDates.end_date,
        "reason",
        BlockedDates.reason,
        "reason_public",
        BlockedDates.reason_public,
    )
    return first_as_json(
        select(func.array_agg(aggregate_order_by(block, BlockedDates.start_date, BlockedDates.id)))
        .where(BlockedDates.user_id == user_id, *_overlapping(from_date, to_date))  # type: ignore[arg-type]
        .scalar_subquery(),
        limit,
    )


# --- the combined view -----------------------------------------------------------------------


def _dated_query(
    model: type[Row], user_id: uuid.UUID, start: date, end: date | None, *, limit: int
) -> Select[Any]:
    query = select(model).where(model.user_id == user_id, model.date >= start)
    if end is not None:
        query = query.where(model.date <= end)
    # Rows without a time first on their day, like all-day events.
    query = query.order_by(model.date, model.time.asc().nulls_first(), model.id)
    return query.limit(limit + 1)


async def _dated(
    session: AsyncSession,
    model: type[Row],
    user_id: uuid.UUID,
    start: date,
    end: date | None,
    *,
    limit: int,
) -> list[Row]:
    return list(await session.scalars(_dated_query(model, user_id, start, end, limit=limit)))


def _json_array(query: Select[Any]) -> Any:
    """`query`'s rows as one JSON array (column name → value) in the query's own order: several
    lists come back from one statement (an authenticated read is at most three round trips)."""
    numbered = query.add_columns(
        func.row_number().over(order_by=query._order_by_clauses).label("position")
    ).subquery()
    columns = [column for column in numbered.c if column.name != "position"]
    # Keys as literals (column names of our own models, never input): a bound key would reach
    # json_build_object as a parameter of unknown type.
    assert all(c.name.isidentifier() for c in columns)
    row = func.json_build_object(
        *(part for c in columns for part in (literal_column(f"'{c.name}'"), c))
    )
    ordered = aggregate_order_by(row, numbered.c.position)
    return select(func.coalesce(func.json_agg(ordered), text("'[]'::json"))).scalar_subquery()


async def view(
    session: AsyncSession, user_id: uuid.UUID, from_date: date, to_date: date, *, now: datetime
) -> tuple[list[tuple[Shoot, ReviewStatus]], list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Shoots (with their review state), uploads and blocked ranges of [from_date, to_date]
    (the last two as the rows' columns, read together); and whether a list was cut."""
    check_range(from_date, to_date, field="query.to")
    shoots = await shoots_with_status(
        session, _dated_query(Shoot, user_id, from_date, to_date, limit=VIEW_MAX_ROWS), now
    )
    blocks_query = (
        select(BlockedDates)
        .where(BlockedDates.user_id == user_id, *_overlapping(from_date, to_date))  # type: ignore[arg-type]
        .order_by(BlockedDates.start_date, BlockedDates.id)
        .limit(VIEW_MAX_ROWS + 1)
    )
    uploads_and_blocks = await session.execute(
        select(
            _json_array(_dated_query(Upload, user_id, from_date, to_date, limit=VIEW_MAX_ROWS)),
            _json_array(blocks_query),
        )
    )
    uploads, blocks = uploads_and_blocks.one()
    truncated = any(len(rows) > VIEW_MAX_ROWS for rows in (shoots, uploads, blocks))
    return shoots[:VIEW_MAX_ROWS], uploads[:VIEW_MAX_ROWS], blocks[:VIEW_MAX_ROWS], truncated


# --- the feed --------------------------------------------------------------------------------


def _feed_lock_key(user_id: uuid.UUID) -> int:
    digest = hashlib.sha256(b"workspace.calendar_feed:" + user_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _revoke_live(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> bool:
    revoked = await session.scalars(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(CalendarFeed.id)
    )
    return revoked.first() is not None


async def create_feed(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> tuple[str, CalendarFeed]:
    """A new secret feed token (returned once), revoking the user's previous feed."""
    # Two concurrent requests would both revoke the same old feed and then collide on the
    # one-live-feed index (a 500 for the second): serialize them per user instead.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _feed_lock_key(user_id)}
    )
    replaced = await _revoke_live(session, user_id, now)
    token = new_token(FEED_PREFIX)
    feed = CalendarFeed(user_id=user_id, token_hash=token_hash(token), created_at=now)
    session.add(feed)
    await session.flush()
    await record_change(
        session,
        action="workspace.calendar_feed.create",
        entity_type="calendar_feed",
        entity_id=feed.id,
        actor_id=user_id,
        description="replaced the previous feed" if replaced else None,
    )
    return token, feed


async def live_feed(session: AsyncSession, user_id: uuid.UUID) -> CalendarFeed:
    feed = await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user_id, CalendarFeed.revoked_at.is_(None)
        )
    )
    if feed is None:
        raise NotFound("there is no calendar feed", code="calendar_feed_not_found")
    return feed


async def revoke_feed(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _feed_lock_key(user_id)}
    )
    feed = await live_feed(session, user_id)
    feed.revoked_at = now
    await session.flush()
    await record_change(
        session,
        action="workspace.calendar_feed.revoke",
        entity_type="calendar_feed",
        entity_id=feed.id,
        actor_id=user_id,
    )


async def feed_by_token(session: AsyncSession, token: str, now: datetime) -> CalendarFeed | None:
    """The live feed of this token, its fetch time noted; None for anything else.

    One UPDATE finds and notes it: a fetch racing a revocation waits for it and then finds
    the feed revoked, so a revoked URL never serves once more.
    """
    if len(token) > FEED_TOKEN_MAX_LENGTH or not token.startswith(f"{FEED_PREFIX}_"):
        return None  # not one of ours: no need to ask the database
    feeds = await session.scalars(
        update(CalendarFeed)
        .where(CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None))
        .values(last_fetched_at=now)
        .returning(CalendarFeed)
    )
    return feeds.first()


def _summary(*parts: str | None) -> str:
    return " — ".join(part for part in parts if part)


def _timed_or_all_day(event: Event, day: date, at: time | None) -> None:
    if at is None:
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    else:
        start = datetime.combine(day, at)  # naive: a floating time
        event.add("dtstart", start)
        event.add("dtend", start + TIMED_EVENT_LENGTH)


def _event(row_id: uuid.UUID, stamp: datetime, created: datetime, summary: str) -> Event:
    event = Event()
    event.add("uid", f"{row_id}@creatorhub")
    event.add("dtstamp", stamp)
    event.add("created", created.astimezone(UTC))
    event.add("summary", summary)
    return event


def build_ics(
    shoots: Sequence[Shoot],
    uploads: Sequence[Upload],
    blocks: Sequence[BlockedDates],
    *,
    name: str,
    now: datetime,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    # Refresh hints: Apple/RFC 7986 and Outlook's; Google decides its own rhythm.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    stamp = now.astimezone(UTC)
    for shoot in shoots:
        event = _event(
            shoot.id,
            stamp,
            shoot.created_at,
            _summary("Shoot: " + shoot.brand_name, shoot.campaign_name),
        )
        _timed_or_all_day(event, shoot.date, shoot.time)
        if shoot.location:
            event.add("location", shoot.location)
        if shoot.notes:
            event.add("description", shoot.notes)
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    for upload in uploads:
        what = " ".join(p for p in (upload.platform, upload.content_type) if p)
        event = _event(
            upload.id,
            stamp,
            upload.created_at,
            _summary(f"Upload: {what}", upload.brand_name, upload.campaign_name),
        )
        _timed_or_all_day(event, upload.date, upload.time)
        if upload.notes:
            event.add("description", upload.notes)
        # Posting does not make the creator busy: free time in scheduling assistants.
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    for block in blocks:
        event = _event(
            block.id,
            stamp,
            block.created_at,
            "Unavailable" + (f": {block.reason}" if block.reason else ""),
        )
        event.add("dtstart", block.start_date)
        event.add("dtend", block.end_date + timedelta(days=1))  # DTEND is exclusive
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics


async def feed_ics(session: AsyncSession, feed: CalendarFeed, *, name: str, now: datetime) -> bytes:
    since = now.date() - timedelta(days=FEED_PAST_DAYS)
    shoots = await _dated(session, Shoot, feed.user_id, since, None, limit=FEED_MAX_EVENTS)
    uploads = await _dated(session, Upload, feed.user_id, since, None, limit=FEED_MAX_EVENTS)
    blocks = await list_blocks(session, feed.user_id, from_date=since, limit=FEED_MAX_EVENTS)
    return build_ics(
        shoots[:FEED_MAX_EVENTS], uploads[:FEED_MAX_EVENTS], blocks, name=name, now=now
    )
