"""The round-trip scenarios of the campaign tracking operations (issue 14): one
successful request per operation, counted in a world of its own ("campaign_tracking") by
tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client `w.client`, recorder `w.rec`, database); an
operation is called once with `await w.rec.call(method, template, at={...}, json=..., headers=...)`.

The click (`GET /t/{code}`) is counted as a running server sends it: the code's participation
and the day's salt are in process memory after the link's first click (an uncounted one here),
so a counted click is its one statement.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from creatorhub.campaigns.models import Campaign, PromoterCampaign
from helpers import account

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def world(w: Any) -> None:
    advertiser = await account(w.client, roles=["brand"])
    promoter = await account(w.client, roles=["creator"])
    now = datetime.now(UTC)
    # The campaign as its row: the tracking needs a funded campaign and a participation only.
    campaign = Campaign(
        advertiser_id=uuid.UUID(advertiser.id),
        type="visibility",
        title="Round trips",
        status="active",
        currency="USD",
        budget=3_000,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=30),
        cpv=300,
        max_views=1_000,
        destination_url="https://shop.example.com/round-trips",
        escrow_account_id=uuid.uuid4(),
        funded_at=now,
    )
    code = uuid.uuid4().hex[:16]
    async with w.database.session_scope() as session:
        session.add(campaign)
        await session.flush()
        session.add(
            PromoterCampaign(campaign_id=campaign.id, promoter_id=promoter.id, tracking_code=code)
        )

    first = await w.client.get(f"/t/{code}", headers={"User-Agent": "first visitor"})
    assert first.status_code == 302, first.text
    click = await w.rec.call(
        "GET", "/t/{path}", at={"path": code}, headers={"User-Agent": BROWSER}, status=302
    )
    assert click.headers["location"] == "https://shop.example.com/round-trips"

    admin = await w.admin()
    await w.rec.call(
        "POST",
        "/v1/admin/campaigns/{campaign_id}/promoters/{promoter_id}/reject-views",
        at={"campaign_id": campaign.id, "promoter_id": promoter.id},
        json={"reason": "a click farm"},
        headers=admin.headers,
    )
