"""No provider call inside a database transaction (issue 12), with the Stripe provider pointed
at the fake Stripe server (`stripe_servers.FakeConnect`) and its hang switch.

While the provider does not answer, the request holds no pooled connection and no lock: other
requests are served, and a retry with the same `Idempotency-Key` is answered 409 in flight at
once. A request that dies during the call is finished by the recovery job it left behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.payments.changes import RECOVERY_TASK
from helpers import account, assert_problem
from market_helpers import create_job
from payment_helpers import count, idem

if TYPE_CHECKING:
    from .stripe_servers import FakeConnect

pytest_plugins = ["payments.stripe_servers"]
pytestmark = [pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning:httpx")]

PROMPTLY = 2.0  # seconds: an answer that waited for nothing


@pytest.fixture
def settings(database_url: str, fake_connect: FakeConnect) -> Settings:
    # Two pooled connections: a request holding one while the provider hangs would show in
    # `checkedout()`, and starve the others.
    return make_settings(
        database_url,
        payments_provider="stripe",
        stripe_api_key="sk_test_provider_calls",
        stripe_webhook_secret="whsec_provider_calls",
        stripe_api_base=fake_connect.url,
        db_pool_size=2,
    )


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(autouse=True)
def provider_answers(fake_connect: FakeConnect) -> Any:
    yield
    fake_connect.release()
    fake_connect.clear_failures()


async def _while_hanging(fake_connect: FakeConnect, request: Any) -> asyncio.Task[httpx.Response]:
    """Start `request` with the provider hanging; return once it waits on the provider."""
    fake_connect.hang()
    task = asyncio.create_task(request)
    await fake_connect.wait_until_held()
    return task


async def _prompt(request: Any) -> httpx.Response:
    started = time.monotonic()
    response: httpx.Response = await request
    assert time.monotonic() - started < PROMPTLY, "waited for the hanging request"
    return response


async def test_a_hanging_provider_holds_no_connection_and_blocks_no_retry(
    client: httpx.AsyncClient, app: FastAPI, fake_connect: FakeConnect, database: Database
) -> None:
    brand = await account(client, roles=["brand"])
    key = idem()
    first = await _while_hanging(
        fake_connect,
        client.post("/v1/funding", json={"amount": 42_00}, headers={**brand.headers, **key}),
    )
    # No connection checked out of the pool while the provider is asked: the intent was
    # committed before the call, and the outcome has a transaction of its own after it.
    assert app.state.db.engine.pool.checkedout() == 0

    # Other requests are served, and see the intent recorded without its provider reference.
    listed = await _prompt(client.get("/v1/funding", headers=brand.headers))
    assert [(i["amount"], i["provider_reference"]) for i in listed.json()] == [(42_00, None)]
    me = await _prompt(client.get("/v1/me", headers=brand.headers))
    assert me.status_code == 200
    # The retry: in flight, at once (neither waiting for the first nor doing it twice).
    retry = await _prompt(
        client.post("/v1/funding", json={"amount": 42_00}, headers={**brand.headers, **key})
    )
    assert_problem(retry, 409, "idempotency_key_in_flight")
    assert retry.headers["retry-after"] == "1"

    fake_connect.release()
    created = await first
    assert created.status_code == 201, created.text
    assert created.json()["provider_reference"].startswith("pi_")
    assert created.json()["status"] == "requires_confirmation"
    replay = await client.post(
        "/v1/funding", json={"amount": 42_00}, headers={**brand.headers, **key}
    )
    assert replay.content == created.content  # byte for byte, the answer stored with the outcome
    assert replay.headers["idempotent-replayed"] == "true"
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 1
    assert len(fake_connect.payment_intents) >= 1


async def test_a_confirmation_calls_the_provider_outside_any_transaction(
    client: httpx.AsyncClient, app: FastAPI, fake_connect: FakeConnect
) -> None:
    brand = await account(client, roles=["brand"])
    created = await client.post(
        "/v1/funding", json={"amount": 15_00}, headers={**brand.headers, **idem()}
    )
    intent = created.json()
    # The customer's browser attaches a card (Stripe.js in production).
    fake_connect.payment_intents[intent["provider_reference"]].update(
        payment_method="pm_card_visa", status="requires_confirmation"
    )
    key = idem()
    path = f"/v1/funding/{intent['id']}/confirm"
    first = await _while_hanging(fake_connect, client.post(path, headers={**brand.headers, **key}))
    assert app.state.db.engine.pool.checkedout() == 0
    shown = await _prompt(client.get(f"/v1/funding/{intent['id']}", headers=brand.headers))
    assert shown.json()["status"] == "processing"  # recorded before the call
    assert_problem(
        await _prompt(client.post(path, headers={**brand.headers, **key})),
        409,
        "idempotency_key_in_flight",
    )
    # Another key: the intent is no longer awaiting confirmation.
    assert_problem(
        await _prompt(client.post(path, headers={**brand.headers, **idem()})),
        409,
        "funding_intent_not_confirmable",
    )
    fake_connect.release()
    confirmed = await first
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "processing"
    replay = await client.post(path, headers={**brand.headers, **key})
    assert replay.content == confirmed.content


async def test_a_request_that_dies_during_the_call_is_finished_by_its_recovery_job(
    client: httpx.AsyncClient, app: FastAPI, fake_connect: FakeConnect, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    brand = await account(client, roles=["brand"])
    key = idem()
    body = {"amount": 77_00}
    dying = await _while_hanging(
        fake_connect, client.post("/v1/funding", json=body, headers={**brand.headers, **key})
    )
    dying.cancel()  # the process dies between recording the intent and recording the outcome
    await asyncio.gather(dying, return_exceptions=True)
    fake_connect.release()
    # What it left: the intent without its provider reference, the key in flight.
    assert (
        await count(
            database,
            "SELECT count(*) FROM payments.funding_intents WHERE provider_reference IS NULL",
        )
        == 1
    )
    assert_problem(
        await client.post("/v1/funding", json=body, headers={**brand.headers, **key}),
        409,
        "idempotency_key_in_flight",
    )
    # The job deferred with the intent runs once any live request has given up (5 minutes);
    # here, now.
    async with database.session_scope() as session:
        due = await session.execute(
            text(
                "UPDATE procrastinate_jobs SET scheduled_at = now()"
                " WHERE task_name = :task AND status = 'todo'"
            ),
            {"task": RECOVERY_TASK},
        )
        assert due.rowcount == 1  # type: ignore[attr-defined]
    await run_jobs()

    recovered = await client.post("/v1/funding", json=body, headers={**brand.headers, **key})
    assert recovered.status_code == 201, recovered.text
    assert recovered.headers["idempotent-replayed"] == "true"
    intent = recovered.json()
    assert intent["amount"] == 77_00 and intent["status"] == "requires_confirmation"
    # The provider's intent the dead request asked for (its key is derived from our id), not
    # a second one.
    assert intent["provider_reference"] in fake_connect.payment_intents
    assert [r for r in fake_connect.requests if r[2] == f"funding-intent-{intent['id']}"] == [
        ("POST", "/v1/payment_intents", f"funding-intent-{intent['id']}")
    ] * 2
    listed = await client.get("/v1/funding", headers=brand.headers)
    assert [i["provider_reference"] for i in listed.json()] == [intent["provider_reference"]]


async def test_a_provider_refusal_is_a_502_and_the_retry_runs_afresh(
    client: httpx.AsyncClient, fake_connect: FakeConnect, database: Database
) -> None:
    brand = await account(client, roles=["brand"])
    key = idem()
    fake_connect.fail_next(400)
    refused = await client.post(
        "/v1/funding", json={"amount": 9_00}, headers={**brand.headers, **key}
    )
    assert_problem(refused, 502, "payments_provider_error")
    # The intent recorded before the call ends canceled; the key is forgotten.
    assert (
        await count(
            database,
            "SELECT count(*) FROM payments.funding_intents WHERE status = 'canceled'"
            " AND provider_reference IS NULL AND failure_reason LIKE 'stripe:%'",
        )
        == 1
    )
    again = await client.post(
        "/v1/funding", json={"amount": 9_00}, headers={**brand.headers, **key}
    )
    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers


async def test_a_payout_account_is_created_outside_any_transaction(
    client: httpx.AsyncClient, app: FastAPI, fake_connect: FakeConnect
) -> None:
    creator = await account(client, roles=["creator"])
    key = idem()
    path = "/v1/payout-accounts"
    first = await _while_hanging(
        fake_connect, client.post(path, json={"country": "US"}, headers={**creator.headers, **key})
    )
    assert app.state.db.engine.pool.checkedout() == 0
    assert_problem(
        await _prompt(
            client.post(path, json={"country": "US"}, headers={**creator.headers, **key})
        ),
        409,
        "idempotency_key_in_flight",
    )
    fake_connect.release()
    created = await first
    assert created.status_code == 201, created.text
    assert created.json()["provider_reference"].startswith("acct_")
    replay = await client.post(path, json={"country": "US"}, headers={**creator.headers, **key})
    assert replay.content == created.content
    # Linking and refreshing ask the provider too, after the reads' transaction ended.
    account_id = created.json()["id"]
    fake_connect.hang()
    link = asyncio.create_task(
        client.post(f"{path}/{account_id}/onboarding-link", headers=creator.headers)
    )
    await fake_connect.wait_until_held()
    assert app.state.db.engine.pool.checkedout() == 0
    fake_connect.release()
    assert (await link).status_code == 200


async def _run_recovery_now(database: Database, run_jobs: Any) -> None:
    """Make the recovery jobs due (they wait five minutes for any live request) and run them."""
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE procrastinate_jobs SET scheduled_at = now()"
                " WHERE task_name = :task AND status = 'todo'"
            ),
            {"task": RECOVERY_TASK},
        )
    await run_jobs()


async def test_a_confirmation_the_provider_failed_for_a_passing_reason_is_finished_later(
    client: httpx.AsyncClient, fake_connect: FakeConnect, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    brand = await account(client, roles=["brand"])
    intent = (
        await client.post("/v1/funding", json={"amount": 8_00}, headers={**brand.headers, **idem()})
    ).json()
    fake_connect.payment_intents[intent["provider_reference"]].update(
        payment_method="pm_card_visa", status="requires_confirmation"
    )
    key = idem()
    path = f"/v1/funding/{intent['id']}/confirm"
    fake_connect.fail_next(500, times=3)  # the first try and the library's two retries
    failed = await client.post(path, headers={**brand.headers, **key})
    assert_problem(failed, 503, "payments_provider_unavailable")
    # The provider may have confirmed: the intent stays processing, the key in flight.
    assert_problem(
        await client.post(path, headers={**brand.headers, **key}), 409, "idempotency_key_in_flight"
    )
    await _run_recovery_now(database, run_jobs)
    finished = await client.post(path, headers={**brand.headers, **key})
    assert finished.status_code == 200, finished.text
    assert finished.headers["idempotent-replayed"] == "true"
    assert finished.json()["status"] == "processing"
    assert fake_connect.payment_intents[intent["provider_reference"]]["status"] == "succeeded"


async def test_a_payout_account_request_that_dies_during_the_call_is_finished_by_its_job(
    client: httpx.AsyncClient, fake_connect: FakeConnect, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    creator = await account(client, roles=["creator"])
    key = idem()
    body = {"country": "US"}
    dying = await _while_hanging(
        fake_connect,
        client.post("/v1/payout-accounts", json=body, headers={**creator.headers, **key}),
    )
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)
    fake_connect.release()
    assert await count(database, "SELECT count(*) FROM payments.payout_accounts") == 0
    await _run_recovery_now(database, run_jobs)
    recovered = await client.post(
        "/v1/payout-accounts", json=body, headers={**creator.headers, **key}
    )
    assert recovered.status_code == 201, recovered.text
    assert recovered.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/v1/payout-accounts", headers=creator.headers)).json()
    assert [a["id"] for a in listed] == [recovered.json()["id"]]
    # The account the dead request asked for (the provider's key is derived from the payee).
    assert len([a for a in fake_connect.accounts.values() if a["email"] == creator.email]) == 1


async def test_a_job_funded_by_the_provider_holds_its_key_through_the_call(
    client: httpx.AsyncClient, app: FastAPI, fake_connect: FakeConnect, database: Database
) -> None:
    brand = await account(client, roles=["brand"])
    job = await create_job(client, brand)
    path, body = f"/v1/marketplace/jobs/{job['uid']}/fund", {"source": "provider"}
    key = idem()
    first = await _while_hanging(
        fake_connect, client.post(path, json=body, headers={**brand.headers, **key})
    )
    assert app.state.db.engine.pool.checkedout() == 0
    # The retry is answered in flight at once: it neither waits nor creates a second intent.
    retry = await _prompt(client.post(path, json=body, headers={**brand.headers, **key}))
    assert_problem(retry, 409, "idempotency_key_in_flight")
    fake_connect.release()
    funded = await first
    assert funded.status_code == 200, funded.text
    answer = funded.json()
    assert answer["job"]["uid"] == job["uid"] and answer["job"]["funded_at"] is None
    assert answer["funding_intent"]["target_type"] == "job"
    assert answer["funding_intent"]["provider_reference"].startswith("pi_")
    replay = await client.post(path, json=body, headers={**brand.headers, **key})
    assert replay.content == funded.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 1


async def test_a_job_funding_that_dies_during_the_call_is_answered_by_its_job_as_a_job(
    client: httpx.AsyncClient, fake_connect: FakeConnect, database: Database, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    brand = await account(client, roles=["brand"])
    job = await create_job(client, brand)
    path, body = f"/v1/marketplace/jobs/{job['uid']}/fund", {"source": "provider"}
    key = idem()
    dying = await _while_hanging(
        fake_connect, client.post(path, json=body, headers={**brand.headers, **key})
    )
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)
    fake_connect.release()
    await _run_recovery_now(database, run_jobs)
    recovered = await client.post(path, json=body, headers={**brand.headers, **key})
    # The recovery job stored the answer the route gives (the job and its intent, 200), not
    # the bare intent of POST /v1/funding.
    assert recovered.status_code == 200, recovered.text
    assert recovered.headers["idempotent-replayed"] == "true"
    answer = recovered.json()
    assert answer["job"]["uid"] == job["uid"]
    intent = answer["funding_intent"]
    assert intent["target_id"] == job["uid"] and intent["amount"] == job["budget"]
    assert intent["provider_reference"] in fake_connect.payment_intents
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 1
