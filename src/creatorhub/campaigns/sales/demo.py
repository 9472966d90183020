"""A demo salesman campaign (issue 15), for `creatorhub demo`: the demo brand's shop paying
10 % of each sale, sarah selling with her coupon code and leo with his referral link, and sales
in every state, built through the services (so the holds, payments, fees and audit rows are the
real ones):

* a sale of sarah's 31 days ago, past its refund window: verified (paid into her wallet, less
  the fee) by the verification job's run;
* sales in their refund window: one of sarah's (coupon), one of leo's (referral link, clicked
  the day before): pending, their commissions held on the campaign;
* a sale of leo's refunded two days later: reversed, its hold voided;
* a refund that reached the campaign before its sale: the sale, arriving after it, pays nothing.

Times are in the past (the services take `now`). A campaign that exists (same brand, same
title) is left as it is: loading twice builds once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from creatorhub.campaigns import service
from creatorhub.campaigns.models import Campaign
from creatorhub.campaigns.sales import service as sales
from creatorhub.campaigns.sales.service import SaleEvent
from creatorhub.campaigns.service.common import lock_campaign
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow

BRIGHT = "brand@creatorhub.example"
SARAH, LEO = "sarah@creatorhub.example", "leo@creatorhub.example"


@dataclass(frozen=True)
class DemoSalesCampaign:
    brand: str
    title: str
    shows: str  # printed by `creatorhub demo`
    description: str
    destination_url: str
    commission_per_sale: int  # basis points
    budget: int  # USD minor units
    coupon: str  # sarah's


SALESMAN = DemoSalesCampaign(
    BRIGHT,
    "Winter boots shop sales",
    "salesman: sales verified, pending, reversed; sarah's coupon, leo's link",
    "Sell the winter boots: 10 % of every sale your coupon code or referral link brings.",
    "https://brand.example/shop/winter-boots",
    commission_per_sale=1_000,
    budget=300_00,
    coupon="SARAH10",
)
DEMO_SALES_CAMPAIGNS = (SALESMAN,)


def _event(kind: str, order: str, amount: int, at: datetime, **code: str) -> SaleEvent:
    return SaleEvent(
        type=kind, order_id=order, amount=amount, currency="USD", occurred_at=at, **code
    )


async def load_demo_sales(
    database: Database, settings: Settings, users: dict[str, uuid.UUID]
) -> list[str]:
    """Build the demo salesman campaign unless it exists; returns the titles created."""
    brand = users[SALESMAN.brand]
    async with database.session_scope() as session:
        exists = await session.scalar(
            select(Campaign.id).where(
                Campaign.advertiser_id == brand, Campaign.title == SALESMAN.title
            )
        )
    if exists is not None:
        return []
    now = utcnow()
    start = now - timedelta(days=40)
    async with database.session_scope() as session:
        draft = service.CampaignDraft(
            type="salesman",
            title=SALESMAN.title,
            description=SALESMAN.description,
            currency="USD",
            budget=SALESMAN.budget,
            starts_at=None,
            ends_at=now + timedelta(days=30),
            categories=[],
            languages=[],
            min_followers=0,
            destination_url=SALESMAN.destination_url,
            commission_per_sale=SALESMAN.commission_per_sale,
            tracking_method="ref_link",
        )
        campaign = await service.create_campaign(
            session, advertiser_id=brand, draft=draft, now=start
        )
        campaign_id = campaign.id
        await service.fund_from_wallet(
            session, campaign_id=campaign_id, advertiser_id=brand, now=start
        )
        await service.join(session, campaign_id=campaign_id, promoter_id=users[SARAH], now=start)
        leo = await service.join(
            session, campaign_id=campaign_id, promoter_id=users[LEO], now=start
        )
        leo_code = leo.tracking_code
        await sales.set_coupon(
            session, campaign_id=campaign_id, promoter_id=users[SARAH], code=SALESMAN.coupon
        )
        # Visitors following leo's link (each click recorded, as `GET /r/{code}` records it).
        for hours_ago in (100, 99, 60, 49, 30):
            await sales.follow_referral(session, leo_code, now - timedelta(hours=hours_ago))

    # The shop's events, each at its time, as the webhook would record them.
    days = timedelta(days=1)
    events = (
        (now - 31 * days, _event("sale", "WB-1001", 189_00, now - 31 * days, coupon="sarah10")),
        (now - 4 * days, _event("sale", "WB-1002", 145_50, now - 4 * days, ref=leo_code)),
        (now - 2 * days, _event("refund", "WB-1002", 145_50, now - 2 * days)),
        (now - 3 * days, _event("sale", "WB-1003", 219_00, now - 3 * days, coupon="SARAH10")),
        (now - 2 * days, _event("refund", "WB-1005", 99_00, now - 2 * days)),
        (now - 1 * days, _event("sale", "WB-1005", 99_00, now - 3 * days, coupon="SARAH10")),
        (now - 1 * days, _event("sale", "WB-1004", 129_99, now - 1 * days, ref=leo_code)),
    )
    async with database.session_scope() as session:
        for at, event in events:
            locked = await lock_campaign(session, campaign_id)
            await sales.apply_event(session, settings, locked, event, at)
    # The verification job's run: the sale past its refund window is paid.
    await sales.verify_all_due(database, settings, now)
    return [SALESMAN.title]
