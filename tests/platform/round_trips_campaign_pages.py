"""The round-trip scenarios of the campaign pages (issue 14): one successful request per page
operation, counted in a world of its own ("web_campaigns") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser: `async with signed_in_browser(w.app, who.email) as browser:` and
`with recording_in(w.rec, browser): await w.rec.call("GET", "/path", status=200)`.

The brand creates, funds, pauses, resumes and ends campaigns on its pages; a creator browses,
joins and leaves on theirs; clicks through the tracking link and a settlement run make the
figures the dashboards read non-empty.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from campaign_helpers import advertiser, promoter
from web_helpers import csrf_of, recording_in, signed_in_browser


@contextlib.asynccontextmanager
async def _recording(rec: Any, browser: httpx.AsyncClient) -> AsyncIterator[None]:
    with recording_in(rec, browser):
        yield


async def world(w: Any) -> None:
    rec = w.rec
    owner = await advertiser(w.client, funds=100_00)
    creator = await promoter(w.client, followers=5_000)
    last_day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    async with signed_in_browser(w.app, owner.email) as brand, _recording(rec, brand):
        await rec.call("GET", "/brand/campaigns")
        token = csrf_of((await rec.call("GET", "/brand/campaigns/new")).text)
        created = await rec.call(
            "POST",
            "/brand/campaigns/new",
            data={
                "csrf_token": token,
                "title": "Round-trip boots",
                "description": "",
                "destination_url": "https://shop.example.com/boots",
                "cpv": "2.50",
                "currency": "USD",
                "max_views": "1000",
                "max_views_per_promoter": "",
                "starts_on": "",
                "ends_on": last_day,
            },
            status=303,
        )
        at = {"campaign_id": created.headers["location"].rsplit("/", 1)[-1]}
        form = {"csrf_token": token}
        await rec.call("POST", "/brand/campaigns/{campaign_id}/fund", at=at, data=form, status=303)
    async with signed_in_browser(w.app, creator.email) as mine, _recording(rec, mine):
        await rec.call("GET", "/creator/campaigns")
        page = await mine.get(f"/creator/campaigns/{at['campaign_id']}")
        form = {"csrf_token": csrf_of(page.text)}
        await rec.call(
            "POST", "/creator/campaigns/{campaign_id}/join", at=at, data=form, status=303
        )
        page = await mine.get(f"/creator/campaigns/{at['campaign_id']}")
        link = page.text.split('id="tracking-link" type="text" value="', 1)[1].split('"', 1)[0]
    for number in range(3):
        headers = {"User-Agent": f"Mozilla/5.0 round-trip visitor {number}"}
        assert (await w.client.get(link[link.index("/t/") :], headers=headers)).status_code == 302
    async with signed_in_browser(w.app, creator.email) as mine, _recording(rec, mine):
        page = await rec.call("GET", "/creator/campaigns/{campaign_id}", at=at)  # joined
        form = {"csrf_token": csrf_of(page.text)}
        await rec.call(
            "POST", "/creator/campaigns/{campaign_id}/leave", at=at, data=form, status=303
        )
    async with signed_in_browser(w.app, owner.email) as brand, _recording(rec, brand):
        page = await rec.call("GET", "/brand/campaigns/{campaign_id}", at=at)
        form = {"csrf_token": csrf_of(page.text)}
        for action in ("pause", "resume", "end"):
            await rec.call(
                "POST", f"/brand/campaigns/{{campaign_id}}/{action}", at=at, data=form, status=303
            )
