"""Round trips of the marketplace's requests, pinned (issue 12).

Each test counts the round trips of one request with `tests/round_trips.py` (statements, the
BEGIN before a transaction's first one, COMMIT/ROLLBACK) and pins the count exactly, listing what
each one is, so that a change which adds one fails here and moves the pin on purpose. A failure
prints the statements sent. The views are counted with several jobs and slots, so that a query
per job or per slot would show.

What every request that moves money sends before its own work: BEGIN, the token (one statement),
the `Idempotency-Key` lookup (one); after it: the stored answer, COMMIT.
"""

from __future__ import annotations

from collections.abc import Awaitable

import httpx
import pytest
from fastapi import FastAPI

from creatorhub.db import Database
from helpers import assert_problem
from market_helpers import approve, brand, claim, close, create_job, creator, open_job, submit
from payment_helpers import count, idem
from round_trips import RoundTripCounter, Trips


@pytest.fixture
def counter(app: FastAPI) -> RoundTripCounter:
    return RoundTripCounter.install(app.state.db.engine)


async def counted(
    counter: RoundTripCounter, request: Awaitable[httpx.Response]
) -> tuple[httpx.Response, Trips]:
    with counter.counting() as trips:
        response = await request
    return response, trips


def pinned(trips: Trips, expected: int) -> None:
    listing = "\n".join(f"  {n}. {s}" for n, s in enumerate(trips.statements, 1))
    assert trips.count == expected, f"{trips.count} round trips, pinned {expected}:\n{listing}"


async def test_a_claim_is_six_round_trips_and_answers_what_it_wrote(
    client: httpx.AsyncClient, counter: RoundTripCounter, database: Database
) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner, budget=300_00, influencer_slots=3)
    first, second = await creator(client), await creator(client)
    assert (await claim(client, job["uid"], first)).status_code == 201

    answer, trips = await counted(counter, claim(client, job["uid"], second))

    assert answer.status_code == 201, answer.text
    # BEGIN, token, key; the job locked with the creator's follower total; the hold (the
    # wallet created in it), the claim, the slot (its triggers: the escrow record and its
    # event), the audit row and the stored answer in one statement; COMMIT.
    pinned(trips, 6)
    # No "already claimed" read: the claim's unique constraint answers that.
    assert not [s for s in trips.statements if s.startswith("SELECT marketplace.claims")]
    # The answer is built from what was written, and is what a read of the slot shows.
    shown = await client.get(
        f"/v1/marketplace/claims/{answer.json()['uid']}", headers=owner.headers
    )
    assert shown.status_code == 200 and shown.json() == answer.json()
    assert (
        await count(
            database,
            "SELECT count(*) FROM audit.audit_logs WHERE action = 'marketplace.claim'"
            " AND entity_id = :uid AND after->>'hold_id' IS NOT NULL",
            uid=answer.json()["uid"],
        )
        == 1
    )


async def test_a_second_claim_is_refused_by_the_insert_and_rolled_back(
    client: httpx.AsyncClient, counter: RoundTripCounter, database: Database
) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    eager = await creator(client)
    assert (await claim(client, job["uid"], eager)).status_code == 201
    holds = "SELECT count(*) FROM ledger.holds"

    held = await count(database, holds)
    refused, trips = await counted(counter, claim(client, job["uid"], eager))

    assert_problem(refused, 409, "already_claimed")
    # BEGIN, token, key, the locked job, the claim's statement (its unique violation), ROLLBACK:
    # its hold went with it.
    pinned(trips, 6)
    assert trips.statements[-1] == "ROLLBACK"
    assert await count(database, holds) == held


async def test_funding_a_job_from_the_wallet(
    client: httpx.AsyncClient, counter: RoundTripCounter
) -> None:
    owner = await brand(client, funds=300_00)
    job = await create_job(client, owner, budget=300_00)

    funded, trips = await counted(
        counter,
        client.post(
            f"/v1/marketplace/jobs/{job['uid']}/fund",
            json={"source": "wallet"},
            headers={**owner.headers, **idem()},
        ),
    )

    assert funded.status_code == 200, funded.text
    assert funded.json()["job"]["escrow_balance"] == 300_00
    # BEGIN, token, key; the job locked; the transfer, the job opened, its log and the stored
    # answer in one statement; COMMIT.
    pinned(trips, 6)


async def test_submitting_approving_and_rejecting(
    client: httpx.AsyncClient, counter: RoundTripCounter
) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner, budget=300_00, influencer_slots=3)
    makers = [await creator(client) for _ in range(2)]
    slots = [(await claim(client, job["uid"], who)).json() for who in makers]

    submitted, trips = await counted(counter, submit(client, slots[0]["uid"], makers[0]))
    assert submitted.status_code == 201, submitted.text
    # BEGIN, token; the job locked; the slot and its pending submission; the submission and
    # the slot marked done in one statement; COMMIT.
    pinned(trips, 6)

    assert (await submit(client, slots[1]["uid"], makers[1])).status_code == 201
    approved, trips = await counted(counter, approve(client, slots[0]["uid"], owner))
    assert approved.status_code == 200, approved.text
    assert approved.json()["payout"]["net_amount"] == 90_00
    # BEGIN, token, key; the job locked; the slot and its submission; the fee quote, the
    # creator's and the fee accounts and the posted hold (payments.earnings: 4); the escrow
    # record, slot, submission and audit row in one statement; the slot as approved (with the
    # payout record its trigger wrote); the stored answer; COMMIT.
    pinned(trips, 13)

    rejected, trips = await counted(
        counter,
        client.post(
            f"/v1/marketplace/claims/{slots[1]['uid']}/reject",
            json={"reason": "wrong hashtag"},
            headers=owner.headers,
        ),
    )
    assert rejected.status_code == 200, rejected.text
    # BEGIN, token; the job locked; the slot and its submission; both updated in one
    # statement; the slot as rejected; COMMIT.
    pinned(trips, 7)


async def test_closing_a_job_voids_and_refunds_in_two_statements(
    client: httpx.AsyncClient, counter: RoundTripCounter
) -> None:
    owner = await brand(client, funds=400_00)
    job = await open_job(client, owner, budget=400_00, influencer_slots=4)
    makers = [await creator(client) for _ in range(3)]
    slots = [(await claim(client, job["uid"], who)).json() for who in makers]
    assert (await submit(client, slots[0]["uid"], makers[0])).status_code == 201
    assert (await approve(client, slots[0]["uid"], owner)).status_code == 200

    closed, trips = await counted(counter, close(client, job["uid"], owner))

    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["refund"]["refunded"] == 300_00 and body["escrow_balance"] == 0
    # BEGIN, token, key; the job locked; both held slots' holds voided, their escrow records
    # refunded, the job closed and the audit row, in one statement; the refund its trigger
    # created, issued to the wallet with its transfer, in one; the job's view; the stored
    # answer; COMMIT. However many slots it had.
    pinned(trips, 9)


async def test_creating_a_job(client: httpx.AsyncClient, counter: RoundTripCounter) -> None:
    owner = await brand(client)
    body = {
        "title": "Launch reel",
        "budget": 100_00,
        "currency": "USD",
        "influencer_slots": 2,
        "end_date": "2999-01-01T00:00:00Z",
    }
    created, trips = await counted(
        counter, client.post("/v1/marketplace/jobs", json=body, headers=owner.headers)
    )
    assert created.status_code == 201, created.text
    # BEGIN, token; the job with its escrow account, its log and audit rows; COMMIT.
    pinned(trips, 4)


async def test_every_view_is_one_statement_whatever_it_shows(
    client: httpx.AsyncClient, counter: RoundTripCounter
) -> None:
    owner = await brand(client, funds=900_00)
    jobs = [await open_job(client, owner, budget=300_00, influencer_slots=3) for _ in range(3)]
    makers = [await creator(client) for _ in range(2)]
    slots = [(await claim(client, job["uid"], who)).json() for job in jobs for who in makers]
    for slot, who in zip(slots[:2], makers, strict=True):
        assert (await submit(client, slot["uid"], who)).status_code == 201
    assert (await approve(client, slots[0]["uid"], owner)).status_code == 200
    assert (await close(client, jobs[2]["uid"], owner)).status_code == 200

    # Reads run without BEGIN/COMMIT: the token, then the view, in one statement each.
    views = {
        "/v1/marketplace/brand/jobs": (owner, 2),
        f"/v1/marketplace/brand/jobs/{jobs[0]['uid']}": (owner, 2),
        f"/v1/marketplace/claims/{slots[0]['uid']}": (makers[0], 2),
        # The claims, then the earnings per currency.
        "/v1/marketplace/claims": (makers[0], 3),
        "/v1/marketplace/jobs/matching": (makers[0], 2),
        "/v1/marketplace/jobs": (None, 1),
        f"/v1/marketplace/jobs/{jobs[0]['uid']}": (None, 1),
    }
    for path, (who, expected) in views.items():
        headers = who.headers if who is not None else {}
        shown, trips = await counted(counter, client.get(path, headers=headers))
        assert shown.status_code == 200, (path, shown.text)
        pinned(trips, expected)
    listed = (await client.get("/v1/marketplace/brand/jobs", headers=owner.headers)).json()
    assert [len(job["slots"]) for job in listed["items"]] == [2, 2, 2]
    assert [job["refund"] is not None for job in listed["items"]] == [True, False, False]
    mine = (await client.get("/v1/marketplace/claims", headers=makers[0].headers)).json()
    assert len(mine["items"]) == 3 and mine["earned"][0]["net"] == 90_00
