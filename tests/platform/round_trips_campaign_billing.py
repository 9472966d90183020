"""The round-trip scenarios of campaign billing summaries (issue 15): one successful request
per operation, counted in a world of its own ("campaign_billing") by
tests/platform/test_round_trips.py. An advertiser with a funded campaign reads their statement
(JSON, CSV); an administrator recomputes the month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import campaign_helpers


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    owner = await campaign_helpers.advertiser(client, funds=campaign_helpers.DEFAULT_BUDGET)
    await campaign_helpers.funded_campaign(client, owner)
    at = {"period": datetime.now(UTC).strftime("%Y-%m")}
    await rec.call("GET", "/v1/me/billing-summaries/{period}", at=at, headers=owner.headers)
    await rec.call("GET", "/v1/me/billing-summaries/{period}/csv", at=at, headers=owner.headers)
    admin = await w.admin()
    await rec.call("POST", "/v1/admin/billing-summaries/{period}", at=at, headers=admin.headers)


async def pages_world(w: Any) -> None:
    """The statement page and its CSV ("web_statements"), as the advertiser above reads them."""
    from web_helpers import recording_in, signed_in_browser

    rec, client = w.rec, w.client
    owner = await campaign_helpers.advertiser(client, funds=campaign_helpers.DEFAULT_BUDGET)
    await campaign_helpers.funded_campaign(client, owner)
    period = datetime.now(UTC).strftime("%Y-%m")
    async with signed_in_browser(w.app, owner.email) as browser:
        with recording_in(rec, browser):
            await rec.call("GET", "/statements", status=200)
            await rec.call(
                "GET", "/statements/{period}.csv", url=f"/statements/{period}.csv", status=200
            )
