"""The round-trip scenarios of the consultant and seller pages (issue 15): one successful
request per page operation, counted in a world of its own ("web_campaign_work") by
tests/platform/test_round_trips.py.

`w` is that module's `World` (app, API client, recorder `w.rec`, database); a page is called
through a signed-in browser (`signed_in_browser`, `recording_in`), each POST answering its
redirect (303). The steps around the counted ones go through the API (work_helpers) or the
browser uncounted; the campaign pages themselves are counted by the "web_campaigns" world.

A consultant campaign: three applications (one rejected, one withdrawn, one negotiated and
accepted), three deliverables (one approved, one disputed and decided, one cancelled), the
promoter agreeing to close; a seller campaign where the promoter accepts the brand's offer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from campaign_helpers import advertiser, promoter
from helpers import Account
from web_helpers import csrf_of, recording_in, signed_in_browser
from work_helpers import apply, call, funded_work_campaign, propose, submit


@contextlib.asynccontextmanager
async def _as(w: Any, who: Account) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A signed-in browser recording, with a form token of its pages."""
    async with signed_in_browser(w.app, who.email) as browser:
        page = await browser.get("/account")
        with recording_in(w.rec, browser):
            yield browser, {"csrf_token": csrf_of(page.text), "currency": "USD"}


async def world(w: Any) -> None:
    rec, client = w.rec, w.client
    owner = await advertiser(client, funds=3_000_00)
    chosen, refused, leaving, seller = [await promoter(client) for _ in range(4)]
    admin = await w.admin()
    consultant = await funded_work_campaign(client, owner)
    sellers = await funded_work_campaign(client, owner, "seller")
    at: dict[str, str] = {"campaign_id": consultant["id"]}

    async with _as(w, chosen) as (_, form):
        await rec.call(
            "POST",
            "/creator/campaigns/{campaign_id}/apply",
            at=at,
            data={**form, "amount": "900", "note": "round trips"},
            status=303,
        )
    chosen_app = (await call(client, "GET", "/v1/campaign-applications", chosen))["items"][0]
    refused_app = (await apply(client, consultant["id"], refused, 80_000))["id"]
    leaving_app = (await apply(client, consultant["id"], leaving, 70_000))["id"]
    brand_app = "/brand/campaigns/{campaign_id}/applications/{application_id}"
    creator_app = "/creator/campaigns/{campaign_id}/applications/{application_id}"

    async with _as(w, owner) as (_, form):
        await rec.call(
            "POST",
            brand_app + "/reject",
            at={**at, "application_id": refused_app},
            data={**form, "reason": "another profile"},
            status=303,
        )
        mine = {**at, "application_id": chosen_app["id"]}
        await rec.call(
            "POST", brand_app + "/counter", at=mine, data={**form, "amount": "600"}, status=303
        )
    async with _as(w, leaving) as (_, form):
        await rec.call(
            "POST",
            creator_app + "/withdraw",
            at={**at, "application_id": leaving_app},
            data=form,
            status=303,
        )
    async with _as(w, chosen) as (_, form):
        await rec.call(
            "POST", creator_app + "/counter", at=mine, data={**form, "amount": "700"}, status=303
        )
    async with _as(w, owner) as (_, form):
        await rec.call("POST", brand_app + "/accept", at=mine, data=form, status=303)
        await rec.call(
            "POST",
            brand_app + "/deliverables",
            at=mine,
            data={**form, "title": "Deck", "amount": "300", "due_on": "", "description": ""},
            status=303,
        )
    deck = (
        await call(client, "GET", f"/v1/campaign-applications/{mine['application_id']}", owner)
    )["deliverables"][0]["id"]
    plan = (await propose(client, mine["application_id"], owner, 30_000, "Plan"))["id"]
    spare = (await propose(client, mine["application_id"], owner, 10_000, "Spare"))["id"]
    await call(client, "POST", f"/v1/campaign-deliverables/{plan}/agree", chosen)
    await submit(client, plan, chosen)
    brand_piece = "/brand/campaigns/{campaign_id}/deliverables/{deliverable_id}"
    creator_piece = "/creator/campaigns/{campaign_id}/deliverables/{deliverable_id}"

    async with _as(w, chosen) as (_, form):
        piece = {**at, "deliverable_id": deck}
        await rec.call("POST", creator_piece + "/agree", at=piece, data=form, status=303)
        await rec.call(
            "POST",
            creator_piece + "/works",
            at=piece,
            data={**form, "links": "https://drive.example.com/deck", "note": ""},
            status=303,
        )
    async with _as(w, owner) as (_, form):
        await rec.call("POST", brand_piece + "/approve", at=piece, data=form, status=303)
        await rec.call(
            "POST",
            brand_piece + "/request-changes",
            at={**at, "deliverable_id": plan},
            data={**form, "reason": "too long"},
            status=303,
        )
        await rec.call(
            "POST",
            brand_piece + "/cancel",
            at={**at, "deliverable_id": spare},
            data=form,
            status=303,
        )
    async with _as(w, chosen) as (_, form):
        await rec.call(
            "POST",
            creator_piece + "/dispute",
            at={**at, "deliverable_id": plan},
            data={**form, "reason": "as agreed"},
            status=303,
        )
        await rec.call("POST", creator_app + "/agree-to-close", at=mine, data=form, status=303)
        await rec.call("GET", "/creator/campaign-applications")
    async with _as(w, admin) as (_, form):
        await rec.call("GET", "/admin/campaign-disputes")
        await rec.call(
            "POST",
            "/admin/campaign-disputes/{deliverable_id}/resolve",
            at={"deliverable_id": plan},
            data={**form, "decision": "pay", "amount": "", "note": "the brief said so"},
            status=303,
        )

    # The seller campaign: the brand's counter-offer, accepted by the promoter on the page.
    offered = (await apply(client, sellers["id"], seller, 40_000))["id"]
    await call(
        client,
        "POST",
        f"/v1/campaign-applications/{offered}/offers",
        owner,
        json={"amount": 35_000, "note": ""},
    )
    async with _as(w, seller) as (_, form):
        await rec.call(
            "POST",
            creator_app + "/accept",
            at={"campaign_id": sellers["id"], "application_id": offered},
            data=form,
            status=303,
        )
