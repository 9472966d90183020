"""Draws that wait for a drand round (issue 16): the commitment names a future round; the job
draws once the round is out, mixing its randomness in; a round not out yet waits, a beacon
that cannot be reached is retried (`retried` in the history), and the certificate carries the
round, which an offline verification checks. The drand server is the local fake
(tests/giveaways/fake_drand.py); the ledger is verified after each test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from creatorhub.app import create_app
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.giveaways import tasks
from creatorhub.giveaways.proof.verify import verify_certificate
from draw_helpers import comments, create_draw, csv_of, import_csv
from helpers import account, assert_problem
from money_fixtures import ledger_verified

from .fake_drand import FakeDrand

pytestmark = pytest.mark.usefixtures("ledger_verified")
__all__ = ["ledger_verified"]

DRAND_URL = "http://drand.test"


@pytest.fixture
def drand() -> FakeDrand:
    return FakeDrand(chained=False)


@pytest.fixture
async def beacon_app(
    settings: Settings, database_url: str, drand: FakeDrand
) -> AsyncIterator[FastAPI]:
    configured = settings.model_copy(
        update={
            "giveaway_drand_url": DRAND_URL,
            "giveaway_drand_chain_hash": drand.chain_hash,
            "giveaway_drand_genesis": drand.genesis_time,
            "giveaway_drand_period": drand.period,
        }
    )
    application = create_app(configured, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def beacon_client(beacon_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=beacon_app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_a_draw_waits_for_its_round_then_mixes_it_in(
    beacon_app: FastAPI, beacon_client: httpx.AsyncClient, drand: FakeDrand
) -> None:
    client = beacon_client
    settings: Settings = beacon_app.state.settings
    database: Database = beacon_app.state.db
    host = await account(client)
    draw = await create_draw(client, host)
    await import_csv(client, host, draw["id"], csv_of(comments(25)))
    committed = await client.post(f"/v1/giveaways/draws/{draw['id']}/commit", headers=host.headers)
    assert committed.status_code == 200, committed.text
    body = committed.json()
    assert body["status"] == "processing" and body["winners"] is None
    round_number = body["beacon_round"]
    assert body["commitment"]["beacon"]["round"] == round_number
    due = datetime.fromisoformat(body["beacon_due_at"])
    assert due > datetime.now(UTC) + timedelta(seconds=settings.giveaway_beacon_margin_seconds - 1)
    # Nothing of the result exists yet: the self-check answers "pending".
    check = await client.get(
        f"/v1/giveaways/draws/{draw['id']}/inclusion", params={"username": "fan003"}
    )
    assert check.json()["entries"][0]["status"] == "pending"

    fake = httpx.AsyncClient(transport=httpx.ASGITransport(app=drand.app), base_url=DRAND_URL)
    async with fake:
        early = await tasks.run_due_draws(
            settings, database, client=fake, now=due - timedelta(seconds=5)
        )
        assert early == {"drawn": 0, "waiting": 0, "retried": 0}
        # Due by our clock, not yet out at drand's: it waits.
        drand.now = due.timestamp() - 1
        waiting = await tasks.run_due_draws(settings, database, client=fake, now=due)
        assert waiting == {"drawn": 0, "waiting": 1, "retried": 0}
        drand.fail_next(503)
        drand.now = due.timestamp() + 1
        retried = await tasks.run_due_draws(settings, database, client=fake, now=due)
        assert retried == {"drawn": 0, "waiting": 0, "retried": 1}
        drawn = await tasks.run_due_draws(settings, database, client=fake, now=due)
        assert drawn == {"drawn": 1, "waiting": 0, "retried": 0}

    made = (await client.get(f"/v1/giveaways/draws/{draw['id']}")).json()
    assert made["status"] == "completed"
    assert [h["action"] for h in made["history"]] == [
        "created",
        "imported",
        "started",
        "retried",
        "completed",
    ]
    cert = (await client.get(f"/v1/giveaways/certificates/{made['certificate_hash']}")).content
    document = json.loads(cert)
    assert document["beacon"]["round"] == round_number
    assert document["beacon"]["randomness"] == drand.randomness(round_number)
    assert document["beacon"]["signature_checked"] is False
    entries = (
        await client.get(f"/v1/giveaways/draws/{draw['id']}/entries.jsonl", headers=host.headers)
    ).content
    assert verify_certificate(cert, entries).ok
    # A processing draw's cancellation gave credits back; a completed one cannot be.
    refused = await client.post(
        f"/v1/giveaways/draws/{draw['id']}/cancel", json={}, headers=host.headers
    )
    assert_problem(refused, 409, "draw_completed")


async def test_a_committed_draw_can_still_be_cancelled(
    beacon_client: httpx.AsyncClient,
) -> None:
    client = beacon_client
    host = await account(client)
    draw = await create_draw(client, host)
    await import_csv(client, host, draw["id"], csv_of(comments(5)))
    await client.post(f"/v1/giveaways/draws/{draw['id']}/commit", headers=host.headers)
    cancelled = await client.post(
        f"/v1/giveaways/draws/{draw['id']}/cancel",
        json={"reason": "post deleted"},
        headers=host.headers,
    )
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["commitment"] is not None  # stays public, cancelled
    figures = (await client.get("/v1/giveaways/credits", headers=host.headers)).json()
    assert (figures["balance"], figures["reserved"]) == (3, 0)
