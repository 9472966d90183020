"""Refused OAuth callbacks and a server that cannot seal tokens: each answers its code, stores
no connection and leaves the authorization unused; a refused callback is logged apart (the
connectors' `social.logs`), once."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr
from sqlalchemy import text

from conftest import make_settings
from creatorhub.config import Settings
from creatorhub.db import Database
from helpers import Account, account, assert_problem, scalar

from .conftest import app_client, consent, start
from .fake_platforms import FakePlatforms


async def stored(database: Database) -> str:
    """Connections and authorizations, whole: a refused callback changes neither."""
    return str(
        await scalar(
            database,
            "SELECT json_build_array("
            " (SELECT coalesce(json_agg(c ORDER BY c.id), '[]') FROM social.credentials c),"
            " (SELECT coalesce(json_agg(s ORDER BY s.state_hash), '[]')"
            "  FROM social.oauth_states s))::text",
        )
    )


async def failures(database: Database) -> list[str]:
    """Messages of the failed callbacks the connectors' log recorded, oldest first."""
    async with database.session_scope() as session:
        rows = await session.execute(
            text(
                "SELECT message FROM social.logs WHERE action = 'oauth_callback'"
                " AND status = 'failure' ORDER BY created_at, id"
            )
        )
        return [str(message) for (message,) in rows]


async def started(client: httpx.AsyncClient, who: Account, platform: str) -> str:
    """An authorization in progress; its state."""
    response = await start(client, who, platform)
    assert response.status_code == 200, response.text
    state: str = parse_qs(urlsplit(response.json()["authorization_url"]).query)["state"][0]
    return state


async def test_a_platform_error_in_the_callback_is_oauth_failed(
    client: httpx.AsyncClient, database: Database
) -> None:
    creator = await account(client, roles=["creator"])
    state = await started(client, creator, "youtube")
    before = await stored(database)
    response = await client.get(
        "/v1/social/callback/youtube",
        params={"state": state, "error": "server_error", "error_description": "try later"},
    )
    body = assert_problem(response, 400, "oauth_failed")
    assert body["detail"] == "youtube: server_error (try later)"
    assert await stored(database) == before
    assert await failures(database) == ["oauth_failed: youtube: server_error (try later)"]


async def test_a_callback_without_a_code_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    creator = await account(client, roles=["creator"])
    state = await started(client, creator, "tiktok")
    before = await stored(database)
    response = await client.get("/v1/social/callback/tiktok", params={"state": state})
    assert_problem(response, 400, "oauth_code_missing")
    assert await stored(database) == before
    assert await failures(database) == [
        "oauth_code_missing: the callback carries no authorization code"
    ]


async def test_a_platform_refusing_the_exchange_is_a_platform_error(
    database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    """The platform refuses the app itself (its client secret changed there): 502."""
    stale = settings.model_copy(
        update={"social_instagram_client_secret": SecretStr("a secret the platform dropped")}
    )
    async with app_client(stale) as http:
        creator = await account(http, roles=["creator"])
        response = await start(http, creator, "instagram")
        assert response.status_code == 200, response.text
        callback = await consent(response.json()["authorization_url"])
        before = await stored(database)
        refused = await http.get(callback)
    body = assert_problem(refused, 502, "platform_error")
    assert "Error validating client secret." in body["detail"]
    assert await stored(database) == before
    (failure,) = await failures(database)
    assert failure.startswith("platform_error: instagram refused the request")
    # The code was offered once and not redeemed.
    assert len(fake.requests_to("api.instagram.com/oauth/access_token")) == 1


async def test_without_a_key_in_production_nothing_is_sealed(
    database: Database, database_url: str, fake: FakePlatforms
) -> None:
    """Production refuses the development key: with no key configured, starting a connection
    answers 503 before anything is stored."""
    production = make_settings(
        database_url,
        environment="production",
        payments_provider="stripe",  # production refuses the sandbox
        stripe_api_key="sk_test_unused",
        stripe_webhook_secret="whsec_unused",
        **fake.settings(),
    )
    assert production.token_encryption_keys is None
    async with app_client(production) as http:
        creator = await account(http, roles=["creator"])
        before = await stored(database)
        response = await start(http, creator, "youtube")
    body = assert_problem(response, 503, "token_encryption_unavailable")
    assert "CREATORHUB_TOKEN_ENCRYPTION_KEYS" in body["detail"]
    assert await stored(database) == before
    assert await scalar(database, "SELECT count(*) FROM social.logs") == 0
