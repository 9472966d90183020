"""Funding through the sandbox provider: intents, confirmation, signed webhooks, exactly once."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from creatorhub.db import Database
from helpers import account, assert_problem
from payment_helpers import (
    count,
    create_intent,
    fund_wallet,
    funding_event,
    idem,
    post_event,
    signed,
    wallet,
)


async def test_money_arrives_only_when_the_provider_confirms(
    client: httpx.AsyncClient, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    brand = await account(client, roles=["brand"])
    intent = await create_intent(client, brand.headers, 25_00)
    assert intent["status"] == "requires_confirmation"
    assert (await wallet(client, brand.headers))["available"] == 0

    confirmed = await client.post(
        f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()}
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "processing"
    assert (await wallet(client, brand.headers))["available"] == 0

    await run_jobs()  # the sandbox's signed event, through POST /v1/webhooks/sandbox
    shown = await client.get(f"/v1/funding/{intent['id']}", headers=brand.headers)
    assert shown.json()["status"] == "succeeded"
    assert (await wallet(client, brand.headers))["available"] == 25_00
    assert await count(database, "SELECT count(*) FROM payments.webhook_events") == 1


async def test_a_declined_payment_moves_no_money(client: httpx.AsyncClient, run_jobs) -> None:  # type: ignore[no-untyped-def]
    brand = await account(client, roles=["brand"])
    intent = await create_intent(client, brand.headers, 13_13)  # the sandbox declines 13.13
    await client.post(f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()})
    await run_jobs()
    shown = (await client.get(f"/v1/funding/{intent['id']}", headers=brand.headers)).json()
    assert shown["status"] == "failed"
    assert shown["failure_reason"] == "sandbox: card declined"
    assert (await wallet(client, brand.headers))["available"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0}, "body.amount"),
        ({"amount": -100}, "body.amount"),
        ({"amount": 12.5}, "body.amount"),
        ({"amount": "1250"}, "body.amount"),
        ({"amount": True}, "body.amount"),
        ({"amount": 10**15}, "body.amount"),
        ({"amount": 100, "currency": "XYZ"}, "body.currency"),
        ({"amount": 100, "currency": "usd"}, "body.currency"),
        ({"amount": 100, "extra": 1}, "body.extra"),
        ({"amount": 100, "target_type": "job"}, "body.target_type"),
    ],
)
async def test_bad_funding_requests_change_nothing(
    client: httpx.AsyncClient, database: Database, body: dict[str, object], field: str
) -> None:
    brand = await account(client, roles=["brand"])
    response = await client.post("/v1/funding", json=body, headers={**brand.headers, **idem()})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["field"] == field or any(e["field"] == field for e in problem["errors"] or [])
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 0


async def test_money_moving_requests_need_an_idempotency_key(client: httpx.AsyncClient) -> None:
    brand = await account(client, roles=["brand"])
    response = await client.post("/v1/funding", json={"amount": 100}, headers=brand.headers)
    assert_problem(response, 400, "idempotency_key_required")


async def test_replayed_create_returns_the_first_answer(
    client: httpx.AsyncClient, database: Database
) -> None:
    brand = await account(client, roles=["brand"])
    headers = {**brand.headers, **idem()}
    first = await client.post("/v1/funding", json={"amount": 500}, headers=headers)
    again = await client.post("/v1/funding", json={"amount": 500}, headers=headers)
    other = await client.post("/v1/funding", json={"amount": 501}, headers=headers)
    assert first.status_code == again.status_code == 201
    # The replay is the first answer's bytes (its keys are not in jsonb's order).
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 422, "idempotency_key_reused")
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 1


async def test_idempotency_race_has_exactly_one_effect(
    client: httpx.AsyncClient, database: Database
) -> None:
    brand = await account(client, roles=["brand"])
    intent = await create_intent(client, brand.headers, 7_00)
    await client.post(f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()})
    key = idem()
    # 20 clients send the same payout-style request at once: one effect, the rest replay or 409.
    responses = await asyncio.gather(
        *(
            client.post("/v1/funding", json={"amount": 9_99}, headers={**brand.headers, **key})
            for _ in range(20)
        )
    )
    # One request does the work; each of the 19 others finds it in flight (409, retry) or
    # finds its answer (201 replayed, the same bytes): the split is the scheduler's, the sum and
    # the one original are not.
    originals = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1, [r.status_code for r in responses]
    assert len(replayed) + len(in_flight) == 19, [r.status_code for r in responses]
    assert all(r.status_code == 201 and r.content == originals[0].content for r in replayed)
    for refused in in_flight:
        assert_problem(refused, 409, "idempotency_key_in_flight")
    assert (
        await count(database, "SELECT count(*) FROM payments.funding_intents WHERE amount = 999")
        == 1
    )


async def test_webhook_chaos_each_event_applies_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    rng = random.Random(20261121)
    brand = await account(client, roles=["brand"])
    intents = []
    for n in range(8):
        intent = await create_intent(client, brand.headers, 1_00 + n)
        await client.post(
            f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()}
        )
        intents.append(intent)
    # Each intent: a success and a late "processing" (out of order); half also get a failure
    # event after the success, which must not undo it.
    events = []
    for n, intent in enumerate(intents):
        reference = intent["provider_reference"]
        events.append(funding_event(reference, "funding.succeeded", intent["amount"]))
        events.append(funding_event(reference, "funding.processing"))
        if n % 2:
            events.append(funding_event(reference, "funding.failed"))
    deliveries = [(event, "good") for event in events for _ in range(rng.randint(1, 5))]
    deliveries += [(rng.choice(events), "bad_signature") for _ in range(6)]
    deliveries += [(rng.choice(events), "stale") for _ in range(6)]
    rng.shuffle(deliveries)

    # Deliveries whose success has not yet arrived are still forward moves; the assertions
    # below hold whatever the order, because every state change only moves forward.
    async def deliver(event: dict[str, object], how: str) -> httpx.Response:
        if how == "bad_signature":
            return await post_event(client, event, secret="whsec_wrong")
        if how == "stale":
            return await post_event(client, event, at=datetime.now(UTC) - timedelta(seconds=301))
        return await post_event(client, event)

    results = await asyncio.gather(*(deliver(event, how) for event, how in deliveries))
    for (_, how), response in zip(deliveries, results, strict=True):
        if how == "good":
            assert response.status_code == 200, response.text
        else:
            expected = "invalid_signature" if how == "bad_signature" else "stale_signature"
            assert_problem(response, 400, expected)

    assert await count(database, "SELECT count(*) FROM payments.webhook_events") == len(events)
    statuses = {
        (await client.get(f"/v1/funding/{i['id']}", headers=brand.headers)).json()["status"]
        for i in intents
    }
    # An intent whose failure event was applied before its success stays failed (both are
    # final): what matters is that each intent is final once and credited iff succeeded.
    assert statuses <= {"succeeded", "failed"}
    credited = await count(
        database,
        "SELECT coalesce(sum(i.amount), 0) FROM payments.funding_intents i"
        " WHERE i.status = 'succeeded'",
    )
    assert (await wallet(client, brand.headers))["available"] == credited
    assert (
        await count(
            database,
            "SELECT count(*) FROM audit.system_logs WHERE component = 'payments.webhooks'",
        )
        == 12
    )


async def test_unconfigured_provider_and_garbage_are_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    event = funding_event("sbx_pi_unknown")
    body, headers = signed(event)
    assert_problem(
        await client.post("/v1/webhooks/stripe", content=body, headers=headers),
        404,
        "unknown_provider",
    )
    assert_problem(
        await client.post("/v1/webhooks/sandbox", content=b"{}", headers={}),
        400,
        "invalid_signature",
    )
    assert_problem(
        await client.post(
            "/v1/webhooks/sandbox",
            content=b"not json",
            headers={"Sandbox-Signature": "t=abc,v1=00"},
        ),
        400,
        "invalid_signature",
    )
    # Signed, but about nothing we know: stored, answered 200, no effect.
    response = await client.post("/v1/webhooks/sandbox", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown_object"


async def test_funded_wallet_shows_in_transactions(client: httpx.AsyncClient) -> None:
    brand = await account(client, roles=["brand"])
    await fund_wallet(client, brand.headers, 30_00)
    await fund_wallet(client, brand.headers, 12_34)
    page = (await client.get("/v1/wallet/transactions?limit=1", headers=brand.headers)).json()
    assert [item["net"] for item in page["items"]] == [12_34]
    assert page["items"][0]["balance_after"] == 42_34
    assert page["items"][0]["kinds"] == ["funding"]
    rest = (
        await client.get(
            f"/v1/wallet/transactions?limit=5&cursor={page['next_cursor']}",
            headers=brand.headers,
        )
    ).json()
    assert [(i["gross"], i["fee"], i["net"]) for i in rest["items"]] == [(30_00, 0, 30_00)]
    assert rest["next_cursor"] is None
    assert_problem(
        await client.get("/v1/wallet/transactions?cursor=%%%", headers=brand.headers),
        422,
        "invalid_cursor",
    )


async def test_funding_a_registered_target_credits_its_escrow(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Modules with escrow (jobs, campaigns) register how to check and find it."""
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from creatorhub.kit.errors import Forbidden
    from creatorhub.ledger import service as ledger
    from creatorhub.ledger.models import AccountKind, OwnerType
    from creatorhub.payments import funding

    brand = await account(client, roles=["brand"])
    campaign_id = uuid.uuid4()

    async def resolve(
        session: AsyncSession, payer: uuid.UUID, target: uuid.UUID, currency: str, amount: int
    ) -> funding.FundingTarget:
        if str(payer) != brand.id or target != campaign_id:
            raise Forbidden("not your campaign", code="not_campaign_owner")
        escrow = await ledger.ensure_account(
            session,
            owner_type=OwnerType.CAMPAIGN,
            owner_id=target,
            kind=AccountKind.ESCROW,
            currency=currency,
        )
        return funding.FundingTarget(escrow_account_id=escrow)

    # Campaigns register their own handlers: this test's stand-in replaces them while it runs.
    previous = funding.TARGET_RESOLVERS.get("campaign")
    funding.register_target("campaign", resolve)
    try:
        other = await account(client, roles=["brand"])
        refused = await client.post(
            "/v1/funding",
            json={"amount": 300_00, "target_type": "campaign", "target_id": str(campaign_id)},
            headers={**other.headers, **idem()},
        )
        assert_problem(refused, 403, "not_campaign_owner")
        created = await client.post(
            "/v1/funding",
            json={"amount": 300_00, "target_type": "campaign", "target_id": str(campaign_id)},
            headers={**brand.headers, **idem()},
        )
        assert created.status_code == 201, created.text
        intent = created.json()
        await client.post(
            f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()}
        )
        response = await post_event(
            client, funding_event(intent["provider_reference"], amount=300_00)
        )
        assert response.json()["outcome"] == "applied_succeeded"
        assert (
            await count(
                database,
                "SELECT balance FROM ledger.accounts WHERE owner_type = 'campaign'"
                " AND owner_id = :id AND kind = 'escrow'",
                id=campaign_id,
            )
            == 300_00
        )
        assert (await wallet(client, brand.headers))["available"] == 0
    finally:
        if previous is None:
            funding.TARGET_RESOLVERS.pop("campaign", None)
        else:
            funding.TARGET_RESOLVERS["campaign"] = previous
