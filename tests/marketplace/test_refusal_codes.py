"""Marketplace refusals no other test provoked: each answers its code and changes nothing
(every marketplace row, the ledger, funding intents, stored idempotency answers, the audit
trail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from creatorhub.db import Database
from helpers import account, assert_problem
from market_helpers import brand, claim, create_job, creator, job_body, open_job
from payment_helpers import fund_wallet, idem
from snapshots import MARKETPLACE_TABLES, MONEY_TABLES, rows

JOBS = "/v1/marketplace/jobs"


async def everything(database: Database) -> str:
    return await rows(database, *MARKETPLACE_TABLES, *MONEY_TABLES)


async def test_a_budget_below_one_unit_per_slot_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client)
    before = await everything(database)
    response = await client.post(
        JOBS, json=job_body(budget=2, influencer_slots=3), headers=owner.headers
    )
    assert_problem(response, 422, "budget_below_slots", field="body.budget")
    assert await everything(database) == before


async def test_an_end_date_in_the_past_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client)
    before = await everything(database)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await client.post(JOBS, json=job_body(end_date=past), headers=owner.headers)
    assert_problem(response, 422, "end_date_past", field="body.end_date")
    assert await everything(database) == before


async def test_a_funded_job_is_not_funded_again(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=600_00)
    job = await open_job(client, owner)
    before = await everything(database)
    for source in ("wallet", "provider"):
        response = await client.post(
            f"{JOBS}/{job['uid']}/fund",
            json={"source": source},
            headers={**owner.headers, **idem()},
        )
        assert_problem(response, 409, "job_already_funded")
    intent = await client.post(
        "/v1/funding",
        json={"amount": 300_00, "currency": "USD", "target_type": "job", "target_id": job["uid"]},
        headers={**owner.headers, **idem()},
    )
    assert_problem(intent, 409, "job_already_funded")
    assert await everything(database) == before


async def test_a_job_is_funded_with_exactly_its_budget(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client)
    job = await create_job(client, owner)
    before = await everything(database)
    for amount, currency in ((299_99, "USD"), (300_01, "USD"), (300_00, "EUR")):
        response = await client.post(
            "/v1/funding",
            json={
                "amount": amount,
                "currency": currency,
                "target_type": "job",
                "target_id": job["uid"],
            },
            headers={**owner.headers, **idem()},
        )
        assert_problem(response, 422, "funding_amount_mismatch", field="body.amount")
    assert await everything(database) == before


async def test_a_job_past_its_end_date_takes_no_claim(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    # The end date passes before the minutely close job has run (moved in the database: the
    # API refuses a past end date).
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE marketplace.jobs SET end_date = now() - interval '1 second' WHERE uid = :j"
            ),
            {"j": job["uid"]},
        )
    late = await creator(client)
    before = await everything(database)
    assert_problem(await claim(client, job["uid"], late), 409, "job_ended")
    assert await everything(database) == before


async def test_a_brand_cannot_claim_its_own_job(
    client: httpx.AsyncClient, database: Database
) -> None:
    both = await account(client, roles=["brand", "creator"])
    await fund_wallet(client, both.headers, 300_00)
    job = await open_job(client, both)
    before = await everything(database)
    assert_problem(await claim(client, job["uid"], both), 409, "own_job")
    assert await everything(database) == before
