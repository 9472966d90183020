"""A draw's life before its randomness: created (credits reserved, the seed's hash public),
entries imported, committed (the entries' Merkle root, the config and blacklist hashed, a future
beacon round named), or cancelled (credits back).

Seed 003's flow is `pending → processing → completed | failed | cancelled`: `pending` while
entries come in, `processing` from the commitment until the draw is made (at once without a
beacon; when its round is due with one), then a final state. Each step is one transaction that
locks the draw row first, so two requests on one draw queue instead of racing, and each writes
its `draw_history` row with the request's address and user agent.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.giveaways import credits, engine
from creatorhub.giveaways.models import (
    BlacklistEntry,
    Draw,
    DrawHistory,
    DrawStatus,
    HistoryAction,
)
from creatorhub.kit.crypto import keyring_from_settings
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable
from creatorhub.kit.request_context import current_request
from creatorhub.ledger import service as ledger

MAX_ENTRIES = 2_000_000


class DrawNotFound(NotFound):
    code = "draw_not_found"


class DrawNotPending(Conflict):
    code = "draw_not_pending"


class DrawCompleted(Conflict):
    code = "draw_completed"


class DrawFinished(Conflict):
    code = "draw_finished"


class NoEntries(Conflict):
    code = "draw_has_no_entries"


class TooManyEntries(Unprocessable):
    code = "too_many_entries"


def seed_aad(draw_id: uuid.UUID) -> bytes:
    return f"giveaways.draws.seed:{draw_id}".encode()


def open_seed(settings: Settings, draw: Draw) -> bytes:
    """The draw's secret seed (sealed with the keyring until its certificate publishes it)."""
    keyring = keyring_from_settings(settings)
    return bytes.fromhex(
        keyring.open(draw.seed_ciphertext, draw.seed_key_id, aad=seed_aad(draw.id))
    )


def history(
    draw_id: uuid.UUID,
    user_id: uuid.UUID | None,
    action: HistoryAction,
    details: dict[str, Any] | None = None,
) -> DrawHistory:
    """A history row with the current request's address and user agent (none for a job)."""
    context = current_request()
    metadata: dict[str, Any] = {}
    if context is not None:
        metadata = {"ip": context.ip, "user_agent": context.user_agent}
        metadata["request_id"] = context.request_id
    else:
        metadata = {"by": "job"}
    return DrawHistory(
        draw_id=draw_id,
        user_id=user_id,
        action=action.value,
        details=details or {},
        request_metadata=metadata,
    )


async def lock_draw(
    session: AsyncSession, draw_id: uuid.UUID, host_id: uuid.UUID | None = None
) -> Draw:
    """The draw, locked for this transaction (its host's, when `host_id` is given: another
    host's draw is a 404 like a missing one)."""
    query = select(Draw).where(Draw.id == draw_id)
    if host_id is not None:
        query = query.where(Draw.user_id == host_id)
    draw = (
        await session.execute(query.with_for_update().execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if draw is None:
        raise DrawNotFound("no such draw of yours" if host_id is not None else "no such draw")
    return draw


async def lock_own_draw(session: AsyncSession, draw_id: uuid.UUID, host_id: uuid.UUID) -> Draw:
    return await lock_draw(session, draw_id, host_id)


def _refuse_not_pending(draw: Draw, doing: str) -> None:
    if draw.status != DrawStatus.PENDING:
        raise DrawNotPending(
            f"the draw is {draw.status}: {doing} only while it is pending (before its commitment)"
        )


# --- create ----------------------------------------------------------------------------------


async def create_draw(
    session: AsyncSession,
    settings: Settings,
    *,
    host_id: uuid.UUID,
    title: str,
    platform: str,
    post_url: str | None,
    config: dict[str, Any],
    is_test: bool,
) -> Draw:
    """A pending draw: its config checked, its credits reserved (409 `insufficient_credits`,
    nothing created), its secret seed made and sealed, the seed's SHA-256 public from now on."""
    checked = engine.check_config(config)
    await credits.grant_welcome_bonus(session, settings, host_id)
    draw_id = uuid.uuid4()
    seed = os.urandom(32)
    sealed, key_id = keyring_from_settings(settings).seal(seed.hex(), aad=seed_aad(draw_id))
    draw = Draw(
        id=draw_id,
        user_id=host_id,
        title=title,
        platform=platform,
        post_url=post_url,
        is_test=is_test,
        config=checked,
        winners_count=checked["winners_count"],
        alternates_count=checked["alternates_count"],
        credits_used=settings.giveaway_draw_credits,
        seed_ciphertext=sealed,
        seed_key_id=key_id,
        seed_sha256=hashlib.sha256(seed).hexdigest(),
    )
    session.add(draw)
    await session.flush()
    if settings.giveaway_draw_credits > 0:
        draw.credit_hold_id = await credits.hold_for_draw(
            session, user_id=host_id, draw_id=draw_id, amount=settings.giveaway_draw_credits
        )
    session.add(
        history(
            draw_id,
            host_id,
            HistoryAction.CREATED,
            {"credits_reserved": settings.giveaway_draw_credits, "seed_sha256": draw.seed_sha256},
        )
    )
    await session.flush()
    return draw


# --- entries ---------------------------------------------------------------------------------


async def _driver(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under the session's transaction (for COPY, which SQLAlchemy
    does not speak)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    return driver


async def _copy_entries(session: AsyncSession, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """COPY the rows into a temporary table of this transaction: one stream, whatever their
    number (a million comments take seconds, not the minutes of row-by-row inserts)."""
    driver = await _driver(session)
    async with driver.cursor() as cursor:
        await cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS giveaway_entries_in"
            " (entry_platform text, comment_id text, username text, line text) ON COMMIT DROP"
        )
        await cursor.execute("TRUNCATE giveaway_entries_in")
        async with cursor.copy(
            "COPY giveaway_entries_in (entry_platform, comment_id, username, line) FROM STDIN"
        ) as copy:
            for row in rows:
                await copy.write_row(row)


# A comment already in the draw (or twice in the batch) is skipped, not an error.
_INSERT_ENTRIES = text(
    "WITH added AS (INSERT INTO giveaways.entries"
    " (draw_id, entry_platform, comment_id, username, line)"
    " SELECT :draw_id, entry_platform, comment_id, username, line FROM giveaway_entries_in"
    " ON CONFLICT DO NOTHING RETURNING 1)"
    " SELECT count(*) FROM added"
)


async def add_entries(
    session: AsyncSession,
    *,
    draw_id: uuid.UUID,
    host_id: uuid.UUID,
    entries: Sequence[Any],
    source: str,
) -> tuple[int, int]:
    """Add normalized entries to a pending draw: (added, already there). A comment imported
    twice (the same platform's comment id) is kept once, so re-importing a file or resuming an
    import after a rate limit adds only what is new."""
    draw = await lock_own_draw(session, draw_id, host_id)
    _refuse_not_pending(draw, "entries are added")
    if draw.entries_count + len(entries) > MAX_ENTRIES:
        raise TooManyEntries(f"a draw takes at most {MAX_ENTRIES:,} entries")
    rows = engine.entry_rows(entries)
    await _copy_entries(session, rows)
    added = (await session.execute(_INSERT_ENTRIES, {"draw_id": draw_id})).scalar_one()
    draw.entries_count += int(added)
    duplicates = len(rows) - int(added)
    session.add(
        history(
            draw_id,
            host_id,
            HistoryAction.IMPORTED,
            {"source": source, "added": int(added), "duplicates": duplicates},
        )
    )
    await session.flush()
    return int(added), duplicates


# --- commit ----------------------------------------------------------------------------------


async def entry_lines(session: AsyncSession, draw_id: uuid.UUID) -> list[bytes]:
    """The draw's canonical lines in the proof's order (platform, then comment id, compared
    by code point: the "C" collation, which is Python's order of `str`)."""
    driver = await _driver(session)
    lines: list[bytes] = []
    async with (
        driver.cursor() as cursor,
        cursor.copy(
            "COPY (SELECT line FROM giveaways.entries WHERE draw_id = %s"
            ' ORDER BY entry_platform COLLATE "C", comment_id COLLATE "C") TO STDOUT',
            (draw_id,),
        ) as copy,
    ):
        async for row in copy.rows():
            lines.append(row[0].encode())
    return lines


@dataclass(frozen=True)
class Committed:
    draw: Draw
    lines: list[bytes]  # the ENTRIES the commitment is over, in the proof's order


def beacon_round(settings: Settings, now: datetime) -> tuple[int, datetime] | None:
    """The first drand round at least the margin after `now`, and when it is published."""
    if not settings.giveaway_drand_url:
        return None
    return engine.future_round(
        now + timedelta(seconds=settings.giveaway_beacon_margin_seconds),
        genesis=settings.giveaway_drand_genesis,
        period=settings.giveaway_drand_period,
    )


async def commit_draw(
    session: AsyncSession,
    settings: Settings,
    *,
    draw_id: uuid.UUID,
    host_id: uuid.UUID,
    now: datetime,
) -> Committed:
    """Close the entries and publish the commitment: the Merkle root and SHA-256 of the
    canonical entries, the SHA-256 of the config with the blacklist, the seed's SHA-256 (public
    since creation) and the beacon round to come. From here nothing of the inputs can change.
    The committed lines come back with the draw, for a draw made in the same transaction."""
    draw = await lock_own_draw(session, draw_id, host_id)
    _refuse_not_pending(draw, "a draw is committed")
    if draw.entries_count == 0:
        raise NoEntries("import the post's comments first: the draw has no entries")
    blacklist = [
        {"platform": row.platform, "username": row.username}
        for row in (
            await session.execute(
                select(BlacklistEntry.platform, BlacklistEntry.username)
                .where(BlacklistEntry.user_id == host_id, BlacklistEntry.is_active)
                .order_by(BlacklistEntry.platform, BlacklistEntry.username)
            )
        ).all()
    ]
    lines = await entry_lines(session, draw_id)
    beacon = beacon_round(settings, now)
    commitment = engine.make_commitment(
        draw_id=draw.id,
        platform=draw.platform,
        post_url=draw.post_url,
        host=str(host_id),
        lines=lines,
        config=draw.config,
        blacklist=blacklist,
        seed=open_seed(settings, draw),
        beacon=(
            None
            if beacon is None
            else {
                "chain_hash": settings.giveaway_drand_chain_hash,
                "round": beacon[0],
                "url": settings.giveaway_drand_url,
            }
        ),
        committed_at=now,
    )
    draw.blacklist = blacklist
    draw.commitment = commitment.body
    draw.commitment_hash = commitment.hash
    draw.committed_at = now
    draw.status = DrawStatus.PROCESSING
    if beacon is not None:
        draw.beacon_round, draw.beacon_due_at = beacon
    session.add(
        history(
            draw_id,
            host_id,
            HistoryAction.STARTED,
            {
                "commitment_hash": commitment.hash,
                "entries": len(lines),
                "beacon_round": draw.beacon_round,
            },
        )
    )
    await session.flush()
    return Committed(draw, lines)


# --- cancel ----------------------------------------------------------------------------------


async def cancel_draw(
    session: AsyncSession,
    *,
    draw_id: uuid.UUID,
    host_id: uuid.UUID,
    reason: str | None,
    now: datetime,
) -> Draw:
    """Cancel a draw not drawn yet: its credits come back (the hold voided). It stays on the
    host's public history, cancelled, with its commitment if it had one."""
    draw = await lock_own_draw(session, draw_id, host_id)
    if draw.status == DrawStatus.COMPLETED:
        raise DrawCompleted(
            "the draw is completed: its winners are public and it cannot be cancelled"
            " (a disqualified winner is replaced by a reroll)"
        )
    if draw.status != DrawStatus.PENDING and draw.status != DrawStatus.PROCESSING:
        raise DrawFinished(f"the draw is already {draw.status}")
    if draw.credit_hold_id is not None:
        await ledger.void_hold(session, draw.credit_hold_id)
    draw.status = DrawStatus.CANCELLED
    draw.cancelled_at = now
    session.add(history(draw_id, host_id, HistoryAction.CANCELLED, {"reason": reason}))
    await session.flush()
    return draw


async def fail_draw(
    session: AsyncSession, draw: Draw, *, reason: str, details: dict[str, Any]
) -> None:
    """A draw that cannot be made (too few eligible entries): failed, credits back."""
    if draw.credit_hold_id is not None:
        await ledger.void_hold(session, draw.credit_hold_id)
    await session.execute(
        update(Draw)
        .where(Draw.id == draw.id)
        .values(status=DrawStatus.FAILED, failure_reason=reason)
    )
    draw.status = DrawStatus.FAILED
    draw.failure_reason = reason
    session.add(history(draw.id, None, HistoryAction.FAILED, {"reason": reason, **details}))
    await session.flush()
