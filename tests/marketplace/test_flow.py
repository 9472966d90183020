"""The marketplace end to end through the HTTP API, every record and balance checked exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from creatorhub.db import Database
from helpers import Account, account, assert_problem, grant_roles
from market_helpers import approve, brand, claim, close, create_job, creator, open_job, submit
from payment_helpers import count, idem, wallet


async def rows(database: Database, sql: str, **params: object) -> list[dict[str, object]]:
    from sqlalchemy import text

    async with database.session_scope() as session:
        result = await session.execute(text(sql), params)
        return [dict(row._mapping) for row in result]


async def test_fund_claim_submit_approve_close_is_exact_to_the_cent(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=500_00)
    job = await open_job(client, owner, budget=300_00, influencer_slots=3)
    assert job["status"] == "open" and job["escrow_balance"] == 300_00
    assert (await wallet(client, owner.headers))["available"] == 200_00

    creators = [await creator(client) for _ in range(5)]
    answers = [await claim(client, job["uid"], who) for who in creators]
    assert [a.status_code for a in answers] == [201, 201, 201, 409, 409]
    for refused in answers[3:]:
        assert_problem(refused, 409, "job_full")
    slots = [a.json() for a in answers[:3]]
    assert [s["slot_number"] for s in slots] == [1, 2, 3]
    assert [s["amount"] for s in slots] == [100_00, 100_00, 100_00]
    # Claimed shares are reserved, not paid: nobody's available balance moved yet.
    assert (await wallet(client, creators[0].headers))["available"] == 0

    assert (await submit(client, slots[0]["uid"], creators[0])).status_code == 201
    assert (await submit(client, slots[1]["uid"], creators[1])).status_code == 201
    approved = await approve(client, slots[0]["uid"], owner)
    assert approved.status_code == 200, approved.text
    assert approved.json()["payout"] == {
        **approved.json()["payout"],
        "amount": 100_00,
        "platform_fee": 10_00,
        "net_amount": 90_00,
        "payed_at": None,
    }
    assert (await wallet(client, creators[0].headers))["available"] == 90_00

    closed = await close(client, job["uid"], owner)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["close_reason"] == "brand"
    assert body["escrow_balance"] == 0
    assert body["refund"]["refunded"] == 200_00
    assert body["refund"]["claimed_slots"] == 3
    assert body["refund"]["issued_at"] is not None
    assert (body["claim_count"], body["influencers_done"], body["approved"]) == (3, 2, 1)
    assert all(slot["closed_at"] is not None for slot in body["slots"])

    # Balances: the brand got the two unapproved shares back, the platform kept 10 %.
    assert (await wallet(client, owner.headers))["available"] == 400_00
    assert (await wallet(client, creators[0].headers))["available"] == 90_00
    for other in creators[1:]:
        assert (await wallet(client, other.headers))["available"] == 0
    assert (
        await count(
            database,
            "SELECT sum(balance) FROM ledger.accounts WHERE kind = 'platform_fees'"
            " AND currency = 'USD'",
        )
        == 10_00
    )

    # The seed's records, each exactly once.
    events = await rows(
        database,
        "SELECT event_type, count(*) AS n FROM marketplace.escrow_events WHERE job_uid = :job"
        " GROUP BY event_type ORDER BY event_type",
        job=job["uid"],
    )
    assert {e["event_type"]: e["n"] for e in events} == {
        "claimed": 3,
        "released": 1,
        "influencer_paid": 1,
        "voided": 2,
        "refund": 1,
    }
    logs = await rows(
        database,
        "SELECT user_uid::text AS user_uid, log FROM marketplace.influencer_logs"
        " WHERE job_uid = :job",
        job=job["uid"],
    )
    assert [(entry["user_uid"], entry["log"]["amount"]) for entry in logs] == [  # type: ignore[index]
        (creators[1].id, 100_00)
    ]
    joblogs = await rows(
        database,
        "SELECT description FROM marketplace.joblogs WHERE job_uid = :job ORDER BY created_at",
        job=job["uid"],
    )
    assert [entry["description"] for entry in joblogs] == [
        "job created",
        "job funded",
        "job closed",
    ]
    assert (
        await count(
            database,
            "SELECT count(*) FROM marketplace.influencer_payouts WHERE job_uid = :job",
            job=job["uid"],
        )
        == 1
    )
    assert (
        await count(
            database,
            "SELECT count(*) FROM marketplace.escrow_transactions WHERE job_uid = :job"
            " AND status = 'refunded'",
            job=job["uid"],
        )
        == 2
    )

    # The creator's own view: claims and earnings.
    mine = await client.get("/v1/marketplace/claims", headers=creators[0].headers)
    assert mine.status_code == 200
    assert mine.json()["earned"] == [
        {"currency": "USD", "gross": 100_00, "platform_fee": 10_00, "net": 90_00, "paid_out": 0}
    ]

    # The daily rollup agrees with all of it.
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    today = datetime.now(UTC).date().isoformat()
    rolled = await client.post(
        "/v1/admin/marketplace/analytics/rollup",
        json={"from": today, "to": today},
        headers=admin.headers,
    )
    assert rolled.status_code == 200, rolled.text
    financial = await client.get(
        f"/v1/admin/marketplace/analytics/financial?from={today}&to={today}",
        headers=admin.headers,
    )
    (day,) = [row for row in financial.json() if row["currency"] == "USD"]
    assert {k: day[k] for k in day if k not in ("date", "currency", "computed_at")} == {
        "total_payouts": 100_00,
        "payouts_count": 1,
        "total_refunds": 200_00,
        "refunds_count": 1,
        "platform_fees": 10_00,
        "net_revenue": 10_00,
        "largest_single_payout": 100_00,
        "largest_single_refund": 200_00,
    }
    platform = await client.get(
        f"/v1/admin/marketplace/analytics/platform?from={today}&to={today}",
        headers=admin.headers,
    )
    (prow,) = platform.json()
    assert (prow["jobs_created"], prow["jobs_closed"], prow["total_influencer_claims"]) == (1, 1, 3)
    assert prow["escrow_events_logged"] == 8
    assert prow["total_artists"] == 1 and prow["total_influencers"] == 5


async def test_retries_with_the_same_key_replay_the_first_answer_and_change_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Each money move's answer is stored in the statement that writes its effects; a retry
    with the key gets those bytes again and moves nothing."""
    owner = await brand(client, funds=300_00)
    job = await create_job(client, owner, budget=300_00, influencer_slots=3)
    maker = await creator(client)
    state = (
        "SELECT (SELECT count(*) FROM ledger.transfers) + (SELECT count(*) FROM ledger.holds)"
        " + (SELECT count(*) FROM marketplace.claims) + (SELECT count(*) FROM audit.audit_logs)"
    )

    async def twice(path: str, who: Account, **body: Any) -> httpx.Response:
        headers = {**who.headers, **idem()}
        first = await client.post(path, headers=headers, **body)
        assert first.is_success, first.text
        before = await count(database, state)
        again = await client.post(path, headers=headers, **body)
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert await count(database, state) == before
        return first

    funded = await twice(
        f"/v1/marketplace/jobs/{job['uid']}/fund", owner, json={"source": "wallet"}
    )
    assert funded.json()["job"]["status"] == "open"
    slot = (await twice(f"/v1/marketplace/jobs/{job['uid']}/claims", maker)).json()
    assert (slot["slot_number"], slot["amount"], slot["payout"]) == (1, 100_00, None)
    assert (await submit(client, slot["uid"], maker)).status_code == 201
    approved = await twice(f"/v1/marketplace/claims/{slot['uid']}/approve", owner)
    assert approved.json()["payout"]["net_amount"] == 90_00
    closed = await twice(f"/v1/marketplace/jobs/{job['uid']}/close", owner)
    assert closed.json()["refund"]["refunded"] == 200_00
