"""The pages of consultant and seller work over HTTP (issue 15): a brand starts a consultant
campaign on the form and funds it from its wallet; a creator applies on the campaign's page;
the brand counters, the creator accepts; the brand proposes deliverables, the creator agrees
and submits work; the brand approves one and asks for changes on the other, which the creator
disputes and an administrator decides on the disputes page (a partial payment). A seller
campaign selects two sellers and pays an approval. Exact figures on the pages and in the
database at every step; every refusal (an amount outside the range, an offer that waits for
the other party, a second approval, ...) is shown on the page with its status and changes
nothing. The ledger's invariants are checked after every test (`money_fixtures`).

Fees: the default rule of kind `campaign_work` is 10 % of the gross.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from campaign_helpers import advertiser, campaign_of, promoter
from creatorhub.db import Database
from helpers import Account, account, grant_roles, scalar
from money_fixtures import ledger_verified
from payment_helpers import wallet
from web_helpers import csrf_of, form_token, page_login
from work_helpers import apply, call, funded_work_campaign

__all__ = ["ledger_verified"]  # the ledger's invariants are checked after each test

CAMPAIGN_PATH = re.compile(r"^/brand/campaigns/([0-9a-f-]{36})$")


@contextlib.asynccontextmanager
async def browser_of(app: FastAPI, who: Account) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.51", 40051))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        assert (await page_login(browser, who.email)).status_code == 303
        yield browser


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, f"no #{element_id} in the page"
    return match.group(1)


def work_form(token: str, type_: str = "consultant", **overrides: str) -> dict[str, str]:
    last_day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    form = {
        "csrf_token": token,
        "type": type_,
        "title": "Brand strategy for the spring launch",
        "description": "Three rounds of work, each reviewed",
        "destination_url": "",
        "cpv": "",
        "currency": "USD",
        "max_views": "",
        "max_views_per_promoter": "",
        "starts_on": "",
        "ends_on": last_day,
        "min_budget": "500",
        "max_budget": "1,000.00",
    }
    return {**form, **overrides}


async def post(
    browser: httpx.AsyncClient, path: str, page: str, status: int = 303, **fields: str
) -> httpx.Response:
    """Send a form of `page` (its CSRF token, and the currency its amount forms carry) to
    `path`; the answer must be `status`."""
    form = {"csrf_token": csrf_of(page), "currency": "USD", **fields}
    answer = await browser.post(path, data=form)
    assert answer.status_code == status, (path, answer.status_code, answer.text[-2000:])
    return answer


async def application_of(client: httpx.AsyncClient, app_id: str, who: Account) -> dict[str, Any]:
    return await call(client, "GET", f"/v1/campaign-applications/{app_id}", who)


async def escrow(client: httpx.AsyncClient, campaign_id: str, owner: Account) -> tuple[int, int]:
    body = await campaign_of(client, campaign_id, owner)
    return body["escrow_balance"], body["escrow_reserved"]


def refused(answer: httpx.Response, status: int, message: str) -> None:
    """A refusal shown on the page again: its status, the message at the top."""
    assert answer.status_code == status, (answer.status_code, answer.text[-2000:])
    assert 'role="alert"' in answer.text and message in answer.text, answer.text[-3000:]


async def test_a_consultant_campaign_from_the_form_to_a_partial_decision(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=1_200_00)
    creator = await promoter(client, followers=5_000)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")

    # The brand starts a consultant campaign on the form and funds it (budget = max_budget).
    async with browser_of(app, owner) as brand:
        token = await form_token(brand, "/brand/campaigns/new")
        bad = await brand.post(
            "/brand/campaigns/new", data=work_form(token, min_budget="900", max_budget="800")
        )
        assert bad.status_code == 422 and 'id="f-max_budget-error"' in bad.text
        assert 'value="consultant" checked' in bad.text and 'value="900"' in bad.text
        created = await brand.post("/brand/campaigns/new", data=work_form(token))
        assert created.status_code == 303, created.text[-2000:]
        match = CAMPAIGN_PATH.match(created.headers["location"])
        assert match, created.headers["location"]
        cid = match.group(1)
        stored = await campaign_of(client, cid, owner)
        assert (stored["type"], stored["min_budget"], stored["max_budget"], stored["budget"]) == (
            "consultant",
            50_000,
            100_000,
            100_000,
        )
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert text_of(page, "work-range") == "USD 500 to USD 1,000"
        assert "No promoter has applied yet" in page and 'id="campaign-chart"' not in page
        await post(brand, f"/brand/campaigns/{cid}/fund", page)
        assert (await wallet(client, owner.headers))["available"] == 20_000
        assert await escrow(client, cid, owner) == (100_000, 0)

    # The creator finds it and applies; out of the range first, which records nothing.
    async with browser_of(app, creator) as mine:
        listed = (await mine.get("/creator/campaigns")).text
        assert "Consultant work: USD 500 to USD 1,000" in listed
        assert 'href="/creator/campaign-applications"' in listed
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert 'id="apply"' in page and text_of(page, "work-range") == "USD 500 to USD 1,000"
        out = await post(mine, f"/creator/campaigns/{cid}/apply", page, 422, amount="1000.01")
        refused(out, 422, "outside the campaign&#39;s range")
        assert 'value="1000.01"' in out.text  # what was typed comes back
        bad = await post(mine, f"/creator/campaigns/{cid}/apply", page, 422, amount="nine")
        refused(bad, 422, "Enter the proposed amount as a number")
        assert await scalar(database, "SELECT count(*) FROM campaigns.campaign_applications") == 0
        await post(
            mine,
            f"/creator/campaigns/{cid}/apply",
            page,
            amount="900",
            note="I did this for two brands",
        )
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert "Your application is sent" in page
        assert text_of(page, "application-status") == "Negotiating"
        assert "waits for the brand's answer" in page and 'id="apply"' not in page
    app_id = str(
        await scalar(database, "SELECT id FROM campaigns.campaign_applications")  # the one
    )

    # The brand counters (out of the range first), and cannot accept its own offer.
    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert f'id="application-{app_id}"' in page and "I did this for two brands" in page
        assert "Accept USD 900" in page
        base = f"/brand/campaigns/{cid}/applications/{app_id}"
        out = await post(brand, f"{base}/counter", page, 422, amount="400")
        refused(out, 422, "outside the campaign&#39;s range")
        await post(brand, f"{base}/counter", page, amount="700", note="our range")
        own = await post(brand, f"{base}/accept", page, 409)
        refused(own, 409, "waits for the other party")
        offers = (await application_of(client, app_id, owner))["offers"]
        assert [(o["party"], o["amount"], o["status"]) for o in offers] == [
            ("promoter", 90_000, "superseded"),
            ("advertiser", 70_000, "open"),
        ]

    # The creator accepts the counter-offer.
    async with browser_of(app, creator) as mine:
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert "Accept USD 700" in page and "our range" in page
        await post(mine, f"/creator/campaigns/{cid}/applications/{app_id}/accept", page)
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert text_of(page, "agreed") == "USD 700"
    committed = "SELECT committed_budget FROM campaigns.campaigns WHERE id = :c"
    assert await scalar(database, committed, c=cid) == 70_000

    # The brand proposes two deliverables; one cent past the agreed amount is refused.
    due = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert text_of(page, "work-committed") == "USD 700 of USD 1,000"
        base = f"/brand/campaigns/{cid}/applications/{app_id}"
        for title, amount in (("Strategy deck", "300"), ("Launch plan", "400.00")):
            await post(
                brand,
                f"{base}/deliverables",
                page,
                title=title,
                amount=amount,
                due_on=due,
                description="As in the brief",
            )
        over = await post(brand, f"{base}/deliverables", page, 409, title="More", amount="0.01")
        refused(over, 409, "more than what is left of the agreed amount")
        assert 'value="More"' in over.text
    deck, plan = (d["id"] for d in (await application_of(client, app_id, owner))["deliverables"])

    # The creator agrees to both (held on the escrow) and submits the work of both.
    async with browser_of(app, creator) as mine:
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert text_of(page, f"deliverable-status-{deck}") == "Proposed: waiting for the promoter"
        assert "Agree to USD 300" in page and f"Due</dt><dd>{due}" in page
        base = f"/creator/campaigns/{cid}/deliverables"
        for deliverable in (deck, plan):
            await post(mine, f"{base}/{deliverable}/agree", page)
        assert await escrow(client, cid, owner) == (100_000, 70_000)
        bad = await post(mine, f"{base}/{deck}/works", page, 422, links="ftp://files.example")
        refused(bad, 422, "Not done")
        links = "https://drive.example.com/deck\n\nhttps://drive.example.com/notes\n"
        await post(mine, f"{base}/{deck}/works", page, links=links, note="v1")
        await post(mine, f"{base}/{plan}/works", page, links="https://drive.example.com/plan")

    # The brand approves the deck (paid at once) and asks for changes on the plan.
    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert (
            'href="https://drive.example.com/notes"' in page and "Approve and pay USD 300" in page
        )
        base = f"/brand/campaigns/{cid}/deliverables"
        await post(brand, f"{base}/{deck}/approve", page)
        assert (await wallet(client, creator.headers))["available"] == 27_000
        twice = await post(brand, f"{base}/{deck}/approve", page, 409)
        refused(twice, 409, "The deliverable is approved and paid.")
        assert (await wallet(client, creator.headers))["available"] == 27_000
        await post(brand, f"{base}/{plan}/request-changes", page, reason="the plan is too long")
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert text_of(page, f"deliverable-status-{deck}") == "Approved and paid"
        assert text_of(page, f"deliverable-paid-{deck}") == "USD 300 (platform fee USD 30)"
        assert text_of(page, f"paid-{app_id}") == "USD 300"
        assert text_of(page, f"deliverable-status-{plan}") == "Changes requested"

    # The creator disputes; the administrator pays 250 of its 400.
    async with browser_of(app, creator) as mine:
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert "Changes asked: the plan is too long" in page
        await post(
            mine,
            f"/creator/campaigns/{cid}/deliverables/{plan}/dispute",
            page,
            reason="the length was agreed in the brief",
        )
    async with browser_of(app, admin) as staff:
        page = (await staff.get("/admin/campaign-disputes")).text
        assert f'id="dispute-{plan}"' in page and "the length was agreed in the brief" in page
        assert 'href="/admin/campaign-disputes" aria-current="page"' in page
        path = f"/admin/campaign-disputes/{plan}/resolve"
        out = await post(staff, path, page, 422, decision="partial", amount="400", note="x")
        refused(out, 422, "A partial payment is more than zero")
        assert (await wallet(client, creator.headers))["available"] == 27_000
        await post(staff, path, page, decision="partial", amount="250", note="half usable")
        page = (await staff.get("/admin/campaign-disputes")).text
        assert "The dispute is decided" in page and "No dispute is waiting" in page
    assert (await wallet(client, creator.headers))["available"] == 27_000 + 22_500
    assert await escrow(client, cid, owner) == (45_000, 0)  # 150 back to the campaign
    decided = await application_of(client, app_id, owner)
    assert [(d["status"], d["paid_amount"], d["fee"]) for d in decided["deliverables"]] == [
        ("approved", 30_000, 3_000),
        ("approved", 25_000, 2_500),
    ]
    assert decided["deliverables"][1]["resolution"] == "partial"

    # The creator's list; they agree to close below the minimum; the brand ends it.
    async with browser_of(app, creator) as mine:
        listed = (await mine.get("/creator/campaign-applications")).text
        row = listed[listed.index(f'id="application-{app_id}"') :]
        assert "Accepted" in row and "USD 700" in row and "USD 550" in row
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        await post(mine, f"/creator/campaigns/{cid}/applications/{app_id}/agree-to-close", page)
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert 'id="close-agreed"' in page
    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        await post(brand, f"/brand/campaigns/{cid}/end", page)
    assert (await wallet(client, owner.headers))["available"] == 20_000 + 45_000


async def test_a_seller_campaign_selects_two_sellers_and_pays_an_approval(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=1_000_00)
    async with browser_of(app, owner) as brand:
        token = await form_token(brand, "/brand/campaigns/new")
        created = await brand.post(
            "/brand/campaigns/new",
            data=work_form(token, "seller", title="Reels", min_budget="100", max_budget="1000"),
        )
        assert created.status_code == 303, created.text[-2000:]
        cid = created.headers["location"].rsplit("/", 1)[-1]
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert text_of(page, "work-range") == "up to USD 1,000"
        await post(brand, f"/brand/campaigns/{cid}/fund", page)
    sellers = [await promoter(client) for _ in range(3)]
    apps = [(await apply(client, cid, seller, 40_000))["id"] for seller in sellers]

    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert page.count("Accept USD 400") == 3
        for app_id in apps[:2]:
            await post(brand, f"/brand/campaigns/{cid}/applications/{app_id}/accept", page)
        # The third would pass max_budget (800 committed of 1,000).
        over = await post(brand, f"/brand/campaigns/{cid}/applications/{apps[2]}/accept", page, 409)
        refused(over, 409, "more than what is left of the campaign&#39;s maximum budget")
        await post(
            brand,
            f"/brand/campaigns/{cid}/applications/{apps[2]}/reject",
            page,
            reason="the budget is taken",
        )
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert text_of(page, "work-committed") == "USD 800 of USD 1,000"
        assert text_of(page, f"application-status-{apps[2]}") == "Rejected"
        await post(
            brand,
            f"/brand/campaigns/{cid}/applications/{apps[0]}/deliverables",
            page,
            title="Three reels",
            amount="400",
        )
    deliverable = (await application_of(client, apps[0], owner))["deliverables"][0]["id"]
    committed = "SELECT committed_budget FROM campaigns.campaigns WHERE id = :c"
    assert await scalar(database, committed, c=cid) == 80_000

    async with browser_of(app, sellers[0]) as mine:
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        base = f"/creator/campaigns/{cid}/deliverables/{deliverable}"
        await post(mine, f"{base}/agree", page)
        again = await post(mine, f"{base}/agree", page, 409)
        refused(again, 409, "Not done")
        await post(mine, f"{base}/works", page, links="https://reels.example.com/1")
    async with browser_of(app, sellers[2]) as rejected:
        page = (await rejected.get(f"/creator/campaigns/{cid}")).text
        assert text_of(page, "reject-reason") == "the budget is taken"
        assert "Withdraw the application" not in page

    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        await post(brand, f"/brand/campaigns/{cid}/deliverables/{deliverable}/approve", page)
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert "The work is approved and paid" in page
        assert text_of(page, f"paid-{apps[0]}") == "USD 400"
    assert (await wallet(client, sellers[0].headers))["available"] == 36_000
    assert await escrow(client, cid, owner) == (60_000, 0)


async def test_refusals_and_outsiders_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner, other = await advertiser(client, funds=2_000_00), await advertiser(client)
    campaign = await funded_work_campaign(client, owner)
    cid = campaign["id"]
    creator, outsider = await promoter(client), await promoter(client)
    app_id = (await apply(client, cid, creator, 60_000))["id"]

    async with browser_of(app, other) as brand:
        token = await form_token(brand, "/brand/campaigns/new")
        # Another brand's campaign and application: not found, nothing accepted.
        assert (await brand.get(f"/brand/campaigns/{cid}")).status_code == 404
        answer = await brand.post(
            f"/brand/campaigns/{cid}/applications/{app_id}/accept", data={"csrf_token": token}
        )
        assert answer.status_code == 404
    async with browser_of(app, owner) as brand:
        # Without the form's token, nothing changes.
        answer = await brand.post(f"/brand/campaigns/{cid}/applications/{app_id}/accept", data={})
        assert answer.status_code == 403
        # An amount typed in another currency than the campaign's: refused, rolled back.
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        path = f"/brand/campaigns/{cid}/applications/{app_id}/counter"
        answer = await post(brand, path, page, 422, amount="550", currency="EUR")
        refused(answer, 422, "currency is not the campaign")
        # Under another campaign's path: not found (rolled back).
        mine = await funded_work_campaign(client, owner, title="Another")
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        path = f"/brand/campaigns/{mine['id']}/applications/{app_id}/accept"
        assert (await brand.post(path, data={"csrf_token": csrf_of(page)})).status_code == 404
    async with browser_of(app, outsider) as stranger:
        page = (await stranger.get(f"/creator/campaigns/{cid}")).text
        assert 'id="apply"' in page  # they have not applied: the form, not the application
        path = f"/creator/campaigns/{cid}/applications/{app_id}/withdraw"
        assert (await stranger.post(path, data={"csrf_token": csrf_of(page)})).status_code == 404
        assert (await stranger.get("/admin/campaign-disputes")).status_code == 403
    body = await application_of(client, app_id, owner)
    assert (body["status"], [o["status"] for o in body["offers"]]) == ("pending", ["open"])
    assert await scalar(database, "SELECT sum(committed_budget) FROM campaigns.campaigns") == 0
