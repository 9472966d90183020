"""Settlement tests' rows (issue 14, part C): a funded visibility campaign and its promoters
built through the ledger and the models (the money moved exactly as funding moves it: the
advertiser's wallet to the campaign's escrow), and views of any outcome on any day, written
as the tracking link writes them. For tests of the settlement itself, independent of the
campaign routes; the full flow goes through the API (tests/campaigns/test_settlement.py)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import httpx
from sqlalchemy import text

from creatorhub.campaigns.models import (
    Campaign,
    CampaignBudgetAllocation,
    PromoterCampaign,
)
from creatorhub.db import Database
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind, OwnerType
from helpers import Account, account
from payment_helpers import fund_wallet


@dataclass
class Built:
    campaign_id: uuid.UUID
    escrow_account_id: uuid.UUID
    advertiser: Account
    promoters: list[uuid.UUID]  # promoter_campaign ids, in the order of `promoter_users`
    promoter_users: list[uuid.UUID]
    cpv: int
    budget: int


async def build_campaign(
    client: httpx.AsyncClient,
    database: Database,
    *,
    cpv: int,
    max_views: int,
    budget: int | None = None,
    promoters: int = 1,
    funded_at: datetime | None = None,
    advertiser: Account | None = None,
    promoter_accounts: list[Account] | None = None,
) -> Built:
    """An active visibility campaign funded from its advertiser's wallet, `promoters` joined."""
    if budget is None:
        budget = (cpv * max_views + 99) // 100
    if advertiser is None:
        advertiser = await account(client, roles=["brand"])
        await fund_wallet(client, advertiser.headers, budget)
    if promoter_accounts is None:
        promoter_accounts = [await account(client, roles=["creator"]) for _ in range(promoters)]
    funded_at = funded_at or datetime(2026, 11, 1, tzinfo=UTC)
    campaign_id = uuid.uuid4()
    advertiser_id = uuid.UUID(advertiser.id)
    async with database.session_scope() as session:
        escrow = await ledger.ensure_account(
            session,
            owner_type=OwnerType.CAMPAIGN,
            owner_id=campaign_id,
            kind=AccountKind.ESCROW,
            currency="USD",
        )
        session.add(
            Campaign(
                id=campaign_id,
                advertiser_id=advertiser_id,
                type="visibility",
                title="Built campaign",
                status="active",
                currency="USD",
                budget=budget,
                starts_at=funded_at,
                cpv=cpv,
                max_views=max_views,
                destination_url="https://shop.example.com/",
                escrow_account_id=escrow,
                funded_at=funded_at,
            )
        )
        await session.flush()
        wallet = await ledger.user_account(session, advertiser_id, "USD")
        await ledger.transfer(
            session,
            ledger.TransferSpec(
                debit_account_id=wallet,
                credit_account_id=escrow,
                amount=budget,
                kind="escrow_funding",
                idempotency_key=f"test:campaign:{campaign_id}:funding",
                currency="USD",
                reference_type="campaign",
                reference_id=str(campaign_id),
            ),
        )
        session.add(
            CampaignBudgetAllocation(
                campaign_id=campaign_id,
                allocated_amount=budget,
                currency="USD",
                funding_source="wallet",
                rate_per_100_views=cpv,
            )
        )
        pcs = []
        for who in promoter_accounts:
            pc = PromoterCampaign(
                campaign_id=campaign_id,
                promoter_id=uuid.UUID(who.id),
                tracking_code=secrets.token_urlsafe(12),
            )
            session.add(pc)
            pcs.append(pc)
        await session.flush()
        ids = [pc.id for pc in pcs]
    return Built(
        campaign_id=campaign_id,
        escrow_account_id=escrow,
        advertiser=advertiser,
        promoters=ids,
        promoter_users=[uuid.UUID(who.id) for who in promoter_accounts],
        cpv=cpv,
        budget=budget,
    )


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


async def add_views(
    database: Database,
    built: Built,
    promoter_campaign_id: uuid.UUID,
    day: date,
    count: int,
    *,
    outcome: str = "pending",
) -> None:
    """`count` views of the promoter on `day` (spread over its hours), each of another visitor;
    counted ones add to the promoter campaign's views_generated as the tracking link does."""
    if count <= 0:
        return
    async with database.session_scope() as session:
        await session.execute(
            text(
                "INSERT INTO campaigns.views"
                " (campaign_id, promoter_campaign_id, occurred_at, visitor_hash, outcome)"
                " SELECT :campaign_id, :pc, :start + (i % 86000) * interval '1 second',"
                "  decode(md5(random()::text || i::text), 'hex'), :outcome"
                " FROM generate_series(1, :count) AS i"
            ),
            {
                "campaign_id": built.campaign_id,
                "pc": promoter_campaign_id,
                "start": datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=1),
                "outcome": outcome,
                "count": count,
            },
        )
        if outcome == "pending":
            await session.execute(
                text(
                    "UPDATE campaigns.promoter_campaigns SET views_generated = views_generated"
                    " + :count WHERE id = :pc"
                ),
                {"pc": promoter_campaign_id, "count": count},
            )


async def fetch(database: Database, sql: str, **params: object) -> list[dict[str, object]]:
    async with database.read_scope() as session:
        rows = (await session.execute(text(sql), params)).mappings().all()
    return [dict(row) for row in rows]


async def one(database: Database, sql: str, **params: object) -> object:
    async with database.read_scope() as session:
        return (await session.execute(text(sql), params)).scalar_one()
