"""Helpers of the review and portfolio tests: a creator with a portfolio, a completed shoot, a
review link. They go through the HTTP API only, so the browser test uses them against a real
server as the in-process tests do over ASGI."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlsplit

import httpx

from helpers import Account, account

_slugs = itertools.count(1)

VALID_REVIEW = {
    "phone": "+44 (20) 7946-0958",
    "email": "Client@Example.com",
    "rating": "5",
    "review_text": "Punctual, creative and the photos were delivered early.",
}


def review_form(**overrides: str) -> dict[str, str]:
    return {**VALID_REVIEW, **overrides}


async def creator(
    client: httpx.AsyncClient,
    *,
    slug: str | None = None,
    display_name: str = "Sarah Snaps",
    bio: str | None = "Fashion and lifestyle photographer in Lisbon.",
    socials: dict[str, str] | None = None,
    profile: dict[str, Any] | None = None,
) -> tuple[Account, str]:
    """A creator account with a saved portfolio; returns it and its slug."""
    # Unverified: reviews move no money, and the browser test's live server has no outbox
    # this process can read the verification code from.
    me = await account(client, roles=["creator"], verified=False)
    slug = slug or f"sarah-{next(_slugs)}"
    changes: dict[str, Any] = {"display_name": display_name, "bio": bio}
    if socials is not None:
        changes["socials"] = socials
    r = await client.patch(f"/v1/users/{me.id}", json=changes, headers=me.headers)
    assert r.status_code == 200, r.text
    body = {
        "slug": slug,
        "categories": ["Fashion", "Lifestyle"],
        "min_budget_minor": 50_000,
        "max_budget_minor": 250_000,
        "budget_currency": "EUR",
        **(profile or {}),
    }
    r = await client.put("/v1/me/creator-profile", json=body, headers=me.headers)
    assert r.status_code == 200, r.text
    return me, slug


async def shoot(
    client: httpx.AsyncClient,
    me: Account,
    *,
    completed: bool = True,
    brand_name: str = "Acme Studio",
    day: str = "2025-05-01",
) -> str:
    r = await client.post(
        "/v1/workspace/shoots",
        json={"date": day, "brand_name": brand_name, "campaign_name": "Summer drop"},
        headers=me.headers,
    )
    assert r.status_code == 201, r.text
    shoot_id: str = r.json()["id"]
    if completed:
        r = await client.post(f"/v1/workspace/shoots/{shoot_id}/complete", headers=me.headers)
        assert r.status_code == 200, r.text
    return shoot_id


async def review_link(
    client: httpx.AsyncClient, me: Account, shoot_id: str
) -> tuple[str, str, dict[str, Any]]:
    """(path of the link, token, response body)."""
    r = await client.post(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    path = urlsplit(body["url"]).path
    return path, path.removeprefix("/review/"), body


async def reviews_of(client: httpx.AsyncClient, me: Account, **params: Any) -> list[Any]:
    r = await client.get("/v1/workspace/reviews", params=params, headers=me.headers)
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items
