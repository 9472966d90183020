"""Races (issue 14's proof): settlements, clicks, a pause and an end racing each other never
spend past the budget. Every path locks the campaign row first (then its allocation, then its
promoter campaigns), and the money moves only through holds the escrow must cover; so whatever
the interleaving, the escrow never goes below zero, what was spent plus what was refunded is
what was funded once the campaign ended, each promoter-day is paid once, and the ledger's
invariants hold (verified after each test by tests/campaigns/conftest.py). The pause and the
end are the campaign core's, through the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx

import campaign_helpers
from creatorhub.campaigns import settlement
from creatorhub.config import Settings
from creatorhub.db import Database
from settlement_helpers import Built, add_views, build_campaign, fetch, one

WINDOW = timedelta(hours=72)


async def settle_one(database: Database, built: Built, through: date, now: datetime) -> int:
    async with database.session_scope() as session:
        result = await settlement.settle_campaign(
            session, built.campaign_id, through=through, now=now, hold_days=0, fee_shards=4
        )
    return result.amount


async def pause_through_the_api(client: httpx.AsyncClient, built: Built) -> str:
    response = await campaign_helpers.pause(client, str(built.campaign_id), built.advertiser)
    # Paused, or refused because the end (or the budget's pause) came first.
    assert response.status_code in (200, 409), response.text
    return f"pause {response.status_code}"


async def end_through_the_api(client: httpx.AsyncClient, built: Built) -> str:
    response = await campaign_helpers.end(client, str(built.campaign_id), built.advertiser)
    assert response.status_code == 200, response.text
    return f"end {response.status_code}"


async def assert_within_budget(database: Database, built: Built, *, ended: bool) -> int:
    allocation = (
        await fetch(
            database,
            "SELECT allocated_amount, spent_amount, refunded_amount"
            " FROM campaigns.campaign_budget_allocations WHERE campaign_id = :c",
            c=built.campaign_id,
        )
    )[0]
    escrow = int(
        await one(  # type: ignore[call-overload]
            database,
            "SELECT balance FROM ledger.accounts WHERE id = :e",
            e=built.escrow_account_id,
        )
    )
    settled = int(
        await one(  # type: ignore[call-overload]
            database,
            "SELECT coalesce(sum(s.amount), 0) FROM campaigns.view_settlements s"
            " JOIN campaigns.promoter_campaigns pc ON pc.id = s.promoter_campaign_id"
            " WHERE pc.campaign_id = :c",
            c=built.campaign_id,
        )
    )
    promoters = int(
        await one(  # type: ignore[call-overload]
            database,
            "SELECT coalesce(sum(spent_budget), 0) FROM campaigns.promoter_campaigns"
            " WHERE campaign_id = :c",
            c=built.campaign_id,
        )
    )
    spent, refunded = allocation["spent_amount"], allocation["refunded_amount"]
    assert spent == settled == promoters
    assert escrow >= 0
    assert spent + refunded + escrow == allocation["allocated_amount"] == built.budget
    if ended:
        assert escrow == 0 and spent + refunded == built.budget
    return int(spent)  # type: ignore[call-overload]


async def test_concurrent_settlements_of_one_campaign_pay_each_day_once(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    # 300 per 100 views with a budget of 100 views; 3 promoters bring 150 over two days.
    built = await build_campaign(client, database, cpv=300, max_views=100, promoters=3)
    day1, day2 = date(2026, 11, 10), date(2026, 11, 11)
    for pc in built.promoters:
        await add_views(database, built, pc, day1, 30)
        await add_views(database, built, pc, day2, 20)
    now = settlement.day_start(day2 + timedelta(days=1)) + WINDOW
    async with database.session_scope() as session:
        await settlement.validate_due_views(session, now, window=WINDOW)

    amounts = await asyncio.gather(*(settle_one(database, built, day2, now) for _ in range(8)))

    # One settlement paid everything it could (the budget: 300); the others found nothing due.
    assert sorted(amounts) == [0] * 7 + [300]
    assert await assert_within_budget(database, built, ended=False) == 300
    assert await one(database, "SELECT count(*) FROM campaigns.views WHERE outcome = 'paid'") == 100
    assert (
        await one(database, "SELECT count(*) FROM campaigns.views WHERE outcome = 'over_cap'") == 50
    )
    assert (
        await one(
            database,
            "SELECT status || '/' || pause_reason FROM campaigns.campaigns WHERE id = :c",
            c=built.campaign_id,
        )
        == "paused/budget_spent"
    )


async def test_settlements_clicks_a_pause_and_an_end_never_spend_past_the_budget(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    today = datetime.now(UTC).date()
    past = today - timedelta(days=5)
    now = datetime.now(UTC)
    for attempt in range(4):
        built = await build_campaign(client, database, cpv=700, max_views=100, promoters=2)
        first, second = built.promoters
        await add_views(database, built, first, past, 60)
        await add_views(database, built, second, past, 70)  # more than the budget pays
        code = await one(
            database,
            "SELECT tracking_code FROM campaigns.promoter_campaigns WHERE id = :pc",
            pc=first,
        )

        async def click(i: int, code: object = code, attempt: int = attempt) -> str:
            agent = f"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 race-{attempt}-{i}"
            response = await client.get(f"/t/{code}", headers={"User-Agent": agent})
            return f"click {response.status_code}"

        racers = [
            settle_one(database, built, past, now),
            settle_one(database, built, past, now),
            *(click(i) for i in range(10)),
            pause_through_the_api(client, built),
            end_through_the_api(client, built),
            settle_one(database, built, past, now),
        ]
        async with database.session_scope() as session:
            await settlement.validate_due_views(session, now, window=WINDOW)
        if attempt % 2:
            racers.reverse()
        results = await asyncio.gather(*racers)
        clicks = [r for r in results if isinstance(r, str) and r.startswith("click")]
        assert clicks == ["click 302"] * 10
        # A click after the pause or the end is recorded, not counted.
        outcomes = await fetch(
            database,
            "SELECT outcome FROM campaigns.views WHERE campaign_id = :c AND occurred_at >= :today",
            c=built.campaign_id,
            today=settlement.day_start(today),
        )
        assert len(outcomes) == 10
        assert {row["outcome"] for row in outcomes} <= {"pending", "campaign_inactive"}
        await assert_within_budget(database, built, ended=True)
        # Settled after the end or before it: never both, never more than the budget.
        assert (
            await one(
                database,
                "SELECT count(*) FROM campaigns.views WHERE campaign_id = :c"
                " AND outcome = 'validated'",
                c=built.campaign_id,
            )
            == 0
        )
