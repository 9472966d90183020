"""Demo campaigns (issue 14), for `creatorhub demo`: the demo brand's funded visibility
campaign with three demo creators promoting it and views in every state, and a small campaign of
the second brand.

Everything goes through the campaign services (create, fund from the wallet, join, pause and
resume, the tracking link's `record_click` with a chosen time, an admin's rejection, validation
and settlement), so the ledger movements, audit rows and counts are the real ones. Times are
spread over the last six days (the services take `now`), so that at load time:

* the views of five days ago are paid (settled, the promoter's earning pending in the wallet);
* those of four days ago are validated (past the 72-hour window), paid by the hourly job's next
  run;
* those of yesterday and today are pending; one promoter's of yesterday are rejected by the
  admin, with a reason;
* dropped clicks keep their reason: a duplicate, a bot, a click while the campaign was paused
  (campaign_inactive), a promoter over their cap (over_cap), and a rate-limited source (one
  address and browser that clicked the second brand's link thirty times in a minute).

A campaign that exists (same brand, same title) is left as it is: loading twice builds once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from creatorhub.campaigns import service, settlement, tracking
from creatorhub.campaigns.models import AdvertiserDetails, Campaign
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow

BRIGHT = "brand@creatorhub.example"
NORTHWIND = "northwind@creatorhub.example"
ADMIN = "admin@creatorhub.example"
SARAH, MIA, LEO, KAI = (
    "sarah@creatorhub.example",
    "mia@creatorhub.example",
    "leo@creatorhub.example",
    "kai@creatorhub.example",
)
REJECTION = "Clicks bought from a traffic exchange: not a real audience."
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@dataclass(frozen=True)
class DemoCampaign:
    brand: str
    title: str
    shows: str  # printed by `creatorhub demo`
    description: str
    destination_url: str
    cpv: int  # per 100 views, USD minor units
    max_views: int
    max_views_per_promoter: int | None
    promoters: tuple[str, ...]


MAIN = DemoCampaign(
    BRIGHT,
    "Winter jacket launch views",
    "active: views paid, validated, pending, rejected and dropped for each reason",
    "Share the winter jacket's page: every 100 unique visitors you send pay USD 2.50.",
    "https://brand.example/winter-jacket",
    cpv=250,
    max_views=2_000,
    max_views_per_promoter=30,
    promoters=(SARAH, MIA, LEO),
)
SMALL = DemoCampaign(
    NORTHWIND,
    "Trail socks visibility",
    "active, one promoter, pending views",
    "Send hikers to the trail socks page.",
    "https://northwind.example/trail-socks",
    cpv=180,
    max_views=500,
    max_views_per_promoter=None,
    promoters=(KAI,),
)
DEMO_CAMPAIGNS = (MAIN, SMALL)


def _visitor(number: int) -> tuple[str, str]:
    """A visitor's address and browser (documentation addresses, RFC 5737)."""
    return f"198.51.{100 + number // 250}.{number % 250 + 1}", f"{BROWSER} demo/{number}"


async def load_demo_campaigns(
    database: Database, settings: Settings, users: dict[str, uuid.UUID]
) -> list[str]:
    """Build the demo campaigns unless the main one exists; returns the titles created."""
    async with database.session_scope() as session:
        exists = await session.scalar(
            select(Campaign.id).where(
                Campaign.advertiser_id == users[MAIN.brand], Campaign.title == MAIN.title
            )
        )
    if exists is not None:
        return []
    now = utcnow()
    start = now - timedelta(days=6)
    codes: dict[tuple[str, str], str] = {}  # (campaign title, promoter e-mail) -> tracking code
    ids: dict[str, uuid.UUID] = {}
    async with database.session_scope() as session:
        # The demo's advertisers, verified by the platform (as an administrator would).
        session.add_all(
            AdvertiserDetails(
                user_id=users[brand], verification_status="verified", verified_at=start
            )
            for brand in sorted({spec.brand for spec in DEMO_CAMPAIGNS})
        )
        for spec in DEMO_CAMPAIGNS:
            draft = service.CampaignDraft(
                type="visibility",
                title=spec.title,
                description=spec.description,
                currency="USD",
                budget=None,
                starts_at=None,
                ends_at=now + timedelta(days=24),
                categories=[],
                languages=[],
                min_followers=0,
                cpv=spec.cpv,
                max_views=spec.max_views,
                max_views_per_promoter=spec.max_views_per_promoter,
                destination_url=spec.destination_url,
            )
            brand_id = users[spec.brand]
            campaign = await service.create_campaign(
                session, advertiser_id=brand_id, draft=draft, now=start
            )
            await service.fund_from_wallet(
                session, campaign_id=campaign.id, advertiser_id=brand_id, now=start
            )
            ids[spec.title] = campaign.id
            for email in spec.promoters:
                joined = await service.join(
                    session, campaign_id=campaign.id, promoter_id=users[email], now=start
                )
                codes[(spec.title, email)] = joined.tracking_code

    async def clicks(email: str, visitors: range, at: datetime, title: str = MAIN.title) -> None:
        for offset, number in enumerate(visitors):
            ip, agent = _visitor(number)
            await tracking.record_click(
                database,
                settings,
                code=codes[(title, email)],
                ip=ip,
                user_agent=agent,
                now=at + timedelta(seconds=offset * 7),
            )

    main_id = ids[MAIN.title]
    await clicks(SARAH, range(0, 12), now - timedelta(days=5))  # paid
    await clicks(SARAH, range(12, 20), now - timedelta(days=4))  # validated
    await clicks(MIA, range(20, 26), now - timedelta(days=4))  # validated
    await clicks(MIA, range(26, 56), now - timedelta(days=1))  # 24 pending, 6 over her cap
    await clicks(LEO, range(56, 61), now - timedelta(days=1))  # pending, then rejected
    async with database.session_scope() as session:
        await service.pause(
            session,
            campaign_id=main_id,
            advertiser_id=users[MAIN.brand],
            now=now - timedelta(days=2),
        )
    await clicks(SARAH, range(61, 63), now - timedelta(days=2))  # while paused: inactive
    async with database.session_scope() as session:
        await service.resume(
            session,
            campaign_id=main_id,
            advertiser_id=users[MAIN.brand],
            now=now - timedelta(days=2) + timedelta(hours=1),
        )
    today = now - timedelta(hours=1)
    await clicks(SARAH, range(63, 70), today)  # pending
    await clicks(SARAH, range(63, 64), today + timedelta(minutes=5))  # a duplicate
    ip, _ = _visitor(70)
    await tracking.record_click(
        database,
        settings,
        code=codes[(MAIN.title, SARAH)],
        ip=ip,
        user_agent=CRAWLER,
        now=today + timedelta(minutes=6),
    )
    # One source clicks the second brand's link thirty times in a minute (one view counted,
    # the rest duplicates), then the demo brand's: rate-limited.
    flood_ip, flood_agent = _visitor(71)
    flood = today + timedelta(minutes=10)
    for second in range(settings.campaign_clicks_per_minute):
        await tracking.record_click(
            database,
            settings,
            code=codes[(SMALL.title, KAI)],
            ip=flood_ip,
            user_agent=flood_agent,
            now=flood + timedelta(seconds=second),
        )
    await tracking.record_click(
        database,
        settings,
        code=codes[(MAIN.title, SARAH)],
        ip=flood_ip,
        user_agent=flood_agent,
        now=flood + timedelta(seconds=40),
    )
    await clicks(KAI, range(80, 89), today, title=SMALL.title)
    async with database.session_scope() as session:
        await tracking.reject_views(
            session,
            campaign_id=main_id,
            promoter_id=users[LEO],
            reason=REJECTION,
            by=users[ADMIN],
        )
    # Validation and settlement as the hourly job runs them, through five days ago only: the
    # views of four days ago stay validated until the job's next run.
    window = settlement.validation_window(settings)
    await settlement.settle_due(
        database,
        now=now,
        window=window,
        hold_days=settings.earnings_hold_days,
        fee_shards=settings.fee_shards,
        through=(now - timedelta(days=5)).date(),
    )
    async with database.session_scope() as session:
        await settlement.rollup_view_stats(session, since=start.date(), until=now.date(), now=now)
    return [spec.title for spec in DEMO_CAMPAIGNS]
