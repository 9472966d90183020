"""Steps shared by the marketplace tests: funded brands, creators with an audience, jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from helpers import Account, account
from payment_helpers import fund_wallet, idem

_slugs = iter(range(1, 1_000_000))


async def brand(client: httpx.AsyncClient, *, funds: int = 0) -> Account:
    """A brand, with `funds` in its available wallet through the sandbox provider."""
    user = await account(client, roles=["brand"])
    if funds:
        await fund_wallet(client, user.headers, funds)
    return user


async def creator(client: httpx.AsyncClient, *, followers: int | None = 5_000) -> Account:
    """A creator whose follower estimates add up to `followers` (None: none declared)."""
    user = await account(client, roles=["creator"])
    if followers is not None:
        half = followers // 2
        response = await client.put(
            "/v1/me/creator-profile",
            json={
                "slug": f"creator-{next(_slugs)}-x",
                "follower_estimates": {"instagram": half, "tiktok": followers - half},
            },
            headers=user.headers,
        )
        assert response.status_code == 200, response.text
    return user


def job_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Launch reel",
        "description": "Post one reel about the new single",
        "budget": 300_00,
        "currency": "USD",
        "influencer_slots": 3,
        "influence_min": 1_000,
        "influence_max": 50_000,
        "location": "Berlin",
        "genre": "pop",
        "end_date": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
    }
    body.update(overrides)
    return body


async def create_job(client: httpx.AsyncClient, owner: Account, **overrides: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/marketplace/jobs", json=job_body(**overrides), headers=owner.headers
    )
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


async def open_job(client: httpx.AsyncClient, owner: Account, **overrides: Any) -> dict[str, Any]:
    """A job funded from the brand's wallet (which must hold the budget)."""
    job = await create_job(client, owner, **overrides)
    response = await client.post(
        f"/v1/marketplace/jobs/{job['uid']}/fund",
        json={"source": "wallet"},
        headers={**owner.headers, **idem()},
    )
    assert response.status_code == 200, response.text
    funded: dict[str, Any] = response.json()["job"]
    return funded


async def claim(client: httpx.AsyncClient, job_uid: str, who: Account) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/jobs/{job_uid}/claims", headers={**who.headers, **idem()}
    )


async def submit(client: httpx.AsyncClient, claim_uid: str, who: Account) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/claims/{claim_uid}/submissions",
        json={"platform": "instagram", "url": "https://instagram.com/p/abc123", "note": "live"},
        headers=who.headers,
    )


async def approve(client: httpx.AsyncClient, claim_uid: str, who: Account) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/claims/{claim_uid}/approve", headers={**who.headers, **idem()}
    )


async def close(client: httpx.AsyncClient, job_uid: str, who: Account) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/jobs/{job_uid}/close", headers={**who.headers, **idem()}
    )
