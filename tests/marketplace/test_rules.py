"""Refused requests: bad input, wrong state, wrong party. Each gets its 4xx and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from creatorhub.db import Database
from helpers import account, assert_problem
from market_helpers import (
    approve,
    brand,
    claim,
    close,
    create_job,
    creator,
    job_body,
    open_job,
    submit,
)
from payment_helpers import count, idem, wallet


async def snapshot(database: Database) -> tuple[int, ...]:
    """Row counts of every marketplace table and the ledger: a refusal must leave them as is."""
    tables = [
        "marketplace.jobs",
        "marketplace.claims",
        "marketplace.influencer_jobs",
        "marketplace.content_submissions",
        "marketplace.escrow_transactions",
        "marketplace.escrow_events",
        "marketplace.influencer_payouts",
        "marketplace.unfilled_refunds",
        "marketplace.joblogs",
        "ledger.transfers",
        "ledger.holds",
    ]
    # The table names are the constants above, not input.
    sql = " UNION ALL ".join(
        f"SELECT {i} AS i, count(*) AS n FROM {t}"  # noqa: S608
        for i, t in enumerate(tables)
    )
    async with database.session_scope() as session:
        result = await session.execute(text(f"SELECT n FROM ({sql}) c ORDER BY i"))  # noqa: S608
        return tuple(int(n) for (n,) in result)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"budget": 0}, "body.budget"),
        ({"budget": -100}, "body.budget"),
        ({"budget": 12.5}, "body.budget"),
        ({"budget": "1000"}, "body.budget"),
        ({"influencer_slots": 0}, "body.influencer_slots"),
        ({"influence_min": 5000, "influence_max": 100}, "body"),
        ({"end_date": "2020-01-01T00:00:00+00:00"}, "body.end_date"),
        ({"end_date": "2031-01-01T00:00:00"}, "body.end_date"),  # no time zone
        ({"budget": 2, "influencer_slots": 3}, "body.budget"),
        ({"currency": "XYZ"}, "body.currency"),
    ],
)
async def test_invalid_jobs_are_422_and_create_nothing(
    client: httpx.AsyncClient, database: Database, overrides: dict[str, Any], field: str
) -> None:
    owner = await brand(client)
    before = await snapshot(database)
    response = await client.post(
        "/v1/marketplace/jobs", json=job_body(**overrides), headers=owner.headers
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field or any(
        e["field"] == field for e in problem.get("errors") or []
    )
    assert await snapshot(database) == before


async def test_only_brands_create_and_only_creators_claim(client: httpx.AsyncClient) -> None:
    fan = await account(client, roles=["fan"])
    refused = await client.post("/v1/marketplace/jobs", json=job_body(), headers=fan.headers)
    assert_problem(refused, 403, "role_required")
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    assert_problem(await claim(client, job["uid"], owner), 403, "role_required")
    assert_problem(await claim(client, job["uid"], fan), 403, "role_required")
    anonymous = await client.post("/v1/marketplace/jobs", json=job_body())
    assert anonymous.status_code == 401


async def test_claims_refused_with_a_code_and_no_effect(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=600_00)
    unfunded = await create_job(client, owner)
    job = await open_job(client, owner, influencer_slots=1, budget=100_00)
    small = await creator(client, followers=10)
    huge = await creator(client, followers=10_000_000)
    silent = await creator(client, followers=None)
    first = await creator(client)

    before = await snapshot(database)
    # Another brand's draft is not published: 404, as for a job that does not exist.
    assert_problem(await claim(client, unfunded["uid"], first), 404, "job_not_found")
    assert_problem(await claim(client, job["uid"], small), 409, "outside_follower_range")
    assert_problem(await claim(client, job["uid"], huge), 409, "outside_follower_range")
    assert_problem(await claim(client, job["uid"], silent), 409, "follower_estimate_missing")
    missing = await client.post(
        "/v1/marketplace/jobs/00000000-0000-0000-0000-000000000001/claims",
        headers={**first.headers, **idem()},
    )
    assert_problem(missing, 404, "job_not_found")
    assert await snapshot(database) == before

    assert (await claim(client, job["uid"], first)).status_code == 201
    after_first = await snapshot(database)
    assert_problem(await claim(client, job["uid"], first), 409, "already_claimed")
    late = await creator(client)
    assert_problem(await claim(client, job["uid"], late), 409, "job_full")
    assert (await close(client, job["uid"], owner)).status_code == 200
    closed_snapshot = await snapshot(database)
    assert closed_snapshot != after_first
    other = await creator(client)
    assert_problem(await claim(client, job["uid"], other), 409, "job_closed")
    assert await snapshot(database) == closed_snapshot


async def test_a_claim_refused_by_the_database_leaves_nothing_behind(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The claim's one statement writes the hold (and the creator's wallet, on a first claim),
    the claim, the slot and the audit row; the claims' unique constraints refuse a second claim
    of one creator (409 `already_claimed`) and a slot number taken twice (409 `slot_taken`),
    and then none of it stays."""
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner, influencer_slots=3)
    first, second = await creator(client), await creator(client)
    assert (await claim(client, job["uid"], first)).status_code == 201
    accounts = "SELECT count(*) FROM ledger.accounts"
    audits = "SELECT count(*) FROM audit.audit_logs WHERE action = 'marketplace.claim'"

    before = (
        await snapshot(database),
        await count(database, accounts),
        await count(database, audits),
    )
    # Slots are left, so only the insert can tell that this creator holds one already.
    assert_problem(await claim(client, job["uid"], first), 409, "already_claimed")
    # The job's lock gives each claim the next slot number; a claim_count out of step with the
    # claims (only a change outside the workflows can do that) makes the next claim take a
    # number already taken, which the constraint refuses rather than a 500.
    async with database.session_scope() as session:
        await session.execute(
            text("UPDATE marketplace.jobs SET claim_count = claim_count - 1 WHERE uid = :job"),
            {"job": job["uid"]},
        )
    skewed = (
        await snapshot(database),
        await count(database, accounts),
        await count(database, audits),
    )
    assert_problem(await claim(client, job["uid"], second), 409, "slot_taken")
    assert (
        await snapshot(database),
        await count(database, accounts),
        await count(database, audits),
    ) == skewed
    assert skewed[1:] == before[1:]


async def test_review_refusals(client: httpx.AsyncClient, database: Database) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    worker = await creator(client)
    slot = (await claim(client, job["uid"], worker)).json()

    before = await snapshot(database)
    assert_problem(await approve(client, slot["uid"], owner), 409, "no_content_submitted")
    assert await snapshot(database) == before

    assert (await submit(client, slot["uid"], worker)).status_code == 201
    assert_problem(await submit(client, slot["uid"], worker), 409, "submission_pending")
    before_review = await snapshot(database)
    stranger = await brand(client)
    assert_problem(await approve(client, slot["uid"], stranger), 404, "claim_not_found")
    rejected = await client.post(
        f"/v1/marketplace/claims/{slot['uid']}/reject",
        json={"reason": "not mine to judge"},
        headers=stranger.headers,
    )
    assert_problem(rejected, 404, "claim_not_found")
    assert await snapshot(database) == before_review
    assert_problem(await approve(client, slot["uid"], worker), 403, "role_required")
    someone = await creator(client)
    bad_submit = await submit(client, slot["uid"], someone)
    assert_problem(bad_submit, 404, "claim_not_found")

    assert (await approve(client, slot["uid"], owner)).status_code == 200
    paid = await snapshot(database)
    assert_problem(await approve(client, slot["uid"], owner), 409, "already_approved")
    assert_problem(await submit(client, slot["uid"], worker), 409, "already_approved")
    assert await snapshot(database) == paid
    assert (await wallet(client, worker.headers))["available"] == 90_00


async def test_reject_then_resubmit_then_approve(client: httpx.AsyncClient) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner, influencer_slots=1, budget=100_00)
    worker = await creator(client)
    slot = (await claim(client, job["uid"], worker)).json()
    assert (await submit(client, slot["uid"], worker)).status_code == 201
    empty = await client.post(
        f"/v1/marketplace/claims/{slot['uid']}/reject", json={"reason": ""}, headers=owner.headers
    )
    assert empty.status_code == 422
    rejected = await client.post(
        f"/v1/marketplace/claims/{slot['uid']}/reject",
        json={"reason": "the product is not visible"},
        headers=owner.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["content_done_at"] is None
    assert rejected.json()["rejection_reason"] == "the product is not visible"
    view = (
        await client.get(f"/v1/marketplace/brand/jobs/{job['uid']}", headers=owner.headers)
    ).json()
    assert (view["influencers_done"], view["all_content_ready"]) == (0, False)

    assert (await submit(client, slot["uid"], worker)).status_code == 201
    view = (
        await client.get(f"/v1/marketplace/brand/jobs/{job['uid']}", headers=owner.headers)
    ).json()
    assert (view["influencers_done"], view["all_content_ready"]) == (1, True)
    approved = await approve(client, slot["uid"], owner)
    assert approved.status_code == 200
    assert [s["status"] for s in approved.json()["submissions"]] == ["rejected", "approved"]


async def test_closed_jobs_refuse_everything(client: httpx.AsyncClient, database: Database) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    worker = await creator(client)
    slot = (await claim(client, job["uid"], worker)).json()
    assert (await submit(client, slot["uid"], worker)).status_code == 201
    assert (await close(client, job["uid"], owner)).status_code == 200
    before = await snapshot(database)
    assert_problem(await close(client, job["uid"], owner), 409, "job_closed")
    assert_problem(await approve(client, slot["uid"], owner), 409, "job_closed")
    assert_problem(await submit(client, slot["uid"], worker), 409, "job_closed")
    funded = await client.post(
        f"/v1/marketplace/jobs/{job['uid']}/fund",
        json={"source": "wallet"},
        headers={**owner.headers, **idem()},
    )
    assert_problem(funded, 409, "job_closed")
    assert await snapshot(database) == before


def same_problem(a: httpx.Response, b: httpx.Response) -> None:
    """The same answer but for the request id: nothing tells the two cases apart."""
    assert (a.status_code, a.headers["content-type"]) == (b.status_code, b.headers["content-type"])
    first, second = a.json(), b.json()
    first.pop("request_id"), second.pop("request_id")
    assert first == second


async def test_another_brands_job_is_404_like_one_that_does_not_exist(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=600_00)
    opened = await open_job(client, owner)
    draft = await create_job(client, owner)
    closed = await open_job(client, owner)
    assert (await close(client, closed["uid"], owner)).status_code == 200
    other = await brand(client, funds=300_00)
    missing = "00000000-0000-0000-0000-000000000001"

    async def attempts(job_uid: str) -> list[httpx.Response]:
        return [
            await client.get(f"/v1/marketplace/brand/jobs/{job_uid}", headers=other.headers),
            await client.post(
                f"/v1/marketplace/jobs/{job_uid}/fund",
                json={"source": "wallet"},
                headers={**other.headers, **idem()},
            ),
            await client.post(
                f"/v1/marketplace/jobs/{job_uid}/fund",
                json={"source": "provider"},
                headers={**other.headers, **idem()},
            ),
            await client.post(
                "/v1/funding",
                json={
                    "amount": 300_00,
                    "currency": "USD",
                    "target_type": "job",
                    "target_id": job_uid,
                },
                headers={**other.headers, **idem()},
            ),
            await close(client, job_uid, other),
        ]

    before = await snapshot(database)
    wallets = (await wallet(client, owner.headers), await wallet(client, other.headers))
    intents = await count(database, "SELECT count(*) FROM payments.funding_intents")
    unknown = await attempts(missing)
    for response in unknown:
        assert_problem(response, 404, "job_not_found")
    for job in (opened, draft, closed):
        for seen, expected in zip(await attempts(job["uid"]), unknown, strict=True):
            same_problem(seen, expected)
    # A creator gets the same for another brand's draft (its public view is a 404 too).
    nosy = await creator(client)
    same_problem(await claim(client, draft["uid"], nosy), await claim(client, missing, nosy))
    same_problem(
        await client.get(f"/v1/marketplace/jobs/{draft['uid']}"),
        await client.get(f"/v1/marketplace/jobs/{missing}"),
    )
    assert await snapshot(database) == before
    assert (await wallet(client, owner.headers), await wallet(client, other.headers)) == wallets
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == intents


async def test_a_brand_that_also_creates_is_told_its_own_draft_is_not_funded(
    client: httpx.AsyncClient, database: Database
) -> None:
    both = await account(client, roles=["brand", "creator"])
    draft = await create_job(client, both)
    before = await snapshot(database)
    # Its own draft exists for it: the state, not a 404.
    assert_problem(await claim(client, draft["uid"], both), 409, "job_not_funded")
    assert await snapshot(database) == before


async def test_private_views_stay_private(client: httpx.AsyncClient) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    public = await client.get(f"/v1/marketplace/jobs/{job['uid']}")
    assert public.status_code == 200
    assert set(public.json()) == {
        "uid",
        "title",
        "description",
        "budget",
        "currency",
        "max_slots",
        "slots_left",
        "influence_min",
        "influence_max",
        "location",
        "genre",
        "status",
        "end_date",
        "created_at",
    }
    worker = await creator(client)
    slot = (await claim(client, job["uid"], worker)).json()
    nosy = await creator(client)
    assert_problem(
        await client.get(f"/v1/marketplace/claims/{slot['uid']}", headers=nosy.headers),
        404,
        "claim_not_found",
    )
    for who in (worker, owner):
        seen = await client.get(f"/v1/marketplace/claims/{slot['uid']}", headers=who.headers)
        assert seen.status_code == 200


async def test_listing_shows_open_jobs_and_matches_followers(client: httpx.AsyncClient) -> None:
    owner = await brand(client, funds=1_000_00)
    draft = await create_job(client, owner, title="draft")
    small = await open_job(client, owner, title="small", influence_min=0, influence_max=2_000)
    big = await open_job(client, owner, title="big", influence_min=100_000, influence_max=None)
    everyone = await open_job(client, owner, title="everyone", influence_min=0, influence_max=None)
    listed = (await client.get("/v1/marketplace/jobs?limit=2")).json()
    assert [j["title"] for j in listed["items"]] == ["everyone", "big"]
    rest = (await client.get(f"/v1/marketplace/jobs?limit=2&cursor={listed['next_cursor']}")).json()
    assert [j["title"] for j in rest["items"]] == ["small"] and rest["next_cursor"] is None
    assert_problem(await client.get(f"/v1/marketplace/jobs/{draft['uid']}"), 404, "job_not_found")
    assert_problem(await client.get("/v1/marketplace/jobs?cursor=nonsense"), 400, "invalid_cursor")

    fan_of_small = await creator(client, followers=1_500)
    matching = await client.get("/v1/marketplace/jobs/matching", headers=fan_of_small.headers)
    assert {j["uid"] for j in matching.json()["items"]} == {small["uid"], everyone["uid"]}
    star = await creator(client, followers=250_000)
    matching = await client.get("/v1/marketplace/jobs/matching", headers=star.headers)
    assert {j["uid"] for j in matching.json()["items"]} == {big["uid"], everyone["uid"]}


async def test_wallet_funding_needs_the_budget(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=100_00)
    job = await create_job(client, owner, budget=300_00)
    before = await snapshot(database)
    refused = await client.post(
        f"/v1/marketplace/jobs/{job['uid']}/fund",
        json={"source": "wallet"},
        headers={**owner.headers, **idem()},
    )
    assert_problem(refused, 409, "insufficient_funds")
    assert await snapshot(database) == before
    assert (
        await count(
            database,
            "SELECT count(*) FROM audit.system_logs"
            " WHERE data->>'action' = 'prevent_negative_wallet'",
        )
        == 1
    )
    assert (await wallet(client, owner.headers))["available"] == 100_00


@pytest.mark.parametrize(("budget", "slots"), [(1000, 3), (100_01, 7), (7, 7), (99_999, 1)])
async def test_odd_budgets_split_to_the_cent(
    client: httpx.AsyncClient, database: Database, budget: int, slots: int
) -> None:
    owner = await brand(client, funds=budget)
    job = await open_job(client, owner, budget=budget, influencer_slots=slots, influence_min=0)
    shares = []
    for _ in range(slots):
        answer = await claim(client, job["uid"], await creator(client))
        assert answer.status_code == 201, answer.text
        shares.append(answer.json()["amount"])
    assert sum(shares) == budget
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # the odd cents go to the first slots
    # Approve the last slot only: the refund is exactly the others' shares.
    last = (
        await client.get(f"/v1/marketplace/brand/jobs/{job['uid']}", headers=owner.headers)
    ).json()["slots"][-1]
    who_id = last["user_uid"]
    del who_id
    closed = (await close(client, job["uid"], owner)).json()
    assert closed["refund"]["refunded"] == budget
    assert (await wallet(client, owner.headers))["available"] == budget


def _future(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()
