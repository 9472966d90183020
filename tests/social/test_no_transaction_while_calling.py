"""No transaction waits on a platform (issue 12): while the fake platform holds a request, the
callback's state and the refreshed connection are committed and unlocked, other requests and
runs go on at once, and the same authorization or refresh is not done twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlalchemy import select, text

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.social.models import Credential
from creatorhub.social.refreshing import record_refresh, take_lease
from creatorhub.social.tasks import refresh_due_credentials
from helpers import HELD_SECONDS, Account, account, assert_problem, open_transactions, scalar

from .conftest import connect, consent, start
from .fake_platforms import FakePlatforms, Gate
from .test_connect import state_counts
from .test_refresh import stored

TIKTOK_TOKEN = "open.tiktokapis.com/v2/oauth/token/"
# Long enough for a loaded machine, far shorter than the platform is held.
AT_ONCE_SECONDS = 2.0


@asynccontextmanager
async def holding(fake: FakePlatforms) -> AsyncIterator[Gate]:
    """TikTok's token endpoint holds every request until the test releases it (at the latest
    when the block ends)."""
    gate = fake.hang(TIKTOK_TOKEN)
    try:
        yield gate
    finally:
        gate.release.set()


async def due_now(database: Database) -> None:
    """The connection due on the wall clock (a run without a simulated `now` takes it)."""
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE social.credentials SET created_at = now() - interval '23 hours',"
                " expires_at = now() + interval '1 hour'"
            )
        )


async def tiktok_creator(client: httpx.AsyncClient, database: Database) -> Account:
    creator = await account(client, roles=["creator"])
    await connect(client, creator, "tiktok")
    await due_now(database)
    return creator


def refresh_calls(fake: FakePlatforms) -> int:
    return sum(
        1 for call in fake.requests_to(TIKTOK_TOKEN) if call.get("grant_type") == "refresh_token"
    )


async def test_the_callback_holds_nothing_while_the_platform_answers(
    client: httpx.AsyncClient, database: Database, fake: FakePlatforms
) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "tiktok")
    location = await consent(started.json()["authorization_url"])

    async with holding(fake) as held:
        first = asyncio.create_task(client.get(location))
        await asyncio.wait_for(held.entered.wait(), 10)
        await asyncio.sleep(HELD_SECONDS)
        assert await open_transactions(database, "social.oauth_states") == []
        began = time.monotonic()
        # The state was used up and committed before the call; nothing locks it.
        async with database.session_scope() as session:
            used = await session.scalar(
                text("SELECT used_at IS NOT NULL FROM social.oauth_states FOR UPDATE NOWAIT")
            )
        assert used is True
        # The same callback again is refused at once, and the creator's other requests answer.
        assert_problem(await client.get(location), 400, "invalid_oauth_state")
        listed = await client.get("/v1/social/connections", headers=creator.headers)
        assert (listed.status_code, listed.json()) == (200, [])
        assert time.monotonic() - began < AT_ONCE_SECONDS
        assert not first.done()
    response = await asyncio.wait_for(first, 10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert await state_counts(database) == (1, 0, 1)
    assert len(fake.requests_to(TIKTOK_TOKEN)) == 1  # the code was exchanged once


async def test_a_refusing_platform_gives_the_state_back_unused(
    client: httpx.AsyncClient, database: Database, fake: FakePlatforms
) -> None:
    """The state is used up before the call; the platform's refusal gives it back, so a
    refused callback still changes nothing."""
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "youtube")
    location = await consent(started.json()["authorization_url"])
    state = location.split("state=")[1].split("&")[0]
    forged = await client.get(
        "/v1/social/callback/youtube", params={"state": state, "code": "youtube-code-forged1234"}
    )
    assert_problem(forged, 400, "oauth_code_rejected")
    assert await state_counts(database) == (0, 1, 0)
    # The real callback still completes with it.
    assert (await client.get(location)).status_code == 200
    assert await state_counts(database) == (1, 0, 1)


async def test_a_refresh_waiting_on_the_platform_holds_nothing_and_runs_once(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    fake: FakePlatforms,
) -> None:
    creator = await tiktok_creator(client, database)
    before = await stored(database, settings, "tiktok")

    async with holding(fake) as held:
        first = asyncio.create_task(refresh_due_credentials(database, settings))
        await asyncio.wait_for(held.entered.wait(), 10)
        await asyncio.sleep(HELD_SECONDS)
        assert await open_transactions(database, "social.credentials") == []
        began = time.monotonic()
        async with database.session_scope() as session:
            leased = await session.scalar(
                text(
                    "SELECT refresh_leased_until > now() FROM social.credentials FOR UPDATE NOWAIT"
                )
            )
        assert leased is True
        # A second run at once leaves the leased connection alone, without waiting for it.
        assert await asyncio.wait_for(refresh_due_credentials(database, settings), 5) == {}
        # The creator reads the profile meanwhile (its token is not about to expire).
        profile = await client.post(
            "/v1/social/connections/tiktok/refresh-profile", headers=creator.headers
        )
        assert profile.status_code == 200, profile.text
        assert time.monotonic() - began < AT_ONCE_SECONDS
        assert not first.done()
    assert await asyncio.wait_for(first, 10) == {"refreshed": 1}
    after = await stored(database, settings, "tiktok")
    assert after["refresh"] != before["refresh"]
    assert after["refresh"] == fake.refresh_token_of("tiktok")  # the rotated one, kept
    assert refresh_calls(fake) == 1
    assert (
        await scalar(database, "SELECT refresh_leased_until IS NULL FROM social.credentials")
        is True
    )


async def test_a_disconnect_during_a_refresh_is_not_undone_by_it(
    client: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    fake: FakePlatforms,
) -> None:
    creator = await tiktok_creator(client, database)
    async with holding(fake) as held:
        refreshing = asyncio.create_task(refresh_due_credentials(database, settings))
        await asyncio.wait_for(held.entered.wait(), 10)
        began = time.monotonic()
        gone = await client.delete("/v1/social/connections/tiktok", headers=creator.headers)
        assert gone.status_code == 204
        assert time.monotonic() - began < AT_ONCE_SECONDS
    assert await asyncio.wait_for(refreshing, 10) == {"lease_lost": 1}
    wiped = await scalar(
        database,
        "SELECT status = 'disconnected' AND length(access_token) = 0 AND refresh_token IS NULL"
        " AND refresh_leased_until IS NULL FROM social.credentials",
    )
    assert wiped is True
    # The platform's answer was logged all the same.
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM social.logs WHERE action = 'refresh_token'"
            " AND status = 'success'",
        )
        == 1
    )


async def test_a_refresh_whose_worker_died_is_taken_again_once_its_lease_ran_out(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await tiktok_creator(client, database)
    before = await stored(database, settings, "tiktok")
    # A run leases the connection and dies before the platform answers.
    async with database.session_scope() as session:
        dead = await take_lease(session, select(Credential.id), timedelta(minutes=5))
    assert dead is not None

    assert await refresh_due_credentials(database, settings) == {}  # the lease stands
    assert refresh_calls(fake) == 0
    async with database.session_scope() as session:
        await session.execute(
            text("UPDATE social.credentials SET refresh_leased_until = now() - interval '1 second'")
        )
    assert await refresh_due_credentials(database, settings) == {"refreshed": 1}
    after = await stored(database, settings, "tiktok")
    assert after["refresh"] == fake.refresh_token_of("tiktok") != before["refresh"]

    # The dead run's outcome, arriving late, is not written over the new tokens.
    async with database.session_scope() as session:
        late = await record_refresh(session, dead, {"last_error": "late", "refresh_failures": 9})
    assert late is None
    assert await stored(database, settings, "tiktok") == after
