"""Demo consultant and seller campaigns (issue 15), for `creatorhub demo`: one of each, with
applications, offers and deliverables in every state, built through the services (so the
holds, payments, fees and audit rows are the real ones).

* The demo brand's consultant campaign: mia applied first; sarah proposed more, the brand
  countered and sarah accepted, which closed mia's application. Of sarah's deliverables one is
  paid, one's work waits for the brand's review, one is proposed and waits for her agreement.
* Northwind's seller campaign: kai's accepted application, whose reel was sent back for
  changes and is now disputed (the admin's disputes page shows it); leo's application waits
  for his answer to Northwind's counter-offer.

A campaign that exists (same brand, same title) is left as it is: loading twice builds once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from creatorhub.campaigns import service
from creatorhub.campaigns.models import Campaign
from creatorhub.campaigns.work.service import applications, deliverables
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow

BRIGHT = "brand@creatorhub.example"
NORTHWIND = "northwind@creatorhub.example"
SARAH, MIA, LEO, KAI = (
    "sarah@creatorhub.example",
    "mia@creatorhub.example",
    "leo@creatorhub.example",
    "kai@creatorhub.example",
)


@dataclass(frozen=True)
class DemoWorkCampaign:
    brand: str
    type: str
    title: str
    shows: str  # printed by `creatorhub demo`
    description: str
    min_budget: int
    max_budget: int


CONSULTANT = DemoWorkCampaign(
    BRIGHT,
    "consultant",
    "Winter launch strategy",
    "consultant: sarah selected; deliverables paid, in review, proposed",
    "A creator to plan the winter launch with us: audience audit, content plan, coaching.",
    min_budget=300_00,
    max_budget=600_00,
)
SELLER = DemoWorkCampaign(
    NORTHWIND,
    "seller",
    "Trail socks unboxing reels",
    "seller: kai's reel disputed, leo's counter-offer open",
    "Short unboxing reels of the trail socks, each reviewed before it is paid.",
    min_budget=100_00,
    max_budget=400_00,
)
DEMO_WORK_CAMPAIGNS = (CONSULTANT, SELLER)


async def load_demo_work(
    database: Database, settings: Settings, users: dict[str, uuid.UUID]
) -> list[str]:
    """Build the demo work campaigns unless the first exists; returns the titles created."""
    async with database.session_scope() as session:
        exists = await session.scalar(
            select(Campaign.id).where(
                Campaign.advertiser_id == users[CONSULTANT.brand],
                Campaign.title == CONSULTANT.title,
            )
        )
    if exists is not None:
        return []
    now = utcnow()
    start = now - timedelta(days=5)
    ids: dict[str, uuid.UUID] = {}
    async with database.session_scope() as session:
        for spec in DEMO_WORK_CAMPAIGNS:
            draft = service.CampaignDraft(
                type=spec.type,
                title=spec.title,
                description=spec.description,
                currency="USD",
                budget=None,
                starts_at=None,
                ends_at=now + timedelta(days=40),
                categories=[],
                languages=[],
                min_followers=0,
                min_budget=spec.min_budget,
                max_budget=spec.max_budget,
            )
            campaign = await service.create_campaign(
                session, advertiser_id=users[spec.brand], draft=draft, now=start
            )
            await service.fund_from_wallet(
                session, campaign_id=campaign.id, advertiser_id=users[spec.brand], now=start
            )
            ids[spec.title] = campaign.id

    bright, northwind = users[BRIGHT], users[NORTHWIND]
    async with database.session_scope() as session:
        consultant = ids[CONSULTANT.title]
        await applications.apply(
            session,
            campaign_id=consultant,
            promoter_id=users[MIA],
            proposed_rate=550_00,
            note="I planned two launches for outdoor brands last winter.",
            now=start + timedelta(hours=1),
        )
        sarah = await applications.apply(
            session,
            campaign_id=consultant,
            promoter_id=users[SARAH],
            proposed_rate=600_00,
            note="Audit, plan and four coaching sessions; my audience is 70 % skiers.",
            now=start + timedelta(hours=2),
        )
        await applications.counter(
            session,
            application_id=sarah.id,
            actor_id=bright,
            amount=500_00,
            note="Our budget for this scope; two coaching sessions are enough.",
            now=start + timedelta(hours=5),
        )
        await applications.accept(
            session, application_id=sarah.id, actor_id=users[SARAH], now=start + timedelta(hours=6)
        )
        pieces: list[uuid.UUID] = []
        for title, amount, due in (
            ("Audience audit", 200_00, 3),
            ("Content plan", 200_00, 10),
            ("Launch-week coaching", 100_00, 20),
        ):
            proposed = await deliverables.propose(
                session,
                application_id=sarah.id,
                advertiser_id=bright,
                title=title,
                description=f"{title} for the winter launch.",
                due_date=(now + timedelta(days=due)).date(),
                amount=amount,
                now=start + timedelta(hours=7),
            )
            pieces.append(proposed.id)
        audit, plan, _coaching = pieces
        for piece in (audit, plan):
            await deliverables.agree(
                session, deliverable_id=piece, promoter_id=users[SARAH], now=start + timedelta(1)
            )
            await deliverables.submit_work(
                session,
                deliverable_id=piece,
                promoter_id=users[SARAH],
                links=[f"https://docs.example.com/sarah/{piece}"],
                note="Shared with your team's address.",
                now=start + timedelta(days=2),
            )
        await deliverables.approve(
            session,
            settings,
            deliverable_id=audit,
            advertiser_id=bright,
            now=start + timedelta(days=3),
        )

        seller = ids[SELLER.title]
        kai = await applications.apply(
            session,
            campaign_id=seller,
            promoter_id=users[KAI],
            proposed_rate=150_00,
            note="Two reels, vertical, with captions.",
            now=start + timedelta(hours=3),
        )
        await applications.accept(
            session, application_id=kai.id, actor_id=northwind, now=start + timedelta(hours=4)
        )
        reel = await deliverables.propose(
            session,
            application_id=kai.id,
            advertiser_id=northwind,
            title="Unboxing reel",
            description="30 seconds, the socks on a trail.",
            due_date=(now + timedelta(days=7)).date(),
            amount=150_00,
            now=start + timedelta(hours=5),
        )
        await deliverables.agree(
            session, deliverable_id=reel.id, promoter_id=users[KAI], now=start + timedelta(1)
        )
        await deliverables.submit_work(
            session,
            deliverable_id=reel.id,
            promoter_id=users[KAI],
            links=["https://video.example.com/kai/unboxing"],
            note="Final cut.",
            now=start + timedelta(days=2),
        )
        await deliverables.request_changes(
            session,
            deliverable_id=reel.id,
            advertiser_id=northwind,
            reason="Show the brand name in the first three seconds.",
            now=start + timedelta(days=3),
        )
        await deliverables.dispute(
            session,
            deliverable_id=reel.id,
            promoter_id=users[KAI],
            reason="The brief asked for the name at the end; the cut follows it.",
            now=start + timedelta(days=4),
        )
        leo = await applications.apply(
            session,
            campaign_id=seller,
            promoter_id=users[LEO],
            proposed_rate=200_00,
            note="Three reels from the Alps.",
            now=start + timedelta(hours=8),
        )
        await applications.counter(
            session,
            application_id=leo.id,
            actor_id=northwind,
            amount=180_00,
            note="Three reels at 60 each?",
            now=start + timedelta(days=1),
        )
    return [spec.title for spec in DEMO_WORK_CAMPAIGNS]
