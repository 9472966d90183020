"""The marketplace triggers (sql/marketplace_001_triggers.sql) on a real database, driven by SQL.

No service layer is involved: rows are inserted and changed directly, and each test checks what
one trigger does to the tables it writes. The ledger is not involved either: hold_id and
escrow_account_id are plain uuids here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from creatorhub.db import Database
from creatorhub.kit.clock import utcnow
from creatorhub.marketplace.errors import GuardedRecord, record_refusal, translate
from helpers import register

CHECK_VIOLATION = "23514"
UNIQUE_VIOLATION = "23505"


# --- setup ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class People:
    brand: uuid.UUID
    creators: tuple[uuid.UUID, ...]


@pytest.fixture
async def people(client: httpx.AsyncClient) -> People:
    brand = await register(client, roles=["brand"])
    creators = [await register(client, roles=["creator"]) for _ in range(4)]
    return People(
        brand=uuid.UUID(brand["id"]),
        creators=tuple(uuid.UUID(creator["id"]) for creator in creators),
    )


async def execute(database: Database, sql: str, **params: Any) -> None:
    async with database.session_scope() as session:
        await session.execute(text(sql), params)


async def fetch_one(database: Database, sql: str, **params: Any) -> dict[str, Any]:
    async with database.session_scope() as session:
        return dict((await session.execute(text(sql), params)).mappings().one())


async def fetch_all(database: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with database.session_scope() as session:
        return [dict(row) for row in (await session.execute(text(sql), params)).mappings()]


async def create_job(
    database: Database,
    brand: uuid.UUID,
    *,
    slots: int = 2,
    budget: int = 1_000,
    funded: bool = True,
    genre: str | None = "music",
    max_slots: int | None = None,
) -> uuid.UUID:
    """A job; funded ones are 'open' (funded_at set), others 'awaiting_funding'."""
    async with database.session_scope() as session:
        uid = (
            await session.execute(
                text(
                    "INSERT INTO marketplace.jobs (creator_uid, title, budget, influencer_slots,"
                    " max_slots, end_date, escrow_account_id, genre, stripe_charge_id,"
                    " funding_source, funded_at, status)"
                    " VALUES (:brand, 'Launch video', :budget, :slots, :max_slots, :end_date,"
                    " :escrow, :genre, :charge, :source, :funded_at, :status)"
                    " RETURNING uid"
                ),
                {
                    "brand": brand,
                    "budget": budget,
                    "slots": slots,
                    "max_slots": max_slots,
                    "end_date": utcnow() + timedelta(days=30),
                    "escrow": uuid.uuid4(),
                    "genre": genre,
                    "charge": "pi_test_charge" if funded else None,
                    "source": "provider" if funded else None,
                    "funded_at": utcnow() if funded else None,
                    "status": "open" if funded else "awaiting_funding",
                },
            )
        ).scalar_one()
    assert isinstance(uid, uuid.UUID)
    return uid


async def claim(database: Database, job: uuid.UUID, creator: uuid.UUID, slot: int) -> uuid.UUID:
    async with database.session_scope() as session:
        claim_id = (
            await session.execute(
                text(
                    "INSERT INTO marketplace.claims (job_id, influencer_id, slot_number)"
                    " VALUES (:job, :creator, :slot) RETURNING id"
                ),
                {"job": job, "creator": creator, "slot": slot},
            )
        ).scalar_one()
    assert isinstance(claim_id, uuid.UUID)
    return claim_id


async def take_slot(
    database: Database, job: uuid.UUID, creator: uuid.UUID, slot: int, amount: int
) -> uuid.UUID:
    """A claim and its influencer job (with a made-up hold), as a claim would write them."""
    async with database.session_scope() as session:
        claim_id = (
            await session.execute(
                text(
                    "INSERT INTO marketplace.claims (job_id, influencer_id, slot_number)"
                    " VALUES (:job, :creator, :slot) RETURNING id"
                ),
                {"job": job, "creator": creator, "slot": slot},
            )
        ).scalar_one()
        uid = (
            await session.execute(
                text(
                    "INSERT INTO marketplace.influencer_jobs (user_uid, job_uid, claim_id,"
                    " slot_number, amount, currency, hold_id)"
                    " VALUES (:creator, :job, :claim, :slot, :amount, 'USD', :hold)"
                    " RETURNING uid"
                ),
                {
                    "creator": creator,
                    "job": job,
                    "claim": claim_id,
                    "slot": slot,
                    "amount": amount,
                    "hold": uuid.uuid4(),
                },
            )
        ).scalar_one()
    assert isinstance(uid, uuid.UUID)
    return uid


async def mark_done(database: Database, influencer_job: uuid.UUID, at: datetime | None) -> None:
    await execute(
        database,
        "UPDATE marketplace.influencer_jobs SET content_done_at = :at WHERE uid = :uid",
        at=at,
        uid=influencer_job,
    )


async def approve(database: Database, influencer_job: uuid.UUID, at: datetime, fee: int) -> None:
    await execute(
        database,
        "UPDATE marketplace.influencer_jobs SET content_approved_at = :at, platform_fee = :fee"
        " WHERE uid = :uid",
        at=at,
        fee=fee,
        uid=influencer_job,
    )


async def close_job(database: Database, job: uuid.UUID, at: datetime) -> None:
    await execute(
        database,
        "UPDATE marketplace.jobs SET closed_at = :at, close_reason = 'brand' WHERE uid = :job",
        at=at,
        job=job,
    )


async def job_row(database: Database, job: uuid.UUID) -> dict[str, Any]:
    return await fetch_one(database, "SELECT * FROM marketplace.jobs WHERE uid = :job", job=job)


async def counters(database: Database, job: uuid.UUID) -> tuple[int, int, int, bool]:
    """(claim_count, influencers_done, approved, all_content_ready)."""
    row = await job_row(database, job)
    return row["claim_count"], row["influencers_done"], row["approved"], row["all_content_ready"]


async def snapshot(database: Database, table: str, key: str, value: uuid.UUID) -> Any:
    """The whole row as JSON, to compare before and after a refused statement."""
    return (
        await fetch_one(
            database,
            f"SELECT to_jsonb(t) AS row FROM marketplace.{table} t WHERE {key} = :value",  # noqa: S608
            value=value,
        )
    )["row"]


async def db_error(database: Database, sql: str, **params: Any) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught:
        await execute(database, sql, **params)
    return caught.value


def sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def constraint(error: DBAPIError) -> str | None:
    return getattr(getattr(error.orig, "diag", None), "constraint_name", None)


async def refused(database: Database, sql: str, **params: Any) -> GuardedRecord:
    """The statement fails with one of the marketplace SQLSTATEs; its translation."""
    error = await db_error(database, sql, **params)
    refusal = translate(error)
    assert refusal is not None, f"not a marketplace refusal: {sqlstate(error)} {error}"
    return refusal


async def assert_recorded(database: Database, refusal: GuardedRecord, action: str) -> None:
    """`record_refusal` keeps the refusal's record in audit.system_logs, in the seed's shape
    (the keys of `marketplace.refusal()`, as the API's own refusals write them)."""
    assert set(refusal.record) == {
        "table",
        "action",
        "message",
        "uid",
        "attempted_at",
        "old_data",
        "attempted_data",
    }
    assert await record_refusal(database, refusal, None) is True
    rows = await fetch_all(
        database,
        "SELECT component, level, source_uid, data FROM audit.system_logs"
        " WHERE data->>'action' = :action",
        action=action,
    )
    assert len(rows) == 1, rows
    assert rows[0]["component"] == "marketplace"
    assert rows[0]["level"] == "warning"
    assert rows[0]["source_uid"] is None
    assert rows[0]["data"] == {**refusal.record, "code": refusal.code}


async def escrow_of(database: Database, influencer_job: uuid.UUID) -> dict[str, Any]:
    return await fetch_one(
        database,
        "SELECT * FROM marketplace.escrow_transactions WHERE influencer_job_uid = :ij",
        ij=influencer_job,
    )


async def events(database: Database, job: uuid.UUID, event_type: str) -> list[dict[str, Any]]:
    return await fetch_all(
        database,
        "SELECT escrow_uid, event_details FROM marketplace.escrow_events"
        " WHERE job_uid = :job AND event_type = :type ORDER BY created_at, event_uid",
        job=job,
        type=event_type,
    )


def at(value: str) -> datetime:
    """A timestamp written into JSON by PostgreSQL, read back."""
    return datetime.fromisoformat(value)


# --- jobs: max_slots, claim_count ------------------------------------------------------------


async def test_max_slots_follows_influencer_slots(database: Database, people: People) -> None:
    # Whatever max_slots the insert says, the trigger takes influencer_slots.
    job = await create_job(database, people.brand, slots=3, max_slots=99)
    assert (await job_row(database, job))["max_slots"] == 3

    await execute(
        database, "UPDATE marketplace.jobs SET influencer_slots = 5 WHERE uid = :job", job=job
    )
    row = await job_row(database, job)
    assert (row["influencer_slots"], row["max_slots"]) == (5, 5)

    await execute(
        database,
        "UPDATE marketplace.jobs SET influencer_slots = 4, max_slots = 1 WHERE uid = :job",
        job=job,
    )
    row = await job_row(database, job)
    assert (row["influencer_slots"], row["max_slots"]) == (4, 4)


async def test_claim_count_follows_claims(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=3)
    other = await create_job(database, people.brand, slots=3)
    assert (await job_row(database, job))["claim_count"] == 0

    await claim(database, job, people.creators[0], 1)
    assert (await job_row(database, job))["claim_count"] == 1
    await claim(database, job, people.creators[1], 2)
    assert (await job_row(database, job))["claim_count"] == 2
    # Only the claimed job counts.
    assert (await job_row(database, other))["claim_count"] == 0


async def test_a_claim_beyond_max_slots_is_refused(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    await claim(database, job, people.creators[0], 1)
    await claim(database, job, people.creators[1], 2)

    error = await db_error(
        database,
        "INSERT INTO marketplace.claims (job_id, influencer_id, slot_number)"
        " VALUES (:job, :creator, 3)",
        job=job,
        creator=people.creators[2],
    )
    assert sqlstate(error) == CHECK_VIOLATION
    assert constraint(error) == "ck_jobs_claims_within_slots"
    assert (await job_row(database, job))["claim_count"] == 2
    assert (
        await fetch_one(
            database, "SELECT count(*) AS n FROM marketplace.claims WHERE job_id = :job", job=job
        )
    )["n"] == 2


async def test_a_slot_number_is_claimed_once_per_job(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=3)
    other = await create_job(database, people.brand, slots=3)
    await claim(database, job, people.creators[0], 1)

    error = await db_error(
        database,
        "INSERT INTO marketplace.claims (job_id, influencer_id, slot_number)"
        " VALUES (:job, :creator, 1)",
        job=job,
        creator=people.creators[1],
    )
    assert sqlstate(error) == UNIQUE_VIOLATION
    assert constraint(error) == "uq_claims_job_slot"
    assert (await job_row(database, job))["claim_count"] == 1

    # The same slot number of another job is another slot.
    await claim(database, other, people.creators[1], 1)
    assert (await job_row(database, other))["claim_count"] == 1


async def test_a_creator_claims_a_job_once(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=3)
    await claim(database, job, people.creators[0], 1)

    error = await db_error(
        database,
        "INSERT INTO marketplace.claims (job_id, influencer_id, slot_number)"
        " VALUES (:job, :creator, 2)",
        job=job,
        creator=people.creators[0],
    )
    assert sqlstate(error) == UNIQUE_VIOLATION
    assert constraint(error) == "uq_claims_job_influencer"
    assert (await job_row(database, job))["claim_count"] == 1


# --- jobs: influencers_done, approved, all_content_ready -------------------------------------


async def test_progress_counters_follow_content_done_and_approved(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=3)
    first = await take_slot(database, job, people.creators[0], 1, 334)
    second = await take_slot(database, job, people.creators[1], 2, 333)
    now = utcnow()
    assert await counters(database, job) == (2, 0, 0, False)

    await mark_done(database, first, now)
    assert await counters(database, job) == (2, 1, 0, False)
    await mark_done(database, second, now)
    assert await counters(database, job) == (2, 2, 0, False)
    # A new content_done_at on a slot already done counts nothing more.
    await mark_done(database, second, now + timedelta(minutes=1))
    assert await counters(database, job) == (2, 2, 0, False)

    await approve(database, first, now + timedelta(hours=1), 30)
    assert await counters(database, job) == (2, 2, 1, False)

    # Content withdrawn: done goes back down.
    await mark_done(database, second, None)
    assert await counters(database, job) == (2, 1, 1, False)

    # An update touching neither column leaves the counters alone.
    await execute(
        database,
        "UPDATE marketplace.influencer_jobs SET rejection_reason = 'blurry' WHERE uid = :uid",
        uid=second,
    )
    assert await counters(database, job) == (2, 1, 1, False)


async def test_an_approval_is_final(database: Database, people: People) -> None:
    """trg_approval_is_final: the slot was paid, so its approval, amount and fee cannot change
    (withdrawing it would leave a payout record for money the refund then returns too)."""
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    now = utcnow()
    await mark_done(database, slot, now)
    await approve(database, slot, now, 50)
    assert await counters(database, job) == (1, 1, 1, False)
    before = await snapshot(database, "influencer_jobs", "uid", slot)

    for change in (
        "content_approved_at = NULL, platform_fee = NULL",
        "content_done_at = NULL",
        "platform_fee = 0",
        "amount = 400",
    ):
        refusal = await refused(
            database,
            f"UPDATE marketplace.influencer_jobs SET {change} WHERE uid = :uid",  # noqa: S608
            uid=slot,
        )
        assert refusal.code == "escrow_already_resolved"
        assert refusal.record["action"] == "prevent_modifications_after_released"
        assert refusal.record["table"] == "marketplace.influencer_jobs"
    assert await snapshot(database, "influencer_jobs", "uid", slot) == before
    assert await counters(database, job) == (1, 1, 1, False)


async def test_claims_are_permanent(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    claim_id = await claim(database, job, people.creators[0], 1)
    for sql in (
        "UPDATE marketplace.claims SET slot_number = 2 WHERE id = :id",
        "DELETE FROM marketplace.claims WHERE id = :id",
    ):
        refusal = await refused(database, sql, id=claim_id)
        assert refusal.code == "claim_permanent"
        assert refusal.record["action"] == "prevent_claim_changes"
    assert (await job_row(database, job))["claim_count"] == 1


async def test_claim_n_takes_slot_n(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    error = await db_error(
        database,
        "INSERT INTO marketplace.claims (job_id, influencer_id, slot_number)"
        " VALUES (:job, :who, 2)",
        job=job,
        who=people.creators[0],
    )
    assert sqlstate(error) == "23514"
    assert (await job_row(database, job))["claim_count"] == 0


async def test_nothing_is_added_to_a_closed_job(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    claim_id = await claim(database, job, people.creators[0], 1)
    await close_job(database, job, utcnow())
    refusal = await refused(
        database,
        "INSERT INTO marketplace.influencer_jobs"
        " (user_uid, job_uid, claim_id, slot_number, amount, currency, hold_id)"
        " VALUES (:who, :job, :claim, 1, 500, 'USD', gen_random_uuid())",
        who=people.creators[0],
        job=job,
        claim=claim_id,
    )
    assert refusal.code == "job_closed"
    assert refusal.record["action"] == "prevent_modifications_after_closed"
    assert (
        await fetch_all(
            database, "SELECT uid FROM marketplace.influencer_jobs WHERE job_uid = :job", job=job
        )
        == []
    )


async def test_all_content_ready_follows_a_change_of_slots(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=2)
    now = utcnow()
    for number, who in enumerate(people.creators[:2], start=1):
        await mark_done(database, await take_slot(database, job, who, number, 500), now)
    assert (await counters(database, job))[3] is True
    await execute(
        database, "UPDATE marketplace.jobs SET influencer_slots = 3 WHERE uid = :job", job=job
    )
    assert (await job_row(database, job))["all_content_ready"] is False
    await execute(
        database, "UPDATE marketplace.jobs SET influencer_slots = 2 WHERE uid = :job", job=job
    )
    assert (await job_row(database, job))["all_content_ready"] is True


async def test_influencers_done_above_max_slots_is_refused_with_cm004(
    database: Database, people: People
) -> None:
    # Through influencer_jobs, done cannot pass max_slots: every done slot needs a claim, and
    # the claims_within_slots CHECK stops claims at max_slots. A direct UPDATE reaches the
    # trigger, and it fires first: BEFORE ROW triggers run before CHECK constraints are
    # evaluated, so CM004 (not done_within_claims' 23514) is what the statement gets.
    job = await create_job(database, people.brand, slots=2)
    first = await take_slot(database, job, people.creators[0], 1, 500)
    second = await take_slot(database, job, people.creators[1], 2, 500)
    now = utcnow()
    await mark_done(database, first, now)
    await mark_done(database, second, now)
    before = await snapshot(database, "jobs", "uid", job)
    assert (before["influencers_done"], before["max_slots"]) == (2, 2)

    refusal = await refused(
        database, "UPDATE marketplace.jobs SET influencers_done = 3 WHERE uid = :job", job=job
    )
    assert refusal.code == "influencers_done_limit"
    assert refusal.record["action"] == "log_influencers_done_limit"
    assert refusal.record["table"] == "marketplace.jobs"
    assert refusal.record["uid"] == str(job)
    assert refusal.record["old_data"] == {"influencers_done": 2, "max_slots": 2}
    assert refusal.record["attempted_data"] == {"influencers_done": 3}
    assert await snapshot(database, "jobs", "uid", job) == before
    await assert_recorded(database, refusal, "log_influencers_done_limit")


async def test_influencers_done_above_claims_is_the_checks_refusal(
    database: Database, people: People
) -> None:
    # Within max_slots but above claim_count: not the trigger's case, the CHECK refuses it.
    job = await create_job(database, people.brand, slots=3)
    await take_slot(database, job, people.creators[0], 1, 300)

    error = await db_error(
        database, "UPDATE marketplace.jobs SET influencers_done = 2 WHERE uid = :job", job=job
    )
    assert sqlstate(error) == CHECK_VIOLATION
    assert constraint(error) == "ck_jobs_done_within_claims"
    assert translate(error) is None
    assert await counters(database, job) == (1, 0, 0, False)


async def test_all_content_ready_is_set_when_every_slot_is_done(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=2)
    first = await take_slot(database, job, people.creators[0], 1, 500)
    second = await take_slot(database, job, people.creators[1], 2, 500)
    now = utcnow()

    await mark_done(database, first, now)
    assert await counters(database, job) == (2, 1, 0, False)
    await mark_done(database, second, now)
    assert await counters(database, job) == (2, 2, 0, True)


async def test_all_content_ready_is_reset_when_a_slot_is_no_longer_done(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=2)
    first = await take_slot(database, job, people.creators[0], 1, 500)
    second = await take_slot(database, job, people.creators[1], 2, 500)
    now = utcnow()
    await mark_done(database, first, now)
    await mark_done(database, second, now)
    assert await counters(database, job) == (2, 2, 0, True)

    await mark_done(database, first, None)
    assert await counters(database, job) == (2, 1, 0, False)
    await mark_done(database, first, now)
    assert await counters(database, job) == (2, 2, 0, True)


# --- escrow records and events ---------------------------------------------------------------


async def test_an_influencer_job_creates_its_escrow_record(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    influencer_job = await fetch_one(
        database, "SELECT * FROM marketplace.influencer_jobs WHERE uid = :uid", uid=slot
    )

    rows = await fetch_all(
        database, "SELECT * FROM marketplace.escrow_transactions WHERE job_uid = :job", job=job
    )
    assert len(rows) == 1
    escrow = rows[0]
    assert escrow["influencer_job_uid"] == slot
    assert escrow["buyer_uid"] == people.brand
    assert escrow["seller_uid"] == people.creators[0]
    assert escrow["payment_amount"] == 500
    assert escrow["currency"] == "USD"
    assert escrow["hold_id"] == influencer_job["hold_id"]
    assert escrow["payment_time"] == influencer_job["assigned_at"]
    assert escrow["status"] == "held"
    assert escrow["escrow_released_time"] is None


async def test_an_escrow_record_logs_a_claimed_event(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    escrow = await escrow_of(database, slot)

    claimed = await events(database, job, "claimed")
    assert claimed == [
        {
            "escrow_uid": escrow["escrow_uid"],
            "event_details": {
                "influencer_job_uid": str(slot),
                "seller_uid": str(people.creators[0]),
                "amount": 500,
                "currency": "USD",
                "hold_id": str(escrow["hold_id"]),
            },
        }
    ]
    all_events = await fetch_all(
        database, "SELECT event_type FROM marketplace.escrow_events WHERE job_uid = :job", job=job
    )
    assert all_events == [{"event_type": "claimed"}]


@pytest.mark.parametrize(
    ("status", "event_type"), [("released", "released"), ("refunded", "voided")]
)
async def test_resolving_an_escrow_logs_its_event(
    database: Database, people: People, status: str, event_type: str
) -> None:
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    escrow = await escrow_of(database, slot)
    when = utcnow()

    # The resolved_iff_time CHECK: a resolved escrow has its time.
    error = await db_error(
        database,
        "UPDATE marketplace.escrow_transactions SET status = :status WHERE escrow_uid = :e",
        status=status,
        e=escrow["escrow_uid"],
    )
    assert sqlstate(error) == CHECK_VIOLATION
    assert constraint(error) == "ck_escrow_transactions_resolved_iff_time"
    assert await events(database, job, event_type) == []

    # A change that leaves it held logs nothing.
    await execute(
        database,
        "UPDATE marketplace.escrow_transactions SET status = 'held' WHERE escrow_uid = :e",
        e=escrow["escrow_uid"],
    )
    assert await events(database, job, event_type) == []

    await execute(
        database,
        "UPDATE marketplace.escrow_transactions SET status = :status, escrow_released_time = :at"
        " WHERE escrow_uid = :e",
        status=status,
        at=when,
        e=escrow["escrow_uid"],
    )
    logged = await events(database, job, event_type)
    assert len(logged) == 1
    assert logged[0]["escrow_uid"] == escrow["escrow_uid"]
    details = logged[0]["event_details"]
    assert at(details.pop("at")) == when
    assert details == {
        "influencer_job_uid": str(slot),
        "seller_uid": str(people.creators[0]),
        "amount": 500,
        "currency": "USD",
    }
    other = "voided" if event_type == "released" else "released"
    assert await events(database, job, other) == []


# --- approval: payouts -----------------------------------------------------------------------


async def test_approval_creates_the_influencer_payout(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2, genre="hip-hop")
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    await take_slot(database, job, people.creators[1], 2, 500)
    done, approved = utcnow(), utcnow() + timedelta(hours=2)
    await mark_done(database, slot, done)
    assert await fetch_all(database, "SELECT * FROM marketplace.influencer_payouts") == []

    await approve(database, slot, approved, 75)
    payouts = await fetch_all(
        database,
        "SELECT user_uid, job_uid, influencer_job_uid, amount, platform_fee, net_amount,"
        " currency, genre, issued_at, payed_at, payout_id FROM marketplace.influencer_payouts",
    )
    assert payouts == [
        {
            "user_uid": people.creators[0],
            "job_uid": job,
            "influencer_job_uid": slot,
            "amount": 500,
            "platform_fee": 75,
            "net_amount": 425,
            "currency": "USD",
            "genre": "hip-hop",
            "issued_at": approved,
            "payed_at": None,
            "payout_id": None,
        }
    ]


async def test_a_payout_logs_an_influencer_paid_event(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    escrow = await escrow_of(database, slot)
    now = utcnow()
    await mark_done(database, slot, now)
    await approve(database, slot, now, 0)

    payout = await fetch_one(
        database, "SELECT uid FROM marketplace.influencer_payouts WHERE job_uid = :job", job=job
    )
    assert await events(database, job, "influencer_paid") == [
        {
            "escrow_uid": escrow["escrow_uid"],
            "event_details": {
                "influencer_payout_uid": str(payout["uid"]),
                "user_uid": str(people.creators[0]),
                "gross": 500,
                "platform_fee": 0,
                "net": 500,
                "currency": "USD",
            },
        }
    ]


# --- closing a job ---------------------------------------------------------------------------


async def test_closing_sets_status_closed(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    closed = utcnow()
    await close_job(database, job, closed)
    row = await job_row(database, job)
    assert (row["status"], row["closed_at"], row["close_reason"]) == ("closed", closed, "brand")

    unfunded = await create_job(database, people.brand, slots=2, funded=False)
    await close_job(database, unfunded, closed)
    assert (await job_row(database, unfunded))["status"] == "closed"


async def test_closing_writes_a_joblog(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=3, budget=1_000)
    first = await take_slot(database, job, people.creators[0], 1, 334)
    second = await take_slot(database, job, people.creators[1], 2, 333)
    now = utcnow()
    await mark_done(database, first, now)
    await mark_done(database, second, now)
    await approve(database, first, now, 10)
    assert await fetch_all(database, "SELECT * FROM marketplace.joblogs") == []

    closed = now + timedelta(days=1)
    await close_job(database, job, closed)
    logs = await fetch_all(
        database, "SELECT job_uid, description, log FROM marketplace.joblogs ORDER BY created_at"
    )
    assert len(logs) == 1
    assert (logs[0]["job_uid"], logs[0]["description"]) == (job, "job closed")
    log = logs[0]["log"]
    assert at(log.pop("closed_at")) == closed
    assert log == {
        "close_reason": "brand",
        "budget": 1_000,
        "currency": "USD",
        "max_slots": 3,
        "claim_count": 2,
        "influencers_done": 2,
        "approved": 1,
        "funded": True,
    }


async def test_closing_closes_the_influencer_jobs(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=3)
    other = await create_job(database, people.brand, slots=3)
    slots = [await take_slot(database, job, people.creators[i], i + 1, 300) for i in range(2)]
    elsewhere = await take_slot(database, other, people.creators[0], 1, 300)
    closed = utcnow()

    await close_job(database, job, closed)
    rows = await fetch_all(
        database,
        "SELECT uid, closed_at FROM marketplace.influencer_jobs WHERE job_uid = :job",
        job=job,
    )
    assert {row["uid"]: row["closed_at"] for row in rows} == dict.fromkeys(slots, closed)
    untouched = await fetch_one(
        database,
        "SELECT closed_at FROM marketplace.influencer_jobs WHERE uid = :uid",
        uid=elsewhere,
    )
    assert untouched["closed_at"] is None


async def test_closing_logs_only_done_but_unapproved_slots(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=3, budget=1_000)
    approved = await take_slot(database, job, people.creators[0], 1, 334)
    unapproved = await take_slot(database, job, people.creators[1], 2, 333)
    await take_slot(database, job, people.creators[2], 3, 333)  # never done
    now = utcnow()
    await mark_done(database, approved, now)
    await approve(database, approved, now, 10)
    done = now + timedelta(minutes=5)
    await mark_done(database, unapproved, done)

    closed = now + timedelta(days=1)
    await close_job(database, job, closed)
    logs = await fetch_all(
        database, "SELECT user_uid, job_uid, description, log FROM marketplace.influencer_logs"
    )
    assert len(logs) == 1
    entry = logs[0]
    assert (entry["user_uid"], entry["job_uid"]) == (people.creators[1], job)
    assert entry["description"] == "content done but not approved when the job closed"
    log = entry["log"]
    assert at(log.pop("closed_at")) == closed
    assert at(log.pop("content_done_at")) == done
    assert log == {"influencer_job_uid": str(unapproved), "amount": 333, "currency": "USD"}


@pytest.mark.parametrize(
    ("approved_slots", "refunded"),
    [
        ((), 1_000),  # the seed's (1000 / 3) * 3 would refund 999
        ((1,), 666),  # 1000 - 334
        ((2, 3), 334),  # 1000 - 333 - 333; the seed's (1000 / 3) * 1 would refund 333
    ],
)
async def test_closing_refunds_the_budget_less_the_approved_shares(
    database: Database, people: People, approved_slots: tuple[int, ...], refunded: int
) -> None:
    job = await create_job(database, people.brand, slots=3, budget=1_000)
    shares = {1: 334, 2: 333, 3: 333}
    slots = {
        n: await take_slot(database, job, people.creators[n - 1], n, share)
        for n, share in shares.items()
    }
    now = utcnow()
    for n, slot in slots.items():
        await mark_done(database, slot, now)
        if n in approved_slots:
            await approve(database, slot, now, 10)
    assert await fetch_all(database, "SELECT * FROM marketplace.unfilled_refunds") == []

    await close_job(database, job, now + timedelta(days=1))
    refunds = await fetch_all(
        database,
        "SELECT user_uid, job_uid, max_slots, claimed_slots, budget, refunded, currency,"
        " stripe_charge_id, provider_refund_id, issued_at FROM marketplace.unfilled_refunds",
    )
    assert refunds == [
        {
            "user_uid": people.brand,
            "job_uid": job,
            "max_slots": 3,
            "claimed_slots": 3,
            "budget": 1_000,
            "refunded": refunded,
            "currency": "USD",
            "stripe_charge_id": "pi_test_charge",
            "provider_refund_id": None,
            "issued_at": None,
        }
    ]


async def test_closing_refunds_unclaimed_slots(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=3, budget=1_000)
    slot = await take_slot(database, job, people.creators[0], 1, 334)
    now = utcnow()
    await mark_done(database, slot, now)
    await approve(database, slot, now, 10)

    await close_job(database, job, now)
    refund = await fetch_one(
        database,
        "SELECT claimed_slots, refunded FROM marketplace.unfilled_refunds WHERE job_uid = :job",
        job=job,
    )
    assert refund == {"claimed_slots": 1, "refunded": 666}


async def test_closing_refunds_nothing_when_every_slot_was_approved(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=3, budget=1_000)
    now = utcnow()
    for n, share in ((1, 334), (2, 333), (3, 333)):
        slot = await take_slot(database, job, people.creators[n - 1], n, share)
        await mark_done(database, slot, now)
        await approve(database, slot, now, 10)
    assert await counters(database, job) == (3, 3, 3, True)

    await close_job(database, job, now)
    assert (await job_row(database, job))["status"] == "closed"
    assert await fetch_all(database, "SELECT * FROM marketplace.unfilled_refunds") == []


async def test_closing_refunds_nothing_when_unfunded(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=3, budget=1_000, funded=False)
    await close_job(database, job, utcnow())
    assert (await job_row(database, job))["status"] == "closed"
    assert await fetch_all(database, "SELECT * FROM marketplace.unfilled_refunds") == []
    log = (await fetch_one(database, "SELECT log FROM marketplace.joblogs"))["log"]
    assert log["funded"] is False


# --- refunds ---------------------------------------------------------------------------------


async def closed_job_with_refund(database: Database, people: People) -> tuple[uuid.UUID, uuid.UUID]:
    job = await create_job(database, people.brand, slots=2, budget=1_000)
    await close_job(database, job, utcnow())
    refund = await fetch_one(
        database, "SELECT uid FROM marketplace.unfilled_refunds WHERE job_uid = :job", job=job
    )
    return job, refund["uid"]


async def issue_refund(database: Database, refund: uuid.UUID, when: datetime) -> None:
    await execute(
        database,
        "UPDATE marketplace.unfilled_refunds SET issued_at = :at, provider_refund_id = 're_1'"
        " WHERE uid = :uid",
        at=when,
        uid=refund,
    )


async def test_issuing_a_refund_logs_a_refund_event(database: Database, people: People) -> None:
    job, refund = await closed_job_with_refund(database, people)
    # Before it is issued, changes log nothing.
    await execute(
        database,
        "UPDATE marketplace.unfilled_refunds SET provider_refund_id = 're_0' WHERE uid = :uid",
        uid=refund,
    )
    assert await events(database, job, "refund") == []

    issued = utcnow()
    await issue_refund(database, refund, issued)
    logged = await events(database, job, "refund")
    assert len(logged) == 1
    assert logged[0]["escrow_uid"] is None
    details = logged[0]["event_details"]
    assert at(details.pop("issued_at")) == issued
    assert details == {
        "unfilled_refund_uid": str(refund),
        "user_uid": str(people.brand),
        "refunded": 1_000,
        "currency": "USD",
        "stripe_charge_id": "pi_test_charge",
        "provider_refund_id": "re_1",
    }


# --- immutability ----------------------------------------------------------------------------


async def test_a_closed_job_cannot_be_updated(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2)
    await close_job(database, job, utcnow())
    before = await snapshot(database, "jobs", "uid", job)

    refusal = await refused(
        database, "UPDATE marketplace.jobs SET title = 'Renamed' WHERE uid = :job", job=job
    )
    assert refusal.code == "job_closed"
    assert refusal.record["action"] == "prevent_modifications_after_closed"
    assert refusal.record["table"] == "marketplace.jobs"
    assert refusal.record["uid"] == str(job)
    assert refusal.record["old_data"]["title"] == "Launch video"
    assert refusal.record["attempted_data"]["title"] == "Renamed"
    assert await snapshot(database, "jobs", "uid", job) == before
    await assert_recorded(database, refusal, "prevent_modifications_after_closed")


async def test_a_closed_job_cannot_be_deleted(database: Database, people: People) -> None:
    job = await create_job(database, people.brand, slots=2, funded=False)
    await close_job(database, job, utcnow())
    before = await snapshot(database, "jobs", "uid", job)

    refusal = await refused(database, "DELETE FROM marketplace.jobs WHERE uid = :job", job=job)
    assert refusal.code == "job_closed"
    assert refusal.record["action"] == "prevent_delete_after_closed"
    assert refusal.record["table"] == "marketplace.jobs"
    assert refusal.record["uid"] == str(job)
    assert refusal.record["old_data"]["status"] == "closed"
    assert refusal.record["attempted_data"] is None
    assert await snapshot(database, "jobs", "uid", job) == before
    await assert_recorded(database, refusal, "prevent_delete_after_closed")


async def test_a_closed_influencer_job_cannot_be_updated(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    await close_job(database, job, utcnow())
    before = await snapshot(database, "influencer_jobs", "uid", slot)
    job_before = await snapshot(database, "jobs", "uid", job)

    refusal = await refused(
        database,
        "UPDATE marketplace.influencer_jobs SET content_done_at = now() WHERE uid = :uid",
        uid=slot,
    )
    assert refusal.code == "job_closed"
    assert refusal.record["action"] == "prevent_modifications_after_closed"
    assert refusal.record["table"] == "marketplace.influencer_jobs"
    assert refusal.record["uid"] == str(slot)
    assert refusal.record["old_data"]["content_done_at"] is None
    assert refusal.record["attempted_data"]["content_done_at"] is not None
    assert await snapshot(database, "influencer_jobs", "uid", slot) == before
    assert await snapshot(database, "jobs", "uid", job) == job_before
    await assert_recorded(database, refusal, "prevent_modifications_after_closed")


async def test_a_closed_influencer_job_cannot_be_deleted(
    database: Database, people: People
) -> None:
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    await close_job(database, job, utcnow())
    before = await snapshot(database, "influencer_jobs", "uid", slot)

    refusal = await refused(
        database, "DELETE FROM marketplace.influencer_jobs WHERE uid = :uid", uid=slot
    )
    assert refusal.code == "job_closed"
    assert refusal.record["action"] == "prevent_delete_after_closed"
    assert refusal.record["table"] == "marketplace.influencer_jobs"
    assert refusal.record["uid"] == str(slot)
    assert refusal.record["attempted_data"] is None
    assert await snapshot(database, "influencer_jobs", "uid", slot) == before
    await assert_recorded(database, refusal, "prevent_delete_after_closed")


async def released_escrow(database: Database, people: People) -> uuid.UUID:
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    escrow = (await escrow_of(database, slot))["escrow_uid"]
    await execute(
        database,
        "UPDATE marketplace.escrow_transactions SET status = 'released',"
        " escrow_released_time = now() WHERE escrow_uid = :e",
        e=escrow,
    )
    assert isinstance(escrow, uuid.UUID)
    return escrow


async def test_a_released_escrow_cannot_be_updated(database: Database, people: People) -> None:
    escrow = await released_escrow(database, people)
    before = await snapshot(database, "escrow_transactions", "escrow_uid", escrow)

    refusal = await refused(
        database,
        "UPDATE marketplace.escrow_transactions SET status = 'refunded' WHERE escrow_uid = :e",
        e=escrow,
    )
    assert refusal.code == "escrow_already_resolved"
    assert refusal.record["action"] == "prevent_modifications_after_released"
    assert refusal.record["table"] == "marketplace.escrow_transactions"
    assert refusal.record["uid"] == str(escrow)
    assert refusal.record["message"] == "Attempted update after release prevented"
    assert refusal.record["old_data"]["status"] == "released"
    assert refusal.record["attempted_data"]["status"] == "refunded"
    assert await snapshot(database, "escrow_transactions", "escrow_uid", escrow) == before
    voided = await fetch_all(
        database, "SELECT * FROM marketplace.escrow_events WHERE event_type = 'voided'"
    )
    assert voided == []
    await assert_recorded(database, refusal, "prevent_modifications_after_released")


async def test_a_released_escrow_cannot_be_deleted(database: Database, people: People) -> None:
    escrow = await released_escrow(database, people)
    before = await snapshot(database, "escrow_transactions", "escrow_uid", escrow)

    refusal = await refused(
        database, "DELETE FROM marketplace.escrow_transactions WHERE escrow_uid = :e", e=escrow
    )
    assert refusal.code == "escrow_already_resolved"
    assert refusal.record["action"] == "prevent_modifications_after_released"
    assert refusal.record["table"] == "marketplace.escrow_transactions"
    assert refusal.record["uid"] == str(escrow)
    assert refusal.record["message"] == "Attempted delete after release prevented"
    assert refusal.record["attempted_data"] is None
    assert await snapshot(database, "escrow_transactions", "escrow_uid", escrow) == before
    await assert_recorded(database, refusal, "prevent_modifications_after_released")


async def test_an_issued_refund_cannot_be_updated(database: Database, people: People) -> None:
    job, refund = await closed_job_with_refund(database, people)
    await issue_refund(database, refund, utcnow())
    before = await snapshot(database, "unfilled_refunds", "uid", refund)

    refusal = await refused(
        database,
        "UPDATE marketplace.unfilled_refunds SET refunded = 1 WHERE uid = :uid",
        uid=refund,
    )
    assert refusal.code == "refund_already_issued"
    assert refusal.record["action"] == "prevent_modifications_after_refund_issued"
    assert refusal.record["table"] == "marketplace.unfilled_refunds"
    assert refusal.record["uid"] == str(refund)
    assert refusal.record["message"] == "Attempted update after refund issued prevented"
    assert refusal.record["old_data"]["refunded"] == 1_000
    assert refusal.record["attempted_data"]["refunded"] == 1
    assert await snapshot(database, "unfilled_refunds", "uid", refund) == before
    assert len(await events(database, job, "refund")) == 1
    await assert_recorded(database, refusal, "prevent_modifications_after_refund_issued")


async def test_an_issued_refund_cannot_be_deleted(database: Database, people: People) -> None:
    _, refund = await closed_job_with_refund(database, people)
    await issue_refund(database, refund, utcnow())
    before = await snapshot(database, "unfilled_refunds", "uid", refund)

    refusal = await refused(
        database, "DELETE FROM marketplace.unfilled_refunds WHERE uid = :uid", uid=refund
    )
    assert refusal.code == "refund_already_issued"
    assert refusal.record["action"] == "prevent_modifications_after_refund_issued"
    assert refusal.record["table"] == "marketplace.unfilled_refunds"
    assert refusal.record["uid"] == str(refund)
    assert refusal.record["message"] == "Attempted delete after refund issued prevented"
    assert refusal.record["attempted_data"] is None
    assert await snapshot(database, "unfilled_refunds", "uid", refund) == before
    await assert_recorded(database, refusal, "prevent_modifications_after_refund_issued")


async def test_open_records_are_not_guarded(database: Database, people: People) -> None:
    """The guards refuse only closed / resolved / issued records."""
    job = await create_job(database, people.brand, slots=2)
    slot = await take_slot(database, job, people.creators[0], 1, 500)
    escrow = (await escrow_of(database, slot))["escrow_uid"]
    await execute(database, "UPDATE marketplace.jobs SET title = 'Renamed' WHERE uid = :j", j=job)
    await execute(
        database,
        "UPDATE marketplace.influencer_jobs SET rejection_reason = 'x' WHERE uid = :u",
        u=slot,
    )
    await execute(
        database,
        "UPDATE marketplace.escrow_transactions SET hold_id = :h WHERE escrow_uid = :e",
        h=uuid.uuid4(),
        e=escrow,
    )
    assert (await job_row(database, job))["title"] == "Renamed"

    unfunded = await create_job(database, people.brand, slots=2, funded=False)
    await execute(database, "DELETE FROM marketplace.jobs WHERE uid = :j", j=unfunded)
    assert (
        await fetch_all(database, "SELECT uid FROM marketplace.jobs WHERE uid = :j", j=unfunded)
        == []
    )
