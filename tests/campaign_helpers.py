"""Steps shared by the campaign tests (issue 14): advertisers with funds, promoters with an
audience, campaigns created, funded and joined through the API.

Words: an advertiser is a brand (role `brand`), a promoter a creator (role `creator`).
Defaults: a visibility campaign at 300 (USD minor units) per 100 views, 1,000 views, so its
budget is 3,000 (= ceil(300 * 1000 / 100)).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from helpers import Account, account
from payment_helpers import fund_wallet, idem

_slugs = itertools.count(1)

DEFAULT_CPV = 300
DEFAULT_MAX_VIEWS = 1_000
DEFAULT_BUDGET = 3_000  # ceil(DEFAULT_CPV * DEFAULT_MAX_VIEWS / 100)


async def advertiser(client: httpx.AsyncClient, *, funds: int = 0) -> Account:
    """A brand with `funds` in its available wallet (through the sandbox provider)."""
    user = await account(client, roles=["brand"])
    if funds:
        await fund_wallet(client, user.headers, funds)
    return user


async def promoter(
    client: httpx.AsyncClient,
    *,
    followers: int | None = 5_000,
    categories: list[str] | None = None,
    languages: list[str] | None = None,
) -> Account:
    """A creator whose follower estimates add up to `followers` (None: no profile at all),
    with the profile's categories and languages campaigns match on."""
    user = await account(client, roles=["creator"])
    if followers is not None:
        half = followers // 2
        response = await client.put(
            "/v1/me/creator-profile",
            json={
                "slug": f"promoter-{next(_slugs)}-x",
                "categories": categories or [],
                "languages": languages or [],
                "follower_estimates": {"instagram": half, "tiktok": followers - half},
            },
            headers=user.headers,
        )
        assert response.status_code == 200, response.text
    return user


def visibility_body(**overrides: Any) -> dict[str, Any]:
    """The body of `POST /v1/campaigns` for a visibility campaign (budget left to its default:
    ceil(cpv * max_views / 100)); `overrides` replace fields (None removes one)."""
    body: dict[str, Any] = {
        "type": "visibility",
        "title": "Spring launch",
        "description": "Show our new sneakers to your audience",
        "currency": "USD",
        "cpv": DEFAULT_CPV,
        "max_views": DEFAULT_MAX_VIEWS,
        "destination_url": "https://shop.example.com/spring",
        "ends_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


async def create_campaign(
    client: httpx.AsyncClient, owner: Account, **overrides: Any
) -> dict[str, Any]:
    """A draft campaign (201)."""
    response = await client.post(
        "/v1/campaigns", json=visibility_body(**overrides), headers=owner.headers
    )
    assert response.status_code == 201, response.text
    campaign: dict[str, Any] = response.json()
    return campaign


async def fund(
    client: httpx.AsyncClient, campaign_id: str, owner: Account, *, source: str = "wallet"
) -> httpx.Response:
    return await client.post(
        f"/v1/campaigns/{campaign_id}/fund",
        json={"source": source},
        headers={**owner.headers, **idem()},
    )


async def funded_campaign(
    client: httpx.AsyncClient, owner: Account, **overrides: Any
) -> dict[str, Any]:
    """An active campaign funded from the owner's wallet (which must hold its budget): the
    campaign as its advertiser sees it (with `allocation`)."""
    campaign = await create_campaign(client, owner, **overrides)
    response = await fund(client, campaign["id"], owner)
    assert response.status_code == 200, response.text
    funded: dict[str, Any] = response.json()["campaign"]
    assert funded["status"] == "active", funded
    return funded


async def join(client: httpx.AsyncClient, campaign_id: str, who: Account) -> dict[str, Any]:
    """The promoter joins (201): their participation, with `tracking_code` and
    `tracking_link`."""
    response = await client.post(f"/v1/campaigns/{campaign_id}/join", headers=who.headers)
    assert response.status_code == 201, response.text
    participation: dict[str, Any] = response.json()
    return participation


async def pause(client: httpx.AsyncClient, campaign_id: str, owner: Account) -> httpx.Response:
    return await client.post(f"/v1/campaigns/{campaign_id}/pause", headers=owner.headers)


async def resume(client: httpx.AsyncClient, campaign_id: str, owner: Account) -> httpx.Response:
    return await client.post(f"/v1/campaigns/{campaign_id}/resume", headers=owner.headers)


async def end(client: httpx.AsyncClient, campaign_id: str, owner: Account) -> httpx.Response:
    return await client.post(
        f"/v1/campaigns/{campaign_id}/end", headers={**owner.headers, **idem()}
    )


async def campaign_of(client: httpx.AsyncClient, campaign_id: str, who: Account) -> dict[str, Any]:
    response = await client.get(f"/v1/campaigns/{campaign_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
