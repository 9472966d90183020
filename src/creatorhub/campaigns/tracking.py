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

The click path loads no ORM object and authenticates nobody. A participation's code never
changes its campaign, so code -> (participation, campaign) is kept in process memory after its
first lookup, and so is the day's salt: a click is one round trip.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from crawlerdetect import CrawlerDetect  # type: ignore[import-untyped]
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    LargeBinary,
    Text,
    bindparam,
    delete,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change
from creatorhub.campaigns.models import PromoterCampaign, ViewOutcome, ViewSalt
from creatorhub.config import Settings
from creatorhub.db import Prepared, send, table_of
from creatorhub.kit.errors import NotFound

HASH_BYTES = 16
RATE_WINDOW = timedelta(minutes=1)
TRACKING_CODE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

_UUID = PG_UUID(as_uuid=True)
_PARTICIPATIONS = table_of(PromoterCampaign)
_SALTS = table_of(ViewSalt)


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

SALT_INSERT = Prepared(
    pg_insert(_SALTS)
    .values(day=bindparam("day", type_=Date), salt=bindparam("salt", type_=LargeBinary))
    .on_conflict_do_nothing(index_elements=["day"])
)
SALT_OF = Prepared(select(_SALTS.c.salt).where(_SALTS.c.day == bindparam("day", type_=Date)))


async def day_salt(session: AsyncSession, day: date) -> bytes:
    """The day's salt: from memory, else the database's (made by the day's first click
    anywhere: INSERT ... ON CONFLICT DO NOTHING, then read, so every process gets the same)."""
    salt = _salts.get(day)
    if salt is not None:
        return salt
    await send(session, SALT_INSERT.bind({"day": day, "salt": secrets.token_bytes(32)}))
    stored: bytes = (await send(session, SALT_OF.bind({"day": day}))).scalar_one()
    salt = stored
    if len(_salts) > 4:
        _salts.clear()
    _salts[day] = salt
    return salt


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

LINK_OF = Prepared(
    select(_PARTICIPATIONS.c.id, _PARTICIPATIONS.c.campaign_id).where(
        _PARTICIPATIONS.c.tracking_code == bindparam("code", type_=Text)
    )
)


async def link_of(session: AsyncSession, code: str) -> Link | None:
    """The participation a tracking code belongs to (None: no such code). Kept once found: a
    code's participation and campaign never change. An unknown code is not kept (it may be
    given out later)."""
    link = _links.get(code)
    if link is not None:
        return link
    if TRACKING_CODE.match(code) is None:
        return None
    row = (await send(session, LINK_OF.bind({"code": code}))).one_or_none()
    if row is None:
        return None
    if len(_links) >= _LINKS_KEPT:
        _links.clear()
    link = _links[code] = Link(row.id, row.campaign_id)
    return link


# --- the click ---------------------------------------------------------------------------------

# The whole click as one statement (see the module's docstring for the steps).
CLICK = Prepared(
    text(
        """
WITH pc AS (
    SELECT p.status AS participation_status, c.status AS campaign_status, c.destination_url
    FROM campaigns.promoter_campaigns AS p
    JOIN campaigns.campaigns AS c ON c.id = p.campaign_id
    WHERE p.id = :promoter_campaign_id AND c.id = :campaign_id
), recent AS (
    SELECT count(*) AS clicks FROM (
        SELECT 1 FROM campaigns.views AS v
        WHERE v.source_hash = :source_hash AND v.occurred_at > :since
        LIMIT :rate_limit
    ) AS r
), early AS (
    SELECT CASE
        WHEN pc.campaign_status <> 'active' OR pc.participation_status <> 'active'
            THEN 'campaign_inactive'
        WHEN :bot THEN 'bot'
        WHEN EXISTS (
            SELECT 1 FROM campaigns.unique_views AS u
            WHERE u.campaign_id = :campaign_id AND u.day = :day AND u.visitor_hash = :visitor_hash
        ) THEN 'duplicate'
        WHEN recent.clicks >= :rate_limit THEN 'rate_limited'
    END AS outcome
    FROM pc, recent
), new_view AS (
    SELECT nextval('campaigns.views_id_seq') AS id FROM early
), first_view AS (
    INSERT INTO campaigns.unique_views (campaign_id, day, visitor_hash, view_id)
    SELECT :campaign_id, :day, :visitor_hash, new_view.id
    FROM early, new_view WHERE early.outcome IS NULL
    ON CONFLICT DO NOTHING
    RETURNING view_id
), campaign AS (
    SELECT c.status, c.views_counted, c.max_views, c.max_views_per_promoter
    FROM campaigns.campaigns AS c
    WHERE c.id = :campaign_id AND EXISTS (SELECT 1 FROM first_view)
    FOR UPDATE
), promoter AS (
    UPDATE campaigns.promoter_campaigns AS p
    SET views_generated = p.views_generated + 1
    FROM campaign AS c
    WHERE p.id = :promoter_campaign_id AND p.status = 'active' AND c.status = 'active'
        AND (c.max_views IS NULL OR c.views_counted < c.max_views)
        AND (c.max_views_per_promoter IS NULL OR p.views_generated < c.max_views_per_promoter)
    RETURNING p.id
), counted AS (
    UPDATE campaigns.campaigns AS c
    SET views_counted = c.views_counted + 1
    WHERE c.id = :campaign_id AND EXISTS (SELECT 1 FROM promoter)
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
    SELECT new_view.id, :campaign_id, :promoter_campaign_id, :occurred_at, :visitor_hash,
        :source_hash, outcome.outcome
    FROM new_view, outcome
    RETURNING outcome
)
SELECT pc.destination_url, recorded.outcome FROM pc, recorded
"""
    ).bindparams(
        bindparam("promoter_campaign_id", type_=_UUID),
        bindparam("campaign_id", type_=_UUID),
        bindparam("occurred_at", type_=DateTime(timezone=True)),
        bindparam("since", type_=DateTime(timezone=True)),
        bindparam("day", type_=Date),
        bindparam("visitor_hash", type_=LargeBinary),
        bindparam("source_hash", type_=LargeBinary),
        bindparam("bot", type_=Boolean),
        bindparam("rate_limit", type_=BigInteger),
    )
)


@dataclass(frozen=True, slots=True)
class Click:
    destination_url: str
    outcome: ViewOutcome


async def record_click(
    session: AsyncSession,
    settings: Settings,
    *,
    code: str,
    ip: str | None,
    user_agent: str | None,
    now: datetime,
) -> Click | None:
    """Record one click of the tracking link `code` and say where it leads; None for a code
    that is no participation's (nothing recorded). `session` should be in autocommit (the
    request's session of a GET is): the click is then one statement, committed by itself."""
    link = await link_of(session, code)
    if link is None:
        return None
    day = now.date()
    salt = await day_salt(session, day)
    address, agent = ip or "", user_agent or ""
    result = await send(
        session,
        CLICK.bind(
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
            }
        ),
    )
    row = result.one_or_none()
    if row is None:  # the participation is gone (never deleted; a code cached elsewhere)
        _links.pop(code, None)
        return None
    return Click(row.destination_url, ViewOutcome(row.outcome))


# --- upkeep and moderation ---------------------------------------------------------------------


async def delete_old_salts(session: AsyncSession, *, today: date) -> int:
    """Delete the salts of the days before yesterday (yesterday's stays for clicks that
    straddle midnight): their hashes can no longer be recomputed from any address."""
    result = await session.execute(delete(ViewSalt).where(ViewSalt.day < today - timedelta(days=1)))
    forget_salts()
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
