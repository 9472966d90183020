"""The token refresh job against the fake OAuth servers: success, transient failures retried,
invalid_grant, rotated and missing refresh tokens; and reading followers on demand."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import defer, job_app
from creatorhub.kit.clock import utcnow
from creatorhub.social.models import Credential
from creatorhub.social.tasks import (
    purge_oauth_states,
    refresh_due_credentials,
    refresh_social_tokens,
)
from creatorhub.social.vault import keyring, open_tokens
from helpers import account, assert_problem, scalar

from .conftest import app_client, connect, start
from .fake_platforms import FakePlatforms
from .test_connect import assert_no_secret_stored_in_clear


async def stored(database: Database, settings: Settings, platform: str) -> dict[str, Any]:
    """The connection's row, with its tokens opened."""
    async with database.session_scope() as session:
        credential = await session.scalar(select(Credential).where(Credential.platform == platform))
        assert credential is not None
        access, refresh = open_tokens(keyring(settings), credential)
        return {
            "access": access,
            "refresh": refresh,
            "status": credential.status,
            "expires_at": credential.expires_at,
            "refreshed_at": credential.refreshed_at,
            "failures": credential.refresh_failures,
            "last_error": credential.last_error,
            "key_id": credential.key_id,
        }


def later(row: dict[str, Any], before_expiry: timedelta) -> datetime:
    expires_at: datetime = row["expires_at"]
    return expires_at - before_expiry


async def creator_with(client: httpx.AsyncClient, *platforms: str) -> None:
    creator = await account(client, roles=["creator"])
    for platform in platforms:
        await connect(client, creator, platform)


async def test_refresh_success_keeps_the_refresh_token_google_does_not_resend(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "youtube")
    before = await stored(database, settings, "youtube")

    # An hour-long token is not due 30 minutes before it expires (a third of its life is 20).
    assert (
        await refresh_due_credentials(database, settings, now=later(before, timedelta(minutes=30)))
        == {}
    )
    counts = await refresh_due_credentials(
        database, settings, now=later(before, timedelta(minutes=15))
    )
    assert counts == {"refreshed": 1}
    after = await stored(database, settings, "youtube")
    assert after["access"] != before["access"]
    assert fake.tokens[after["access"]].kind == "access"  # the platform's live token
    assert after["refresh"] == before["refresh"]  # the answer had none: kept
    assert after["expires_at"] > before["expires_at"]
    assert after["refreshed_at"] is not None
    assert after["status"] == "active"
    refreshes = fake.requests_to("oauth2.googleapis.com/token")
    assert [call["grant_type"] for call in refreshes] == ["authorization_code", "refresh_token"]
    assert refreshes[1]["refresh_token"] == before["refresh"]
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM social.logs WHERE action = 'refresh_token'"
            " AND status = 'success' AND ip_address IS NULL",
        )
        == 1
    )
    await assert_no_secret_stored_in_clear(database, fake)


async def test_a_transient_failure_is_counted_and_retried_next_run(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "youtube")
    before = await stored(database, settings, "youtube")
    now = later(before, timedelta(minutes=5))

    fake.next_refresh("youtube", "transient", "rate_limited")
    assert await refresh_due_credentials(database, settings, now=now) == {"retry": 1}
    first = await stored(database, settings, "youtube")
    assert (first["status"], first["failures"]) == ("active", 1)
    assert "HTTP 503" in first["last_error"]
    assert (first["access"], first["refresh"]) == (before["access"], before["refresh"])

    assert await refresh_due_credentials(database, settings, now=now) == {"retry": 1}
    second = await stored(database, settings, "youtube")
    assert second["failures"] == 2
    assert "rate_limit_exceeded" in second["last_error"]

    assert await refresh_due_credentials(database, settings, now=now) == {"refreshed": 1}
    third = await stored(database, settings, "youtube")
    assert (third["failures"], third["last_error"], third["status"]) == (0, None, "active")
    assert third["access"] != before["access"]
    failures = await scalar(
        database,
        "SELECT count(*) FROM social.logs WHERE action = 'refresh_token' AND status = 'failure'",
    )
    assert failures == 2


async def test_a_network_error_is_transient(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    await creator_with(client, "tiktok")
    unreachable = settings.model_copy(update={"social_api_base_override": "http://127.0.0.1:9"})
    before = await stored(database, unreachable, "tiktok")
    counts = await refresh_due_credentials(
        database, unreachable, now=later(before, timedelta(minutes=1))
    )
    assert counts == {"retry": 1}
    after = await stored(database, unreachable, "tiktok")
    assert after["status"] == "active"
    assert "network error" in after["last_error"]


async def test_invalid_grant_marks_the_connection_reconnect_needed(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "youtube")
    before = await stored(database, settings, "youtube")
    now = later(before, timedelta(minutes=5))
    fake.next_refresh("youtube", "invalid_grant")
    assert await refresh_due_credentials(database, settings, now=now) == {"reconnect_needed": 1}
    after = await stored(database, settings, "youtube")
    assert after["status"] == "reconnect_needed"
    assert "invalid_grant" in after["last_error"]
    assert after["refresh"] == before["refresh"]
    # Not tried again: only a new consent helps.
    assert await refresh_due_credentials(database, settings, now=now) == {}


async def test_a_rotated_refresh_token_is_saved(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "tiktok")
    before = await stored(database, settings, "tiktok")
    # TikTok rotates by default: the old refresh token dies when the new one is issued.
    first = await refresh_due_credentials(database, settings, now=later(before, timedelta(hours=1)))
    assert first == {"refreshed": 1}
    after = await stored(database, settings, "tiktok")
    assert after["refresh"] != before["refresh"]
    assert after["refresh"] == fake.refresh_token_of("tiktok")
    # The saved token works: a second refresh (which would be invalid_grant with the old one).
    second = await refresh_due_credentials(database, settings, now=later(after, timedelta(hours=1)))
    assert second == {"refreshed": 1}
    assert (await stored(database, settings, "tiktok"))["status"] == "active"


async def test_an_empty_or_missing_refresh_token_never_overwrites_the_stored_one(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "tiktok")
    original = (await stored(database, settings, "tiktok"))["refresh"]
    for mode in ("empty", "omit"):
        fake.next_refresh("tiktok", mode)
        row = await stored(database, settings, "tiktok")
        counts = await refresh_due_credentials(
            database, settings, now=later(row, timedelta(hours=1))
        )
        assert counts == {"refreshed": 1}, mode
        after = await stored(database, settings, "tiktok")
        assert after["refresh"] == original, mode
        assert after["access"] != row["access"], mode


async def test_instagram_refreshes_its_long_lived_token(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "instagram")
    before = await stored(database, settings, "instagram")
    assert before["refresh"] is None
    assert before["expires_at"] - utcnow() > timedelta(days=59)
    # A 60-day token: not due 2 days before expiry, due within the 1-day margin.
    assert (
        await refresh_due_credentials(database, settings, now=later(before, timedelta(days=2)))
        == {}
    )
    fake.next_refresh("instagram", "transient")
    now = later(before, timedelta(hours=12))
    assert await refresh_due_credentials(database, settings, now=now) == {"retry": 1}
    assert await refresh_due_credentials(database, settings, now=now) == {"refreshed": 1}
    after = await stored(database, settings, "instagram")
    assert after["access"] != before["access"] and after["refresh"] is None
    assert fake.requests_to("graph.instagram.com/refresh_access_token")[-1]["grant_type"] == (
        "ig_refresh_token"
    )
    fake.next_refresh("instagram", "invalid_grant")
    counts = await refresh_due_credentials(database, settings, now=later(after, timedelta(hours=1)))
    assert counts == {"reconnect_needed": 1}
    await assert_no_secret_stored_in_clear(database, fake)


async def test_facebook_tokens_are_not_refreshable_and_need_a_reconnect_once_expired(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "facebook")
    row = await stored(database, settings, "facebook")
    assert (
        await refresh_due_credentials(database, settings, now=later(row, timedelta(hours=1))) == {}
    )
    counts = await refresh_due_credentials(
        database, settings, now=row["expires_at"] + timedelta(seconds=1)
    )
    assert counts == {"reconnect_needed": 1}
    assert (await stored(database, settings, "facebook"))["status"] == "reconnect_needed"
    assert fake.requests_to("fb_exchange") == []
    assert len(fake.requests_to("graph.facebook.com/v23.0/oauth/access_token")) == 2  # connect only


async def test_two_runs_at_once_refresh_a_rotating_token_once(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    await creator_with(client, "tiktok")
    # Due now, on the wall clock (a simulated later `now` would find the fresh token due too).
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE social.credentials SET created_at = now() - interval '23 hours',"
                " expires_at = now() + interval '1 hour'"
            )
        )
    results = await asyncio.gather(
        refresh_due_credentials(database, settings),
        refresh_due_credentials(database, settings),
    )
    assert sorted(results, key=len) == [{}, {"refreshed": 1}]
    after = await stored(database, settings, "tiktok")
    assert after["status"] == "active"
    assert after["refresh"] == fake.refresh_token_of("tiktok")


async def test_the_periodic_job_runs_in_a_real_worker_and_purges_old_states(
    client: httpx.AsyncClient, database: Database, settings: Settings, run_jobs: Any
) -> None:
    periodic = {
        task.periodic_id: task for task in job_app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["refresh_social_tokens"].cron == "*/10 * * * *"
    creator = await account(client, roles=["creator"])
    await connect(client, creator, "youtube")
    await start(client, creator, "tiktok")  # an authorization never completed
    async with database.session_scope() as session:
        await session.execute(
            # Issued 55 minutes ago, an hour-long token: due (a third of its life is left).
            text(
                "UPDATE social.credentials SET created_at = now() - interval '55 minutes',"
                " expires_at = now() + interval '5 minutes'"
            )
        )
        await session.execute(
            text("UPDATE social.oauth_states SET expires_at = now() - interval '1 minute'")
        )
        await defer(session, refresh_social_tokens, timestamp=0)
    await run_jobs()
    status = await scalar(
        database,
        "SELECT status FROM procrastinate.procrastinate_jobs"
        " WHERE task_name LIKE '%refresh_social_tokens'",
    )
    assert status == "succeeded"
    row = await stored(database, settings, "youtube")
    assert row["refreshed_at"] is not None
    assert row["expires_at"] - utcnow() > timedelta(minutes=50)
    assert await scalar(database, "SELECT count(*) FROM social.oauth_states") == 0
    assert await purge_oauth_states(database) == 0


async def test_refresh_profile_reads_the_follower_count_now(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    creator = await account(client, roles=["creator"])
    await connect(client, creator, "tiktok")
    fake.accounts["tiktok"].followers = 81_234
    response = await client.post(
        "/v1/social/connections/tiktok/refresh-profile", headers=creator.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["follower_count"] == 81_234

    # An expired token is refreshed first.
    async with database.session_scope() as session:
        await session.execute(text("UPDATE social.credentials SET expires_at = now()"))
    fake.accounts["tiktok"].followers = 90_000
    response = await client.post(
        "/v1/social/connections/tiktok/refresh-profile", headers=creator.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["follower_count"] == 90_000
    assert response.json()["refreshed_at"] is not None

    # The platform down: 503, nothing changes.
    before = await scalar(database, "SELECT c::text FROM social.credentials c")
    fake.accounts["tiktok"].followers = 1
    unreachable = settings.model_copy(update={"social_api_base_override": "http://127.0.0.1:9"})
    async with app_client(unreachable) as http:
        response = await http.post(
            "/v1/social/connections/tiktok/refresh-profile", headers=creator.headers
        )
    assert_problem(response, 503, "platform_unavailable")
    assert await scalar(database, "SELECT c::text FROM social.credentials c") == before

    # The token revoked at the platform: the connection needs a reconnect.
    fake.tokens.clear()
    response = await client.post(
        "/v1/social/connections/tiktok/refresh-profile", headers=creator.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "reconnect_needed"
    assert response.json()["follower_count"] == 90_000
