"""The tracking link of a visibility campaign (`GET /t/{code}`) and what becomes of each click.

One click is one statement, sent in autocommit (no BEGIN, no COMMIT: a statement is then a
transaction of its own), so it is recorded, or not at all, before the redirect is answered: a
redirect the visitor received is a click the database has. The statement (`CLICK`, built once):

1. reads the participation and its campaign (is either not active: `campaign_inactive`);
2. takes the decisions made before it: a known bot or an empty user agent (`bot`, decided in
   Python with crawlerdetect, a maintained list of crawlers and preview fetchers);
3. `duplicate` when the visitor was counted for the campaign today already (`unique_views`),
   `rate_limited` when the visitor made `campaign_clicks_per_minute` clicks or more across all
   campaigns in the last minute (index `ix_views_source_recent`);
4. otherwise inserts the visitor's `unique_views` row (ON CONFLICT DO NOTHING: a concurrent
   click of the same visitor makes this one a `duplicate`), locks the campaign's row
   (`SELECT ... FOR UPDATE`, which returns its latest version) and counts the view in the
   participation (`views_generated`) and the campaign (`views_counted`) only if the campaign
   is still active, below its `max_views`, and the promoter below `max_views_per_promoter`
   (`over_cap` else). The campaign's row is the lock every counted click of the campaign takes
   (first, as every money path does), so concurrent clicks can never count past `max_views`,
   which the database checks as well (`ck_campaigns_views_counted_within_max`);
5. inserts the view with its outcome (`pending` when counted) and answers the destination.

The visitor is never stored: `visitor_hash` is HMAC-SHA256 of the address, user agent and
campaign under the UTC day's secret salt (`view_salts`), truncated to 16 bytes, and
`source_hash` the same without the campaign (what the rate limit counts). Salts are random,
created on the day's first click and deleted the day after (`delete_old_salts`, a periodic
job), after which no hash can be tied to an address any more (Plausible's scheme).

The click path loads no ORM object, authenticates nobody and sends its statements through
psycopg itself, on an autocommit connection of the app's pool (SQLAlchemy's session and
statement layers cost more CPU than the click's whole statement; the statement is fixed text
and psycopg prepares it on the server after a few uses). A participation's code never changes
its campaign, so code -> (participation, campaign) is kept in process memory after its first
lookup, and so is the day's salt: a click is one round trip.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from crawlerdetect import CrawlerDetect  # type: ignore[import-untyped]
from sqlalchemy import Text, bindparam, delete, text
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from creatorhub.audit.service import record_change
from creatorhub.campaigns.models import UniqueView, ViewOutcome, ViewSalt
from creatorhub.config import Settings
from creatorhub.db import Database, Prepared, send
from creatorhub.kit.errors import NotFound

HASH_BYTES = 16
RATE_WINDOW = timedelta(minutes=1)
TRACKING_CODE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

_UUID = PG_UUID(as_uuid=True)

# --- the click's connection ----------------------------------------------------------------------

_autocommit_engines: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def click_connection(database: Database) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A psycopg connection of the app's pool in autocommit (no BEGIN, no COMMIT: each
    statement commits by itself). A connection that died while pooled fails its first
    statement; the caller's `first_statement` sends it again on a fresh one."""
    engine = _autocommit_engines.get(database.engine)
    if engine is None:
        engine = database.engine.execution_options(isolation_level="AUTOCOMMIT")
        _autocommit_engines[database.engine] = engine
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
        try:
            yield driver
        except psycopg.OperationalError:
            # Lost (or dead while pooled: a restarted server, terminated backends). As
            # SQLAlchemy does when it sees a disconnect itself, every pooled connection is
            # replaced, not only this one: the others went the same way.
            await connection.invalidate()
            await database.engine.dispose(close=False)
            raise


async def _fetch(
    connection: psycopg.AsyncConnection[Any], sql: str, params: dict[str, Any]
) -> tuple[Any, ...] | None:
    cursor = await connection.execute(sql, params)
    return await cursor.fetchone()


# --- who is visiting ---------------------------------------------------------------------------

_crawlers = CrawlerDetect()


@lru_cache(maxsize=8192)
def is_bot(user_agent: str) -> bool:
    """A known bot, crawler or link-preview fetcher (crawlerdetect's maintained patterns), or no
    user agent at all. Cached per user agent: the check costs ~50 µs, a browser's agent string
    comes back again and again."""
    if not user_agent.strip():
        return True
    return bool(_crawlers.isCrawler(user_agent))


def visitor_hash(salt: bytes, ip: str, user_agent: str, campaign_id: uuid.UUID) -> bytes:
    """The visitor for one campaign on the salt's day: HMAC-SHA256(salt, ip \\n ua \\n campaign)
    truncated to 16 bytes."""
    message = f"{ip}\n{user_agent}\n{campaign_id}".encode()
    return hmac.new(salt, message, hashlib.sha256).digest()[:HASH_BYTES]


def source_hash(salt: bytes, ip: str, user_agent: str) -> bytes:
    """The visitor across campaigns on the salt's day (what the rate limit counts)."""
    message = f"{ip}\n{user_agent}".encode()
    return hmac.new(salt, message, hashlib.sha256).digest()[:HASH_BYTES]


# --- the day's salt --------------------------------------------------------------------------

_salts: dict[date, bytes] = {}

SALT_INSERT = (
    "INSERT INTO campaigns.view_salts (day, salt) VALUES (%(day)s, %(salt)s)"
    " ON CONFLICT (day) DO NOTHING"
)
SALT_OF = "SELECT salt FROM campaigns.view_salts WHERE day = %(day)s"


async def day_salt(connection: psycopg.AsyncConnection[Any], day: date) -> bytes:
    """The day's salt: from memory, else the database's (made by the day's first click
    anywhere: INSERT ... ON CONFLICT DO NOTHING, then read, so every process gets the same)."""
    salt = _salts.get(day)
    if salt is not None:
        return salt
    await connection.execute(SALT_INSERT, {"day": day, "salt": secrets.token_bytes(32)})
    row = await _fetch(connection, SALT_OF, {"day": day})
    assert row is not None
    salt = bytes(row[0])
    # Memory keeps no salt the database no longer has (days before yesterday).
    for kept in [kept for kept in _salts if kept < day - timedelta(days=1)]:
        del _salts[kept]
    _salts[day] = salt
    return salt


async def salt_of(database: Database, day: date) -> bytes:
    """The day's salt, made if it is not yet (as a click would)."""
    async with click_connection(database) as connection:
        return await day_salt(connection, day)


def forget_salts() -> None:
    """Drop the salts kept in memory (tests, and the job that deletes them)."""
    _salts.clear()


# --- the code's participation ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    promoter_campaign_id: uuid.UUID
    campaign_id: uuid.UUID


_links: dict[str, Link] = {}
_LINKS_KEPT = 100_000

LINK_OF = "SELECT id, campaign_id FROM campaigns.promoter_campaigns WHERE tracking_code = %(code)s"


async def link_of(connection: psycopg.AsyncConnection[Any], code: str) -> Link | None:
    """The participation a tracking code belongs to (None: no such code). Kept once found: a
    code's participation and campaign never change. An unknown code is not kept (it may be
    given out later)."""
    link = _links.get(code)
    if link is not None:
        return link
    if TRACKING_CODE.match(code) is None:
        return None
    row = await _fetch(connection, LINK_OF, {"code": code})
    if row is None:
        return None
    if len(_links) >= _LINKS_KEPT:
        _links.clear()
    link = _links[code] = Link(row[0], row[1])
    return link


# --- the click ---------------------------------------------------------------------------------

# The whole click as one statement (see the module's docstring for the steps): psycopg's
# placeholders, sent as it is (psycopg prepares it on the server after its fifth use).
CLICK = """
WITH pc AS (
    SELECT p.status AS participation_status, c.status AS campaign_status, c.destination_url
    FROM campaigns.promoter_campaigns AS p
    JOIN campaigns.campaigns AS c ON c.id = p.campaign_id
    WHERE p.id = %(promoter_campaign_id)s AND c.id = %(campaign_id)s
), recent AS (
    SELECT count(*) AS clicks FROM (
        SELECT 1 FROM campaigns.views AS v
        WHERE v.source_hash = %(source_hash)s AND v.occurred_at > %(since)s
        LIMIT %(rate_limit)s
    ) AS r
), early AS (
    SELECT CASE
        WHEN pc.campaign_status <> 'active' OR pc.participation_status <> 'active'
            THEN 'campaign_inactive'
        WHEN %(bot)s THEN 'bot'
        WHEN EXISTS (
            SELECT 1 FROM campaigns.unique_views AS u
            WHERE u.campaign_id = %(campaign_id)s AND u.day = %(day)s
                AND u.visitor_hash = %(visitor_hash)s
        ) THEN 'duplicate'
        WHEN recent.clicks >= %(rate_limit)s THEN 'rate_limited'
    END AS outcome
    FROM pc, recent
), new_view AS (
    SELECT nextval('campaigns.views_id_seq') AS id FROM early
), first_view AS (
    INSERT INTO campaigns.unique_views (campaign_id, day, visitor_hash, view_id)
    SELECT %(campaign_id)s, %(day)s, %(visitor_hash)s, new_view.id
    FROM early, new_view WHERE early.outcome IS NULL
    ON CONFLICT DO NOTHING
    RETURNING view_id
), campaign AS (
    SELECT c.status, c.views_counted, c.max_views, c.max_views_per_promoter
    FROM campaigns.campaigns AS c
    WHERE c.id = %(campaign_id)s AND EXISTS (SELECT 1 FROM first_view)
    FOR UPDATE
), promoter AS (
    UPDATE campaigns.promoter_campaigns AS p
    SET views_generated = p.views_generated + 1
    FROM campaign AS c
    WHERE p.id = %(promoter_campaign_id)s AND p.status = 'active' AND c.status = 'active'
        AND (c.max_views IS NULL OR c.views_counted < c.max_views)
        AND (c.max_views_per_promoter IS NULL OR p.views_generated < c.max_views_per_promoter)
    RETURNING p.id
), counted AS (
    UPDATE campaigns.campaigns AS c
    SET views_counted = c.views_counted + 1
    WHERE c.id = %(campaign_id)s AND EXISTS (SELECT 1 FROM promoter)
    RETURNING c.id
), outcome AS (
    SELECT COALESCE(early.outcome, CASE
        WHEN NOT EXISTS (SELECT 1 FROM first_view) THEN 'duplicate'
        WHEN EXISTS (SELECT 1 FROM promoter) THEN 'pending'
        WHEN (SELECT c.status FROM campaign AS c) <> 'active' THEN 'campaign_inactive'
        ELSE 'over_cap'
    END) AS outcome
    FROM early
), recorded AS (
    INSERT INTO campaigns.views
        (id, campaign_id, promoter_campaign_id, occurred_at, visitor_hash, source_hash, outcome)
    SELECT new_view.id, %(campaign_id)s, %(promoter_campaign_id)s, %(occurred_at)s,
        %(visitor_hash)s, %(source_hash)s, outcome.outcome
    FROM new_view, outcome
    RETURNING outcome
)
SELECT pc.destination_url, recorded.outcome FROM pc, recorded
"""


@dataclass(frozen=True, slots=True)
class Click:
    destination_url: str
    outcome: ViewOutcome


async def record_click(
    database: Database,
    settings: Settings,
    *,
    code: str,
    ip: str | None,
    user_agent: str | None,
    now: datetime,
) -> Click | None:
    """Record one click of the tracking link `code` and say where it leads; None for a code
    that is no participation's (nothing recorded). The click is one statement in autocommit,
    committed by itself before this returns (`click_connection`); a connection that died
    while pooled is replaced and the click sent again (nothing of it was written)."""
    if code not in _links and TRACKING_CODE.match(code) is None:
        return None  # not even the shape of a code: no connection taken
    try:
        return await _click(database, settings, code, ip, user_agent, now)
    except psycopg.OperationalError:
        # A connection that died while pooled fails its first statement, before anything of
        # the click was written (a statement in autocommit commits whole or not at all); it
        # was invalidated, so this sends the click once more, on another connection. A real
        # outage fails again: 503 database_unavailable (kit.errors).
        return await _click(database, settings, code, ip, user_agent, now)


async def _click(
    database: Database,
    settings: Settings,
    code: str,
    ip: str | None,
    user_agent: str | None,
    now: datetime,
) -> Click | None:
    async with click_connection(database) as connection:
        link = await link_of(connection, code)
        if link is None:
            return None
        day = now.date()
        salt = await day_salt(connection, day)
        address, agent = ip or "", user_agent or ""
        row = await _fetch(
            connection,
            CLICK,
            {
                "promoter_campaign_id": link.promoter_campaign_id,
                "campaign_id": link.campaign_id,
                "occurred_at": now,
                "since": now - RATE_WINDOW,
                "day": day,
                "visitor_hash": visitor_hash(salt, address, agent, link.campaign_id),
                "source_hash": source_hash(salt, address, agent),
                "bot": is_bot(agent),
                "rate_limit": settings.campaign_clicks_per_minute,
            },
        )
    if row is None:  # the participation is gone (never deleted; a code cached elsewhere)
        _links.pop(code, None)
        return None
    return Click(row[0], ViewOutcome(row[1]))


DESTINATION_OF = (
    "SELECT c.destination_url FROM campaigns.promoter_campaigns AS p"
    " JOIN campaigns.campaigns AS c ON c.id = p.campaign_id WHERE p.tracking_code = %(code)s"
)


async def destination_of(database: Database, code: str) -> str | None:
    """Where a tracking link leads, recording nothing (a HEAD request: link checkers)."""
    if TRACKING_CODE.match(code) is None:
        return None
    async with click_connection(database) as connection:
        row = await _fetch(connection, DESTINATION_OF, {"code": code})
    return None if row is None else str(row[0])


# --- upkeep and moderation ---------------------------------------------------------------------


async def delete_old_salts(session: AsyncSession, *, today: date) -> int:
    """Delete the salts of the days before yesterday (yesterday's stays for clicks that
    straddle midnight): their hashes can no longer be recomputed from any address."""
    result = await session.execute(delete(ViewSalt).where(ViewSalt.day < today - timedelta(days=1)))
    forget_salts()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delete_old_unique_views(session: AsyncSession, *, today: date) -> int:
    """Delete the dedupe keys of the days before yesterday: a click only ever looks up its own
    UTC day's keys (yesterday's stay for clicks that straddle midnight), so older ones only
    grew the table by a row per counted view. The views keep what was decided."""
    result = await session.execute(
        delete(UniqueView).where(UniqueView.day < today - timedelta(days=1))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


REJECT = Prepared(
    text(
        """
WITH campaign AS (
    SELECT c.id FROM campaigns.campaigns AS c WHERE c.id = :campaign_id FOR UPDATE
), participation AS (
    SELECT p.id FROM campaigns.promoter_campaigns AS p
    JOIN campaign AS c ON c.id = p.campaign_id
    WHERE p.promoter_id = :promoter_id
), rejected AS (
    UPDATE campaigns.views AS v SET outcome = 'rejected', reject_reason = :reason
    FROM participation AS p
    WHERE v.campaign_id = :campaign_id AND v.promoter_campaign_id = p.id
        AND v.outcome = 'pending'
    RETURNING v.id
)
SELECT p.id, (SELECT count(*) FROM rejected) AS rejected FROM participation AS p
"""
    ).bindparams(
        bindparam("campaign_id", type_=_UUID),
        bindparam("promoter_id", type_=_UUID),
        bindparam("reason", type_=Text),
    )
)


@dataclass(frozen=True, slots=True)
class Rejection:
    promoter_campaign_id: uuid.UUID
    rejected_views: int


async def reject_views(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    promoter_id: uuid.UUID,
    reason: str,
    by: uuid.UUID,
) -> Rejection:
    """An admin rejects a promoter's pending views of a campaign, with a reason (audited).
    Only pending views change: validated, paid and dropped ones stay as they are. The
    campaign's row is locked first (the lock order of every campaign path). 404 when the
    promoter never joined the campaign."""
    row = (
        await send(
            session,
            REJECT.bind({"campaign_id": campaign_id, "promoter_id": promoter_id, "reason": reason}),
        )
    ).one_or_none()
    if row is None:
        raise NotFound("this promoter has not joined this campaign")
    rejection = Rejection(row.id, int(row.rejected))
    await record_change(
        session,
        action="campaign.views.reject",
        entity_type="promoter_campaign",
        entity_id=rejection.promoter_campaign_id,
        actor_id=by,
        after={
            "campaign_id": str(campaign_id),
            "promoter_id": str(promoter_id),
            "rejected_views": rejection.rejected_views,
            "reason": reason,
        },
        description=f"{rejection.rejected_views} pending views rejected: {reason}",
    )
    return rejection
