"""Recurring billing on a real database: plans, subscribing, renewals, cancellations, the API.

Figures are exact: the seeded default fee for 'subscription' is 1000 bps (10 %, rounded down),
so a 999 plan charges the subscriber 999, pays the owner 900 and the platform 99. Time is
passed as `now`; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import defer, job_app
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.ledger.models import AccountKind
from creatorhub.ledger.service import TransferSpec
from creatorhub.payments import billing
from creatorhub.payments.billing_api import router
from creatorhub.payments.billing_tasks import renew_subscriptions
from creatorhub.payments.models import Plan, Subscription
from helpers import Account, account, assert_problem, scalar

AMOUNT, FEE, NET = 999, 99, 900
T0 = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def billing_routes(app: FastAPI) -> None:
    """Mount the billing routes until the app does so itself."""
    paths = {getattr(route, "path", None) for route in app.routes}
    if "/v1/plans" not in paths:
        app.include_router(router)


# --- helpers --------------------------------------------------------------------------------


async def fund(database: Database, user_id: str | uuid.UUID, amount: int) -> None:
    async with database.session_scope() as session:
        wallet = await ledger.user_account(session, uuid.UUID(str(user_id)), "USD")
        clearing = await ledger.platform_account(session, AccountKind.PROVIDER_CLEARING, "USD")
        await ledger.transfer(
            session,
            TransferSpec(clearing, wallet, amount, "funding", f"fund-{uuid.uuid4()}", "USD"),
        )


async def balance(database: Database, user_id: str | uuid.UUID) -> int:
    value = await scalar(
        database,
        "SELECT coalesce(sum(balance), 0) FROM ledger.accounts WHERE owner_type = 'user'"
        " AND owner_id = :id AND kind = 'wallet_available' AND currency = 'USD'",
        id=uuid.UUID(str(user_id)),
    )
    return int(value)


async def fees(database: Database) -> int:
    value = await scalar(
        database,
        "SELECT coalesce(sum(balance), 0) FROM ledger.accounts"
        " WHERE kind = 'platform_fees' AND currency = 'USD'",
    )
    return int(value)


async def charges(database: Database) -> int:
    value = await scalar(
        database, "SELECT count(*) FROM ledger.transfers WHERE kind = 'subscription'"
    )
    return int(value)


async def subscriptions_count(database: Database) -> int:
    return int(await scalar(database, "SELECT count(*) FROM payments.subscriptions"))


async def make_plan(
    database: Database,
    owner: Account,
    *,
    amount: int = AMOUNT,
    interval: str = "month",
    name: str = "Gold",
) -> Plan:
    async with database.session_scope() as session:
        return await billing.create_plan(
            session, uuid.UUID(owner.id), name, amount, "USD", interval
        )


async def subscribe(
    database: Database,
    settings: Settings,
    plan: Plan,
    subscriber: Account,
    now: datetime = T0,
    key: str | None = None,
) -> billing.Subscribed:
    async with database.session_scope() as session:
        return await billing.subscribe(
            session, settings, plan.id, uuid.UUID(subscriber.id), now, key or str(uuid.uuid4())
        )


async def renew(
    database: Database, settings: Settings, now: datetime, **kwargs: Any
) -> billing.RenewalReport:
    async with database.session_scope() as session:
        return await billing.renew_due(session, settings, now, **kwargs)


async def load(database: Database, subscription_id: uuid.UUID) -> Subscription:
    async with database.session_scope() as session:
        found = await session.get(Subscription, subscription_id)
        assert found is not None
        return found


async def database_account(database: Database) -> Account:
    """An account straight in the database, for service-level tests (it cannot log in)."""
    user_id = uuid.uuid4()
    email = f"{user_id}@example.com"
    async with database.session_scope() as session:
        await session.execute(
            text(
                "INSERT INTO identity.users (id, email, display_name) VALUES (:id, :email, 'Fan')"
            ),
            {"id": user_id, "email": email},
        )
    return Account(id=str(user_id), email=email, password="", access_token="", refresh_token="")


def counts(report: billing.RenewalReport) -> dict[str, int]:
    return report.as_dict()


def idem(user: Account, key: str | None = None) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key or str(uuid.uuid4())}


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await account(client, roles=["creator"])


@pytest.fixture
async def fan(client: httpx.AsyncClient) -> Account:
    return await account(client, roles=["fan"])


# --- the calendar ---------------------------------------------------------------------------


def test_months_are_calendar_months_anchored_on_the_start_day() -> None:
    jan31 = datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
    ends = [billing.period_end(jan31, "month", n) for n in range(1, 5)]
    assert ends == [
        datetime(2025, 2, 28, 9, 30, tzinfo=UTC),
        datetime(2025, 3, 31, 9, 30, tzinfo=UTC),
        datetime(2025, 4, 30, 9, 30, tzinfo=UTC),
        datetime(2025, 5, 31, 9, 30, tzinfo=UTC),
    ]
    assert billing.period_end(datetime(2024, 1, 31, tzinfo=UTC), "month", 1) == datetime(
        2024, 2, 29, tzinfo=UTC
    )
    assert billing.period_end(datetime(2025, 12, 15, tzinfo=UTC), "month", 1) == datetime(
        2026, 1, 15, tzinfo=UTC
    )
    leap = datetime(2024, 2, 29, tzinfo=UTC)
    assert [billing.period_end(leap, "year", n) for n in (1, 4)] == [
        datetime(2025, 2, 28, tzinfo=UTC),
        datetime(2028, 2, 29, tzinfo=UTC),
    ]
    assert billing.period_end(leap, "lifetime", 1) is None


# --- plans ----------------------------------------------------------------------------------


async def test_creators_and_brands_create_plans_and_bad_ones_are_refused(
    client: httpx.AsyncClient, owner: Account, fan: Account
) -> None:
    good = {"name": "  Gold  ", "amount": AMOUNT, "currency": "USD", "interval": "month"}
    created = await client.post("/v1/plans", json=good, headers=owner.headers)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["owner_id"] == owner.id
    assert (plan["name"], plan["amount"], plan["currency"], plan["interval"], plan["active"]) == (
        "Gold",
        AMOUNT,
        "USD",
        "month",
        True,
    )

    brand = await account(client, roles=["brand"])
    yearly = {**good, "interval": "year"}
    assert (await client.post("/v1/plans", json=yearly, headers=brand.headers)).status_code == 201

    fetched = await client.get(f"/v1/plans/{plan['id']}", headers=fan.headers)
    assert fetched.status_code == 200
    assert fetched.json() == plan
    assert_problem(
        await client.get(f"/v1/plans/{uuid.uuid4()}", headers=fan.headers), 404, "plan_not_found"
    )
    assert_problem(await client.get(f"/v1/plans/{plan['id']}"), 401, "not_authenticated")

    refused = await client.post("/v1/plans", json=good, headers=fan.headers)
    assert_problem(refused, 403, "role_required")

    invalid: list[tuple[dict[str, Any], str]] = [
        ({**good, "amount": 0}, "body.amount"),
        ({**good, "amount": -5}, "body.amount"),
        ({**good, "amount": 10.0}, "body.amount"),
        ({**good, "amount": 9.5}, "body.amount"),
        ({**good, "amount": "999"}, "body.amount"),
        ({**good, "amount": True}, "body.amount"),
        ({**good, "amount": None}, "body.amount"),
        ({**good, "amount": 10**12 + 1}, "body.amount"),
        ({k: v for k, v in good.items() if k != "amount"}, "body.amount"),
        ({**good, "currency": "usd"}, "body.currency"),
        ({**good, "currency": "US"}, "body.currency"),
        ({**good, "currency": "USDX"}, "body.currency"),
        ({**good, "currency": "CREDIT"}, "body.currency"),
        ({**good, "interval": "week"}, "body.interval"),
        ({**good, "interval": "MONTH"}, "body.interval"),
        ({**good, "name": "   "}, "body.name"),
        ({**good, "name": "x" * 201}, "body.name"),
        ({**good, "transaction_kind": "tip"}, "body.transaction_kind"),
        ({**good, "owner_id": fan.id}, "body.owner_id"),
    ]
    for body, field in invalid:
        response = await client.post("/v1/plans", json=body, headers=owner.headers)
        assert_problem(response, 422, "validation_error", field=field)


async def test_the_service_refuses_bad_plans_too(database: Database, owner: Account) -> None:
    owner_id = uuid.UUID(owner.id)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"amount": 0}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 9.5}, "amount"),
        ({"currency": "usd"}, "currency"),
        ({"interval": "week"}, "interval"),
        ({"name": " "}, "name"),
    ]
    for override, field in bad:
        args: dict[str, Any] = {
            "name": "Gold",
            "amount": AMOUNT,
            "currency": "USD",
            "interval": "month",
            **override,
        }
        with pytest.raises(billing.InvalidPlan) as refused:
            async with database.session_scope() as session:
                await billing.create_plan(session, owner_id, **args)
        assert refused.value.field == field
    assert int(await scalar(database, "SELECT count(*) FROM payments.plans")) == 0


# --- subscribing ----------------------------------------------------------------------------


async def test_subscribing_charges_the_amount_with_the_platform_fee(
    client: httpx.AsyncClient, database: Database, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    key = "subscribe-gold-1"

    response = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan, key))
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    body = response.json()
    charge, subscription = body["charge"], body["subscription"]
    assert {k: charge[k] for k in ("period", "gross", "fee", "net", "currency")} == {
        "period": 1,
        "gross": AMOUNT,
        "fee": FEE,
        "net": NET,
        "currency": "USD",
    }
    assert subscription["status"] == "active"
    assert subscription["subscriber_id"] == fan.id
    assert subscription["plan"]["id"] == str(plan.id)
    assert subscription["periods_paid"] == 1
    assert subscription["cancel_at_period_end"] is False
    start = datetime.fromisoformat(subscription["current_period_start"])
    end = datetime.fromisoformat(subscription["current_period_end"])
    assert end == billing.add_months(start, 1)
    assert datetime.fromisoformat(subscription["created_at"]) == start

    assert await balance(database, fan.id) == 5_000 - AMOUNT
    assert await balance(database, owner.id) == NET
    assert await fees(database) == FEE
    key_of_charge = billing.period_key(uuid.UUID(subscription["id"]), 1)
    rows = await scalar(
        database,
        "SELECT json_agg(json_build_object('key', idempotency_key, 'amount', amount,"
        " 'kind', kind, 'ref', reference_id) ORDER BY idempotency_key)"
        " FROM ledger.transfers WHERE reference_type = 'subscription'",
    )
    assert rows == [
        {"key": key_of_charge, "amount": AMOUNT, "kind": "subscription", "ref": subscription["id"]},
        {
            "key": f"{key_of_charge}:fee",
            "amount": FEE,
            "kind": "platform_fee",
            "ref": subscription["id"],
        },
    ]
    assert charge["transfer_id"] == str(
        await scalar(
            database, "SELECT id FROM ledger.transfers WHERE idempotency_key = :k", k=key_of_charge
        )
    )

    # The same key again: the first answer, no second subscription or charge.
    replay = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan, key))
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == body
    assert await subscriptions_count(database) == 1
    assert await charges(database) == 1
    assert await balance(database, fan.id) == 5_000 - AMOUNT

    listed = await client.get("/v1/subscriptions", headers=fan.headers)
    assert listed.status_code == 200
    assert listed.json() == [subscription]
    assert (await client.get("/v1/subscriptions", headers=owner.headers)).json() == []


async def test_the_service_replays_a_key_it_has_seen(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    first = await subscribe(database, settings, plan, fan, key="k-1")
    again = await subscribe(database, settings, plan, fan, T0 + timedelta(days=3), key="k-1")
    assert first.created and not again.created
    assert again.subscription.id == first.subscription.id
    assert again.charge == first.charge
    assert again.charge.net == NET
    assert await charges(database) == 1
    assert await balance(database, fan.id) == 5_000 - AMOUNT


async def test_without_enough_funds_nothing_happens(
    client: httpx.AsyncClient, database: Database, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, AMOUNT - 1)
    key = "try-1"
    refused = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan, key))
    assert_problem(refused, 409, "insufficient_funds")
    assert await subscriptions_count(database) == 0
    assert await charges(database) == 0
    assert await balance(database, fan.id) == AMOUNT - 1
    assert await balance(database, owner.id) == 0
    assert await fees(database) == 0
    # The refused debit is kept in the system log even though the request rolled back.
    logged = await scalar(
        database,
        "SELECT count(*) FROM audit.system_logs WHERE component = 'ledger'"
        " AND source_uid = CAST(:id AS uuid)",
        id=fan.id,
    )
    assert logged == 1

    # The key was not spent on the refusal: once funded, the same retry goes through.
    await fund(database, fan.id, 1)
    retried = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan, key))
    assert retried.status_code == 201, retried.text
    assert await balance(database, fan.id) == 0
    assert await balance(database, owner.id) == NET


async def test_insufficient_funds_leave_the_callers_transaction_usable(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    async with database.session_scope() as session:
        with pytest.raises(InsufficientFunds):
            await billing.subscribe(session, settings, plan.id, uuid.UUID(fan.id), T0, "k")
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert await session.scalar(select(Subscription)) is None


async def test_one_live_subscription_per_plan(
    client: httpx.AsyncClient, database: Database, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    path = f"/v1/plans/{plan.id}/subscriptions"
    first = await client.post(path, headers=idem(fan))
    assert first.status_code == 201
    assert_problem(await client.post(path, headers=idem(fan)), 409, "already_subscribed")
    assert await charges(database) == 1

    # Canceled, it no longer counts: subscribing again is a new subscription.
    subscription_id = first.json()["subscription"]["id"]
    canceled = await client.post(
        f"/v1/subscriptions/{subscription_id}/cancel",
        json={"at_period_end": False},
        headers=fan.headers,
    )
    assert canceled.status_code == 200
    again = await client.post(path, headers=idem(fan))
    assert again.status_code == 201, again.text
    assert again.json()["subscription"]["id"] != subscription_id
    assert await charges(database) == 2
    assert await balance(database, fan.id) == 5_000 - 2 * AMOUNT


async def test_concurrent_subscribes_make_one_subscription(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    # Two different keys at once: one subscription, the other is refused.
    results = await asyncio.gather(
        subscribe(database, settings, plan, fan, key="a"),
        subscribe(database, settings, plan, fan, key="b"),
        return_exceptions=True,
    )
    assert sorted(type(result).__name__ for result in results) == [
        "AlreadySubscribed",
        "Subscribed",
    ]
    # The same key twice at once: one subscription, both callers get it.
    other = await make_plan(database, owner, name="Silver")
    same = await asyncio.gather(
        subscribe(database, settings, other, fan, key="c"),
        subscribe(database, settings, other, fan, key="c"),
    )
    assert isinstance(same[0], billing.Subscribed) and isinstance(same[1], billing.Subscribed)
    assert same[0].subscription.id == same[1].subscription.id
    assert sorted([same[0].created, same[1].created]) == [False, True]
    assert await subscriptions_count(database) == 2
    assert await charges(database) == 2
    assert await balance(database, fan.id) == 5_000 - 2 * AMOUNT


async def test_own_inactive_and_unknown_plans_are_refused(
    client: httpx.AsyncClient, database: Database, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, owner.id, 5_000)
    await fund(database, fan.id, 5_000)
    path = f"/v1/plans/{plan.id}/subscriptions"
    assert_problem(await client.post(path, headers=idem(owner)), 422, "own_plan")
    assert_problem(
        await client.post(f"/v1/plans/{uuid.uuid4()}/subscriptions", headers=idem(fan)),
        404,
        "plan_not_found",
    )
    assert_problem(await client.post(path, headers=fan.headers), 400, "idempotency_key_required")
    async with database.session_scope() as session:
        await session.execute(
            text("UPDATE payments.plans SET active = false WHERE id = :id"), {"id": plan.id}
        )
    assert_problem(await client.post(path, headers=idem(fan)), 409, "plan_inactive")
    assert await subscriptions_count(database) == 0
    assert await charges(database) == 0


# --- renewals -------------------------------------------------------------------------------


async def test_a_renewal_at_period_end_charges_once_however_often_it_runs(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 10_000)
    subscribed = await subscribe(database, settings, plan, fan)
    sub_id = subscribed.subscription.id
    end = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
    assert subscribed.subscription.current_period_end == end

    assert counts(await renew(database, settings, end - timedelta(seconds=1)))["renewed"] == 0
    first = await renew(database, settings, end + timedelta(minutes=7))
    assert counts(first) == {"renewed": 1, "past_due": 0, "canceled": 0, "expired": 0}
    assert counts(await renew(database, settings, end + timedelta(minutes=7)))["renewed"] == 0
    assert counts(await renew(database, settings, end + timedelta(days=20)))["renewed"] == 0

    renewed = await load(database, sub_id)
    # From the previous period's end, not from when the job ran.
    assert renewed.current_period_start == end
    assert renewed.current_period_end == datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    assert renewed.periods_paid == 2
    assert renewed.status == "active"
    assert await charges(database) == 2
    assert await balance(database, fan.id) == 10_000 - 2 * AMOUNT
    assert await balance(database, owner.id) == 2 * NET
    assert await fees(database) == 2 * FEE
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM ledger.transfers WHERE idempotency_key = :k",
            k=billing.period_key(sub_id, 2),
        )
        == 1
    )

    # Should the row ever be wound back, the period's ledger key still refuses a second charge.
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE payments.subscriptions SET periods_paid = 1,"
                " current_period_start = :start, current_period_end = :end WHERE id = :id"
            ),
            {"start": T0, "end": end, "id": sub_id},
        )
    assert counts(await renew(database, settings, end))["renewed"] == 1
    assert await charges(database) == 2
    assert await balance(database, fan.id) == 10_000 - 2 * AMOUNT


async def test_concurrent_renewals_charge_once(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 10_000)
    subscribers = [fan]
    for _ in range(3):
        other = await database_account(database)
        await fund(database, other.id, 10_000)
        subscribers.append(other)
    for subscriber in subscribers:
        await subscribe(database, settings, plan, subscriber)
    now = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)

    reports = await asyncio.gather(*(renew(database, settings, now) for _ in range(2)))
    assert sum(report.renewed for report in reports) == len(subscribers)
    assert await charges(database) == 2 * len(subscribers)
    for subscriber in subscribers:
        assert await balance(database, subscriber.id) == 10_000 - 2 * AMOUNT
    assert await balance(database, owner.id) == 2 * len(subscribers) * NET

    # Again with a newcomer due as well: each due subscription is charged by one run only.
    other_plan = await make_plan(database, owner, name="Silver")
    single = await subscribe(database, settings, other_plan, fan, now)
    due = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    reports = await asyncio.gather(renew(database, settings, due), renew(database, settings, due))
    assert sum(report.renewed for report in reports) == len(subscribers) + 1
    assert (await load(database, single.subscription.id)).periods_paid == 2
    assert await charges(database) == 3 * len(subscribers) + 2

    # Deterministically: while one run holds the due rows (not yet committed), another run
    # skips them instead of waiting or charging.
    due = datetime(2025, 4, 15, 12, 0, tzinfo=UTC)
    async with database.session_scope() as session:
        holding = await billing.renew_due(session, settings, due)
        meanwhile = await renew(database, settings, due)
    assert (holding.renewed, meanwhile.renewed) == (len(subscribers) + 1, 0)
    assert await charges(database) == 4 * len(subscribers) + 3


@pytest.mark.parametrize(
    ("start", "ends"),
    [
        (
            datetime(2025, 1, 31, 8, 0, tzinfo=UTC),
            [(2025, 2, 28), (2025, 3, 31), (2025, 4, 30), (2025, 5, 31)],
        ),
        (
            datetime(2024, 1, 31, 8, 0, tzinfo=UTC),
            [(2024, 2, 29), (2024, 3, 31), (2024, 4, 30), (2024, 5, 31)],
        ),
    ],
)
async def test_month_end_subscriptions_keep_their_day(
    database: Database,
    settings: Settings,
    owner: Account,
    fan: Account,
    start: datetime,
    ends: list[tuple[int, int, int]],
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 10 * AMOUNT)
    subscribed = await subscribe(database, settings, plan, fan, start)
    sub_id = subscribed.subscription.id
    expected = [datetime(y, m, d, 8, 0, tzinfo=UTC) for y, m, d in ends]
    assert subscribed.subscription.current_period_end == expected[0]
    previous = expected[0]
    for period_end in expected[1:]:
        assert (await renew(database, settings, previous + timedelta(minutes=3))).renewed == 1
        current = await load(database, sub_id)
        assert (current.current_period_start, current.current_period_end) == (previous, period_end)
        previous = period_end
    assert await charges(database) == len(expected)


async def test_a_yearly_plan_renews_a_year_on(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner, interval="year", amount=10_000)
    await fund(database, fan.id, 20_000)
    subscribed = await subscribe(database, settings, plan, fan)
    assert subscribed.subscription.current_period_end == datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert (await renew(database, settings, datetime(2025, 12, 31, tzinfo=UTC))).renewed == 0
    assert (await renew(database, settings, datetime(2026, 1, 15, 12, tzinfo=UTC))).renewed == 1
    renewed = await load(database, subscribed.subscription.id)
    assert renewed.current_period_end == datetime(2027, 1, 15, 12, tzinfo=UTC)
    assert await balance(database, fan.id) == 0
    assert await balance(database, owner.id) == 2 * 9_000


async def test_cancel_at_period_end_stops_at_the_renewal_without_a_charge(
    client: httpx.AsyncClient, database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    created = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan))
    subscription = created.json()["subscription"]
    path = f"/v1/subscriptions/{subscription['id']}/cancel"

    canceled = await client.post(path, headers=fan.headers)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["cancel_at_period_end"] is True
    assert canceled.json()["status"] == "active"  # access continues to the period end
    assert canceled.json()["canceled_at"] is None
    # Canceling again is harmless.
    again = await client.post(path, json={"at_period_end": True}, headers=fan.headers)
    assert again.status_code == 200
    assert again.json() == canceled.json()

    end = datetime.fromisoformat(subscription["current_period_end"])
    assert counts(await renew(database, settings, end - timedelta(minutes=1)))["canceled"] == 0
    report = await renew(database, settings, end + timedelta(minutes=1))
    assert counts(report) == {"renewed": 0, "past_due": 0, "canceled": 1, "expired": 0}
    stopped = await load(database, uuid.UUID(subscription["id"]))
    assert stopped.status == "canceled"
    assert stopped.canceled_at == end + timedelta(minutes=1)
    assert stopped.periods_paid == 1
    assert await charges(database) == 1
    assert await balance(database, fan.id) == 5_000 - AMOUNT
    assert counts(await renew(database, settings, end + timedelta(days=40))) == {
        "renewed": 0,
        "past_due": 0,
        "canceled": 0,
        "expired": 0,
    }

    # A cancel after the end changes nothing.
    late = await client.post(path, json={"at_period_end": False}, headers=fan.headers)
    assert late.status_code == 200
    assert late.json()["status"] == "canceled"
    assert datetime.fromisoformat(late.json()["canceled_at"]) == end + timedelta(minutes=1)


async def test_cancel_now_ends_at_once_and_twice_is_harmless(
    client: httpx.AsyncClient, database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    created = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan))
    subscription_id = created.json()["subscription"]["id"]
    path = f"/v1/subscriptions/{subscription_id}/cancel"

    first = await client.post(path, json={"at_period_end": False}, headers=fan.headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "canceled"
    assert first.json()["canceled_at"] is not None
    second = await client.post(path, json={"at_period_end": False}, headers=fan.headers)
    assert second.status_code == 200
    assert second.json() == first.json()
    # No refund.
    assert await balance(database, fan.id) == 5_000 - AMOUNT
    assert await balance(database, owner.id) == NET
    far = datetime.now(UTC) + timedelta(days=400)
    assert counts(await renew(database, settings, far))["renewed"] == 0
    assert await charges(database) == 1

    for bad in ({"at_period_end": "no"}, {"at_period_end": 0}, {"now": True}):
        assert_problem(
            await client.post(path, json=bad, headers=fan.headers), 422, "validation_error"
        )


async def test_only_the_subscriber_can_cancel(
    client: httpx.AsyncClient, database: Database, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    created = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan))
    subscription_id = created.json()["subscription"]["id"]
    stranger = await account(client)
    for who in (stranger, owner):
        response = await client.post(
            f"/v1/subscriptions/{subscription_id}/cancel",
            json={"at_period_end": False},
            headers=who.headers,
        )
        assert_problem(response, 404, "subscription_not_found")
    assert_problem(
        await client.post(f"/v1/subscriptions/{uuid.uuid4()}/cancel", headers=fan.headers),
        404,
        "subscription_not_found",
    )
    unchanged = await load(database, uuid.UUID(subscription_id))
    assert (unchanged.status, unchanged.cancel_at_period_end) == ("active", False)
    assert (await client.get("/v1/subscriptions", headers=stranger.headers)).json() == []


async def test_a_failed_renewal_is_past_due_until_funds_arrive(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, AMOUNT + 500)
    subscribed = await subscribe(database, settings, plan, fan)
    sub_id = subscribed.subscription.id
    # Due a minute later, so renewed in the same batch after the failure: a refused charge
    # is rolled back to its savepoint and the batch goes on.
    rich = await database_account(database)
    await fund(database, rich.id, 2 * AMOUNT)
    await subscribe(database, settings, plan, rich, T0 + timedelta(minutes=1))
    end = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
    failed_at = end + timedelta(minutes=4)

    report = await renew(database, settings, failed_at)
    assert counts(report) == {"renewed": 1, "past_due": 1, "canceled": 0, "expired": 0}
    assert await balance(database, rich.id) == 0
    assert await charges(database) == 3
    late = await load(database, sub_id)
    assert (late.status, late.past_due_since, late.periods_paid) == ("past_due", failed_at, 1)
    assert late.current_period_end == end

    # Retried on the next runs; the first failure stays the date it became past due.
    assert counts(await renew(database, settings, failed_at + timedelta(days=1)))["past_due"] == 1
    assert (await load(database, sub_id)).past_due_since == failed_at
    assert await charges(database) == 3
    assert await balance(database, fan.id) == 500

    await fund(database, fan.id, AMOUNT)
    report = await renew(database, settings, failed_at + timedelta(days=2))
    assert counts(report) == {"renewed": 1, "past_due": 0, "canceled": 0, "expired": 0}
    paid = await load(database, sub_id)
    assert (paid.status, paid.past_due_since, paid.periods_paid) == ("active", None, 2)
    # The period that was late is the one paid for: from the previous end, not from today.
    assert paid.current_period_start == end
    assert paid.current_period_end == datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
    assert await charges(database) == 4
    assert await balance(database, fan.id) == 500
    assert await balance(database, owner.id) == 4 * NET


async def test_past_due_beyond_the_grace_period_is_canceled(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner)
    await fund(database, fan.id, AMOUNT)
    subscribed = await subscribe(database, settings, plan, fan)
    sub_id = subscribed.subscription.id
    failed_at = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
    assert (await renew(database, settings, failed_at)).past_due == 1
    almost = failed_at + billing.GRACE_PERIOD - timedelta(seconds=1)
    assert counts(await renew(database, settings, almost))["past_due"] == 1
    assert (await load(database, sub_id)).status == "past_due"

    over = failed_at + billing.GRACE_PERIOD
    report = await renew(database, settings, over)
    assert counts(report) == {"renewed": 0, "past_due": 0, "canceled": 0, "expired": 1}
    gone = await load(database, sub_id)
    assert (gone.status, gone.canceled_at, gone.periods_paid) == ("canceled", over, 1)
    assert counts(await renew(database, settings, over + timedelta(days=1)))["expired"] == 0
    assert await charges(database) == 1

    # A shorter grace is a parameter.
    other = await make_plan(database, owner, name="Silver")
    await fund(database, fan.id, AMOUNT)
    short = await subscribe(database, settings, other, fan)
    assert (await renew(database, settings, failed_at, grace=timedelta(0))).expired == 1
    assert (await load(database, short.subscription.id)).status == "canceled"


async def test_a_lifetime_plan_is_charged_once_and_never_renews(
    client: httpx.AsyncClient, database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    plan = await make_plan(database, owner, interval="lifetime", amount=50_000)
    await fund(database, fan.id, 60_000)
    created = await client.post(f"/v1/plans/{plan.id}/subscriptions", headers=idem(fan))
    assert created.status_code == 201, created.text
    subscription = created.json()["subscription"]
    assert subscription["current_period_end"] is None
    assert created.json()["charge"] | {"transfer_id": None} == {
        "period": 1,
        "gross": 50_000,
        "fee": 5_000,
        "net": 45_000,
        "currency": "USD",
        "transfer_id": None,
    }
    far = datetime.now(UTC) + timedelta(days=365 * 30)
    assert counts(await renew(database, settings, far)) == {
        "renewed": 0,
        "past_due": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert await charges(database) == 1
    assert await balance(database, fan.id) == 10_000

    path = f"/v1/subscriptions/{subscription['id']}/cancel"
    assert_problem(await client.post(path, headers=fan.headers), 409, "no_period_end")
    ended = await client.post(path, json={"at_period_end": False}, headers=fan.headers)
    assert ended.json()["status"] == "canceled"


async def test_the_periodic_task_renews_due_subscriptions(
    database: Database, settings: Settings, owner: Account, fan: Account, run_jobs: Any
) -> None:
    periodic = {
        (task.task.name, task.periodic_id): task
        for task in job_app.periodic_registry.periodic_tasks.values()
    }
    registered = periodic[(renew_subscriptions.name, "renew_subscriptions")]
    assert registered.cron == "*/10 * * * *"
    assert renew_subscriptions.queue == "maintenance"

    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    # Started 40 days ago: its first month is over, the second is not.
    started = datetime.now(UTC) - timedelta(days=40)
    subscribed = await subscribe(database, settings, plan, fan, started)
    async with database.session_scope() as session:
        await defer(session, renew_subscriptions, timestamp=0)
    await run_jobs()
    renewed = await load(database, subscribed.subscription.id)
    assert renewed.periods_paid == 2
    assert renewed.current_period_end == billing.add_months(started, 2)
    assert await balance(database, fan.id) == 5_000 - 2 * AMOUNT
    assert await balance(database, owner.id) == 2 * NET


async def test_with_a_hold_period_the_owner_is_paid_into_pending(
    database: Database, settings: Settings, owner: Account, fan: Account
) -> None:
    held = settings.model_copy(update={"earnings_hold_days": 3})
    plan = await make_plan(database, owner)
    await fund(database, fan.id, 5_000)
    subscribed = await subscribe(database, held, plan, fan)
    end = subscribed.subscription.current_period_end
    assert end is not None
    assert (await renew(database, held, end)).renewed == 1
    pending = await scalar(
        database,
        "SELECT json_agg(json_build_object('amount', amount, 'reason', reason,"
        " 'source', source_id, 'release_at', release_at) ORDER BY release_at)"
        " FROM payments.pending_earnings WHERE user_id = CAST(:id AS uuid)",
        id=owner.id,
    )
    assert [(row["amount"], row["reason"], row["source"]) for row in pending] == [
        (NET, "subscription Gold", str(subscribed.subscription.id)),
    ] * 2
    assert [datetime.fromisoformat(row["release_at"]) for row in pending] == [
        T0 + timedelta(days=3),
        end + timedelta(days=3),
    ]
    assert await balance(database, owner.id) == 0
    assert await balance(database, fan.id) == 5_000 - 2 * AMOUNT
