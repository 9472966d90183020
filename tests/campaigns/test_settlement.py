"""Settlement of visibility campaigns (issue 14, part C): validation after the window, daily
amounts with the carried fraction, the budget as an absolute limit (holds on the escrow), the
campaign pausing itself, view_stats, and the earnings through the $20 monthly payout.

The service tests build their campaign through the ledger and the models
(tests/settlement_helpers.py); the full flow goes through the API. Every test ends with the
ledger verified (tests/campaigns/conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

import campaign_helpers
from creatorhub.campaigns import settlement, stats_api
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import JobRuntime
from creatorhub.payments.tasks import run_payout_cycle
from helpers import account, assert_problem, grant_roles
from payment_helpers import wallet
from settlement_helpers import Built, add_views, build_campaign, fetch, one

WINDOW = timedelta(hours=72)
D1, D2, D3 = date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)


def after_window(day: date) -> datetime:
    """The first moment every view of `day` is past its window."""
    return settlement.day_start(day + timedelta(days=1)) + WINDOW + timedelta(minutes=1)


async def settle(
    database: Database, settings: Settings, now: datetime, *, hold_days: int | None = None
) -> list[settlement.CampaignSettled]:
    run = await settlement.settle_due(
        database,
        now=now,
        window=WINDOW,
        hold_days=settings.earnings_hold_days if hold_days is None else hold_days,
        fee_shards=settings.fee_shards,
    )
    return run.campaigns


async def escrow_balance(database: Database, built: Built) -> int:
    return int(
        await one(
            database,
            "SELECT balance FROM ledger.accounts WHERE id = :id",
            id=built.escrow_account_id,
        )
    )


async def fees_total(database: Database) -> int:
    return int(
        await one(
            database,
            "SELECT coalesce(sum(balance), 0) FROM ledger.accounts WHERE kind = 'platform_fees'",
        )
    )


async def test_days_settle_with_the_fraction_carried(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    built = await build_campaign(client, database, cpv=333, max_views=1_000)
    (pc,) = built.promoters
    for day, views in ((D1, 7), (D2, 11), (D3, 5)):
        await add_views(database, built, pc, day, views)
    # Dropped views are never settled.
    await add_views(database, built, pc, D1, 4, outcome="duplicate")
    await add_views(database, built, pc, D2, 2, outcome="bot")

    results = await settle(database, settings, after_window(D3))

    (result,) = results
    # 7*333 = 2331 -> 23, carry 31; 31 + 11*333 = 3694 -> 36, carry 94; 94 + 5*333 = 1759 -> 17.
    assert [
        (d.day, d.paid_views, d.amount, d.carry_before, d.carry_after) for d in result.days
    ] == [
        (D1, 7, 23, 0, 31),
        (D2, 11, 36, 31, 94),
        (D3, 5, 17, 94, 59),
    ]
    assert result.amount == 76 == (23 * 333) // 100
    rows = await fetch(
        database,
        "SELECT day, views, amount, carry_before, carry_after, ledger_transfer_id IS NOT NULL"
        " AS paid FROM campaigns.view_settlements WHERE promoter_campaign_id = :pc ORDER BY day",
        pc=pc,
    )
    assert [tuple(r.values()) for r in rows] == [
        (D1, 7, 23, 0, 31, True),
        (D2, 11, 36, 31, 94, True),
        (D3, 5, 17, 94, 59, True),
    ]
    outcomes = await fetch(
        database,
        "SELECT outcome, settled_on, count(*) AS n FROM campaigns.views WHERE"
        " promoter_campaign_id = :pc GROUP BY 1, 2 ORDER BY 1, 2",
        pc=pc,
    )
    assert [tuple(r.values()) for r in outcomes] == [
        ("bot", None, 2),
        ("duplicate", None, 4),
        ("paid", D1, 7),
        ("paid", D2, 11),
        ("paid", D3, 5),
    ]
    # The money: the escrow paid 76 gross; fees 10 % rounded down per day (2 + 3 + 1).
    assert await escrow_balance(database, built) == built.budget - 76
    assert await fees_total(database) == 6
    promoter = await one(
        database,
        "SELECT balance FROM ledger.accounts WHERE owner_id = :id AND kind = 'wallet_available'",
        id=built.promoter_users[0],
    )
    assert promoter == 70
    assert (
        await one(
            database,
            "SELECT spent_amount FROM campaigns.campaign_budget_allocations WHERE campaign_id = :c",
            c=built.campaign_id,
        )
        == 76
    )
    assert (
        await one(
            database, "SELECT spent_budget FROM campaigns.promoter_campaigns WHERE id = :pc", pc=pc
        )
        == 76
    )
    # One ledger group: each day's gross transfer keyed by its promoter campaign and day, and
    # its fee; no hold (reserved and recorded in one statement under the campaign's lock).
    transfers = await fetch(
        database,
        "SELECT kind, amount, idempotency_key FROM ledger.transfers WHERE reference_id = :c"
        " AND reference_type = 'campaign' AND kind <> 'escrow_funding' ORDER BY kind, amount",
        c=str(built.campaign_id),
    )
    key = f"campaign-views:{pc}:"
    assert [tuple(r.values()) for r in transfers] == [
        ("campaign_earning", 17, f"{key}{D3}"),
        ("campaign_earning", 23, f"{key}{D1}"),
        ("campaign_earning", 36, f"{key}{D2}"),
        ("platform_fee", 1, f"{key}{D3}:fee"),
        ("platform_fee", 2, f"{key}{D1}:fee"),
        ("platform_fee", 3, f"{key}{D2}:fee"),
    ]
    assert (
        await one(
            database,
            "SELECT count(DISTINCT group_id) FROM ledger.transfers WHERE reference_id = :c"
            " AND kind IN ('campaign_earning', 'platform_fee')",
            c=str(built.campaign_id),
        )
        == 1
    )
    assert await one(database, "SELECT count(*) FROM ledger.holds") == 0

    # Re-running changes nothing.
    assert await settle(database, settings, after_window(D3) + timedelta(days=3)) == []
    assert await escrow_balance(database, built) == built.budget - 76
    assert await one(database, "SELECT count(*) FROM campaigns.view_settlements") == 3


async def test_a_day_is_settled_only_when_all_of_it_is_past_the_window(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    built = await build_campaign(client, database, cpv=250, max_views=1_000)
    (pc,) = built.promoters
    await add_views(database, built, pc, D1, 40)  # spread over D1's first 11 hours
    await add_views(database, built, pc, D2, 8)
    # 72 h after D1's noon: D1's morning views are validated, none is settled yet.
    now = settlement.day_start(D1) + timedelta(hours=12) + WINDOW
    assert await settle(database, settings, now) == []
    counts = await fetch(
        database,
        "SELECT outcome, count(*) AS n FROM campaigns.views GROUP BY 1 ORDER BY 1",
    )
    assert {r["outcome"]: r["n"] for r in counts} == {"pending": 8, "validated": 40}
    assert await one(database, "SELECT count(*) FROM campaigns.view_settlements") == 0
    # Once D1 is past: D1 settles, D2 (still in its window) does not.
    (result,) = await settle(database, settings, after_window(D1))
    assert [(d.day, d.paid_views, d.amount) for d in result.days] == [(D1, 40, 100)]
    (result,) = await settle(database, settings, after_window(D2))
    assert [(d.day, d.paid_views, d.amount, d.carry_before) for d in result.days] == [
        (D2, 8, 20, 0)
    ]


async def test_rejected_views_are_never_paid(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    built = await build_campaign(client, database, cpv=300, max_views=1_000, promoters=2)
    honest, cheat = built.promoters
    await add_views(database, built, honest, D1, 20)
    await add_views(database, built, cheat, D1, 50)
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE campaigns.views SET outcome = 'rejected', reject_reason = 'click farm'"
                " WHERE promoter_campaign_id = :pc"
            ),
            {"pc": cheat},
        )
    (result,) = await settle(database, settings, after_window(D1))
    assert [(d.promoter_campaign_id, d.paid_views, d.amount) for d in result.days] == [
        (honest, 20, 60)
    ]
    assert (
        await one(
            database,
            "SELECT count(*) FROM campaigns.views WHERE promoter_campaign_id = :pc"
            " AND outcome = 'rejected'",
            pc=cheat,
        )
        == 50
    )
    assert await escrow_balance(database, built) == built.budget - 60


async def test_views_beyond_the_budget_are_over_cap_and_the_campaign_pauses(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    # A budget of 300 pays 100 views at 300 per 100; 130 reach settlement (past any cap the
    # tracking link keeps: the budget is the last word).
    built = await build_campaign(client, database, cpv=300, max_views=100, promoters=2)
    first, second = sorted(built.promoters)
    await add_views(database, built, first, D1, 70)
    await add_views(database, built, second, D1, 60)

    (result,) = await settle(database, settings, after_window(D1))

    # By promoter campaign id (the lock order): the first is paid whole (210), the second
    # what is left: 30 views (90); its other 30 are over cap.
    assert [(d.promoter_campaign_id, d.due_views, d.paid_views, d.amount) for d in result.days] == [
        (first, 70, 70, 210),
        (second, 60, 30, 90),
    ]
    assert result.paused and result.over_cap == 30
    assert await escrow_balance(database, built) == 0
    campaign = (
        await fetch(
            database,
            "SELECT status, pause_reason FROM campaigns.campaigns WHERE id = :c",
            c=built.campaign_id,
        )
    )[0]
    assert campaign == {"status": "paused", "pause_reason": "budget_spent"}
    assert (
        await one(
            database,
            "SELECT count(*) FROM audit.audit_logs WHERE entity_id = :c AND action LIKE '%pause%'",
            c=str(built.campaign_id),
        )
        == 1
    )
    over = await one(
        database,
        "SELECT count(*) FROM campaigns.views WHERE outcome = 'over_cap' AND settled_on IS NULL",
    )
    assert over == 30
    allocation = (
        await fetch(
            database,
            "SELECT allocated_amount, spent_amount, refunded_amount FROM"
            " campaigns.campaign_budget_allocations WHERE campaign_id = :c",
            c=built.campaign_id,
        )
    )[0]
    assert allocation == {"allocated_amount": 300, "spent_amount": 300, "refunded_amount": 0}
    # More views later (counted before the pause): nothing left, all over cap, no payment.
    await add_views(database, built, first, D2, 5)
    (late,) = await settle(database, settings, after_window(D2))
    assert [(d.paid_views, d.amount) for d in late.days] == [(0, 0)]
    assert await one(database, "SELECT count(*) FROM campaigns.view_settlements") == 2


async def test_the_budget_pays_to_the_last_cent_with_carries(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    # cpv 7 for 100 views: a budget of 7. D1: 50 views = 3.50 -> 3, carry 50. D2: 80 views
    # would be 50 + 560 = 6.10; 4 cents are left: 64 views fit (50 + 448 = 4.98 -> 4,
    # carry 98), the other 16 are over cap.
    built = await build_campaign(client, database, cpv=7, max_views=100)
    assert built.budget == 7
    (pc,) = built.promoters
    await add_views(database, built, pc, D1, 50)
    await add_views(database, built, pc, D2, 80)
    (result,) = await settle(database, settings, after_window(D2))
    assert [(d.day, d.paid_views, d.amount, d.carry_after) for d in result.days] == [
        (D1, 50, 3, 50),
        (D2, 64, 4, 98),
    ]
    assert result.paused and result.over_cap == 16
    assert await escrow_balance(database, built) == 0
    assert (
        await one(database, "SELECT count(*) FROM campaigns.views WHERE outcome = 'over_cap'") == 16
    )


async def test_an_ended_campaign_pays_nothing_it_refunded(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    built = await build_campaign(client, database, cpv=300, max_views=1_000)
    (pc,) = built.promoters
    await add_views(database, built, pc, D1, 10)
    # Ended (as the campaign core ends one): the escrow refunded to the advertiser.
    async with database.session_scope() as session:
        await session.execute(
            text(
                "SELECT * FROM ledger.transfer(:escrow, ledger.ensure_account('user', :adv,"
                " 'wallet_available', 'USD', 0::smallint, false), :amount, 'refund', :key)"
            ),
            {
                "escrow": built.escrow_account_id,
                "adv": uuid.UUID(built.advertiser.id),
                "amount": built.budget,
                "key": f"test:{built.campaign_id}:refund",
            },
        )
        await session.execute(
            text(
                "UPDATE campaigns.campaign_budget_allocations SET refunded_amount = :amount"
                " WHERE campaign_id = :c;"
            ),
            {"amount": built.budget, "c": built.campaign_id},
        )
        await session.execute(
            text(
                "UPDATE campaigns.campaigns SET status = 'completed', ended_at = :at WHERE id = :c"
            ),
            {"at": settlement.day_start(D2), "c": built.campaign_id},
        )
    (result,) = await settle(database, settings, after_window(D1))
    assert [(d.paid_views, d.amount) for d in result.days] == [(0, 0)]
    assert (
        await one(database, "SELECT count(*) FROM campaigns.views WHERE outcome = 'over_cap'") == 10
    )
    assert await escrow_balance(database, built) == 0
    assert (
        await one(
            database, "SELECT status FROM campaigns.campaigns WHERE id = :c", c=built.campaign_id
        )
        == "completed"
    )


async def test_view_stats_roll_up_every_outcome_idempotently(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    built = await build_campaign(client, database, cpv=300, max_views=1_000)
    (pc,) = built.promoters
    await add_views(database, built, pc, D1, 12)
    for outcome, count in (
        ("duplicate", 3),
        ("bot", 4),
        ("rate_limited", 5),
        ("campaign_inactive", 6),
        ("over_cap", 7),
    ):
        await add_views(database, built, pc, D1, count, outcome=outcome)
    await add_views(database, built, pc, D2, 9)
    now = after_window(D1)
    await settle(database, settings, now)
    async with database.session_scope() as session:
        written = await settlement.rollup_view_stats(session, since=D1, until=D2, now=now)
    stats = await fetch(
        database,
        "SELECT day, counted, dropped_duplicate, dropped_bot, dropped_rate_limited,"
        " dropped_inactive, dropped_over_cap, validated, rejected, paid_views, paid_amount"
        " FROM campaigns.view_stats WHERE promoter_campaign_id = :pc ORDER BY day",
        pc=pc,
    )
    assert [tuple(r.values()) for r in stats] == [
        (D1, 12, 3, 4, 5, 6, 7, 12, 0, 12, 36),
        (D2, 9, 0, 0, 0, 0, 0, 9, 0, 0, 0),  # validated, not settleable yet
    ]
    assert written == 1  # D1 was rolled up by the settlement already; D2 is new
    async with database.session_scope() as session:
        again = await settlement.rollup_view_stats(session, since=D1, until=D2, now=now)
    assert again == 0


async def test_earnings_below_twenty_dollars_wait_for_the_next_monthly_payout(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    promoter = await account(client, roles=["creator"])
    response = await client.post(
        "/v1/payout-accounts", json={"country": "US"}, headers=promoter.headers
    )
    assert response.status_code == 201, response.text
    built = await build_campaign(
        client, database, cpv=500, max_views=1_000, promoter_accounts=[promoter]
    )
    (pc,) = built.promoters
    await add_views(database, built, pc, D1, 300)  # 15.00 gross, 13.50 net
    now = after_window(D1)
    await settle(database, settings, now, hold_days=7)
    pending = await fetch(
        database,
        "SELECT amount, reason, release_at, released_at FROM payments.pending_earnings"
        " WHERE user_id = :u",
        u=uuid.UUID(promoter.id),
    )
    assert pending == [
        {
            "amount": 13_50,
            "reason": f"campaign views of {D1.isoformat()}: Built campaign",
            "release_at": now + timedelta(days=7),
            "released_at": None,
        }
    ]
    assert (await wallet(client, promoter.headers))["pending"] == 13_50
    # Released, but 13.50 is below the $20 minimum: the month's payout carries it over.
    from creatorhub.payments.earnings import release_due_earnings

    async with database.session_scope() as session:
        assert await release_due_earnings(session, now + timedelta(days=8)) == 1
    async with JobRuntime(database, settings).open():
        cycle = await run_payout_cycle(datetime.now(UTC))
    assert cycle["requested"] == 0 and cycle["below_minimum"] >= 1
    assert (await wallet(client, promoter.headers))["available"] == 13_50
    # The next days' views bring it over 20: the next month's cycle pays it all.
    await add_views(database, built, pc, D2, 200)  # 10.00 gross, 9.00 net
    await settle(database, settings, after_window(D2), hold_days=0)
    assert (await wallet(client, promoter.headers))["available"] == 22_50
    async with JobRuntime(database, settings).open():
        cycle = await run_payout_cycle(datetime.now(UTC))
    assert cycle["requested"] == 1
    assert (await wallet(client, promoter.headers))["in_payout"] == 22_50


# --- the routes ---------------------------------------------------------------------------


async def test_the_advertiser_sees_days_totals_budget_and_spend_per_promoter(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    built = await build_campaign(client, database, cpv=300, max_views=1_000, promoters=2)
    first, second = built.promoters
    await add_views(database, built, first, D1, 10)
    await add_views(database, built, first, D1, 3, outcome="bot")
    await add_views(database, built, second, D1, 5)
    await add_views(database, built, second, D2, 7)
    await add_views(database, built, second, D2, 2, outcome="duplicate")
    await settle(database, settings, after_window(D1))
    async with database.session_scope() as session:
        await settlement.rollup_view_stats(session, since=D1, until=D2, now=after_window(D1))

    response = await client.get(
        f"/v1/campaigns/{built.campaign_id}/stats",
        params={"from": D1.isoformat(), "to": D3.isoformat()},
        headers=built.advertiser.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["currency"], body["cpv"]) == (
        D1.isoformat(),
        D3.isoformat(),
        "USD",
        300,
    )
    assert body["budget"] == {"allocated": 3_000, "spent": 45, "refunded": 0, "left": 2_955}
    days = {day["day"]: day for day in body["days"]}
    assert list(days) == [D1.isoformat(), D2.isoformat()]
    assert (days[D1.isoformat()]["counted"], days[D1.isoformat()]["dropped_bot"]) == (15, 3)
    assert (days[D1.isoformat()]["paid_views"], days[D1.isoformat()]["paid_amount"]) == (15, 45)
    assert (days[D2.isoformat()]["counted"], days[D2.isoformat()]["dropped_duplicate"]) == (7, 2)
    assert body["totals"]["counted"] == 22 and body["totals"]["paid_amount"] == 45
    spend = {p["promoter_campaign_id"]: p for p in body["promoters"]}
    assert spend[str(first)]["spent"] == 30 and spend[str(second)]["spent"] == 15
    assert spend[str(second)]["in_range"]["counted"] == 12
    assert spend[str(first)]["promoter_id"] == str(built.promoter_users[0])

    # One day only.
    one_day = await client.get(
        f"/v1/campaigns/{built.campaign_id}/stats",
        params={"from": D2.isoformat(), "to": D2.isoformat()},
        headers=built.advertiser.headers,
    )
    assert [day["day"] for day in one_day.json()["days"]] == [D2.isoformat()]
    # Refusals: a range backwards, another advertiser, a promoter, nobody.
    backwards = await client.get(
        f"/v1/campaigns/{built.campaign_id}/stats",
        params={"from": D2.isoformat(), "to": D1.isoformat()},
        headers=built.advertiser.headers,
    )
    assert_problem(backwards, 422, "invalid_date_range", "query.from")
    too_long = await client.get(
        f"/v1/campaigns/{built.campaign_id}/stats",
        params={"from": "2025-01-01", "to": D1.isoformat()},
        headers=built.advertiser.headers,
    )
    assert_problem(too_long, 422, "invalid_date_range", "query.to")
    other = await account(client, roles=["brand"])
    response = await client.get(f"/v1/campaigns/{built.campaign_id}/stats", headers=other.headers)
    assert_problem(response, 404, "campaign_not_found")
    response = await client.get(f"/v1/campaigns/{uuid.uuid4()}/stats", headers=other.headers)
    assert_problem(response, 404, "campaign_not_found")
    promoter = await account(client, roles=["creator"])
    response = await client.get(
        f"/v1/campaigns/{built.campaign_id}/stats", headers=promoter.headers
    )
    assert response.status_code == 403
    response = await client.get(f"/v1/campaigns/{built.campaign_id}/stats")
    assert response.status_code == 401


async def test_a_promoter_sees_their_own_views_and_earnings(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    promoters = [await account(client, roles=["creator"]) for _ in range(2)]
    built = await build_campaign(
        client, database, cpv=333, max_views=1_000, promoter_accounts=promoters
    )
    mine, theirs = built.promoters
    await add_views(database, built, mine, D1, 7)
    await add_views(database, built, mine, D2, 11)
    await add_views(database, built, mine, D1, 2, outcome="bot")
    await add_views(database, built, mine, D1, 1, outcome="over_cap")
    await add_views(database, built, theirs, D1, 100)
    await settle(database, settings, after_window(D1))
    await add_views(database, built, mine, D3, 4)  # not validated yet
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE campaigns.views SET outcome = 'rejected', reject_reason = 'test'"
                " WHERE id = (SELECT max(id) FROM campaigns.views WHERE promoter_campaign_id"
                " = :pc AND outcome = 'pending')"
            ),
            {"pc": mine},
        )

    response = await client.get(
        f"/v1/campaigns/participations/{mine}/stats", headers=promoters[0].headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # D1 paid (7 views: 23, carry 31); D2 validated (past its window at D1's settlement),
    # waiting for its own; D3 pending (one rejected).
    assert {
        key: body[key]
        for key in (
            "counted",
            "pending",
            "validated",
            "paid",
            "rejected",
            "over_cap",
            "dropped",
            "settled_days",
        )
    } == {
        "counted": 22,
        "pending": 3,
        "validated": 11,
        "paid": 7,
        "rejected": 1,
        "over_cap": 1,
        "dropped": 2,
        "settled_days": 1,
    }
    assert body["earnings"] == {"gross": 23, "fee": 2, "net": 21, "carried": 31}
    assert (body["campaign_id"], body["currency"], body["cpv"]) == (
        str(built.campaign_id),
        "USD",
        333,
    )
    # Another promoter's participation is not theirs to see; an advertiser is not a promoter.
    response = await client.get(
        f"/v1/campaigns/participations/{theirs}/stats", headers=promoters[0].headers
    )
    assert_problem(response, 404, "participation_not_found")
    response = await client.get(
        f"/v1/campaigns/participations/{mine}/stats", headers=built.advertiser.headers
    )
    assert response.status_code == 403


async def test_an_admin_settles_now_and_again_changes_nothing(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    built = await build_campaign(client, database, cpv=300, max_views=1_000)
    (pc,) = built.promoters
    await add_views(database, built, pc, D1, 10)
    await add_views(database, built, pc, D2, 20)
    monkeypatch.setattr(stats_api, "utcnow", lambda: after_window(D2))

    early = await client.post(
        "/v1/admin/campaigns/settle", json={"day": D3.isoformat()}, headers=admin.headers
    )
    assert_problem(early, 422, "day_in_validation_window", "body.day")
    assert await one(database, "SELECT count(*) FROM campaigns.view_settlements") == 0
    not_admin = await client.post(
        "/v1/admin/campaigns/settle", json={}, headers=built.advertiser.headers
    )
    assert not_admin.status_code == 403

    # Through D1 only, then everything due.
    response = await client.post(
        "/v1/admin/campaigns/settle", json={"day": D1.isoformat()}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "through": D1.isoformat(),
        "validated": 30,
        "campaigns": [
            {
                "campaign_id": str(built.campaign_id),
                "days": 1,
                "paid_views": 10,
                "over_cap": 0,
                "amount": 30,
                "paused": False,
            }
        ],
    }
    response = await client.post("/v1/admin/campaigns/settle", json={}, headers=admin.headers)
    assert response.json()["through"] == D2.isoformat()
    assert [c["amount"] for c in response.json()["campaigns"]] == [60]
    again = await client.post("/v1/admin/campaigns/settle", json={}, headers=admin.headers)
    assert again.json() == {"through": D2.isoformat(), "validated": 0, "campaigns": []}
    # Each run that settled something is in the campaign's audit log, with the admin.
    audited = await fetch(
        database,
        "SELECT actor_id, after->>'amount' AS amount FROM audit.audit_logs"
        " WHERE entity_type = 'campaign' AND entity_id = :c"
        " AND action = 'campaigns.campaign.settle' ORDER BY created_at",
        c=str(built.campaign_id),
    )
    assert [(str(r["actor_id"]), r["amount"]) for r in audited] == [
        (admin.id, "30"),
        (admin.id, "60"),
    ]
    assert await escrow_balance(database, built) == built.budget - 90


async def test_the_hourly_job_settles_what_is_due_and_rolls_up_today(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    from creatorhub.campaigns import tasks

    built = await build_campaign(client, database, cpv=300, max_views=1_000)
    (pc,) = built.promoters
    today = datetime.now(UTC).date()
    await add_views(database, built, pc, today - timedelta(days=5), 10)
    await add_views(database, built, pc, today, 4)
    async with JobRuntime(database, settings).open():
        counts = await tasks.settle_campaign_views(0)
        again = await tasks.settle_campaign_views(0)
        rolled = await tasks.roll_up_view_stats(0)
    assert counts == {"validated": 10, "campaigns": 1, "paid": 30, "over_cap": 0, "paused": 0}
    assert again == {"validated": 0, "campaigns": 0, "paid": 0, "over_cap": 0, "paused": 0}
    assert rolled == 0  # today's row was rolled up by the settlement run already
    stats = await fetch(
        database,
        "SELECT day, counted, paid_views, paid_amount FROM campaigns.view_stats ORDER BY day",
    )
    assert [tuple(r.values()) for r in stats] == [
        (today - timedelta(days=5), 10, 10, 30),
        (today, 4, 0, 0),
    ]


# --- the full flow through HTTP -------------------------------------------------------------

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def browser(i: int) -> str:
    return f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.{i}.0"


async def click(app: Any, code: str, visitor: int, *, agent: str | None = None) -> None:
    """One visitor (their own address and browser) follows the tracking link."""
    transport = httpx.ASGITransport(
        app=app, client=(f"198.51.{visitor // 250}.{visitor % 250 + 1}", 5000)
    )
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as visitor_client:
        response = await visitor_client.get(
            f"/t/{code}", headers={"User-Agent": agent or browser(visitor)}
        )
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "https://shop.example.com/spring"


async def test_full_flow_fund_join_click_validate_settle_end(
    app: Any,
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 3.33 per 100 views, 100 views (budget 3.33), at most 40 per promoter.
    owner = await campaign_helpers.advertiser(client, funds=10_00)
    campaign = await campaign_helpers.funded_campaign(
        client, owner, cpv=333, max_views=100, max_views_per_promoter=40
    )
    assert campaign["budget"] == 333
    campaign_id = campaign["id"]
    promoters = [await campaign_helpers.promoter(client) for _ in range(3)]
    joined = [await campaign_helpers.join(client, campaign_id, who) for who in promoters]
    codes = [p["tracking_code"] for p in joined]
    ids = [p["id"] for p in joined]

    # P1: 43 visitors (the last 3 past the promoter's cap), 2 of them again (duplicates), a bot.
    for visitor in range(43):
        await click(app, codes[0], visitor)
    for visitor in (0, 1):
        await click(app, codes[0], visitor)
    await click(app, codes[0], 900, agent=BOT)
    # P2: 25 visitors and a bot. P3: 30 visitors, then 2 during a pause (not counted), then
    # 10 more after it: 5 reach the campaign's 100 views, 5 are over its cap.
    for visitor in range(100, 125):
        await click(app, codes[1], visitor)
    await click(app, codes[1], 901, agent=BOT)
    for visitor in range(200, 230):
        await click(app, codes[2], visitor)
    assert (await campaign_helpers.pause(client, campaign_id, owner)).status_code == 200
    for visitor in (230, 231):
        await click(app, codes[2], visitor)
    assert (await campaign_helpers.resume(client, campaign_id, owner)).status_code == 200
    for visitor in range(232, 242):
        await click(app, codes[2], visitor)

    # Before the window has passed: counted, pending, nothing paid.
    mine = await client.get(
        f"/v1/campaigns/participations/{ids[0]}/stats", headers=promoters[0].headers
    )
    assert (mine.json()["counted"], mine.json()["pending"], mine.json()["paid"]) == (40, 40, 0)
    assert mine.json()["over_cap"] == 3 and mine.json()["dropped"] == 3  # 2 duplicates, a bot

    # The test clock: 72 hours after today is over, an admin settles.
    today = datetime.now(UTC).date()
    later = settlement.day_start(today + timedelta(days=1)) + WINDOW + timedelta(minutes=5)
    monkeypatch.setattr(stats_api, "utcnow", lambda: later)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    settled = await client.post("/v1/admin/campaigns/settle", json={}, headers=admin.headers)
    assert settled.status_code == 200, settled.text
    assert settled.json()["validated"] == 100
    (result,) = settled.json()["campaigns"]
    # 40 * 333 = 133.20 -> 133; 25 * 333 = 83.25 -> 83; 35 * 333 = 116.55 -> 116.
    assert (result["paid_views"], result["amount"], result["over_cap"]) == (100, 332, 0)

    expected = [(40, 133, 13), (25, 83, 8), (35, 116, 11)]  # views, gross, fee (10 %, floor)
    for who, pc_id, (views, gross, fee) in zip(promoters, ids, expected, strict=True):
        stats = await client.get(f"/v1/campaigns/participations/{pc_id}/stats", headers=who.headers)
        body = stats.json()
        assert (body["paid"], body["pending"], body["validated"]) == (views, 0, 0)
        assert body["earnings"] == {
            "gross": gross,
            "fee": fee,
            "net": gross - fee,
            "carried": views * 333 % 100,
        }
        assert (await wallet(client, who.headers))["available"] == gross - fee
    assert await fees_total(database) == 32

    # The advertiser ends the campaign: the cent never paid (0.33 + 0.20 + 0.25 + 0.55 of
    # fractions, and what the views did not use) comes back.
    ended = await campaign_helpers.end(client, campaign_id, owner)
    assert ended.status_code == 200, ended.text
    stats = await client.get(
        f"/v1/campaigns/{campaign_id}/stats",
        params={"from": today.isoformat(), "to": today.isoformat()},
        headers=owner.headers,
    )
    body = stats.json()
    assert body["status"] == "completed"
    assert body["budget"] == {"allocated": 333, "spent": 332, "refunded": 1, "left": 0}
    (day,) = body["days"]
    assert (
        day["counted"],
        day["paid_views"],
        day["paid_amount"],
        day["dropped_duplicate"],
        day["dropped_bot"],
        day["dropped_inactive"],
        day["dropped_over_cap"],
    ) == (100, 100, 332, 2, 2, 2, 8)
    spend = {p["promoter_campaign_id"]: p["spent"] for p in body["promoters"]}
    assert spend == {ids[0]: 133, ids[1]: 83, ids[2]: 116}
    assert (await wallet(client, owner.headers))["available"] == 10_00 - 333 + 1
