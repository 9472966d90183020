"""The campaign pages over HTTP (issue 14): a brand creates, funds, pauses, resumes and ends a
visibility campaign on its pages while a creator joins it on theirs; clicks come through the
tracking link, the validation window passes (settlement called with a later `now`) and both
dashboards show the same exact figures. The refusals (a bad form, a missing CSRF token, another
brand's campaign, a draft a creator may not see, the wrong role) change nothing. The ledger's
invariants are checked after every test (`money_fixtures`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from campaign_helpers import advertiser, campaign_of, create_campaign, funded_campaign, promoter
from creatorhub.campaigns import settlement
from creatorhub.db import Database
from helpers import Account
from money_fixtures import ledger_verified
from payment_helpers import wallet
from web_helpers import csrf_of, form_token, page_login

__all__ = ["ledger_verified"]  # the ledger's invariants are checked after each test

CAMPAIGN_PATH = re.compile(r"^/brand/campaigns/([0-9a-f-]{36})$")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@contextlib.asynccontextmanager
async def browser_of(app: FastAPI, who: Account) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.41", 40041))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        assert (await page_login(browser, who.email)).status_code == 303
        yield browser


def campaign_form(token: str, **overrides: str) -> dict[str, str]:
    last_day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    form = {
        "csrf_token": token,
        "title": "Winter boots launch",
        "description": "Show our winter boots <b>now</b>",
        "destination_url": "https://shop.example.com/winter",
        "cpv": "2.55",
        "currency": "USD",
        "max_views": "200",
        "max_views_per_promoter": "",
        "starts_on": "",
        "ends_on": last_day,
    }
    return {**form, **overrides}


async def click(app: FastAPI, link: str, user_agent: str, ip: str) -> httpx.Response:
    """A visitor following the link (its own address and browser)."""
    path = link[link.index("/t/") :]
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as visitor:
        return await visitor.get(path, headers={"User-Agent": user_agent})


async def settle_later(app: FastAPI, database: Database, days: int = 4) -> None:
    """The validation window passes: validation, settlement and the stats' roll-up, as the
    hourly job runs them, `days` later."""
    later = datetime.now(UTC) + timedelta(days=days)
    await settlement.settle_now(database, app.state.settings, later)


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, f"no #{element_id} in the page"
    return match.group(1)


async def test_a_campaign_from_creation_to_end_on_both_sides(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=50_00)
    creator = await promoter(client, followers=5_000)
    async with browser_of(app, owner) as brand:
        listed = await brand.get("/brand/campaigns")
        assert listed.status_code == 200
        assert 'href="/brand/campaigns"' in listed.text  # the brand's navigation
        assert text_of(listed.text, "wallet-available") == "USD 50"
        token = await form_token(brand, "/brand/campaigns/new")
        created = await brand.post("/brand/campaigns/new", data=campaign_form(token))
        assert created.status_code == 303, created.text
        match = CAMPAIGN_PATH.match(created.headers["location"])
        assert match, created.headers["location"]
        campaign_id = match.group(1)
        stored = await campaign_of(client, campaign_id, owner)
        # ceil(255 x 200 / 100) = 510
        assert (stored["status"], stored["cpv"], stored["max_views"], stored["budget"]) == (
            "draft",
            255,
            200,
            510,
        )
        page = await brand.get(f"/brand/campaigns/{campaign_id}")
        assert page.status_code == 200
        assert "saved as a draft" in page.text and text_of(page.text, "budget") == "USD 5.10"
        assert "&lt;b&gt;now&lt;/b&gt;" in page.text  # the description, escaped
        funded = await brand.post(
            f"/brand/campaigns/{campaign_id}/fund", data={"csrf_token": csrf_of(page.text)}
        )
        assert funded.status_code == 303
        assert funded.headers["location"] == f"/brand/campaigns/{campaign_id}"
        assert (await wallet(client, owner.headers))["available"] == 50_00 - 5_10
        # A second click moves nothing more.
        again = await brand.post(
            f"/brand/campaigns/{campaign_id}/fund", data={"csrf_token": csrf_of(page.text)}
        )
        assert again.status_code == 303
        assert (await wallet(client, owner.headers))["available"] == 50_00 - 5_10
        page = await brand.get(f"/brand/campaigns/{campaign_id}")
        assert "funded already" in page.text
        assert text_of(page.text, "campaign-status") == "Active"
        assert text_of(page.text, "budget-allocated") == "USD 5.10"
        assert "No promoter has joined yet" in page.text

    async with browser_of(app, creator) as mine:
        listed = await mine.get("/creator/campaigns")
        assert listed.status_code == 200 and 'href="/creator/campaigns"' in listed.text
        assert f'href="/creator/campaigns/{campaign_id}"' in listed.text
        page = await mine.get(f"/creator/campaigns/{campaign_id}")
        assert page.status_code == 200 and "USD 2.55 per 100 views" in page.text
        assert 'id="tracking-link"' not in page.text
        joined = await mine.post(
            f"/creator/campaigns/{campaign_id}/join", data={"csrf_token": csrf_of(page.text)}
        )
        assert joined.status_code == 303
        page = await mine.get(f"/creator/campaigns/{campaign_id}")
        link_match = re.search(
            r'id="tracking-link" type="text" value="([^"]+)" readonly', page.text
        )
        assert link_match, page.text
        link = link_match.group(1)
        assert re.fullmatch(r"https?://[^ ]+/t/[A-Za-z0-9_-]{16}", link), link
        assert 'data-copy="tracking-link"' in page.text and "/static/studio.js" in page.text
        participations = await client.get("/v1/campaigns/participations", headers=creator.headers)
        assert [p["tracking_link"] for p in participations.json()["items"]] == [link]
        # Joining twice is the service's refusal, as a page; still one participation.
        twice = await mine.post(
            f"/creator/campaigns/{campaign_id}/join", data={"csrf_token": csrf_of(page.text)}
        )
        assert twice.status_code == 409 and "<h1" in twice.text
        listed = await mine.get("/creator/campaigns")
        assert listed.text.count(f'href="/creator/campaigns/{campaign_id}"') == 1

        # Four visitors, one of them twice, and a crawler.
        for number in range(4):
            answer = await click(app, link, f"{BROWSER} visitor/{number}", f"198.51.100.{number}")
            assert answer.status_code == 302
            assert answer.headers["location"] == "https://shop.example.com/winter"
        assert (await click(app, link, f"{BROWSER} visitor/0", "198.51.100.0")).status_code == 302
        assert (await click(app, link, CRAWLER, "198.51.100.9")).status_code == 302
        page = await mine.get(f"/creator/campaigns/{campaign_id}")
        assert text_of(page.text, "figure-counted") == "4"
        assert text_of(page.text, "figure-pending") == "4"
        assert text_of(page.text, "figure-paid") == "0"
        assert "pending for 72 hours" in page.text

        await settle_later(app, database)
        page = await mine.get(f"/creator/campaigns/{campaign_id}")
        # 4 views x 255 / 100 = 10.2: 10 paid, 20 hundredths carried.
        assert text_of(page.text, "figure-paid") == "4"
        assert text_of(page.text, "figure-pending") == "0"
        assert text_of(page.text, "figure-gross") == "USD 0.10"
        assert text_of(page.text, "figure-carried") == "20 hundredths of a cent"
        api = await client.get(
            f"/v1/campaigns/participations/{participations.json()['items'][0]['id']}/stats",
            headers=creator.headers,
        )
        earnings = api.json()["earnings"]
        assert text_of(page.text, "figure-fee") == f"USD 0.{earnings['fee']:02}"
        assert text_of(page.text, "figure-net") == f"USD 0.{earnings['net']:02}"
        assert earnings["gross"] == 10 and earnings["carried"] == 20

    async with browser_of(app, owner) as brand:
        page = await brand.get(f"/brand/campaigns/{campaign_id}")
        assert text_of(page.text, "budget-spent") == "USD 0.10"
        assert text_of(page.text, "budget-left") == "USD 5"
        assert text_of(page.text, "total-counted") == "4"
        assert text_of(page.text, "total-paid-views") == "4"
        assert text_of(page.text, "total-spend") == "USD 0.10"
        assert 'role="img"' in page.text and '<title id="chart-title">' in page.text
        assert "4 views counted and USD 0.10 spent" in page.text  # the chart's description
        assert page.text.count("<rect ") == 2  # the day's views and its spend
        assert "Promoter 1" in page.text and '<th scope="row">Total</th>' in page.text

        token = csrf_of(page.text)
        assert (
            await brand.post(f"/brand/campaigns/{campaign_id}/pause", data={"csrf_token": token})
        ).status_code == 303
        assert (await campaign_of(client, campaign_id, owner))["status"] == "paused"
        page = await brand.get(f"/brand/campaigns/{campaign_id}")
        assert "(paused by you)" in page.text and "Resume the campaign" in page.text
        # A click while paused is not counted.
        assert (await click(app, link, f"{BROWSER} late", "198.51.100.20")).status_code == 302
        assert (
            await brand.post(f"/brand/campaigns/{campaign_id}/resume", data={"csrf_token": token})
        ).status_code == 303
        assert (await campaign_of(client, campaign_id, owner))["status"] == "active"
        ended = await brand.post(f"/brand/campaigns/{campaign_id}/end", data={"csrf_token": token})
        assert ended.status_code == 303
        page = await brand.get(f"/brand/campaigns/{campaign_id}")
        assert text_of(page.text, "campaign-status") == "Completed"
        assert text_of(page.text, "budget-refunded") == "USD 5"
        assert "End the campaign" not in page.text
        assert (await wallet(client, owner.headers))["available"] == 50_00 - 10
        # Ending again changes nothing.
        again = await brand.post(f"/brand/campaigns/{campaign_id}/end", data={"csrf_token": token})
        assert again.status_code == 303
        assert "had ended already" in (await brand.get(again.headers["location"])).text
        assert (await wallet(client, owner.headers))["available"] == 50_00 - 10
        listed = await brand.get("/brand/campaigns")
        assert "Winter boots launch" in listed.text and "spent USD 0.10" in listed.text

    async with browser_of(app, creator) as mine:
        page = await mine.get(f"/creator/campaigns/{campaign_id}")
        assert page.status_code == 200 and text_of(page.text, "campaign-status") == "Completed"
        assert text_of(page.text, "figure-paid") == "4"  # their figures stay theirs to see


async def test_a_bad_form_keeps_what_was_typed_and_saves_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await advertiser(client)
    cases: list[tuple[dict[str, str], str, str | None]] = [
        ({"cpv": "0"}, "f-cpv-error", None),
        ({"cpv": "1.005"}, "f-cpv-error", "USD amounts have at most 2 decimals."),
        ({"max_views": "50"}, "f-max_views-error", "at least 100"),
        ({"max_views": "many"}, "f-max_views-error", "whole number"),
        ({"destination_url": "ftp://x.example"}, "f-destination_url-error", "http(s)"),
        ({"starts_on": "2001-01-01"}, "f-starts_on-error", "today or a later day"),
        ({"ends_on": ""}, "f-ends_on-error", "last day"),
        ({"max_views_per_promoter": "500"}, "f-max_views_per_promoter-error", None),
        ({"currency": "XYZ"}, "f-currency-error", None),
        ({"title": ""}, "f-title-error", None),
    ]
    async with browser_of(app, owner) as brand:
        token = await form_token(brand, "/brand/campaigns/new")
        for overrides, error_id, message in cases:
            sent = await brand.post(
                "/brand/campaigns/new",
                data=campaign_form(
                    token,
                    title=overrides.get("title", "Kept title"),
                    **{k: v for k, v in overrides.items() if k != "title"},
                ),
            )
            assert sent.status_code == 422, (overrides, sent.status_code)
            assert f'id="{error_id}"' in sent.text, (overrides, sent.text[-3000:])
            if message:
                assert message in sent.text, (overrides, message)
            if "title" not in overrides:
                assert 'value="Kept title"' in sent.text
            for value in overrides.values():
                assert f'value="{value}"' in sent.text, (overrides, value)
        # The budget the typed rate and views would take is shown with the error.
        sent = await brand.post(
            "/brand/campaigns/new", data=campaign_form(token, destination_url="nowhere")
        )
        assert "Budget for these views: <strong>USD 5.10</strong>" in sent.text
    listed = await client.get("/v1/campaigns", headers=owner.headers)
    assert listed.json()["items"] == []


async def test_without_the_csrf_token_nothing_changes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await advertiser(client, funds=40_00)
    draft = await create_campaign(client, owner)
    active = await funded_campaign(client, owner)
    creator = await promoter(client)
    async with browser_of(app, owner) as brand:
        for path in (
            f"/brand/campaigns/{draft['id']}/fund",
            f"/brand/campaigns/{active['id']}/pause",
            f"/brand/campaigns/{active['id']}/end",
        ):
            refused = await brand.post(path, data={})
            assert refused.status_code == 403 and "This form was not accepted" in refused.text
        refused = await brand.post("/brand/campaigns/new", data=campaign_form(""))
        assert refused.status_code == 403
    async with browser_of(app, creator) as mine:
        refused = await mine.post(f"/creator/campaigns/{active['id']}/join", data={})
        assert refused.status_code == 403
    assert (await campaign_of(client, draft["id"], owner))["status"] == "draft"
    assert (await campaign_of(client, active["id"], owner))["status"] == "active"
    assert (await wallet(client, owner.headers))["available"] == 40_00 - 30_00
    assert len((await client.get("/v1/campaigns", headers=owner.headers)).json()["items"]) == 2
    joined = await client.get("/v1/campaigns/participations", headers=creator.headers)
    assert joined.json()["items"] == []


async def test_another_brands_campaign_is_not_found_and_roles_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, other = await advertiser(client, funds=60_00), await advertiser(client, funds=10_00)
    draft = await create_campaign(client, owner)
    active = await funded_campaign(client, owner)
    async with browser_of(app, other) as brand:
        token = await form_token(brand, "/brand/campaigns/new")
        for campaign in (draft, active):
            missing = await brand.get(f"/brand/campaigns/{campaign['id']}")
            assert missing.status_code == 404 and "Page not found" in missing.text
        for action, campaign in (
            ("fund", draft),
            ("pause", active),
            ("resume", active),
            ("end", active),
            ("end", draft),
        ):
            refused = await brand.post(
                f"/brand/campaigns/{campaign['id']}/{action}", data={"csrf_token": token}
            )
            assert refused.status_code == 404, (action, refused.status_code)
        assert (await brand.get("/brand/campaigns/not-a-uuid")).status_code == 422
        listed = await brand.get("/brand/campaigns")
        assert draft["id"] not in listed.text and active["id"] not in listed.text
        # A brand is no creator.
        assert (await brand.get("/creator/campaigns")).status_code == 403
    assert (await campaign_of(client, draft["id"], owner))["status"] == "draft"
    assert (await campaign_of(client, active["id"], owner))["status"] == "active"
    assert (await wallet(client, owner.headers))["available"] == 60_00 - 30_00
    assert (await wallet(client, other.headers))["available"] == 10_00

    creator = await promoter(client)
    async with browser_of(app, creator) as mine:
        refused = await mine.get("/brand/campaigns")
        assert refused.status_code == 403 and 'href="/brand/campaigns"' not in refused.text
        assert (await mine.get(f"/brand/campaigns/{active['id']}")).status_code == 403
        # A draft is its advertiser's business: not found for a creator, who cannot join it.
        assert (await mine.get(f"/creator/campaigns/{draft['id']}")).status_code == 404
        page = await mine.get(f"/creator/campaigns/{active['id']}")
        refused = await mine.post(
            f"/creator/campaigns/{draft['id']}/join", data={"csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code == 404
        listed = await mine.get("/creator/campaigns")
        assert draft["id"] not in listed.text and active["id"] in listed.text


async def test_a_promoter_sees_only_their_own_figures(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await advertiser(client, funds=30_00)
    campaign = await funded_campaign(client, owner)
    first, second = await promoter(client), await promoter(client)
    links: dict[str, Any] = {}
    for who in (first, second):
        async with browser_of(app, who) as mine:
            page = await mine.get(f"/creator/campaigns/{campaign['id']}")
            joined = await mine.post(
                f"/creator/campaigns/{campaign['id']}/join",
                data={"csrf_token": csrf_of(page.text)},
            )
            assert joined.status_code == 303
            page = await mine.get(f"/creator/campaigns/{campaign['id']}")
            found = re.search(r'id="tracking-link" type="text" value="([^"]+)"', page.text)
            assert found
            links[who.email] = found.group(1)
    for number in range(3):
        await click(app, links[first.email], f"{BROWSER} v{number}", f"192.0.2.{number}")
    async with browser_of(app, second) as mine:
        page = await mine.get(f"/creator/campaigns/{campaign['id']}")
        assert text_of(page.text, "figure-counted") == "0"
        assert links[first.email] not in page.text and links[second.email] in page.text
        # Leaving: the link stops counting; the page offers to join again.
        left = await mine.post(
            f"/creator/campaigns/{campaign['id']}/leave", data={"csrf_token": csrf_of(page.text)}
        )
        assert left.status_code == 303
        page = await mine.get(f"/creator/campaigns/{campaign['id']}")
        assert "You left this campaign" in page.text and "Join again" in page.text
    async with browser_of(app, first) as mine:
        page = await mine.get(f"/creator/campaigns/{campaign['id']}")
        assert text_of(page.text, "figure-counted") == "3"
    # The brand's dashboard lists both promoters, each with their own counts.
    async with browser_of(app, owner) as brand:
        page = await brand.get(f"/brand/campaigns/{campaign['id']}")
        rows = re.findall(
            r'<tr id="promoter-[^"]+"><th scope="row">([^<]+)</th><td>(\d+)</td>', page.text
        )
        assert rows == [("Promoter 1", "3"), ("Promoter 2 (left)", "0")], rows


async def test_the_demo_campaign_shows_views_in_every_state_on_both_dashboards(
    app: FastAPI, database: Database, database_url: str
) -> None:
    from sqlalchemy import text

    from creatorhub.campaigns.demo import MAIN
    from creatorhub.demo import DEMO_PASSWORD, load_demo

    await load_demo(database_url, app.state.settings)
    async with database.read_scope() as session:
        outcomes = dict(
            (
                await session.execute(
                    text(
                        "SELECT v.outcome, count(*) FROM campaigns.views v"
                        " JOIN campaigns.campaigns c ON c.id = v.campaign_id"
                        " WHERE c.title = :title GROUP BY v.outcome"
                    ),
                    {"title": MAIN.title},
                )
            ).all()
        )
        campaign_id = await session.scalar(
            text("SELECT id FROM campaigns.campaigns WHERE title = :title"), {"title": MAIN.title}
        )
    assert outcomes == {
        "paid": 12,
        "validated": 14,
        "pending": 31,
        "rejected": 5,
        "over_cap": 6,
        "campaign_inactive": 2,
        "duplicate": 1,
        "bot": 1,
        "rate_limited": 1,
    }, outcomes
    # A second run builds nothing more.
    await load_demo(database_url, app.state.settings)
    async with database.read_scope() as session:
        count = await session.scalar(text("SELECT count(*) FROM campaigns.views"))
    assert count == sum(outcomes.values()) + 30 + 9  # the second brand's views

    transport = httpx.ASGITransport(app=app, client=("203.0.113.42", 40042))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as brand:
        signed_in = await page_login(brand, "brand@creatorhub.example", password=DEMO_PASSWORD)
        assert signed_in.status_code == 303
        listed = await brand.get("/brand/campaigns")
        assert MAIN.title in listed.text
        page = await brand.get(f"/brand/campaigns/{campaign_id}")
        assert page.status_code == 200
        assert text_of(page.text, "budget-spent") == "USD 0.30"  # 12 views x 2.50 / 100
        assert text_of(page.text, "total-paid-views") == "12"
        assert page.text.count('<tr id="promoter-') == 3
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as sarah:
        signed_in = await page_login(sarah, "sarah@creatorhub.example", password=DEMO_PASSWORD)
        assert signed_in.status_code == 303
        page = await sarah.get(f"/creator/campaigns/{campaign_id}")
        assert text_of(page.text, "figure-paid") == "12"
        assert text_of(page.text, "figure-validated") == "8"
        assert text_of(page.text, "figure-pending") == "7"

    # The demo salesman campaign: a sale in every state, on both pages (issue 15).
    from creatorhub.campaigns.sales.demo import SALESMAN

    async with database.read_scope() as session:
        sold = (
            await session.execute(
                text(
                    "SELECT s.order_id, s.status, s.commission, s.attributed_by"
                    " FROM campaigns.sales_records s"
                    " JOIN campaigns.campaigns c ON c.id = s.campaign_id"
                    " WHERE c.title = :title ORDER BY s.order_id"
                ),
                {"title": SALESMAN.title},
            )
        ).all()
        salesman_id = await session.scalar(
            text("SELECT id FROM campaigns.campaigns WHERE title = :title"),
            {"title": SALESMAN.title},
        )
    assert [tuple(row) for row in sold] == [
        ("WB-1001", "verified", 1_890, "coupon"),
        ("WB-1002", "reversed", 0, "ref_link"),
        ("WB-1003", "pending", 2_190, "coupon"),
        ("WB-1004", "pending", 1_299, "ref_link"),
        ("WB-1005", "reversed", 0, None),  # its refund came first: the sale paid nothing
    ]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as brand:
        await page_login(brand, "brand@creatorhub.example", password=DEMO_PASSWORD)
        page = await brand.get(f"/brand/campaigns/{salesman_id}")
        assert text_of(page.text, "sales-count") == "5"
        assert text_of(page.text, "sales-pending") == "USD 34.89 (2 sales, held on the campaign)"
        assert text_of(page.text, "sales-verified") == "USD 18.90 (1 sale, paid)"
        assert text_of(page.text, "sales-reversed") == "2"
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as sarah:
        await page_login(sarah, "sarah@creatorhub.example", password=DEMO_PASSWORD)
        page = await sarah.get(f"/creator/campaigns/{salesman_id}")
        assert text_of(page.text, "coupon-code") == SALESMAN.coupon
        assert text_of(page.text, "sales-verified") == "USD 18.90 (1 sale)"
        assert text_of(page.text, "sales-net") == "USD 17.01"  # less the 10 % fee
