"""The round-trip scenarios of the campaigns operations (issue 14): one successful request per
operation, counted in a world of its own ("campaigns") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client `w.client`, recorder `w.rec`, database); an
operation is called once with `await w.rec.call(method, template, at={...}, json=..., headers=...)`.

Part A's operations: an advertiser creates, lists, funds (from the wallet), reads, pauses,
resumes and ends a campaign; a promoter browses, joins, lists their participations and leaves;
both read and set their details; an administrator verifies the advertiser.
"""

from __future__ import annotations

from typing import Any

from campaign_helpers import advertiser, create_campaign, promoter, visibility_body
from payment_helpers import idem


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    owner = await advertiser(client, funds=20_000)
    fan = await promoter(client, categories=["fashion"], languages=["en"])
    await create_campaign(client, owner, title="An older one")

    body = visibility_body(categories=["fashion"], languages=["en"], min_followers=1_000)
    created = await rec.call("POST", "/v1/campaigns", json=body, headers=owner.headers)
    at = {"campaign_id": created.json()["id"]}
    await rec.call("GET", "/v1/campaigns", headers=owner.headers)
    await rec.call(
        "POST",
        "/v1/campaigns/{campaign_id}/fund",
        at=at,
        json={"source": "wallet"},
        headers={**owner.headers, **idem()},
    )
    await rec.call("GET", "/v1/campaigns/browse", headers=fan.headers)
    await rec.call("POST", "/v1/campaigns/{campaign_id}/join", at=at, headers=fan.headers)
    await rec.call("GET", "/v1/campaigns/participations", headers=fan.headers)
    await rec.call("GET", "/v1/campaigns/{campaign_id}", at=at, headers=owner.headers)
    await rec.call("POST", "/v1/campaigns/{campaign_id}/leave", at=at, headers=fan.headers)
    await rec.call("POST", "/v1/campaigns/{campaign_id}/pause", at=at, headers=owner.headers)
    await rec.call("POST", "/v1/campaigns/{campaign_id}/resume", at=at, headers=owner.headers)
    await rec.call(
        "POST", "/v1/campaigns/{campaign_id}/end", at=at, headers={**owner.headers, **idem()}
    )

    details = {"company_name": "Sneaker Co", "business_categories": ["fashion"]}
    await rec.call("PUT", "/v1/me/advertiser-details", json=details, headers=owner.headers)
    await rec.call("GET", "/v1/me/advertiser-details", headers=owner.headers)
    demographics = {"country": "DE", "city": "Berlin", "audience_countries": ["DE", "AT"]}
    await rec.call("PUT", "/v1/me/promoter-details", json=demographics, headers=fan.headers)
    await rec.call("GET", "/v1/me/promoter-details", headers=fan.headers)
    admin = await w.admin()
    await rec.call(
        "POST",
        "/v1/admin/advertisers/{user_id}/verification",
        at={"user_id": owner.id},
        json={"status": "verified"},
        headers=admin.headers,
    )
