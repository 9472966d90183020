"""Shared steps of the giveaways' HTTP tests: a host with credits, a CSV of comments, a draw
made through the API."""

from __future__ import annotations

from typing import Any

import httpx

from helpers import Account

CONFIG: dict[str, Any] = {
    "winners_count": 2,
    "alternates_count": 3,
    "filters": {"min_followers": None, "exclude_suspicious": True, "exclude_businesses": False},
    "rules": {"require_like": True, "require_comment": True, "comment_keywords": []},
}


def csv_of(rows: list[tuple[str, str, str]]) -> bytes:
    """A CSV export: (author, text, created_at) per comment, with stable ids."""
    lines = ["comment_id,author,author_id,text,created_at,likes,parent_id"]
    for number, (author, text, created_at) in enumerate(rows, 1):
        lines.append(f"c{number:04d},{author},id-{author},{text},{created_at},{number % 7},")
    return ("\n".join(lines) + "\n").encode()


def comments(count: int) -> list[tuple[str, str, str]]:
    return [
        (
            f"fan{number:03d}",
            f"I want it! @friend{number % 5}",
            f"2026-11-{1 + number % 28:02d}T10:00:00Z",
        )
        for number in range(count)
    ]


async def create_draw(
    client: httpx.AsyncClient, host: Account, *, config: dict[str, Any] | None = None, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/giveaways/draws",
        json={
            "title": body.pop("title", "Winter giveaway"),
            "platform": body.pop("platform", "instagram"),
            "post_url": body.pop("post_url", "https://instagram.example/p/abc"),
            "config": config or CONFIG,
            **body,
        },
        headers=host.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def import_csv(
    client: httpx.AsyncClient, host: Account, draw_id: str, data: bytes, name: str = "comments.csv"
) -> httpx.Response:
    return await client.post(
        f"/v1/giveaways/draws/{draw_id}/entries",
        files={"file": (name, data, "text/csv")},
        headers=host.headers,
    )


async def made_draw(
    client: httpx.AsyncClient,
    host: Account,
    rows: list[tuple[str, str, str]],
    *,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A draw created, its comments imported and committed (drawn at once: no beacon)."""
    draw = await create_draw(client, host, config=config)
    imported = await import_csv(client, host, draw["id"], csv_of(rows))
    assert imported.status_code == 200, imported.text
    committed = await client.post(f"/v1/giveaways/draws/{draw['id']}/commit", headers=host.headers)
    assert committed.status_code == 200, committed.text
    made: dict[str, Any] = committed.json()
    return made


async def credits_of(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    response = await client.get("/v1/giveaways/credits", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
