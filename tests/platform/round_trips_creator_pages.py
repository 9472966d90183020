"""The round-trip scenarios of the creator pages (issue 13): one successful request per page
operation, counted in a world of its own ("web_creator") by tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser: `async with signed_in_browser(w.app, who.email) as browser:` and
`with recording_in(w.rec, browser): await w.rec.call("GET", "/path", status=200)`.
"""

from __future__ import annotations

import re
from typing import Any

from market_helpers import approve, brand, creator, open_job
from payment_helpers import fund_wallet
from web_helpers import csrf_of, recording_in, signed_in_browser

REQUEST_KEY = re.compile(r'name="request_key" value="([^"]+)"')


async def world(w: Any) -> None:
    """A creator finds a job a brand opened through the API, claims it and submits content on
    the pages (the brand approves through the API), reads their claims and wallet, then sets up
    a payout account, opens its onboarding, requests a payout and cancels it."""
    rec, client = w.rec, w.client
    owner = await brand(client, funds=500_00)
    job = await open_job(client, owner)
    me = await creator(client)
    await fund_wallet(client, me.headers, 50_00)
    async with signed_in_browser(w.app, me.email) as browser:
        with recording_in(rec, browser):
            await rec.call("GET", "/creator")
            at_job = {"job_uid": job["uid"]}
            page = await rec.call("GET", "/creator/jobs/{job_uid}", at=at_job)
            token = {"csrf_token": csrf_of(page.text)}
            claimed = await rec.call(
                "POST", "/creator/jobs/{job_uid}/claim", at=at_job, data=token, status=303
            )
            at_claim = {"claim_uid": claimed.headers["location"].rsplit("/", 1)[-1]}
            await rec.call("GET", "/creator/claims/{claim_uid}", at=at_claim)
            await rec.call(
                "POST",
                "/creator/claims/{claim_uid}/submit",
                at=at_claim,
                data={**token, "platform": "instagram", "url": "https://instagram.com/p/1"},
                status=303,
            )
            approved = await approve(client, at_claim["claim_uid"], owner)
            assert approved.status_code == 200, approved.text
            await rec.call("GET", "/creator/claims")
            await rec.call("GET", "/wallet")
            await rec.call("GET", "/payouts")
            await rec.call("POST", "/payouts/account", data={**token, "country": "US"}, status=303)
            await rec.call("POST", "/payouts/account/onboarding", data=token, status=303)
            page = await browser.get("/payouts")
            key = REQUEST_KEY.search(page.text)
            assert key, page.text[:600]
            form = {**token, "amount": "30", "currency": "USD", "request_key": key[1]}
            await rec.call("POST", "/payouts/request", data=form, status=303)
            listed = await client.get("/v1/payouts", headers=me.headers)
            at_payout = {"payout_id": listed.json()["items"][0]["id"]}
            await rec.call(
                "POST", "/payouts/{payout_id}/cancel", at=at_payout, data=token, status=303
            )
