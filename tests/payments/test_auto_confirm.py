"""The sandbox's auto-confirmation (`CREATORHUB_SANDBOX_AUTO_CONFIRM`): an intent is created
already confirmed, its webhook event deferred in the same transaction, in one more round trip."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from conftest import make_settings
from creatorhub.config import Settings
from helpers import account
from payment_helpers import idem, wallet
from round_trips import RoundTripCounter


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, sandbox_auto_confirm=True)


async def test_an_auto_confirmed_intent_is_credited_by_its_event(
    client: httpx.AsyncClient, app: FastAPI, run_jobs
) -> None:  # type: ignore[no-untyped-def]
    counter = RoundTripCounter.install(app.state.db.engine)
    brand = await account(client, roles=["brand"])
    key = idem()
    with counter.counting() as trips:
        created = await client.post(
            "/v1/funding", json={"amount": 18_00}, headers={**brand.headers, **key}
        )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "processing"
    # BEGIN, authentication, the key, the event's job, the intent + audit + answer, COMMIT.
    assert trips.count == 6, trips.statements
    assert "procrastinate_defer_jobs" in trips.statements[3]
    await run_jobs()  # the sandbox's signed event, through POST /v1/webhooks/sandbox
    shown = await client.get(f"/v1/funding/{created.json()['id']}", headers=brand.headers)
    assert shown.json()["status"] == "succeeded"
    assert (await wallet(client, brand.headers))["available"] == 18_00
    replay = await client.post(
        "/v1/funding", json={"amount": 18_00}, headers={**brand.headers, **key}
    )
    assert replay.content == created.content
