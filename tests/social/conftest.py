"""Fixtures of the social tests: the fake platforms, settings pointing at them, a connect flow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.config import Settings
from helpers import Account

from .fake_platforms import FakePlatforms, fake_platforms

__all__ = ["fake_platforms"]


@pytest.fixture(autouse=True)
def _fresh_fake(fake_platforms: FakePlatforms) -> None:
    fake_platforms.reset()


@pytest.fixture
def fake(fake_platforms: FakePlatforms) -> FakePlatforms:
    return fake_platforms


@pytest.fixture
def settings(database_url: str, fake_platforms: FakePlatforms) -> Settings:
    return make_settings(database_url, **fake_platforms.settings())


async def start(client: httpx.AsyncClient, who: Account, platform: str) -> httpx.Response:
    return await client.post(f"/v1/social/connections/{platform}/authorize", headers=who.headers)


async def consent(authorization_url: str) -> str:
    """Follow the consent URL as the creator's browser would; the callback URL it sends to."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(authorization_url)
    assert page.status_code == 302, page.text
    location: str = page.headers["location"]
    return location


async def connect(client: httpx.AsyncClient, who: Account, platform: str) -> dict[str, Any]:
    """The whole flow: authorize, consent at the fake platform, callback. The connection."""
    started = await start(client, who, platform)
    assert started.status_code == 200, started.text
    callback = await client.get(await consent(started.json()["authorization_url"]))
    assert callback.status_code == 200, callback.text
    body: dict[str, Any] = callback.json()
    return body


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the test's database, with other settings (another configuration)."""
    assert settings.database_url is not None
    app = create_app(settings, database_url=settings.database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
