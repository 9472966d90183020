"""The round-trip scenarios of the salesman campaign pages (issue 15): one successful request
per page operation, counted in a world of its own ("web_campaign_sales") by
tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser (`signed_in_browser`, `recording_in`). The secret's and the
import's POSTs answer the campaign page itself (200: the secret, the import's report); the
coupon's its redirect (303). The campaign and its participations are set up through the API;
the campaign pages themselves are counted by the "web_campaigns" world.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

import campaign_helpers
from helpers import Account
from web_helpers import csrf_of, recording_in, signed_in_browser


@contextlib.asynccontextmanager
async def _as(w: Any, who: Account) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A signed-in browser recording, with a form token of its pages."""
    async with signed_in_browser(w.app, who.email) as browser:
        page = await browser.get("/account")
        with recording_in(w.rec, browser):
            yield browser, {"csrf_token": csrf_of(page.text)}


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    owner = await campaign_helpers.advertiser(client, funds=10_000)
    campaign = await campaign_helpers.funded_campaign(
        client,
        owner,
        type="salesman",
        title="Round trips of the sales pages",
        budget=10_000,
        commission_per_sale=1_000,
        tracking_method="ref_link",
        destination_url="https://shop.example.com/round-trips",
        cpv=None,
        max_views=None,
    )
    at = {"campaign_id": campaign["id"]}
    promoter = await campaign_helpers.promoter(client)
    await campaign_helpers.join(client, campaign["id"], promoter)
    base = "/brand/campaigns/{campaign_id}"

    async with _as(w, owner) as (_, form):
        await rec.call("POST", base + "/sales-webhook-secret", at=at, data=form, status=200)
        await rec.call(
            "POST",
            base + "/sales-webhook-secret/rotate",
            at=at,
            data={**form, "confirm": "yes"},
            status=200,
        )
    async with _as(w, promoter) as (_, form):
        await rec.call(
            "POST",
            "/creator/campaigns/{campaign_id}/coupon",
            at=at,
            data={**form, "code": "ROUND10"},
            status=303,
        )
    async with _as(w, owner) as (_, form):
        await rec.call(
            "POST",
            base + "/sales/import",
            at=at,
            data=form,
            files={
                "file": ("sales.csv", b"order_id,amount,currency,coupon\nr-1,3000,USD,ROUND10\n")
            },
            status=200,
        )
