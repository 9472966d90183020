"""Demo giveaways (issue 16), for `creatorhub demo`: sarah's draws in every state, built through
the services (so the credits, holds, commitments, certificates and history are the real ones):

* completed: "Winter boots giveaway", 60 comments, a blacklisted spam account, 2 winners, a
  winner replaced by the first alternate (two certificates, the second records the reroll);
* processing: "Camera strap giveaway", committed to a future drand round of the public
  quicknet chain; drawn by the job once the round is out (a machine offline retries it, and
  after 30 tries it fails and its credits come back, as any draw whose beacon cannot be read);
* pending: "Spring presets giveaway", comments imported, not committed yet;
* failed: "Rehearsal" (a test draw): 1 winner wanted, none eligible (keyword filter);
* cancelled: "Wrong post giveaway".

The demo admin grants sarah 5 credits for them (audited). Loading twice builds once (a host with
draws is left as she is).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.giveaways import credits
from creatorhub.giveaways.models import Draw
from creatorhub.giveaways.proof.beacon import QUICKNET
from creatorhub.giveaways.service import blacklist, drawing, execution
from creatorhub.kit.clock import utcnow

SARAH = "sarah@creatorhub.example"
ADMIN = "admin@creatorhub.example"

CONFIG: dict[str, Any] = {
    "winners_count": 2,
    "alternates_count": 3,
    "filters": {"min_followers": 10, "exclude_suspicious": True, "exclude_businesses": True},
    "rules": {"require_like": True, "require_comment": True, "require_follow": True},
}

DEMO_DRAWS = (
    ("Winter boots giveaway", "completed, a winner rerolled"),
    ("Camera strap giveaway", "processing: waits for a drand round"),
    ("Spring presets giveaway", "pending: comments imported"),
    ("Rehearsal", "failed (test draw): no eligible entry"),
    ("Wrong post giveaway", "cancelled"),
)

_FIRST = ("ana", "ben", "chloe", "dev", "emma", "finn", "gia", "hugo", "ines", "jon")
_LAST = ("", ".art", "_photo", ".travels", "_daily", "")


def demo_comments(count: int, *, start: datetime, post: str) -> list[dict[str, Any]]:
    """`count` plausible comments (mentions, a few businesses and a spam account)."""
    items: list[dict[str, Any]] = []
    for number in range(count):
        name = _FIRST[number % len(_FIRST)] + _LAST[number // len(_FIRST) % len(_LAST)]
        if number // 60:
            name += str(number // 60)
        friend = _FIRST[(number + 3) % len(_FIRST)]
        items.append(
            {
                "platform": "instagram",
                "comment_id": f"{post}-{number:04d}",
                "platform_user_id": f"ig-{name}",
                "username": name,
                "text": f"Love this! @{friend} look 😍",
                "created_at": start + timedelta(minutes=7 * number),
                "likes": number % 9,
                "mentions": [friend],
                "followers": 40 + 37 * number % 5_000,
                "is_business": number % 17 == 0,
                "is_verified": number % 23 == 0,
                "parent_id": None,
            }
        )
    items.append(
        {
            "platform": "instagram",
            "comment_id": f"{post}-spam",
            "platform_user_id": "ig-spam",
            "username": "spam_bot_123",
            "text": "Free followers at my link!!!",
            "created_at": start,
            "likes": 0,
            "mentions": [],
            "followers": 2,
            "is_business": False,
            "is_verified": False,
            "parent_id": None,
        }
    )
    return items


async def _draw(
    database: Database,
    settings: Settings,
    host: uuid.UUID,
    title: str,
    *,
    config: dict[str, Any] = CONFIG,
    is_test: bool = False,
    entries: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    async with database.session_scope() as session:
        draw = await drawing.create_draw(
            session,
            settings,
            host_id=host,
            title=title,
            platform="instagram",
            post_url="https://www.instagram.com/p/demo" + str(abs(hash(title)) % 10_000),
            config=config,
            is_test=is_test,
        )
        if entries:
            await drawing.add_entries(
                session, draw_id=draw.id, host_id=host, entries=entries, source="demo"
            )
        return draw.id


async def load_demo_giveaways(
    database: Database, settings: Settings, users: dict[str, uuid.UUID]
) -> list[str]:
    """sarah's draws unless she has some; returns the titles created."""
    host = users[SARAH]
    async with database.session_scope() as session:
        if await session.scalar(select(Draw.id).where(Draw.user_id == host).limit(1)):
            return []
    # Credits: the welcome bonus comes with the first draw; the demo admin grants 5 more.
    async with database.session_scope() as session:
        await credits.grant(
            session,
            admin_id=users[ADMIN],
            user_id=host,
            amount=5,
            reason="demo: a host's first giveaways",
            idempotency_key="demo",
        )
        await blacklist.add(
            session,
            host_id=host,
            platform="all",
            username="spam_bot_123",
            reason="posts the same link under every giveaway",
        )
    now = utcnow()
    start = now - timedelta(days=6)

    completed = await _draw(
        database,
        settings,
        host,
        "Winter boots giveaway",
        entries=demo_comments(60, start=start, post="wb"),
    )
    async with database.session_scope() as session:
        await execution.commit_and_draw(session, settings, draw_id=completed, host_id=host, now=now)
    async with database.session_scope() as session:
        await execution.reroll(
            session,
            settings,
            draw_id=completed,
            host_id=host,
            rank=2,
            reason="did not answer the host's message within 48 hours",
            now=now + timedelta(minutes=5),
        )

    waiting = await _draw(
        database,
        settings,
        host,
        "Camera strap giveaway",
        entries=demo_comments(25, start=start, post="cs"),
    )
    beacon_settings = settings.model_copy(
        update={
            "giveaway_drand_url": "https://api.drand.sh",
            "giveaway_drand_chain_hash": QUICKNET.chain_hash,
            "giveaway_drand_genesis": QUICKNET.genesis_time,
            "giveaway_drand_period": QUICKNET.period,
            "giveaway_beacon_margin_seconds": 120,
        }
    )
    async with database.session_scope() as session:
        await drawing.commit_draw(
            session, beacon_settings, draw_id=waiting, host_id=host, now=datetime.now(UTC)
        )

    await _draw(
        database,
        settings,
        host,
        "Spring presets giveaway",
        entries=demo_comments(12, start=now - timedelta(hours=5), post="sp"),
    )

    rehearsal = await _draw(
        database,
        settings,
        host,
        "Rehearsal",
        config={**CONFIG, "winners_count": 1, "rules": {"comment_keywords": ["rehearsal"]}},
        is_test=True,
        entries=demo_comments(5, start=start, post="rh"),
    )
    async with database.session_scope() as session:
        await execution.commit_and_draw(session, settings, draw_id=rehearsal, host_id=host, now=now)

    wrong = await _draw(database, settings, host, "Wrong post giveaway")
    async with database.session_scope() as session:
        await drawing.cancel_draw(
            session, draw_id=wrong, host_id=host, reason="linked the wrong post", now=now
        )
    return [title for title, _ in DEMO_DRAWS]
