"""The round-trip scenarios of the campaign settlement operations (issue 14): one
successful request per operation, counted in a world of its own ("campaign_settlement") by
tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client `w.client`, recorder `w.rec`, database); an
operation is called once with `await w.rec.call(method, template, at={...}, json=..., headers=...)`.

The world: a funded visibility campaign with two promoters (built through the ledger and the
models, tests/settlement_helpers.py), views five days ago (past their window) and today; the
admin settles (two promoter-days), then the advertiser and a promoter read their stats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from helpers import account
from settlement_helpers import add_views, build_campaign


async def world(w: Any) -> None:
    promoters = [await account(w.client, roles=["creator"]) for _ in range(2)]
    built = await build_campaign(
        w.client, w.database, cpv=300, max_views=1_000, promoter_accounts=promoters
    )
    first, second = built.promoters
    today = datetime.now(UTC).date()
    past = today - timedelta(days=5)
    await add_views(w.database, built, first, past, 10)
    await add_views(w.database, built, second, past, 4)
    await add_views(w.database, built, first, past, 3, outcome="bot")
    await add_views(w.database, built, first, today, 2)
    admin = await w.admin()

    await w.rec.call("POST", "/v1/admin/campaigns/settle", json={}, headers=admin.headers)
    await w.rec.call(
        "GET",
        "/v1/campaigns/{campaign_id}/stats",
        at={"campaign_id": built.campaign_id},
        url=f"/v1/campaigns/{built.campaign_id}/stats?from={past}&to={today}",
        headers=built.advertiser.headers,
    )
    await w.rec.call(
        "GET",
        "/v1/campaigns/participations/{promoter_campaign_id}/stats",
        at={"promoter_campaign_id": first},
        headers=promoters[0].headers,
    )
