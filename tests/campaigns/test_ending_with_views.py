"""Ending a campaign while views still wait in their validation window (issue 14): what those
views can still earn stays in the escrow, the rest is refunded at once; settlement pays the
views from what was kept back, and once none waits the rest comes back too. From the wallet in
the ending's transaction, or to the provider charge in two refunds of their own. Every test ends
with the ledger verified (tests/campaigns/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import httpx

import campaign_helpers
from creatorhub.campaigns import service, settlement, tracking
from creatorhub.config import Settings
from creatorhub.db import Database
from helpers import account, grant_roles
from payment_helpers import funding_event, post_event, wallet
from settlement_helpers import Built, add_views, build_campaign, fetch, one

WINDOW = timedelta(hours=72)
D1, D2, D3 = date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)


def after_window(day: date) -> datetime:
    return settlement.day_start(day + timedelta(days=1)) + WINDOW + timedelta(minutes=1)


async def settle(
    database: Database, settings: Settings, now: datetime
) -> list[settlement.CampaignSettled]:
    run = await settlement.settle_due(
        database, now=now, window=WINDOW, hold_days=0, fee_shards=settings.fee_shards
    )
    return run.campaigns


async def allocation(database: Database, campaign_id: uuid.UUID) -> tuple[int, int, int]:
    rows = await fetch(
        database,
        "SELECT allocated_amount, spent_amount, refunded_amount"
        " FROM campaigns.campaign_budget_allocations WHERE campaign_id = :c",
        c=campaign_id,
    )
    return tuple(int(v) for v in rows[0].values())  # type: ignore[return-value]


async def balance(database: Database, account_id: uuid.UUID) -> int:
    return int(
        await one(database, "SELECT balance FROM ledger.accounts WHERE id = :id", id=account_id)
    )


async def reject(
    database: Database, client: httpx.AsyncClient, built_id: uuid.UUID, promoter: uuid.UUID
) -> int:
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    async with database.session_scope() as session:
        rejection = await tracking.reject_views(
            session,
            campaign_id=built_id,
            promoter_id=promoter,
            reason="traffic bought from a click farm",
            by=uuid.UUID(admin.id),
        )
    return rejection.rejected_views


async def test_ending_keeps_back_what_waiting_views_can_earn_and_refunds_the_rest_later(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    # 3.33 per 100 views, budget 33.30; P1's D1 settled before the end, P1's D2 and P2's D3
    # still waiting when it ends.
    built = await build_campaign(client, database, cpv=333, max_views=1_000, promoters=2)
    p1, p2 = built.promoters
    await add_views(database, built, p1, D1, 7)
    await add_views(database, built, p1, D2, 11)
    await add_views(database, built, p2, D3, 5)
    (first,) = await settle(database, settings, after_window(D1))
    assert [(d.day, d.amount, d.carry_after) for d in first.days] == [(D1, 23, 31)]

    async with database.session_scope() as session:
        ending = await service.end_campaign(
            session, built.campaign_id, by=None, now=after_window(D1) + timedelta(hours=1)
        )
    # Kept: P1 (31 + 11 * 333) // 100 = 36; P2 5 * 333 // 100 = 16. Refunded: the rest.
    assert (ending.kept_for_views, ending.refunded, ending.refund_to_provider) == (
        52,
        3_330 - 23 - 52,
        False,
    )
    assert await allocation(database, built.campaign_id) == (3_330, 23, 3_255)
    assert await balance(database, built.escrow_account_id) == 52
    assert (await wallet(client, built.advertiser.headers))["available"] == 3_255

    # An admin rejects P2's views before their window ends; nothing else can be counted.
    assert await reject(database, client, built.campaign_id, built.promoter_users[1]) == 5

    (second,) = await settle(database, settings, after_window(D3))
    assert [(d.promoter_campaign_id, d.day, d.amount) for d in second.days] == [(p1, D2, 36)]
    # What P2's rejected views would have earned comes back, once no view waits.
    assert second.refunded == 16
    assert await allocation(database, built.campaign_id) == (3_330, 23 + 36, 3_255 + 16)
    assert await balance(database, built.escrow_account_id) == 0
    assert (await wallet(client, built.advertiser.headers))["available"] == 3_271
    keys = await fetch(
        database,
        "SELECT idempotency_key, amount FROM ledger.transfers WHERE kind = 'refund'"
        " AND reference_id = :c ORDER BY amount DESC",
        c=str(built.campaign_id),
    )
    base = f"campaigns:campaign:{built.campaign_id}:refund"
    assert [tuple(r.values()) for r in keys] == [(base, 3_255), (f"{base}:rest", 16)]
    audit = await one(
        database,
        "SELECT count(*) FROM audit.audit_logs WHERE action = 'campaigns.campaign.refund_rest'"
        " AND entity_id = :c",
        c=str(built.campaign_id),
    )
    assert audit == 1

    # Again, days later: nothing moves.
    assert await settle(database, settings, after_window(D3) + timedelta(days=5)) == []
    assert await allocation(database, built.campaign_id) == (3_330, 59, 3_271)


async def test_ending_with_every_view_settled_refunds_everything_at_once(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    built = await build_campaign(client, database, cpv=333, max_views=1_000)
    (pc,) = built.promoters
    await add_views(database, built, pc, D1, 7)
    await settle(database, settings, after_window(D1))
    async with database.session_scope() as session:
        ending = await service.end_campaign(
            session, built.campaign_id, by=None, now=after_window(D1)
        )
    # The fraction carried (0.31 of a cent) never reaches a cent: nothing is kept.
    assert (ending.kept_for_views, ending.refunded) == (0, 3_330 - 23)
    assert await balance(database, built.escrow_account_id) == 0
    assert await settle(database, settings, after_window(D1) + timedelta(days=1)) == []


async def test_a_provider_funded_campaign_is_refunded_to_its_charge_in_two_parts(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    run_jobs: Callable[[], Awaitable[None]],
) -> None:
    owner = await campaign_helpers.advertiser(client)
    campaign = await campaign_helpers.create_campaign(client, owner, cpv=333)
    intent = (await campaign_helpers.fund(client, campaign["id"], owner, source="provider")).json()
    reference = intent["funding_intent"]["provider_reference"]
    assert (await post_event(client, funding_event(reference, amount=3_330))).status_code == 200
    campaign_id = uuid.UUID(campaign["id"])
    promoters = [await campaign_helpers.promoter(client) for _ in range(2)]
    joined = [await campaign_helpers.join(client, campaign["id"], who) for who in promoters]
    views_of = Built(
        campaign_id=campaign_id,
        escrow_account_id=uuid.UUID(int=0),  # add_views needs the campaign only
        advertiser=owner,
        promoters=[uuid.UUID(p["id"]) for p in joined],
        promoter_users=[uuid.UUID(who.id) for who in promoters],
        cpv=333,
        budget=3_330,
    )
    today = datetime.now(UTC).date()
    await add_views(database, views_of, views_of.promoters[0], today, 10)
    await add_views(database, views_of, views_of.promoters[1], today, 5)

    ended = await campaign_helpers.end(client, campaign["id"], owner)
    assert ended.status_code == 200, ended.text
    # Kept: 10 * 333 // 100 = 33 and 5 * 333 // 100 = 16; the rest refunded (by the job).
    assert ended.json()["allocation"]["refunded_amount"] == 3_330 - 49
    await run_jobs()
    assert await reject(database, client, campaign_id, views_of.promoter_users[1]) == 5
    (result,) = await settle(database, settings, after_window(today))
    assert (result.amount, result.refunded) == (33, 16)
    await run_jobs()  # the second provider refund

    rows = await fetch(
        database,
        "SELECT idempotency_key, amount FROM ledger.transfers WHERE kind = 'refund'"
        " AND reference_id = :c ORDER BY amount DESC",
        c=str(campaign_id),
    )
    base = f"campaigns:campaign:{campaign_id}:refund"
    assert [tuple(r.values()) for r in rows] == [(base, 3_281), (f"{base}:rest", 16)]
    view = await campaign_helpers.campaign_of(client, campaign["id"], owner)
    assert view["escrow_balance"] == 0
    assert (view["allocation"]["spent_amount"], view["allocation"]["refunded_amount"]) == (
        33,
        3_297,
    )
    assert (await wallet(client, owner.headers))["available"] == 0  # back to the card
    jobs = await fetch(
        database,
        "SELECT args->>'stage' AS stage, status FROM procrastinate_jobs"
        " WHERE task_name = 'creatorhub.campaigns.tasks.issue_refund' ORDER BY id",
    )
    assert [tuple(r.values()) for r in jobs] == [("end", "succeeded"), ("rest", "succeeded")]
