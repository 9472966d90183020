"""Fees (basis points + fixed, per kind, overridable per payee) and earnings with a hold period."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from creatorhub.db import Database
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.payments import earnings
from creatorhub.payments.fees import compute_fee
from helpers import account, assert_problem, grant_roles
from payment_helpers import fund_wallet, wallet


@pytest.mark.parametrize(
    ("gross", "bps", "fixed", "fee"),
    [
        (10_000, 1_000, 0, 1_000),
        (999, 1_000, 0, 99),  # 99.9 rounds down: the fraction stays with the payee
        (1, 1_000, 0, 0),
        (1_000, 290, 30, 59),  # 2.9 % + 30
        (20, 290, 30, 20),  # never more than the gross
        (10_000, 10_000, 0, 10_000),
        (0, 1_000, 30, 0),
    ],
)
def test_fee_rounding_is_exact(gross: int, bps: int, fixed: int, fee: int) -> None:
    assert compute_fee(gross, bps, fixed) == fee


async def test_admin_sets_fees_and_overrides_per_payee(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    creator = await account(client, roles=["creator"])

    quote = await client.get("/v1/fees/quote?kind=tip&gross=1000", headers=creator.headers)
    assert quote.json() == {
        "kind": "tip",
        "gross": 1000,
        "fee": 100,
        "net": 900,
        "basis_points": 1000,
        "fixed_amount": 0,
    }

    assert (
        await client.put("/v1/admin/fees/tip", json={"basis_points": 500}, headers=creator.headers)
    ).status_code == 403
    changed = await client.put(
        "/v1/admin/fees/tip", json={"basis_points": 290, "fixed_amount": 30}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    override = await client.put(
        "/v1/admin/fees/tip",
        json={"basis_points": 0, "user_id": creator.id},
        headers=admin.headers,
    )
    assert override.json()["user_id"] == creator.id
    for bad in (
        {"basis_points": 10_001},
        {"basis_points": -1},
        {"basis_points": 2.5},
        {"basis_points": 100, "fixed_amount": -1},
    ):
        assert (
            await client.put("/v1/admin/fees/tip", json=bad, headers=admin.headers)
        ).status_code == 422
    assert (
        await client.put(
            "/v1/admin/fees/Not-A-Kind", json={"basis_points": 1}, headers=admin.headers
        )
    ).status_code == 422

    other = await account(client, roles=["creator"])
    general = (await client.get("/v1/fees/quote?kind=tip&gross=1000", headers=other.headers)).json()
    own = (await client.get("/v1/fees/quote?kind=tip&gross=1000", headers=creator.headers)).json()
    assert (general["fee"], own["fee"]) == (59, 0)
    rules = (await client.get("/v1/admin/fees", headers=admin.headers)).json()
    assert {(r["transaction_kind"], r["user_id"]) for r in rules} >= {
        ("tip", None),
        ("tip", creator.id),
        ("escrow_release", None),
    }


async def test_earnings_show_gross_fee_net_and_wait_for_their_release_date(
    client: httpx.AsyncClient, database: Database
) -> None:
    fan = await account(client, roles=["fan"])
    creator = await account(client, roles=["creator"])
    await fund_wallet(client, fan.headers, 50_00)
    now = datetime.now(UTC)
    async with database.session_scope() as session:
        payer = await ledger.user_account(session, uuid.UUID(fan.id), "USD")
        earning = await earnings.pay_earnings(
            session,
            payee_id=uuid.UUID(creator.id),
            gross=12_34,
            currency="USD",
            kind="tip",
            key="tip-1",
            reason="tip from a fan",
            now=now,
            hold_days=7,
            fee_shards=16,
            payer_account_id=payer,
            reference_type="tip",
            reference_id="tip-1",
        )
    assert (earning.quote.gross, earning.quote.fee, earning.quote.net) == (12_34, 1_23, 11_11)

    shown = await wallet(client, creator.headers)
    assert (shown["available"], shown["pending"]) == (0, 11_11)
    (item,) = shown["pending_items"]
    assert (item["amount"], item["reason"]) == (11_11, "tip from a fan")
    assert datetime.fromisoformat(item["release_at"]) == earning.pending_until
    history = (await client.get("/v1/wallet/transactions", headers=creator.headers)).json()
    (tip,) = history["items"]
    assert (tip["gross"], tip["fee"], tip["net"], tip["wallet"]) == (
        12_34,
        1_23,
        11_11,
        "wallet_pending",
    )
    assert (await wallet(client, fan.headers))["available"] == 50_00 - 12_34

    async with database.session_scope() as session:
        assert await earnings.release_due_earnings(session, now + timedelta(days=6)) == 0
        assert await earnings.release_due_earnings(session, now + timedelta(days=7)) == 1
        assert await earnings.release_due_earnings(session, now + timedelta(days=8)) == 0
    shown = await wallet(client, creator.headers)
    assert (shown["available"], shown["pending"], shown["pending_items"]) == (11_11, 0, [])

    # Paying the same earning again (a retried job) changes nothing.
    async with database.session_scope() as session:
        again = await earnings.pay_earnings(
            session,
            payee_id=uuid.UUID(creator.id),
            gross=12_34,
            currency="USD",
            kind="tip",
            key="tip-1",
            reason="tip from a fan",
            now=now,
            hold_days=7,
            fee_shards=16,
            payer_account_id=payer,
        )
    assert not again.created
    assert (await wallet(client, fan.headers))["available"] == 50_00 - 12_34


async def test_unknown_currency_in_queries_is_refused(client: httpx.AsyncClient) -> None:
    fan = await account(client, roles=["fan"])
    assert_problem(
        await client.get("/v1/wallet?currency=XXX", headers=fan.headers), 422, "unknown_currency"
    )
    assert (await client.get("/v1/wallet", headers={})).status_code == 401


async def test_many_earnings_move_as_one_group_with_each_payees_fee_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    payer_user = await account(client, roles=["brand"])
    await fund_wallet(client, payer_user.headers, 100_00)
    payees = [await account(client, roles=["creator"]) for _ in range(3)]
    # The third payee pays no fee on tips (an override); the others the default 10 %.
    override = await client.put(
        "/v1/admin/fees/tip",
        json={"basis_points": 0, "user_id": payees[2].id},
        headers=admin.headers,
    )
    assert override.status_code == 200, override.text
    # 18 orders: more than the ledger's one-by-one path takes, so its set-based path runs.
    orders = [
        earnings.EarningOrder(
            payee_id=uuid.UUID(payees[n % 3].id),
            gross=100 + n,
            key=f"many-{n}",
            reason=f"order {n}",
        )
        for n in range(18)
    ]
    now = datetime.now(UTC)

    async def pay() -> list[earnings.Earning]:
        async with database.session_scope() as session:
            payer = await ledger.user_account(session, uuid.UUID(payer_user.id), "USD")
            return await earnings.pay_earnings_many(
                session,
                orders,
                payer_account_id=payer,
                currency="USD",
                kind="tip",
                now=now,
                hold_days=7,
                fee_shards=16,
            )

    paid = await pay()
    expected_fees = [0 if n % 3 == 2 else (100 + n) // 10 for n in range(18)]
    assert [e.quote.fee for e in paid] == expected_fees
    assert all(e.created and e.pending_until == now + timedelta(days=7) for e in paid)
    gross = sum(100 + n for n in range(18))
    assert (await wallet(client, payer_user.headers))["available"] == 100_00 - gross
    for index, payee in enumerate(payees):
        mine = [n for n in range(18) if n % 3 == index]
        shown = await wallet(client, payee.headers)
        net = sum(100 + n - expected_fees[n] for n in mine)
        assert (shown["available"], shown["pending"]) == (0, net)
        assert sorted(item["reason"] for item in shown["pending_items"]) == sorted(
            f"order {n}" for n in mine
        )

    # A retried batch moves nothing and adds no pending item.
    again = await pay()
    assert not any(e.created or e.pending_until for e in again)
    assert (await wallet(client, payer_user.headers))["available"] == 100_00 - gross
    assert len((await wallet(client, payees[0].headers))["pending_items"]) == 6

    # A batch the payer cannot cover is refused whole: nothing moves.
    orders = [
        earnings.EarningOrder(uuid.UUID(payees[0].id), 60_00, "too-much-1", "too much"),
        earnings.EarningOrder(uuid.UUID(payees[1].id), 60_00, "too-much-2", "too much"),
    ]
    with pytest.raises(InsufficientFunds):
        await pay()
    assert (await wallet(client, payer_user.headers))["available"] == 100_00 - gross
