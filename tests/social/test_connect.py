"""Connecting platform accounts through OAuth 2 (state + PKCE) against the fake platforms."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from conftest import make_settings
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow
from helpers import account, assert_problem, scalar

from .conftest import app_client, connect, consent, start
from .fake_platforms import CLIENTS, FakePlatforms

PLATFORMS = ["instagram", "facebook", "youtube", "tiktok"]
EXPECTED = {
    # platform: (platform_user_id, username, followers)
    "instagram": ("17841400000000001", "creator.ig", 1200),
    "facebook": ("10200000000000001", "Creator Name", 3400),  # the larger of two Pages
    "youtube": ("UCfakechannel00000000001", "@creator", 56_000),
    "tiktok": ("tt-open-id-0001", "creator.tt", 78_000),
}


async def state_counts(database: Database) -> tuple[int, int, int]:
    return (
        await scalar(database, "SELECT count(*) FROM social.credentials"),
        await scalar(database, "SELECT count(*) FROM social.oauth_states WHERE used_at IS NULL"),
        await scalar(
            database, "SELECT count(*) FROM social.oauth_states WHERE used_at IS NOT NULL"
        ),
    )


async def assert_no_secret_stored_in_clear(database: Database, fake: FakePlatforms) -> None:
    """No secret the fake issued or received is in any column of social.*, in the clear."""
    dump = await scalar(
        database,
        "SELECT concat_ws(' ',"
        " (SELECT string_agg(c::text, ' ') FROM social.credentials c),"
        " (SELECT string_agg(encode(access_token, 'escape') || ' '"
        "   || coalesce(encode(refresh_token, 'escape'), ''), ' ') FROM social.credentials),"
        " (SELECT string_agg(s::text, ' ') FROM social.oauth_states s),"
        " (SELECT string_agg(encode(code_verifier, 'escape'), ' ') FROM social.oauth_states),"
        " (SELECT string_agg(l::text, ' ') FROM social.logs l))",
    )
    assert dump, "nothing stored"
    leaked = [secret for secret in fake.secrets if len(secret) >= 8 and secret in dump]
    assert leaked == [], leaked


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_connect_stores_the_account_and_encrypted_tokens(
    client: httpx.AsyncClient, database: Database, fake_platforms: FakePlatforms, platform: str
) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, platform)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["redirect_uri"] == f"http://testserver/v1/social/callback/{platform}"
    query = parse_qs(urlsplit(body["authorization_url"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 40
    client_param = "client_key" if platform == "tiktok" else "client_id"
    assert query[client_param] == [CLIENTS[platform][0]]
    assert await state_counts(database) == (0, 1, 0)

    callback = await client.get(await consent(body["authorization_url"]))
    assert callback.status_code == 200, callback.text
    connection = callback.json()
    user_id, username, followers = EXPECTED[platform]
    assert connection["platform"] == platform
    assert connection["platform_user_id"] == user_id
    assert connection["username"] == username
    assert connection["follower_count"] == followers
    assert connection["status"] == "active"
    assert connection["expires_at"] is not None
    assert "access_token" not in connection and "refresh_token" not in connection
    assert await state_counts(database) == (1, 0, 1)

    # The token endpoint saw the PKCE verifier and the app's secret (TikTok: as client_key).
    token_calls = [
        params
        for params in fake_platforms.requests
        if params[0] == "POST"
        for params in [params[2]]
        if params.get("grant_type") == "authorization_code"
    ]
    assert len(token_calls) == 1
    assert token_calls[0]["code_verifier"]
    assert token_calls[0]["client_secret"] == CLIENTS[platform][1]

    listed = await client.get("/v1/social/connections", headers=creator.headers)
    assert listed.status_code == 200
    assert [row["platform"] for row in listed.json()] == [platform]

    stored = await scalar(
        database,
        "SELECT key_id || ':' || length(access_token)::text || ':'"
        " || coalesce(length(refresh_token)::text, '-') FROM social.credentials",
    )
    key_id, access_length, refresh_length = stored.split(":")
    assert key_id == "development-insecure"
    assert int(access_length) > 28  # nonce + ciphertext + tag
    assert (refresh_length == "-") == (platform in ("instagram", "facebook"))
    await assert_no_secret_stored_in_clear(database, fake_platforms)

    actions = await scalar(
        database,
        "SELECT string_agg(action || '=' || status, ',' ORDER BY created_at, action)"
        " FROM social.logs WHERE user_id = CAST(:u AS uuid)",
        u=creator.id,
    )
    assert "oauth_authorize=success" in actions
    assert "oauth_token=success" in actions
    assert "fetch_profile=success" in actions
    assert "oauth_callback=success" in actions
    ips = await scalar(
        database, "SELECT string_agg(DISTINCT host(ip_address), ',') FROM social.logs"
    )
    assert ips == "203.0.113.7"


async def test_reconnecting_replaces_the_connection(
    client: httpx.AsyncClient, database: Database
) -> None:
    creator = await account(client, roles=["creator"])
    first = await connect(client, creator, "youtube")
    second = await connect(client, creator, "youtube")
    assert second["connected_at"] == first["connected_at"]
    assert await scalar(database, "SELECT count(*) FROM social.credentials") == 1


async def test_a_wrong_state_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, fake_platforms: FakePlatforms
) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "youtube")
    location = await consent(started.json()["authorization_url"])
    code = parse_qs(urlsplit(location).query)["code"][0]
    before = await state_counts(database)

    for query in (
        {"code": code, "state": "not-the-state"},
        {"code": code},
        {"code": code, "state": ""},
    ):
        response = await client.get("/v1/social/callback/youtube", params=query)
        assert_problem(response, 400, "invalid_oauth_state")
    # The right state on another platform's callback.
    state = parse_qs(urlsplit(location).query)["state"][0]
    response = await client.get("/v1/social/callback/tiktok", params={"code": code, "state": state})
    assert_problem(response, 400, "invalid_oauth_state")

    assert await state_counts(database) == before
    assert fake_platforms.requests_to("oauth2.googleapis.com/token") == []  # no code exchange
    failures = await scalar(
        database,
        "SELECT count(*) FROM social.logs WHERE action = 'oauth_callback' AND status = 'failure'",
    )
    assert failures == 4
    # The real callback still works afterwards.
    assert (await client.get(location)).status_code == 200


async def test_a_used_state_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "tiktok")
    location = await consent(started.json()["authorization_url"])
    assert (await client.get(location)).status_code == 200
    before = await scalar(database, "SELECT string_agg(c::text, '') FROM social.credentials c")
    again = await client.get(location)
    assert_problem(again, 400, "invalid_oauth_state")
    assert (
        await scalar(database, "SELECT string_agg(c::text, '') FROM social.credentials c") == before
    )


async def test_an_expired_state_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "instagram")
    location = await consent(started.json()["authorization_url"])
    async with database.session_scope() as session:
        await session.execute(
            text("UPDATE social.oauth_states SET expires_at = :t"),
            {"t": utcnow() - timedelta(seconds=1)},
        )
    response = await client.get(location)
    assert_problem(response, 400, "invalid_oauth_state")
    assert "expired" in response.json()["detail"]
    assert await state_counts(database) == (0, 1, 0)


async def test_a_declined_consent_is_a_400_oauth_denied(
    client: httpx.AsyncClient, database: Database, fake_platforms: FakePlatforms
) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "facebook")
    fake_platforms.deny_next("facebook")
    location = await consent(started.json()["authorization_url"])
    assert "error=access_denied" in location
    assert_problem(await client.get(location), 400, "oauth_denied")
    assert await state_counts(database) == (0, 1, 0)


async def test_a_forged_code_is_refused_and_logged(
    client: httpx.AsyncClient, database: Database, fake_platforms: FakePlatforms
) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "youtube")
    location = await consent(started.json()["authorization_url"])
    state = parse_qs(urlsplit(location).query)["state"][0]
    forged = await client.get(
        "/v1/social/callback/youtube", params={"state": state, "code": "youtube-code-forged1234"}
    )
    assert_problem(forged, 400, "oauth_code_rejected")
    assert await state_counts(database) == (0, 1, 0)
    logged = await scalar(
        database,
        "SELECT string_agg(action || '=' || status, ',' ORDER BY created_at)"
        " FROM social.logs WHERE status = 'failure'",
    )
    assert logged == "oauth_token=failure,oauth_callback=failure"
    await assert_no_secret_stored_in_clear(database, fake_platforms)


async def test_the_callback_can_redirect_to_the_app(settings: Settings) -> None:
    redirecting = settings.model_copy(
        update={"social_connected_redirect_url": "https://app.example/settings/connections"}
    )
    async with app_client(redirecting) as http:
        creator = await account(http, roles=["creator"])
        started = await start(http, creator, "tiktok")
        response = await http.get(await consent(started.json()["authorization_url"]))
    assert response.status_code == 303
    assert response.headers["location"] == (
        "https://app.example/settings/connections?platform=tiktok&status=connected"
    )


async def test_authorization_needs_a_signed_in_creator(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/v1/social/connections/youtube/authorize"), 401, "not_authenticated"
    )
    fan = await account(client, roles=["fan"])
    assert_problem(await start(client, fan, "youtube"), 403, "role_required")
    creator = await account(client, roles=["creator"])
    response = await start(client, creator, "myspace")
    assert_problem(response, 422, "validation_error", field="path.platform")


async def test_an_unconfigured_platform_is_a_404(database: Database, database_url: str) -> None:
    async with app_client(make_settings(database_url)) as http:
        creator = await account(http, roles=["creator"])
        response = await start(http, creator, "instagram")
        assert_problem(response, 404, "platform_not_configured")
    assert await scalar(database, "SELECT count(*) FROM social.oauth_states") == 0


async def test_connections_are_private_and_disconnect_wipes_tokens(
    client: httpx.AsyncClient, database: Database
) -> None:
    alice = await account(client, roles=["creator"])
    bob = await account(client, roles=["creator"])
    await connect(client, alice, "youtube")
    await connect(client, alice, "tiktok")

    bobs: list[dict[str, Any]] = (
        await client.get("/v1/social/connections", headers=bob.headers)
    ).json()
    assert bobs == []
    assert_problem(
        await client.delete("/v1/social/connections/youtube", headers=bob.headers),
        404,
        "connection_not_found",
    )
    assert_problem(
        await client.post("/v1/social/connections/youtube/refresh-profile", headers=bob.headers),
        404,
        "connection_not_found",
    )

    gone = await client.delete("/v1/social/connections/youtube", headers=alice.headers)
    assert gone.status_code == 204
    rows = (await client.get("/v1/social/connections", headers=alice.headers)).json()
    assert {row["platform"]: row["status"] for row in rows} == {
        "tiktok": "active",
        "youtube": "disconnected",
    }
    wiped = await scalar(
        database,
        "SELECT length(access_token) = 0 AND refresh_token IS NULL AND expires_at IS NULL"
        " FROM social.credentials WHERE platform = 'youtube'",
    )
    assert wiped is True
    assert_problem(
        await client.post("/v1/social/connections/youtube/refresh-profile", headers=alice.headers),
        409,
        "connection_not_active",
    )
    # Connecting again brings it back.
    again = await connect(client, alice, "youtube")
    assert again["status"] == "active"


async def test_the_same_callback_twice_at_once_connects_once(
    client: httpx.AsyncClient, database: Database, fake_platforms: FakePlatforms
) -> None:
    creator = await account(client, roles=["creator"])
    started = await start(client, creator, "tiktok")
    location = await consent(started.json()["authorization_url"])
    first, second = await asyncio.gather(client.get(location), client.get(location))
    assert sorted([first.status_code, second.status_code]) == [200, 400]
    loser = first if first.status_code == 400 else second
    assert_problem(loser, 400, "invalid_oauth_state")
    assert await state_counts(database) == (1, 0, 1)
    # The code was exchanged once: the first to use the state up (a committed UPDATE) kept the
    # second request out.
    assert len(fake_platforms.requests_to("open.tiktokapis.com/v2/oauth/token/")) == 1
