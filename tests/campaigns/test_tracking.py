"""The tracking link `GET /t/{code}` and its view pipeline (issue 14, part B): one click is one
statement that records it with its outcome and counts it only when it may be counted; unknown
codes are a 404 page with nothing recorded; the admin rejects a promoter's pending views.

Visitors are told apart by address and user agent: an in-process client per address
(`visitor`), or the service called with an explicit address and a later `now` (the test
clock) for what depends on time (days, the rate limit's minute).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update

import campaign_helpers
from creatorhub.campaigns import tracking
from creatorhub.campaigns.models import Campaign, PromoterCampaign, UniqueView, View, ViewSalt
from creatorhub.config import Settings
from creatorhub.db import Database, libpq_url
from creatorhub.jobs import JobRuntime
from helpers import Account, account, assert_problem, grant_roles, scalar

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Twitterbot/1.0",
    "curl/8.4.0",
    "python-requests/2.31.0",
]
DESTINATION = "https://shop.example.com/spring?utm=creatorhub"


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    """Each test has its own database: nothing kept in process memory may outlive it."""
    tracking.forget_salts()
    tracking._links.clear()


# --- a world of campaigns and participations --------------------------------------------------


async def campaign_row(
    database: Database,
    advertiser: Account,
    *,
    status: str = "active",
    max_views: int = 1_000,
    per_promoter: int | None = None,
) -> uuid.UUID:
    """A funded visibility campaign as its row (the lifecycle's own tests fund them through the
    API; here only the tracking matters)."""
    now = datetime.now(UTC)
    campaign = Campaign(
        advertiser_id=uuid.UUID(advertiser.id),
        type="visibility",
        title="Spring launch",
        status=status,
        pause_reason="advertiser" if status == "paused" else None,
        currency="USD",
        budget=-(-300 * max_views // 100),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=30),
        cpv=300,
        max_views=max_views,
        max_views_per_promoter=per_promoter,
        destination_url=DESTINATION,
        escrow_account_id=uuid.uuid4(),
        funded_at=now,
        ended_at=now if status in ("completed", "cancelled") else None,
    )
    async with database.session_scope() as session:
        session.add(campaign)
    return campaign.id


async def participation(
    database: Database, campaign_id: uuid.UUID, promoter: Account, *, status: str = "active"
) -> str:
    """The promoter's participation; its tracking code."""
    code = uuid.uuid4().hex[:16]
    async with database.session_scope() as session:
        session.add(
            PromoterCampaign(
                campaign_id=campaign_id,
                promoter_id=uuid.UUID(promoter.id),
                status=status,
                tracking_code=code,
            )
        )
    return code


@pytest.fixture
async def advertiser(client: httpx.AsyncClient) -> Account:
    return await account(client, roles=["brand"])


@pytest.fixture
async def promoter(client: httpx.AsyncClient) -> Account:
    return await account(client, roles=["creator"])


@pytest.fixture
async def visitor(app: FastAPI) -> AsyncIterator[Any]:
    """`visitor(ip)`: an in-process client that comes from that address."""
    clients: list[httpx.AsyncClient] = []

    def make(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 50000))
        made = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(made)
        return made

    yield make
    for made in clients:
        await made.aclose()


async def click(
    database: Database,
    settings: Settings,
    code: str,
    *,
    ip: str = "198.51.100.1",
    agent: str = BROWSER,
    now: datetime | None = None,
) -> str:
    """One click through the service, as the route sends it; its outcome."""
    done = await tracking.record_click(
        database,
        settings,
        code=code,
        ip=ip,
        user_agent=agent,
        now=now or datetime.now(UTC),
    )
    assert done is not None
    assert done.destination_url == DESTINATION
    return done.outcome.value


async def outcomes(database: Database, campaign_id: uuid.UUID) -> Counter[str]:
    async with database.read_scope() as session:
        rows = await session.execute(
            select(View.outcome).where(View.campaign_id == campaign_id).order_by(View.id)
        )
        return Counter(rows.scalars())


async def counters(database: Database, campaign_id: uuid.UUID) -> tuple[int, dict[str, int]]:
    """The campaign's views_counted and each participation's views_generated (by code)."""
    async with database.read_scope() as session:
        counted = await session.scalar(
            select(Campaign.views_counted).where(Campaign.id == campaign_id)
        )
        rows = await session.execute(
            select(PromoterCampaign.tracking_code, PromoterCampaign.views_generated).where(
                PromoterCampaign.campaign_id == campaign_id
            )
        )
        return int(counted or 0), {row[0]: row[1] for row in rows}


# --- the link ----------------------------------------------------------------------------------


async def test_a_click_redirects_and_a_visitor_counts_once_a_day(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    advertiser: Account,
    promoter: Account,
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)

    first = await client.get(f"/t/{code}", headers={"User-Agent": BROWSER})
    assert first.status_code == 302
    assert first.headers["location"] == DESTINATION
    assert first.headers["cache-control"] == "no-store"
    again = await client.get(f"/t/{code}", headers={"User-Agent": BROWSER})
    assert again.status_code == 302 and again.headers["location"] == DESTINATION
    # Another browser at the same address is another visitor.
    other = await client.get(f"/t/{code}", headers={"User-Agent": IPHONE})
    assert other.status_code == 302

    assert await outcomes(database, campaign_id) == {"pending": 2, "duplicate": 1}
    assert await counters(database, campaign_id) == (2, {code: 2})
    # Tomorrow the same visitor counts again (a new day, a new salt).
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert await click(database, settings, code, ip="203.0.113.7", now=tomorrow) == "pending"
    assert await click(database, settings, code, ip="203.0.113.7", now=tomorrow) == "duplicate"
    assert await counters(database, campaign_id) == (3, {code: 3})


async def test_a_visitor_counts_once_per_campaign_whichever_promoter_sent_them(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    advertiser: Account,
    promoter: Account,
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    other_code = await participation(
        database, campaign_id, await account(client, roles=["creator"])
    )
    assert await click(database, settings, code) == "pending"
    assert await click(database, settings, other_code) == "duplicate"
    # The same visitor on another campaign is counted there.
    second = await campaign_row(database, advertiser)
    assert await click(database, settings, await participation(database, second, promoter)) == (
        "pending"
    )
    assert await counters(database, campaign_id) == (1, {code: 1, other_code: 0})


async def test_unknown_codes_are_a_404_page_and_record_nothing(
    client: httpx.AsyncClient, database: Database, advertiser: Account, promoter: Account
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    await participation(database, campaign_id, promoter)
    for code in ("nosuchcode123", "x", "bad code!", "a" * 65):
        response = await client.get(f"/t/{code}", headers={"User-Agent": BROWSER})
        assert response.status_code == 404, code
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
    for path in ("/t/", "/t/a/b/c"):
        assert (await client.get(path, headers={"User-Agent": BROWSER})).status_code == 404
    code = await participation(database, campaign_id, await account(client, roles=["creator"]))
    refused = await client.post(f"/t/{code}", headers={"User-Agent": BROWSER})
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    # A link checker's HEAD is told where the link leads; it is no visit.
    checked = await client.head(f"/t/{code}", headers={"User-Agent": BROWSER})
    assert checked.status_code == 302 and checked.headers["location"] == DESTINATION
    assert (await client.head("/t/nosuchcode123")).status_code == 404
    assert await scalar(database, "SELECT count(*) FROM campaigns.views") == 0
    assert await scalar(database, "SELECT count(*) FROM campaigns.unique_views") == 0
    assert await scalar(database, "SELECT count(*) FROM campaigns.view_salts") == 0


async def test_known_bots_and_empty_user_agents_are_dropped(
    visitor: Any, database: Database, advertiser: Account, promoter: Account
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    for n, agent in enumerate([*CRAWLERS, ""]):
        response = await visitor(f"192.0.2.{n + 1}").get(
            f"/t/{code}", headers={"User-Agent": agent}
        )
        assert response.status_code == 302  # a bot is sent on, just not counted
    assert await outcomes(database, campaign_id) == {"bot": len(CRAWLERS) + 1}
    assert await counters(database, campaign_id) == (0, {code: 0})
    assert await scalar(database, "SELECT count(*) FROM campaigns.unique_views") == 0
    # A browser after them is counted.
    await visitor("192.0.2.200").get(f"/t/{code}", headers={"User-Agent": BROWSER})
    assert (await outcomes(database, campaign_id))["pending"] == 1


async def test_more_than_the_limit_of_clicks_a_minute_is_rate_limited(
    database: Database, settings: Settings, advertiser: Account, promoter: Account
) -> None:
    """30 clicks a minute (the default) from one visitor across all campaigns; the 31st and on
    are rate-limited (even on a campaign they never visited); a minute later they count."""
    assert settings.campaign_clicks_per_minute == 30
    codes = []
    for _ in range(32):
        codes.append(
            await participation(database, await campaign_row(database, advertiser), promoter)
        )
    now = datetime.now(UTC)
    seen = [
        await click(database, settings, code, now=now + timedelta(seconds=n))
        for n, code in enumerate(codes[:31])
    ]
    assert seen == ["pending"] * 30 + ["rate_limited"]
    # Another visitor at the same time is not limited.
    assert await click(database, settings, codes[31], ip="198.51.100.2", now=now) == "pending"
    # Once the burst is more than a minute old, the limited campaign counts the visitor.
    later = now + timedelta(seconds=92)
    assert await click(database, settings, codes[30], now=later) == "pending"


async def test_inactive_campaigns_and_participations_count_nothing(
    visitor: Any,
    client: httpx.AsyncClient,
    database: Database,
    advertiser: Account,
    promoter: Account,
) -> None:
    for status in ("paused", "completed"):
        campaign_id = await campaign_row(database, advertiser, status=status)
        code = await participation(database, campaign_id, promoter)
        response = await client.get(f"/t/{code}", headers={"User-Agent": BROWSER})
        assert response.status_code == 302 and response.headers["location"] == DESTINATION
        assert await outcomes(database, campaign_id) == {"campaign_inactive": 1}
        assert await counters(database, campaign_id) == (0, {code: 0})
    # The promoter left an active campaign: their link stops counting.
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter, status="left")
    await client.get(f"/t/{code}", headers={"User-Agent": BROWSER})
    assert await outcomes(database, campaign_id) == {"campaign_inactive": 1}
    # Paused after a view: the next visitor is not counted; resumed: counted.
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    await visitor("192.0.2.1").get(f"/t/{code}", headers={"User-Agent": BROWSER})
    await _set_status(database, campaign_id, "paused", "advertiser")
    await visitor("192.0.2.2").get(f"/t/{code}", headers={"User-Agent": BROWSER})
    await _set_status(database, campaign_id, "active", None)
    await visitor("192.0.2.3").get(f"/t/{code}", headers={"User-Agent": BROWSER})
    assert await outcomes(database, campaign_id) == {"pending": 2, "campaign_inactive": 1}
    assert await counters(database, campaign_id) == (2, {code: 2})


async def _set_status(
    database: Database, campaign_id: uuid.UUID, status: str, reason: str | None
) -> None:
    async with database.session_scope() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(status=status, pause_reason=reason)
        )


async def test_a_joined_promoters_link_through_the_api_follows_the_campaigns_life(
    visitor: Any, client: httpx.AsyncClient, database: Database
) -> None:
    """Funded, joined, paused, resumed and ended through the API (the helpers of part A): the
    link the join answered counts while the campaign is active, up to the promoter's cap, and
    not while paused or after the end; it keeps redirecting."""
    owner = await campaign_helpers.advertiser(client, funds=campaign_helpers.DEFAULT_BUDGET)
    campaign = await campaign_helpers.funded_campaign(client, owner, max_views_per_promoter=3)
    who = await campaign_helpers.promoter(client)
    joined = await campaign_helpers.join(client, campaign["id"], who)
    link = joined["tracking_link"]
    assert link == f"http://testserver/t/{joined['tracking_code']}"
    path = link.removeprefix("http://testserver")
    addresses = iter(f"192.0.2.{n}" for n in range(1, 100))

    async def follow() -> None:
        response = await visitor(next(addresses)).get(path, headers={"User-Agent": BROWSER})
        assert response.status_code == 302
        assert response.headers["location"] == "https://shop.example.com/spring"

    await follow()
    assert (await campaign_helpers.pause(client, campaign["id"], owner)).status_code == 200
    await follow()
    assert (await campaign_helpers.resume(client, campaign["id"], owner)).status_code == 200
    for _ in range(3):
        await follow()
    assert (await campaign_helpers.end(client, campaign["id"], owner)).status_code == 200
    await follow()
    campaign_id = uuid.UUID(campaign["id"])
    assert await outcomes(database, campaign_id) == {
        "pending": 3,
        "campaign_inactive": 2,
        "over_cap": 1,
    }
    assert await counters(database, campaign_id) == (3, {joined["tracking_code"]: 3})
    seen = await campaign_helpers.campaign_of(client, campaign["id"], owner)
    assert seen["status"] == "completed"


async def test_views_past_the_campaigns_max_views_are_over_cap(
    database: Database, settings: Settings, advertiser: Account, promoter: Account
) -> None:
    campaign_id = await campaign_row(database, advertiser, max_views=100)
    code = await participation(database, campaign_id, promoter)
    seen = Counter(
        [await click(database, settings, code, ip=f"10.0.{n // 250}.{n % 250}") for n in range(103)]
    )
    assert seen == {"pending": 100, "over_cap": 3}
    assert await counters(database, campaign_id) == (100, {code: 100})


async def test_views_past_a_promoters_cap_are_over_cap_for_that_promoter_only(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    advertiser: Account,
    promoter: Account,
) -> None:
    campaign_id = await campaign_row(database, advertiser, per_promoter=2)
    code = await participation(database, campaign_id, promoter)
    other = await participation(database, campaign_id, await account(client, roles=["creator"]))
    mine = [await click(database, settings, code, ip=f"10.1.0.{n}") for n in range(4)]
    assert mine == ["pending", "pending", "over_cap", "over_cap"]
    theirs = [await click(database, settings, other, ip=f"10.2.0.{n}") for n in range(2)]
    assert theirs == ["pending", "pending"]
    assert await counters(database, campaign_id) == (4, {code: 2, other: 2})


async def test_concurrent_clicks_never_count_past_max_views(
    visitor: Any, database: Database, advertiser: Account, promoter: Account, client: Any
) -> None:
    """40 visitors at once on a campaign with 5 views left, over two promoters' links: exactly
    5 counted, the rest over cap, the counters agree with the views."""
    campaign_id = await campaign_row(database, advertiser, max_views=100)
    codes = [
        await participation(database, campaign_id, promoter),
        await participation(database, campaign_id, await account(client, roles=["creator"])),
    ]
    async with database.session_scope() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(views_counted=95)
        )
    responses = await asyncio.gather(
        *(
            visitor(f"10.3.0.{n}").get(f"/t/{codes[n % 2]}", headers={"User-Agent": BROWSER})
            for n in range(40)
        )
    )
    assert {response.status_code for response in responses} == {302}
    assert await outcomes(database, campaign_id) == {"pending": 5, "over_cap": 35}
    counted, generated = await counters(database, campaign_id)
    assert counted == 100 and sum(generated.values()) == 5


async def test_concurrent_clicks_of_one_visitor_count_once(
    visitor: Any, database: Database, advertiser: Account, promoter: Account
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    same = visitor("10.4.0.1")
    await asyncio.gather(
        *(same.get(f"/t/{code}", headers={"User-Agent": BROWSER}) for _ in range(12))
    )
    assert await outcomes(database, campaign_id) == {"pending": 1, "duplicate": 11}
    assert await counters(database, campaign_id) == (1, {code: 1})


async def test_a_click_on_connections_that_died_while_pooled_is_recorded_once(
    client: httpx.AsyncClient,
    database: Database,
    database_url: str,
    advertiser: Account,
    promoter: Account,
) -> None:
    """A restarted server leaves the pool's connections dead: the click's first statement fails
    on one, nothing of it written, and it is sent again on a fresh connection: one view."""
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    await asyncio.gather(
        *(client.get(f"/t/{code}", headers={"User-Agent": f"{BROWSER} {n}"}) for n in range(4))
    )
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as admin:
        cursor = await admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
        )
        assert len(await cursor.fetchall()) >= 1
    response = await client.get(f"/t/{code}", headers={"User-Agent": IPHONE})
    assert response.status_code == 302
    assert await outcomes(database, campaign_id) == {"pending": 5}


# --- what is stored about a visitor ------------------------------------------------------------


async def test_the_address_is_never_stored_only_keyed_hashes_under_the_days_salt(
    visitor: Any, database: Database, advertiser: Account, promoter: Account
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    ip = "198.51.100.77"
    await visitor(ip).get(f"/t/{code}", headers={"User-Agent": BROWSER})

    async with database.read_scope() as session:
        view = (await session.execute(select(View))).scalar_one()
        salt = (await session.execute(select(ViewSalt))).scalar_one()
        dump = await session.scalar(
            text(
                "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM campaigns.views UNION ALL"
                " SELECT NULL, NULL, NULL, NULL, visitor_hash, NULL, NULL, NULL, NULL, NULL"
                " FROM campaigns.unique_views) AS t"
            )
        )
    assert salt.day == datetime.now(UTC).date() and len(salt.salt) == 32
    assert len(view.visitor_hash) == 16 and len(view.source_hash or b"") == 16
    for stored in (view.visitor_hash, view.source_hash or b""):
        for form in (ip.encode(), bytes(int(part) for part in ip.split(".")), BROWSER.encode()):
            assert form not in stored
    assert ip not in (dump or "") and "Chrome" not in (dump or "")
    # It is the HMAC of address, agent and campaign under the salt, not a plain hash.
    assert view.visitor_hash == tracking.visitor_hash(salt.salt, ip, BROWSER, campaign_id)
    assert view.visitor_hash != tracking.visitor_hash(b"\0" * 32, ip, BROWSER, campaign_id)
    assert view.source_hash == tracking.source_hash(salt.salt, ip, BROWSER)


async def test_each_day_has_its_own_salt_and_old_salts_are_deleted(
    database: Database, settings: Settings, advertiser: Account, promoter: Account
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    today = datetime.now(UTC).replace(hour=12)
    for days_ago in (3, 2, 1, 0):
        await click(database, settings, code, now=today - timedelta(days=days_ago))
    async with database.read_scope() as session:
        salts = {row.day: row.salt for row in (await session.execute(select(ViewSalt))).scalars()}
        hashes = set((await session.execute(select(View.visitor_hash))).scalars())
    assert len(salts) == 4 and len(set(salts.values())) == 4
    # Memory holds no salt older than yesterday's either.
    assert set(tracking._salts) == {today.date(), today.date() - timedelta(days=1)}
    assert len(hashes) == 4  # the same visitor, unlinkable from one day to the next

    async with database.session_scope() as session:
        deleted = await tracking.delete_old_salts(session, today=today.date())
    assert deleted == 2
    async with database.read_scope() as session:
        kept = set((await session.execute(select(ViewSalt.day))).scalars())
    assert kept == {today.date(), today.date() - timedelta(days=1)}
    # The dedupe keys of those days go too; the views keep their outcomes.
    async with database.session_scope() as session:
        assert await tracking.delete_old_unique_views(session, today=today.date()) == 2
        keys = set((await session.execute(select(UniqueView.day))).scalars())
        outcomes = list((await session.execute(select(View.outcome))).scalars())
    assert keys == {today.date(), today.date() - timedelta(days=1)}
    assert outcomes == ["pending"] * 4
    # Deleting again changes nothing; clicks go on under today's salt.
    async with database.session_scope() as session:
        assert await tracking.delete_old_salts(session, today=today.date()) == 0
        assert await tracking.delete_old_unique_views(session, today=today.date()) == 0
    assert await click(database, settings, code, ip="198.51.100.9", now=today) == "pending"


async def test_the_salt_of_a_day_is_the_same_for_every_process(database: Database) -> None:
    day = date(2026, 12, 1)
    first = await tracking.salt_of(database, day)
    tracking.forget_salts()  # another process: nothing in memory
    assert await tracking.salt_of(database, day) == first


# --- the admin's rejection ---------------------------------------------------------------------


async def test_an_admin_rejects_a_promoters_pending_views_only(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    advertiser: Account,
    promoter: Account,
) -> None:
    campaign_id = await campaign_row(database, advertiser)
    code = await participation(database, campaign_id, promoter)
    other = await account(client, roles=["creator"])
    other_code = await participation(database, campaign_id, other)
    for n in range(3):
        await click(database, settings, code, ip=f"10.5.0.{n}")
    await click(database, settings, code, ip="10.5.0.0")  # duplicate
    await click(database, settings, code, agent=CRAWLERS[0])  # bot
    await click(database, settings, other_code, ip="10.6.0.1")
    # One of the promoter's views is past its window already (validated by settlement).
    async with database.session_scope() as session:
        first = await session.scalar(
            select(View.id).where(View.outcome == "pending").order_by(View.id).limit(1)
        )
        await session.execute(update(View).where(View.id == first).values(outcome="validated"))
    admin = await account(client, roles=["creator"])
    await grant_roles(database, admin.id, "admin")
    path = f"/v1/admin/campaigns/{campaign_id}/promoters/{promoter.id}/reject-views"

    refused = await client.post(path, json={"reason": "click farm"}, headers=promoter.headers)
    assert_problem(refused, 403, "role_required")
    for bad in ("", "   ", "nul \u0000 inside", "x" * 501):
        assert_problem(
            await client.post(path, json={"reason": bad}, headers=admin.headers),
            422,
            "validation_error",
        )
    nobody = f"/v1/admin/campaigns/{campaign_id}/promoters/{advertiser.id}/reject-views"
    assert_problem(
        await client.post(nobody, json={"reason": "x"}, headers=admin.headers), 404, "not_found"
    )
    assert await outcomes(database, campaign_id) == {
        "pending": 3,
        "validated": 1,
        "duplicate": 1,
        "bot": 1,
    }

    response = await client.post(path, json={"reason": "click farm"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["rejected_views"] == 2
    assert await outcomes(database, campaign_id) == {
        "rejected": 2,
        "pending": 1,
        "validated": 1,
        "duplicate": 1,
        "bot": 1,
    }
    async with database.read_scope() as session:
        rows = (await session.execute(select(View.outcome, View.reject_reason))).all()
    assert {(outcome, reason) for outcome, reason in rows if outcome == "rejected"} == {
        ("rejected", "click farm")
    }
    # The other promoter's pending view stays pending; the change is audited.
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM audit.audit_logs WHERE action = 'campaign.views.reject'"
            " AND actor_id = CAST(:id AS uuid)",
            id=admin.id,
        )
        == 1
    )
    again = await client.post(path, json={"reason": "click farm"}, headers=admin.headers)
    assert again.json()["rejected_views"] == 0


async def test_the_hourly_job_deletes_the_salts_before_yesterday(
    database: Database, settings: Settings
) -> None:
    from creatorhub.campaigns import tasks

    today = datetime.now(UTC).date()
    for days_ago in range(4):
        await tracking.salt_of(database, today - timedelta(days=days_ago))
    async with JobRuntime(database, settings).open():
        assert await tasks.delete_old_view_salts(0) == 2
        assert await tasks.delete_old_view_salts(0) == 0
    async with database.read_scope() as session:
        kept = set((await session.execute(select(ViewSalt.day))).scalars())
    assert kept == {today, today - timedelta(days=1)}
