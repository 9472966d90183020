"""Seed 000's daily analytics: exact metrics from placed source rows, the ledger, the admin API.

Marketplace, identity and audit rows are placed on chosen past days by setting their
timestamps. Ledger transfers cannot be: transfers and entries are append-only (a trigger refuses
UPDATE), so money tests use today, the day their transfers are written.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from creatorhub.db import Database
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind, OwnerType
from creatorhub.ledger.service import TransferSpec
from creatorhub.marketplace.analytics import (
    financial_rows,
    platform_rows,
    rollup_day,
    rollup_range,
)
from creatorhub.marketplace.models import FinancialAnalytics, PlatformAnalytics
from helpers import account, assert_problem, grant_roles, register, scalar

BASE = "/v1/admin/marketplace/analytics"
STAMP = ("date", "computed_at")
PLATFORM_FIELDS = tuple(c.name for c in PlatformAnalytics.__table__.columns if c.name not in STAMP)
# currency, then the money columns: the order of the tuples the money tests compare.
MONEY_FIELDS = tuple(c.name for c in FinancialAnalytics.__table__.columns if c.name not in STAMP)


def today() -> date:
    return datetime.now(UTC).date()


def at(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), UTC)


def platform_values(row: PlatformAnalytics) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in PLATFORM_FIELDS)


def platform_values_of(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in PLATFORM_FIELDS)


def money_values(row: FinancialAnalytics) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in MONEY_FIELDS)


async def execute(database: Database, sql: str, **params: Any) -> None:
    async with database.session_scope() as session:
        await session.execute(text(sql), params)


async def insert(database: Database, table: str, key: str = "uid", **values: Any) -> str:
    """Insert one row into `table` (a marketplace table unless qualified); its `key`."""
    table = table if "." in table else f"marketplace.{table}"
    names, placeholders = ", ".join(values), ", ".join(f":{name}" for name in values)
    # Table and column names are the tests' own, never input.
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders}) RETURNING {key}"  # noqa: S608
    return str(await scalar(database, sql, **values))


async def insert_job(database: Database, brand: str, created: datetime, **columns: Any) -> str:
    end_date = at(today() + timedelta(days=30))
    return await insert(
        database,
        "jobs",
        creator_uid=brand,
        title="Launch video",
        budget=10_000,
        influencer_slots=2,
        end_date=end_date,
        escrow_account_id=uuid.uuid4(),
        created_at=created,
        **columns,
    )


async def place(
    database: Database,
    user_id: str,
    created: datetime,
    deleted: datetime | None = None,
    logged_in: datetime | None = None,
    refreshed: datetime | None = None,
) -> None:
    """Set a user's created_at and deleted_at, and their auth sessions' created_at (the login)
    and last_refreshed_at. Without `logged_in` the user never logged in: the session the test
    helpers open (registration answers without the account, so they log in to read it) goes."""
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE identity.users SET created_at = :created, deleted_at = :deleted,"
                " status = CASE WHEN CAST(:deleted AS timestamptz) IS NULL THEN 'active'"
                " ELSE 'deleted' END WHERE id = :id"
            ),
            {"id": user_id, "created": created, "deleted": deleted},
        )
        if logged_in is None:
            await session.execute(
                text("DELETE FROM identity.auth_sessions WHERE user_id = :id"), {"id": user_id}
            )
            return
        await session.execute(
            text(
                "UPDATE identity.auth_sessions SET created_at = :at, last_refreshed_at = :refreshed"
                " WHERE user_id = :id"
            ),
            {"id": user_id, "at": logged_in, "refreshed": refreshed},
        )


async def test_platform_metrics_of_past_days(client: httpx.AsyncClient, database: Database) -> None:
    d0, d1, d2 = today() - timedelta(days=10), today() - timedelta(days=3), today() - timedelta(2)
    brand = await account(client, roles=["brand"])  # logged in: one auth session
    creator1 = await account(client, roles=["creator"])
    fan = (await register(client, roles=["fan"]))["id"]
    creator2 = (await register(client, roles=["creator"]))["id"]
    both = (await register(client, roles=["brand", "creator"]))["id"]
    await register(client)  # created today: on none of the days below

    await place(database, brand.id, at(d0, 9), logged_in=at(d0, 9), refreshed=at(d2, 7))
    await place(database, fan, at(d0, 10), deleted=at(d1, 8))
    await place(database, creator1.id, at(d1, 11), logged_in=at(d1, 11))
    await place(database, creator2, at(d1, 23, 59, 59))  # the last second of d1
    await place(database, both, at(d2, 0))  # the first second of d2

    job1 = await insert_job(
        database, brand.id, at(d1, 10), status="open", funded_at=at(d1, 10), funding_source="wallet"
    )
    job2 = await insert_job(
        database, brand.id, at(d1, 12), status="closed", closed_at=at(d2, 15), close_reason="brand"
    )
    await insert_job(database, both, at(d2, 9))
    claim1 = await insert(
        database,
        "claims",
        "id",
        job_id=job1,
        influencer_id=creator1.id,
        slot_number=1,
        claimed_at=at(d1, 13),
    )
    await insert(
        database,
        "claims",
        "id",
        job_id=job1,
        influencer_id=creator2,
        slot_number=2,
        claimed_at=at(d2, 10),
    )
    influencer_job = await insert(
        database,
        "influencer_jobs",
        user_uid=creator1.id,
        job_uid=job1,
        claim_id=claim1,
        slot_number=1,
        amount=5_000,
        currency="USD",
        hold_id=uuid.uuid4(),
        assigned_at=at(d1, 13),
    )
    # The claim's escrow record logged its 'claimed' event now: move it to the claim's day.
    await execute(
        database,
        "UPDATE marketplace.escrow_events SET created_at = :at WHERE job_uid = :job",
        at=at(d1, 13),
        job=job1,
    )
    await insert(
        database,
        "escrow_events",
        "event_uid",
        job_uid=job2,
        event_type="refund",
        created_at=at(d2, 15),
    )
    await insert(
        database,
        "content_submissions",
        influencer_job_uid=influencer_job,
        job_uid=job1,
        user_uid=creator1.id,
        platform="tiktok",
        url="https://example.com/v/1",
        submitted_at=at(d2, 8),
    )
    for logged in (at(d1, 1), at(d1, 2), at(d2, 23, 59, 59), at(d2 + timedelta(days=1), 0)):
        await insert(
            database, "audit.system_logs", log_time=logged, component="marketplace", data="{}"
        )

    async with database.session_scope() as session:
        assert await rollup_range(session, d0 - timedelta(days=1), d2) == 10
    async with database.session_scope() as session:
        rows = [(r.date, platform_values(r)) for r in await platform_rows(session, d0, d2)]
    # users, artists, influencers, active, jobs created, closed, claims, system, escrow events
    quiet = (2, 1, 0, 0, 0, 0, 0, 0, 0)  # the brand and the fan exist
    expected = {
        d0: (2, 1, 0, 1, 0, 0, 0, 0, 0),  # the brand logged in
        # The fan deleted; creator1 and creator2 created. Active: the brand (two jobs
        # created) and creator1 (a login and a claim: counted once).
        d1: (3, 1, 2, 2, 2, 0, 1, 2, 1),
        # `both` is an artist and an influencer. Active: the brand (a refresh), creator1 (a
        # submission), creator2 (a claim), `both` (a job created); closing a job is not.
        d2: (4, 2, 3, 4, 1, 1, 1, 1, 1),
    }
    assert rows == [
        (d0 + timedelta(days=n), expected.get(d0 + timedelta(days=n), quiet)) for n in range(9)
    ]

    # One day alone gives the same row as the range (users before it fold into it), and
    # re-running changes nothing but computed_at.
    async with database.session_scope() as session:
        first_at = (await platform_rows(session, d2, d2))[0].computed_at
    async with database.session_scope() as session:
        # Days are UTC days whatever the session's time zone (UTC+14 here).
        await session.execute(text("SET LOCAL TimeZone = 'Pacific/Kiritimati'"))
        again, money = await rollup_day(session, d2)
    assert (again.date, platform_values(again)) == rows[-1]
    assert again.computed_at > first_at
    assert money == []
    async with database.session_scope() as session:
        before = (await rollup_day(session, d0 - timedelta(days=1)))[0]
    assert platform_values(before) == (0,) * len(PLATFORM_FIELDS)


# --- money --------------------------------------------------------------------------------


def spec(debit: uuid.UUID, credit: uuid.UUID, amount: int, kind: str, ref: str) -> TransferSpec:
    """A transfer referencing `ref` ("type:id"), under a key of its own."""
    ref_type, ref_id = ref.split(":")
    key = f"{kind}-{ref_id}-{uuid.uuid4()}"
    return TransferSpec(debit, credit, amount, kind, key, None, ref_type, ref_id)


class Books:
    """Ledger accounts of a small marketplace, and its flows written through the ledger."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.creators = [uuid.uuid4(), uuid.uuid4()]
        self.brand = uuid.uuid4()

    async def escrow(self, currency: str, amount: int) -> uuid.UUID:
        """A job's escrow account, funded from outside (provider clearing)."""
        job = uuid.uuid4()
        async with self.database.session_scope() as session:
            clearing = await ledger.platform_account(
                session, AccountKind.PROVIDER_CLEARING, currency
            )
            escrow = await ledger.ensure_account(
                session, owner_type=OwnerType.JOB, owner_id=job, kind="escrow", currency=currency
            )
            await ledger.transfer(session, spec(clearing, escrow, amount, "funding", f"job:{job}"))
        return escrow

    async def release(
        self,
        escrow: uuid.UUID,
        creator: uuid.UUID,
        currency: str,
        gross: int,
        fee: int,
        *,
        by_hold: bool = False,
    ) -> None:
        """A slot's gross released to the creator and the platform fee taken from it, either as
        a posted hold (reserved at claim) with its fee alongside, or as one transfer_with_fee."""
        ref = f"influencer_job:{uuid.uuid4()}"
        async with self.database.session_scope() as session:
            wallet = await ledger.user_account(session, creator, currency)
            fees = await ledger.fee_account(session, currency, key=ref, shards=4)
            release = spec(escrow, wallet, gross, "escrow_release", ref)
            if not by_hold:
                await ledger.transfer_with_fee(session, release, fee_account_id=fees, fee=fee)
                return
            hold = await ledger.create_hold(
                session,
                debit_account_id=escrow,
                credit_account_id=wallet,
                amount=gross,
                kind=release.kind,
                idempotency_key=release.idempotency_key,
                reference_type=release.reference_type,
                reference_id=release.reference_id,
            )
            fee_spec = spec(wallet, fees, fee, "platform_fee", ref)
            await ledger.post_hold(session, hold.hold_id, also=[fee_spec])

    async def refund(self, escrow: uuid.UUID, currency: str, amount: int) -> None:
        async with self.database.session_scope() as session:
            wallet = await ledger.user_account(session, self.brand, currency)
            ref = f"unfilled_refund:{uuid.uuid4()}"
            await ledger.transfer(session, spec(escrow, wallet, amount, "refund", ref))


ENTRY_SUMS = """
SELECT a.currency,
       sum(e.amount) FILTER (WHERE a.kind = 'platform_fees') AS fees,
       sum(e.amount) FILTER (WHERE a.owner_id = ANY (:creators) AND e.amount > 0) AS gross,
       -sum(e.amount) FILTER (WHERE a.owner_id = ANY (:creators) AND e.amount < 0) AS fees_paid,
       coalesce(sum(e.amount) FILTER (WHERE a.owner_id = :brand), 0) AS refunds
FROM ledger.entries e JOIN ledger.accounts a ON a.id = e.account_id
WHERE e.created_at >= :lo AND e.created_at < :hi
GROUP BY a.currency ORDER BY a.currency
"""


async def test_financial_metrics_from_the_ledger(database: Database) -> None:
    day, yesterday = today(), today() - timedelta(days=1)
    books = Books(database)
    creator1, creator2 = books.creators
    usd = await books.escrow("USD", 10_000)
    await books.release(usd, creator1, "USD", 3_333, 333, by_hold=True)
    await books.release(usd, creator2, "USD", 3_334, 334)
    await books.refund(usd, "USD", 3_333)  # the job's third slot went unfilled
    await books.release(await books.escrow("EUR", 5_000), creator1, "EUR", 5_000, 750)
    # Rows of an earlier run for currencies and days that no longer have activity.
    for stale_day, currency in ((day, "GBP"), (yesterday, "USD")):
        await execute(
            database,
            "INSERT INTO marketplace.financial_analytics (date, currency, total_payouts,"
            " payouts_count) VALUES (:day, :currency, 100, 1)",
            day=stale_day,
            currency=currency,
        )

    async with database.session_scope() as session:
        assert await rollup_range(session, yesterday, day) == 2
    async with database.session_scope() as session:
        rows = await financial_rows(session, yesterday, day)
    assert [row.date for row in rows] == [day, day]
    assert [money_values(row) for row in rows] == [
        # currency, payouts (sum, count), refunds (sum, count), fees, net, largest payout, refund
        ("EUR", 5_000, 1, 0, 0, 750, 750, 5_000, 0),
        ("USD", 6_667, 2, 3_333, 1, 667, 667, 3_334, 3_333),
    ]

    # The same sums, independently from the entries on the accounts the money reached: the
    # fee shards, the creators' wallets (gross in, fees out) and the brand's wallet.
    bounds = {"lo": at(day, 0), "hi": at(day + timedelta(days=1), 0)}
    async with database.session_scope() as session:
        sums = await session.execute(
            text(ENTRY_SUMS), {"creators": books.creators, "brand": books.brand, **bounds}
        )
        from_entries = [tuple(row) for row in sums]
    assert from_entries == [
        (r.currency, r.platform_fees, r.total_payouts, r.platform_fees, r.total_refunds)
        for r in rows
    ]

    # Re-running gives the same rows; new activity updates them in place.
    async with database.session_scope() as session:
        _, again = await rollup_day(session, day)
    assert [money_values(row) for row in again] == [money_values(row) for row in rows]
    await books.release(await books.escrow("USD", 4_000), creator2, "USD", 4_000, 400)
    async with database.session_scope() as session:
        _, updated = await rollup_day(session, day)
    assert money_values(updated[1]) == ("USD", 10_667, 3, 3_333, 1, 1_067, 1_067, 4_000, 3_333)
    async with database.session_scope() as session:
        assert [r.currency for r in await financial_rows(session, day, day, "EUR")] == ["EUR"]
        assert await financial_rows(session, yesterday, yesterday) == []


async def test_other_money_is_not_marketplace_money(database: Database) -> None:
    books = Books(database)
    usd = await books.escrow("USD", 2_000)
    async with database.session_scope() as session:
        fan = await ledger.user_account(session, uuid.uuid4(), "USD")
        creator = await ledger.user_account(session, books.creators[0], "USD")
        clearing = await ledger.platform_account(session, AccountKind.PROVIDER_CLEARING, "USD")
        fees = await ledger.fee_account(session, "USD", key="tip", shards=4)
        await ledger.transfer(session, spec(clearing, fan, 5_000, "funding", "funding_intent:f1"))
        # A tip and its fee, a campaign's release, another kind of refund: not the marketplace's.
        tip = spec(fan, creator, 1_000, "tip", "tip:t1")
        await ledger.transfer_with_fee(session, tip, fee_account_id=fees, fee=100)
        await ledger.transfer(session, spec(usd, creator, 2_000, "escrow_release", "campaign:c1"))
        await ledger.transfer(session, spec(fan, clearing, 500, "refund", "funding_intent:f1"))
    async with database.session_scope() as session:
        platform, money = await rollup_day(session, today())
    assert platform.date == today()
    assert money == []


# --- admin API ----------------------------------------------------------------------------


async def call(
    client: httpx.AsyncClient, method: str, path: str, data: dict[str, Any], who: Any = None
) -> httpx.Response:
    """`data` as the query of a GET or the JSON body of a POST."""
    return await client.request(
        method,
        BASE + path,
        params=data if method == "GET" else None,
        json=data if method == "POST" else None,
        headers=who.headers if who is not None else None,
    )


async def test_admin_endpoints(client: httpx.AsyncClient, database: Database) -> None:
    day, yesterday = today(), today() - timedelta(days=1)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    brand = await account(client, roles=["brand"])
    books = Books(database)
    await books.release(await books.escrow("USD", 900), books.creators[0], "USD", 900, 90)

    def span(first: date, last: date) -> dict[str, str]:
        return {"from": first.isoformat(), "to": last.isoformat()}

    recent = span(yesterday, day)
    endpoints = (("GET", "/platform"), ("GET", "/financial"), ("POST", "/rollup"))
    for method, path in endpoints:
        assert_problem(await call(client, method, path, recent), 401, "not_authenticated")
        assert_problem(await call(client, method, path, recent, brand), 403, "role_required")

    rolled = await call(client, "POST", "/rollup", recent, admin)
    assert rolled.status_code == 200, rolled.text
    body = rolled.json()
    assert body["days"] == 2
    assert [row["date"] for row in body["platform"]] == [yesterday.isoformat(), day.isoformat()]
    assert all(set(row) == {"date", "computed_at", *PLATFORM_FIELDS} for row in body["platform"])
    # Today: the admin and the brand exist and logged in.
    assert platform_values_of(body["platform"][1])[:4] == (2, 1, 0, 2)
    [money] = body["financial"]
    assert set(money) == {"date", "computed_at", *MONEY_FIELDS}
    assert money["date"] == day.isoformat()
    assert tuple(money[name] for name in MONEY_FIELDS) == ("USD", 900, 1, 0, 0, 90, 90, 900, 0)
    assert all(type(money[name]) is int for name in MONEY_FIELDS[1:])
    audited = "SELECT count(*) FROM audit.audit_logs WHERE action = 'marketplace.analytics.rollup'"
    assert await scalar(database, audited) == 1

    platform = await call(client, "GET", "/platform", recent, admin)
    assert platform.status_code == 200 and platform.json() == body["platform"]
    financial = await call(client, "GET", "/financial", {**recent, "currency": "USD"}, admin)
    assert financial.status_code == 200 and financial.json() == body["financial"]
    only_eur = await call(client, "GET", "/financial", {**recent, "currency": "EUR"}, admin)
    assert only_eur.status_code == 200 and only_eur.json() == []
    longest = await call(client, "GET", "/platform", span(day - timedelta(days=365), day), admin)
    assert longest.status_code == 200 and len(longest.json()) == 2

    bad_ranges = [
        (span(day, yesterday), "invalid_date_range"),
        (span(day - timedelta(days=366), day), "date_range_too_long"),
        (span(day, day + timedelta(days=1)), "date_in_future"),
        (span(day + timedelta(days=5), day + timedelta(days=6)), "date_in_future"),
    ]
    for bad, code in bad_ranges:
        for method, path in endpoints:
            assert_problem(await call(client, method, path, bad, admin), 422, code, field="to")
    malformed: list[tuple[str, str, dict[str, Any], str]] = [
        ("GET", "/platform", {"to": day.isoformat()}, "query.from"),
        ("GET", "/platform", {"from": "2024-13-01", "to": day.isoformat()}, "query.from"),
        ("GET", "/financial", {**recent, "currency": "usd"}, "query.currency"),
        ("POST", "/rollup", {**recent, "extra": 1}, "body.extra"),
        ("POST", "/rollup", {"to": day.isoformat()}, "body.from"),
    ]
    for method, path, data, field in malformed:
        response = await call(client, method, path, data, admin)
        assert_problem(response, 422, "validation_error", field=field)
    # The refused rollups wrote nothing.
    assert await scalar(database, "SELECT count(*) FROM marketplace.platform_analytics") == 2
