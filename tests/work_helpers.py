"""Steps shared by the consultant and seller tests (issue 15), through the API: a funded work
campaign, applications, offers, deliverables and works.

Defaults: a consultant campaign with a range of 50,000 to 100,000 (USD minor units), funded
from the advertiser's wallet with its max_budget (the default budget)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

import campaign_helpers
from helpers import Account

MIN_BUDGET = 50_000
MAX_BUDGET = 100_000


def work_body(type_: str = "consultant", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_,
        "title": "Brand strategy for the spring launch" if type_ == "consultant" else "Reels",
        "description": "Three rounds of work, each reviewed",
        "currency": "USD",
        "min_budget": MIN_BUDGET,
        "max_budget": MAX_BUDGET,
        "ends_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "cpv": None,
        "max_views": None,
        "destination_url": None,
    }
    body.update(overrides)
    return body


async def funded_work_campaign(
    client: httpx.AsyncClient, owner: Account, type_: str = "consultant", **overrides: Any
) -> dict[str, Any]:
    return await campaign_helpers.funded_campaign(client, owner, **work_body(type_, **overrides))


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    who: Account,
    status: int = 200,
    json: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.request(method, path, json=json, headers=who.headers)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def apply(
    client: httpx.AsyncClient, campaign_id: str, who: Account, rate: int, note: str = ""
) -> dict[str, Any]:
    return await call(
        client,
        "POST",
        f"/v1/campaigns/{campaign_id}/applications",
        who,
        201,
        {"proposed_rate": rate, "note": note},
    )


async def accept(client: httpx.AsyncClient, application_id: str, who: Account) -> dict[str, Any]:
    return await call(client, "POST", f"/v1/campaign-applications/{application_id}/accept", who)


async def propose(
    client: httpx.AsyncClient, application_id: str, owner: Account, amount: int, title: str
) -> dict[str, Any]:
    """The deliverable proposed (the application's newest deliverable)."""
    body = await call(
        client,
        "POST",
        f"/v1/campaign-applications/{application_id}/deliverables",
        owner,
        201,
        {"title": title, "amount": amount},
    )
    deliverable: dict[str, Any] = body["deliverables"][-1]
    assert deliverable["title"] == title and deliverable["status"] == "proposed"
    return deliverable


async def agreed(
    client: httpx.AsyncClient, application_id: str, owner: Account, who: Account, amount: int
) -> str:
    """A deliverable proposed and agreed to (held); its id."""
    deliverable = await propose(client, application_id, owner, amount, f"Piece {amount}")
    await call(client, "POST", f"/v1/campaign-deliverables/{deliverable['id']}/agree", who)
    return str(deliverable["id"])


async def submit(client: httpx.AsyncClient, deliverable_id: str, who: Account) -> dict[str, Any]:
    return await call(
        client,
        "POST",
        f"/v1/campaign-deliverables/{deliverable_id}/works",
        who,
        201,
        {"links": ["https://drive.example.com/work/1"], "note": "here it is"},
    )


def deliverable_in(application: dict[str, Any], deliverable_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        d for d in application["deliverables"] if d["id"] == deliverable_id
    )
    return found
