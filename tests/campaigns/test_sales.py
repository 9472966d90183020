"""Salesman campaigns through HTTP (issue 15): sales and refunds reported by the shop's signed
webhook, traced by coupon or referral code, their commissions held on the escrow, verified into
the wallet after the refund window; webhook chaos (replays, reordering, refunds before sales,
concurrent deliveries). Exact integers; every test ends with the ledger verified
(tests/campaigns/conftest.py). Fees: `campaign_commission`, 10 % by default."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

import campaign_helpers
from creatorhub.campaigns.sales import service as sales
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.payments.providers.sandbox import sign
from helpers import Account, assert_problem, scalar
from payment_helpers import wallet

BUDGET = 10_000


def salesman_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "salesman",
        "title": "Sneaker sales",
        "budget": BUDGET,
        "commission_per_sale": 1_000,  # 10 %
        "tracking_method": "ref_link",
        "destination_url": "https://shop.example.com/sneakers?color=red",
        "cpv": None,
        "max_views": None,
    }
    body.update(overrides)
    return body


async def salesman_campaign(
    client: httpx.AsyncClient, owner: Account, **overrides: Any
) -> tuple[dict[str, Any], str]:
    """A funded salesman campaign and its webhook secret."""
    campaign = await campaign_helpers.funded_campaign(client, owner, **salesman_body(**overrides))
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/sales-webhook-secret", headers=owner.headers
    )
    assert response.status_code == 200, response.text
    return campaign, response.json()["secret"]


def event(kind: str, order: str, amount: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "order_id": order, "amount": amount, "currency": "USD", **fields}


async def deliver(
    client: httpx.AsyncClient,
    campaign_id: str,
    secret: str,
    body: dict[str, Any],
    *,
    at: datetime | None = None,
    signature: str | None = None,
) -> httpx.Response:
    raw = json.dumps(body).encode()
    timestamp = int((at or datetime.now(UTC)).timestamp())
    header = signature or sign(secret, raw, timestamp)
    return await client.post(
        f"/v1/campaigns/{campaign_id}/sales-events",
        content=raw,
        headers={"Creatorhub-Signature": header, "Content-Type": "application/json"},
    )


async def escrow(client: httpx.AsyncClient, campaign_id: str, owner: Account) -> tuple[int, int]:
    body = await campaign_helpers.campaign_of(client, campaign_id, owner)
    return body["escrow_balance"], body["escrow_reserved"]


async def test_sales_and_refunds_by_coupon_and_referral_code_to_the_cent(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=BUDGET)
    campaign, secret = await salesman_campaign(client, owner)
    cid = campaign["id"]
    anna = await campaign_helpers.promoter(client)
    ben = await campaign_helpers.promoter(client)
    await campaign_helpers.join(client, cid, anna)
    ben_code = (await campaign_helpers.join(client, cid, ben))["tracking_code"]
    coupon = await client.put(
        f"/v1/campaigns/{cid}/coupon", json={"code": "anna10"}, headers=anna.headers
    )
    assert coupon.status_code == 200 and coupon.json() == {"code": "ANNA10"}
    taken = await client.put(
        f"/v1/campaigns/{cid}/coupon", json={"code": "Anna10"}, headers=ben.headers
    )
    assert_problem(taken, 409, "coupon_taken")
    bad = await client.put(f"/v1/campaigns/{cid}/coupon", json={"code": "a"}, headers=ben.headers)
    assert_problem(bad, 422, "coupon_invalid")
    stranger = await campaign_helpers.promoter(client)
    response = await client.put(
        f"/v1/campaigns/{cid}/coupon", json={"code": "MINE1"}, headers=stranger.headers
    )
    assert_problem(response, 404, "participation_not_found")
    await campaign_helpers.join(client, cid, stranger)
    assert (
        await client.post(f"/v1/campaigns/{cid}/leave", headers=stranger.headers)
    ).status_code == 200
    response = await client.put(
        f"/v1/campaigns/{cid}/coupon", json={"code": "MINE1"}, headers=stranger.headers
    )
    assert_problem(response, 409, "not_joined")

    # Ben's referral link: recorded, then on to the shop with his code.
    followed = await client.get(f"/r/{ben_code}")
    assert followed.status_code == 302
    assert followed.headers["location"] == (
        f"https://shop.example.com/sneakers?color=red&ref={ben_code}"
    )
    assert (await client.get("/r/nobody-at-all")).status_code == 404  # a page, as for /t/
    assert await scalar(database, "SELECT count(*) FROM campaigns.referral_clicks") == 1
    first = await deliver(client, cid, secret, event("sale", "o-1", 12_345, coupon="anna10"))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "order_id": "o-1",
        "status": "pending",
        "commission": 1_234,  # floor(12,345 * 10 %): the fraction stays the advertiser's
        "duplicate": False,
    }
    replay = await deliver(client, cid, secret, event("sale", "o-1", 12_345, coupon="anna10"))
    assert replay.json()["duplicate"] is True
    second = await deliver(client, cid, secret, event("sale", "o-2", 20_000, ref=ben_code))
    assert second.json()["commission"] == 2_000
    assert await escrow(client, cid, owner) == (BUDGET, 3_234)

    # A refund in the window reverses the commission; one before its sale makes the sale
    # count nothing when it arrives.
    refunded = await deliver(client, cid, secret, event("refund", "o-2", 20_000))
    assert (refunded.json()["status"], refunded.json()["commission"]) == ("reversed", 0)
    early = await deliver(client, cid, secret, event("refund", "o-3", 5_000))
    assert early.json()["status"] == "reversed"
    late = await deliver(client, cid, secret, event("sale", "o-3", 5_000, coupon="ANNA10"))
    assert late.json() == {
        "order_id": "o-3",
        "status": "reversed",
        "commission": 0,
        "duplicate": True,
    }
    assert await escrow(client, cid, owner) == (BUDGET, 1_234)

    # Refusals record nothing.
    before = await scalar(database, "SELECT count(*) FROM campaigns.sales_records")
    stale = datetime.now(UTC) - timedelta(minutes=10)
    for response, status, code in (
        (
            await deliver(client, cid, "whsec_wrong", event("sale", "x-1", 100, coupon="ANNA10")),
            400,
            "signature_invalid",
        ),
        (
            await deliver(
                client, cid, secret, event("sale", "x-2", 100, coupon="ANNA10"), at=stale
            ),
            400,
            "timestamp_stale",
        ),
        (
            await deliver(client, cid, secret, event("sale", "x-3", 100), signature="t=1"),
            400,
            "signature_invalid",
        ),
        (
            await deliver(client, cid, secret, event("sale", "x-4", 100, coupon="NOBODY")),
            422,
            "code_unknown",
        ),
        (
            await deliver(client, cid, secret, event("sale", "x-5", 0, coupon="ANNA10")),
            422,
            "sale_event_invalid",
        ),
        (
            await deliver(client, cid, secret, event("sale", "x-6", -5, coupon="ANNA10")),
            422,
            "sale_event_invalid",
        ),
        (
            await deliver(
                client,
                cid,
                secret,
                {**event("sale", "x-7", 100, coupon="ANNA10"), "currency": "EUR"},
            ),
            422,
            "currency_mismatch",
        ),
    ):
        assert_problem(response, status, code)
    assert await scalar(database, "SELECT count(*) FROM campaigns.sales_records") == before

    expired = await deliver(
        client,
        cid,
        secret,
        event("sale", "x-9", 100, ref=ben_code, occurred_at="2020-01-01T00:00:00Z"),
    )
    assert_problem(expired, 422, "referral_expired")
    # Past the refund window the commission is credited, less the fee, once.
    later = datetime.now(UTC) + timedelta(days=settings.campaign_sale_refund_window_days, hours=1)
    assert await sales.verify_all_due(database, settings, later) == 1
    assert await sales.verify_all_due(database, settings, later) == 0
    assert (await wallet(client, anna.headers))["available"] == 1_234 - 123
    assert (await wallet(client, ben.headers))["available"] == 0
    # A refund after it is recorded and takes nothing back.
    after = await deliver(client, cid, secret, event("refund", "o-1", 12_345))
    assert after.json()["status"] == "verified"
    assert (await wallet(client, anna.headers))["available"] == 1_111
    listed = await client.get("/v1/campaign-sales", headers=anna.headers)
    assert [
        (s["order_id"], s["status"], s["commission"], s["fee"]) for s in listed.json()["items"]
    ] == [("o-1", "verified", 1_234, 123)]
    owners = await client.get(f"/v1/campaigns/{cid}/sales", headers=owner.headers)
    assert sorted(s["order_id"] for s in owners.json()["items"]) == ["o-1", "o-2", "o-3"]
    assert await escrow(client, cid, owner) == (BUDGET - 1_234, 0)
    spent = await scalar(
        database,
        "SELECT spent_amount FROM campaigns.campaign_budget_allocations WHERE campaign_id = :c",
        c=cid,
    )
    assert spent == 1_234
    # The end refunds the rest to the advertiser.
    ended = await campaign_helpers.end(client, cid, owner)
    assert ended.status_code == 200, ended.text
    assert (await wallet(client, owner.headers))["available"] == BUDGET - 1_234


async def test_a_sale_past_the_budget_is_recorded_without_commission_and_pauses_the_campaign(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=1_000)
    campaign, secret = await salesman_campaign(client, owner, budget=1_000)
    cid = campaign["id"]
    promoter = await campaign_helpers.promoter(client)
    code = (await campaign_helpers.join(client, cid, promoter))["tracking_code"]
    assert (await client.get(f"/r/{code}")).status_code == 302
    fits = await deliver(client, cid, secret, event("sale", "a", 9_000, ref=code))
    assert fits.json()["commission"] == 900
    over = await deliver(client, cid, secret, event("sale", "b", 2_000, ref=code))
    assert (over.json()["status"], over.json()["commission"]) == ("over_budget", 0)
    body = await campaign_helpers.campaign_of(client, cid, owner)
    assert (body["status"], body["pause_reason"]) == ("paused", "budget_spent")
    after = await deliver(client, cid, secret, event("sale", "c", 100, ref=code))
    assert after.json()["status"] == "campaign_inactive"
    assert await escrow(client, cid, owner) == (1_000, 900)
    # Only a salesman campaign has a sales webhook.
    visibility = await campaign_helpers.create_campaign(client, owner)
    response = await client.post(
        f"/v1/campaigns/{visibility['id']}/sales-webhook-secret", headers=owner.headers
    )
    assert_problem(response, 409, "not_a_salesman_campaign")


async def test_the_hourly_job_verifies_the_due_commissions_once(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    from creatorhub.campaigns import tasks
    from creatorhub.jobs import JobRuntime

    owner = await campaign_helpers.advertiser(client, funds=BUDGET)
    campaign, secret = await salesman_campaign(client, owner)
    cid = campaign["id"]
    promoter = await campaign_helpers.promoter(client)
    code = (await campaign_helpers.join(client, cid, promoter))["tracking_code"]
    assert (await client.get(f"/r/{code}")).status_code == 302
    sale = event("sale", "old", 5_000, ref=code)
    assert (await deliver(client, cid, secret, sale)).status_code == 200
    await scalar(
        database,
        "UPDATE campaigns.sales_records SET verify_after = :due RETURNING 1",
        due=datetime.now(UTC) - timedelta(minutes=1),
    )
    async with JobRuntime(database, settings).open():
        assert await tasks.verify_campaign_sales(0) == 1
        assert await tasks.verify_campaign_sales(0) == 0
    assert (await wallet(client, promoter.headers))["available"] == 500 - 50


async def test_webhook_chaos_concurrent_replays_and_reordered_refunds_record_each_order_once(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=BUDGET)
    campaign, secret = await salesman_campaign(client, owner)
    cid = campaign["id"]
    promoter = await campaign_helpers.promoter(client)
    code = (await campaign_helpers.join(client, cid, promoter))["tracking_code"]
    assert (await client.get(f"/r/{code}")).status_code == 302
    orders = {f"c-{n}": 1_000 + n * 111 for n in range(8)}
    refunded = {"c-1", "c-4", "c-6"}
    deliveries = []
    for order, amount in orders.items():
        deliveries += [event("sale", order, amount, ref=code)] * 3
        if order in refunded:
            deliveries += [event("refund", order, amount)] * 2
    random.Random(15).shuffle(deliveries)
    answers = await asyncio.gather(*(deliver(client, cid, secret, body) for body in deliveries))
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    rows = await scalar(database, "SELECT count(*) FROM campaigns.sales_records")
    assert rows == len(orders)
    kept = {o: a for o, a in orders.items() if o not in refunded}
    expected = sum(amount // 10 for amount in kept.values())
    assert await escrow(client, cid, owner) == (BUDGET, expected)
    later = datetime.now(UTC) + timedelta(days=31)
    assert await sales.verify_all_due(database, settings, later) == len(kept)
    fees = sum((amount // 10) // 10 for amount in kept.values())
    assert (await wallet(client, promoter.headers))["available"] == expected - fees


async def test_a_csv_import_records_each_row_once_and_reports_the_refused_ones(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=BUDGET)
    campaign, secret = await salesman_campaign(client, owner)
    cid = campaign["id"]
    promoter = await campaign_helpers.promoter(client)
    code = (await campaign_helpers.join(client, cid, promoter))["tracking_code"]
    assert (await client.get(f"/r/{code}")).status_code == 302
    await client.put(f"/v1/campaigns/{cid}/coupon", json={"code": "KAI5"}, headers=promoter.headers)
    assert (await deliver(client, cid, secret, event("sale", "w-1", 1_000, coupon="KAI5"))).json()[
        "status"
    ] == "pending"
    csv_body = (
        "order_id,amount,currency,coupon,ref,type\n"
        "w-1,1000,USD,KAI5,,\n"  # the webhook recorded it: a duplicate
        "i-1,2500,USD,kai5,,\n"
        f"i-2,4000,USD,,{code},sale\n"
        "i-2,4000,USD,,,refund\n"
        "i-3,abc,USD,KAI5,,\n"
        "i-4,100,EUR,KAI5,,\n"
        "i-5,100,USD,NOBODY,,\n"
    )
    response = await client.post(
        f"/v1/campaigns/{cid}/sales/import",
        content=csv_body.encode(),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["recorded"], report["duplicates"]) == (3, 1)
    assert [(r["line"], r["code"]) for r in report["refused"]] == [
        (6, "sale_event_invalid"),
        (7, "currency_mismatch"),
        (8, "code_unknown"),
    ]
    rows = await scalar(database, "SELECT count(*) FROM campaigns.sales_records")
    assert rows == 3  # w-1, i-1, i-2 (reversed)
    assert await escrow(client, cid, owner) == (BUDGET, 100 + 250)
    again = await client.post(
        f"/v1/campaigns/{cid}/sales/import",
        content=csv_body.encode(),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert (again.json()["recorded"], again.json()["duplicates"]) == (0, 4)
    assert len(again.json()["refused"]) == 3
    header = await client.post(
        f"/v1/campaigns/{cid}/sales/import",
        content=b"order,amount\n1,2\n",
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert_problem(header, 422, "csv_header_invalid")
    many = "order_id,amount,currency\n" + "".join(f"m-{n},100,USD\n" for n in range(10_001))
    too_many = await client.post(
        f"/v1/campaigns/{cid}/sales/import",
        content=many.encode(),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert_problem(too_many, 422, "csv_too_many_rows")
    assert await scalar(database, "SELECT count(*) FROM campaigns.sales_records") == 3
    latin = await client.post(
        f"/v1/campaigns/{cid}/sales/import",
        content="order_id,amount,currency\nü,1,USD\n".encode("latin-1"),
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert_problem(latin, 422, "csv_not_utf8")
    other = await campaign_helpers.advertiser(client)
    hidden = await client.post(
        f"/v1/campaigns/{cid}/sales/import",
        content=csv_body.encode(),
        headers={**other.headers, "Content-Type": "text/csv"},
    )
    assert_problem(hidden, 404, "campaign_not_found")
