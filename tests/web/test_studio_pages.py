"""The creator's studio pages over HTTP: the portfolio editor, shoots and planned uploads, the
calendar month with blocked dates, review links and publishing reviews, each checked against
the API's reads and the public pages; and the refusals (a bad form, a missing CSRF token, a
brand, another creator's rows), which change nothing.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from helpers import PASSWORD, Account, account, app_database, scalar
from review_helpers import creator, review_form, reviews_of, shoot
from web import test_browser as shared
from web.test_browser import DESKTOP, LiveServer
from web.test_shell_browser import AXE, AXE_PRESENT, CSP_LISTENER, Walk
from web_helpers import csrf_of, form_token, signed_in_browser

SHOOT_PATH = re.compile(r"^/studio/shoots/([0-9a-f-]{36})$")
REVIEW_URL = re.compile(r'id="review-url" type="text" value="([^"]+)" readonly')


def portfolio_form(token: str, slug: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "display_name": "Sarah Lens",
        "bio": "Editorial photographer.\nLisbon and Porto.",
        "slug": slug,
        "photo_url": "",
        "categories": "Editorial, Portraits",
        "languages": "en, pt",
        "skills": "Lighting",
        "budget_min": "499.99",
        "budget_max": "2500",
        "budget_currency": "EUR",
        "audience": "instagram: 12,000\ntiktok: 800",
        "contact_email": "",
        "website": "https://sarah.example",
    }
    return {**form, **overrides}


def shoot_form(token: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "date": "2026-12-18",
        "time": "10:30",
        "location": "Lisbon",
        "brand_name": "Acme Studio",
        "campaign_name": "Winter drop",
        "notes": "Bring the reflector",
        "amount": "450.50",
        "currency": "EUR",
    }
    return {**form, **overrides}


async def api_get(client: httpx.AsyncClient, who: Account, path: str, **params: Any) -> Any:
    response = await client.get(path, headers=who.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_portfolio_is_edited_on_the_page_and_shows_publicly(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me, slug = await creator(client, socials={"instagram": "@sarah"})
    async with signed_in_browser(app, me.email) as browser:
        page = await browser.get("/studio/portfolio")
        assert page.status_code == 200
        assert '<script src="/static/studio.js" defer></script>' in page.text
        assert f'href="/portfolio/{slug}"' in page.text
        assert 'data-preview="display_name"' in page.text and "Sarah Snaps" in page.text
        assert 'href="/studio/shoots"' in page.text  # the Studio entry of the navigation
        saved = await browser.post(
            "/studio/portfolio", data=portfolio_form(csrf_of(page.text), slug)
        )
        assert saved.status_code == 303 and saved.headers["location"] == "/studio/portfolio"
        again = await browser.get("/studio/portfolio")
        assert "Your portfolio is saved" in again.text
        assert 'value="499.99"' in again.text and "instagram: 12000" in again.text

    public = await client.get(f"/portfolio/{slug}")
    assert public.status_code == 200
    assert "Sarah Lens" in public.text and "Editorial photographer." in public.text
    assert "EUR 499.99 – 2,500" in public.text
    assert 'href="https://sarah.example"' in public.text
    body = await api_get(client, me, f"/v1/portfolio/{slug}")
    assert body["budget"] == {"min_minor": 49_999, "max_minor": 250_000, "currency": "EUR"}
    assert body["categories"] == ["Editorial", "Portraits"]
    assert body["declared_audience"] == {"instagram": 12_000, "tiktok": 800}
    user = await api_get(client, me, f"/v1/users/{me.id}")
    # The other published socials are kept; the website is added.
    assert user["socials"] == {"instagram": "@sarah", "website": "https://sarah.example"}


async def test_a_new_creator_publishes_a_first_portfolio(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me = await account(client, roles=["creator"])
    async with signed_in_browser(app, me.email) as browser:
        page = await browser.get("/studio/portfolio")
        assert page.status_code == 200 and "Choose its address below" in page.text
        assert 'href="/portfolio/' not in page.text
        form = portfolio_form(csrf_of(page.text), "first-page-slug", budget_min="", budget_max="")
        saved = await browser.post("/studio/portfolio", data=form)
        assert saved.status_code == 303, saved.text
        assert 'href="/portfolio/first-page-slug"' in (await browser.get("/studio/portfolio")).text
    body = await api_get(client, me, "/v1/portfolio/first-page-slug")
    assert body["display_name"] == "Sarah Lens" and body["budget"] is None


async def test_a_bad_portfolio_form_comes_back_with_its_messages_and_saves_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me, slug = await creator(client)
    _, taken = await creator(client)
    before = await api_get(client, me, f"/v1/portfolio/{slug}")
    async with signed_in_browser(app, me.email) as browser:
        token = await form_token(browser, "/studio/portfolio")
        bad = portfolio_form(
            token,
            "Not A Slug!",
            display_name="Typed Name",
            budget_min="12.345",
            audience="lots of people",
            contact_email="not-an-address",
        )
        refused = await browser.post("/studio/portfolio", data=bad)
        assert refused.status_code == 422
        text = html.unescape(refused.text)
        assert 'value="Typed Name"' in text and 'value="Not A Slug!"' in text
        assert "EUR amounts have at most 2 decimals." in text
        assert "Write one platform per line" in text
        assert "Enter a valid e-mail address" in text
        assert 'id="f-slug-error"' in text and 'aria-invalid="true"' in text
        # A service's refusals come back at their field too, and roll the account's change back.
        reserved = await browser.post(
            "/studio/portfolio", data=portfolio_form(token, "admin", display_name="Typed Name")
        )
        assert reserved.status_code == 422 and "reserved" in reserved.text
        clash = await browser.post("/studio/portfolio", data=portfolio_form(token, taken))
        assert clash.status_code == 409
        assert "the profile address is taken" in clash.text and 'id="f-slug-error"' in clash.text
    after = await api_get(client, me, f"/v1/portfolio/{slug}")
    assert after == before
    assert (await api_get(client, me, f"/v1/users/{me.id}"))["display_name"] == "Sarah Snaps"


async def test_shoots_and_uploads_on_the_pages(app: FastAPI, client: httpx.AsyncClient) -> None:
    me, _ = await creator(client)
    async with signed_in_browser(app, me.email) as browser:
        token = await form_token(browser, "/studio/shoots")
        added = await browser.post("/studio/shoots", data=shoot_form(token))
        assert added.status_code == 303, added.text
        match = SHOOT_PATH.match(added.headers["location"])
        assert match
        shoot_id = match.group(1)
        api_shoot = await api_get(client, me, f"/v1/workspace/shoots/{shoot_id}")
        assert api_shoot["amount"] == 45_050 and api_shoot["currency"] == "EUR"
        assert api_shoot["time"] == "10:30:00" and api_shoot["brand_name"] == "Acme Studio"
        listing = await browser.get("/studio/shoots")
        assert "Acme Studio" in listing.text and "EUR 450.50" in listing.text

        # A bad form: the messages at their fields, what was typed kept, nothing added.
        bad = await browser.post(
            "/studio/shoots",
            data=shoot_form(token, brand_name="", amount="4.5.0", notes="Keep <this>"),
        )
        assert bad.status_code == 422
        assert "Enter the amount as a number" in bad.text
        assert "Keep &lt;this&gt;" in bad.text and 'id="f-brand_name-error"' in bad.text
        assert len((await api_get(client, me, "/v1/workspace/shoots"))["items"]) == 1

        page = await browser.get(f"/studio/shoots/{shoot_id}")
        assert page.status_code == 200 and 'value="450.50"' in page.text
        assert "/studio/uploads?brand=Acme+Studio" in page.text
        changed = await browser.post(
            f"/studio/shoots/{shoot_id}",
            data=shoot_form(token, location="", amount="", currency="", time=""),
        )
        assert changed.status_code == 303
        api_shoot = await api_get(client, me, f"/v1/workspace/shoots/{shoot_id}")
        assert api_shoot["location"] is None and api_shoot["amount"] is None
        assert api_shoot["time"] is None
        done = await browser.post(f"/studio/shoots/{shoot_id}/complete", data={"csrf_token": token})
        assert done.status_code == 303
        assert (await api_get(client, me, f"/v1/workspace/shoots/{shoot_id}"))["completed"]
        reopened = await browser.post(
            f"/studio/shoots/{shoot_id}/reopen", data={"csrf_token": token}
        )
        assert reopened.status_code == 303
        assert not (await api_get(client, me, f"/v1/workspace/shoots/{shoot_id}"))["completed"]

        # Uploads: planned posts.
        form = await browser.get("/studio/uploads?brand=Acme+Studio&date=2026-12-20")
        assert 'value="Acme Studio"' in form.text and 'value="2026-12-20"' in form.text
        upload = {
            "csrf_token": token,
            "date": "2026-12-20",
            "time": "18:00",
            "platform": "instagram",
            "content_type": "Reel",
            "brand_name": "Acme Studio",
            "campaign_name": "",
            "notes": "",
        }
        refused = await browser.post("/studio/uploads", data={**upload, "platform": "myspace"})
        assert refused.status_code == 422 and "Choose the platform of the post." in refused.text
        assert 'value="Reel"' in refused.text
        assert (await api_get(client, me, "/v1/workspace/uploads"))["items"] == []
        planned = await browser.post("/studio/uploads", data=upload)
        assert planned.status_code == 303
        (item,) = (await api_get(client, me, "/v1/workspace/uploads"))["items"]
        assert item["platform"] == "instagram" and item["content_type"] == "Reel"
        assert item["time"] == "18:00:00" and item["campaign_name"] is None
        edit = await browser.get(f"/studio/uploads/{item['id']}")
        assert edit.status_code == 200 and 'value="Reel"' in edit.text
        refused = await browser.post(
            f"/studio/uploads/{item['id']}", data={**upload, "date": "", "content_type": "Story"}
        )
        assert refused.status_code == 422 and "Choose the day." in refused.text
        assert 'value="Story"' in refused.text
        assert (await api_get(client, me, f"/v1/workspace/uploads/{item['id']}"))[
            "content_type"
        ] == "Reel"
        changed = await browser.post(
            f"/studio/uploads/{item['id']}", data={**upload, "content_type": "Story", "time": ""}
        )
        assert changed.status_code == 303
        item = await api_get(client, me, f"/v1/workspace/uploads/{item['id']}")
        assert item["content_type"] == "Story" and item["time"] is None
        posted = await browser.post(
            f"/studio/uploads/{item['id']}/complete", data={"csrf_token": token}
        )
        assert posted.status_code == 303
        assert (await api_get(client, me, f"/v1/workspace/uploads/{item['id']}"))["completed"]
        assert (
            await browser.post(f"/studio/uploads/{item['id']}/reopen", data={"csrf_token": token})
        ).status_code == 303
        assert (
            await browser.post(f"/studio/uploads/{item['id']}/delete", data={"csrf_token": token})
        ).status_code == 303
        assert (await api_get(client, me, "/v1/workspace/uploads"))["items"] == []

        deleted = await browser.post(
            f"/studio/shoots/{shoot_id}/delete", data={"csrf_token": token}
        )
        assert deleted.status_code == 303
        gone = await client.get(f"/v1/workspace/shoots/{shoot_id}", headers=me.headers)
        assert gone.status_code == 404


async def test_blocked_dates_in_the_month_grid(app: FastAPI, client: httpx.AsyncClient) -> None:
    me, _ = await creator(client)
    await shoot(client, me, completed=False, day="2027-02-10", brand_name="Grid Brand")
    async with signed_in_browser(app, me.email) as browser:
        for typed in ("2027-13", "1850-01", "next"):  # invalid_month, a page
            wrong = await browser.get(f"/studio/calendar?month={typed}")
            assert wrong.status_code == 422 and "Choose a month as YYYY-MM" in wrong.text, typed
        month = await browser.get("/studio/calendar?month=2027-02")
        assert month.status_code == 200
        assert '<th scope="col"><abbr title="Monday">Mon</abbr></th>' in month.text
        assert "February 2027" in month.text and "Grid Brand" in month.text
        assert 'href="/studio/calendar?month=2027-01"' in month.text
        assert 'href="/studio/calendar?month=2027-03"' in month.text
        token = csrf_of(month.text)

        refused = await browser.post(
            "/studio/calendar/blocks",
            data={"csrf_token": token, "start_date": "2027-02-12", "end_date": "2027-02-01"},
        )
        assert refused.status_code == 422
        assert "The end date is before the start date." in refused.text
        assert 'value="2027-02-12"' in refused.text
        for typed in ("0001-01-01", "2027-02-30", "soon"):
            refused = await browser.post(
                "/studio/calendar/blocks", data={"csrf_token": token, "start_date": typed}
            )
            assert refused.status_code == 422, typed
            assert 'id="f-start_date-error"' in refused.text, typed
        blocked = await browser.post(
            "/studio/calendar/blocks",
            data={
                "csrf_token": token,
                "start_date": "2027-02-26",
                "end_date": "2027-03-02",
                "reason": "Holiday",
                "reason_public": "yes",
            },
        )
        assert blocked.status_code == 303
        assert blocked.headers["location"] == "/studio/calendar?month=2027-02"
        grid = await browser.get("/studio/calendar?month=2027-02")
        for day in ("2027-02-26", "2027-02-27", "2027-02-28"):
            assert re.search(rf'class="[^"]*blocked[^"]*" data-day="{day}"', grid.text), day
        assert 'class="" data-day="2027-02-25"' in grid.text
        march = await browser.get("/studio/calendar?month=2027-03")
        for day in ("2027-03-01", "2027-03-02"):
            assert re.search(rf'class="[^"]*blocked[^"]*" data-day="{day}"', march.text), day
        assert re.search(r'class="[^"]*" data-day="2027-03-03"', march.text)
        assert not re.search(r'blocked[^"]*" data-day="2027-03-03"', march.text)
        view = await api_get(
            client, me, "/v1/workspace/calendar", **{"from": "2027-02-01", "to": "2027-02-28"}
        )
        (block,) = view["blocked"]
        assert (block["start_date"], block["end_date"], block["reason"]) == (
            "2027-02-26",
            "2027-03-02",
            "Holiday",
        )
        assert f'action="/studio/calendar/blocks/{block["id"]}/delete"' in grid.text

        freed = await browser.post(
            f"/studio/calendar/blocks/{block['id']}/delete", data={"csrf_token": token}
        )
        assert freed.status_code == 303
        view = await api_get(
            client, me, "/v1/workspace/calendar", **{"from": "2027-02-01", "to": "2027-02-28"}
        )
        assert view["blocked"] == []
        assert (await browser.get("/studio/calendar?month=2027-13")).status_code == 422
        this_month = await browser.get("/studio/calendar")
        assert datetime.now(UTC).strftime("%B %Y") in this_month.text


async def test_a_review_from_link_to_portfolio(app: FastAPI, client: httpx.AsyncClient) -> None:
    me, slug = await creator(client)
    shoot_id = await shoot(client, me)
    async with signed_in_browser(app, me.email) as browser:
        page = await browser.get("/studio/reviews")
        assert page.status_code == 200 and "No review link yet" in page.text
        token = csrf_of(page.text)
        made = await browser.post(
            "/studio/review-links", data={"csrf_token": token, "shoot_id": shoot_id}
        )
        assert made.status_code == 200, made.text
        assert 'data-copy="review-url" hidden' in made.text and "readonly" in made.text
        url = html.unescape(REVIEW_URL.search(made.text).group(1))  # type: ignore[union-attr]
        path = urlsplit(url).path
        assert path.startswith("/review/review_")

        # The client, in a browser of their own, through the existing public form.
        assert (await client.get(path)).status_code == 200
        sent = await client.post(path, data=review_form(review_text="Wonderful <b>light</b>"))
        assert sent.status_code == 200, sent.text
        (review,) = await reviews_of(client, me)
        assert review["is_published"] is False

        listing = await browser.get("/studio/reviews")
        assert "Wonderful &lt;b&gt;light&lt;/b&gt;" in listing.text and "Hidden" in listing.text
        public = await client.get(f"/portfolio/{slug}")
        assert "Wonderful" not in public.text
        published = await browser.post(
            f"/studio/reviews/{review['id']}/publish", data={"csrf_token": token}
        )
        assert published.status_code == 303
        public = await client.get(f"/portfolio/{slug}")
        assert "Wonderful &lt;b&gt;light&lt;/b&gt;" in public.text
        hidden = await browser.post(
            f"/studio/reviews/{review['id']}/hide", data={"csrf_token": token}
        )
        assert hidden.status_code == 303
        assert "Wonderful" not in (await client.get(f"/portfolio/{slug}")).text

        # Withdrawing a link: its form answers the withdrawn page.
        second = await shoot(client, me, brand_name="Second Brand")
        made = await browser.post(
            "/studio/review-links", data={"csrf_token": token, "shoot_id": second}
        )
        path = urlsplit(html.unescape(REVIEW_URL.search(made.text).group(1))).path  # type: ignore[union-attr]
        assert (await client.get(path)).status_code == 200
        revoked = await browser.post(
            f"/studio/review-links/{second}/revoke", data={"csrf_token": token}
        )
        assert revoked.status_code == 303
        answer = await client.get(path)
        assert answer.status_code == 410 and "This review link was withdrawn" in answer.text
        listing = await browser.get("/studio/reviews")
        assert "Review link withdrawn" in listing.text


async def test_refusals_change_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    me, _ = await creator(client)
    other, _ = await creator(client)
    theirs = await shoot(client, other)
    link_path_response = await client.post(
        f"/v1/workspace/shoots/{theirs}/review-link", headers=other.headers
    )
    assert link_path_response.status_code == 201
    link_path = urlsplit(link_path_response.json()["url"]).path
    assert (await client.post(link_path, data=review_form())).status_code == 200
    (their_review,) = await reviews_of(client, other)
    block = await client.post(
        "/v1/workspace/calendar/blocks", json={"start_date": "2027-05-01"}, headers=other.headers
    )
    their_block = block.json()["id"]
    their_upload = await client.post(
        "/v1/workspace/uploads",
        json={"date": "2027-05-03", "platform": "youtube"},
        headers=other.headers,
    )
    assert their_upload.status_code == 201, their_upload.text
    upload_id = their_upload.json()["id"]
    brand = await account(client, roles=["brand"])

    async with signed_in_browser(app, brand.email) as browser:
        for path in ("/studio/portfolio", "/studio/shoots", "/studio/calendar", "/studio/reviews"):
            refused = await browser.get(path)
            assert refused.status_code == 403, path
            assert "This page is for the role: Creator." in refused.text
        token = csrf_of((await browser.get("/account")).text)
        refused = await browser.post("/studio/shoots", data=shoot_form(token))
        assert refused.status_code == 403

    async with signed_in_browser(app, me.email) as browser:
        token = await form_token(browser, "/studio/shoots")
        assert (await browser.get(f"/studio/shoots/{theirs}")).status_code == 404
        for action in ("complete", "reopen", "delete"):
            answer = await browser.post(
                f"/studio/shoots/{theirs}/{action}", data={"csrf_token": token}
            )
            assert answer.status_code == 404, action
        assert (
            await browser.post(f"/studio/shoots/{theirs}", data=shoot_form(token, brand_name="X"))
        ).status_code == 404
        made = await browser.post(
            "/studio/review-links", data={"csrf_token": token, "shoot_id": theirs}
        )
        assert made.status_code == 404
        revoked = await browser.post(
            f"/studio/review-links/{theirs}/revoke", data={"csrf_token": token}
        )
        assert revoked.status_code == 404
        for action in ("publish", "hide"):
            answer = await browser.post(
                f"/studio/reviews/{their_review['id']}/{action}", data={"csrf_token": token}
            )
            assert answer.status_code == 404, action
        assert (await browser.get(f"/studio/uploads/{upload_id}")).status_code == 404
        for action in ("", "/complete", "/reopen", "/delete"):
            answer = await browser.post(
                f"/studio/uploads/{upload_id}{action}",
                data={"csrf_token": token, "date": "2027-05-04", "platform": "tiktok"},
            )
            assert answer.status_code == 404, action
        unblocked = await browser.post(
            f"/studio/calendar/blocks/{their_block}/delete", data={"csrf_token": token}
        )
        assert unblocked.status_code == 404

        # Without the form's token: refused before anything runs.
        no_token = {k: v for k, v in shoot_form(token).items() if k != "csrf_token"}
        assert (await browser.post("/studio/shoots", data=no_token)).status_code == 403
        forged = await browser.post(
            "/studio/calendar/blocks", data={"csrf_token": "forged", "start_date": "2027-05-02"}
        )
        assert forged.status_code == 403
        assert (
            await browser.post(
                "/studio/portfolio", data={**portfolio_form("", "stolen-slug"), "csrf_token": ""}
            )
        ).status_code == 403

    # Nothing changed: the other creator's rows, and none for me.
    assert (await api_get(client, other, f"/v1/workspace/shoots/{theirs}"))["completed"]
    assert (await reviews_of(client, other))[0]["is_published"] is False
    blocks = await api_get(client, other, "/v1/workspace/calendar/blocks")
    assert [b["id"] for b in blocks["items"]] == [their_block]
    upload = await api_get(client, other, f"/v1/workspace/uploads/{upload_id}")
    assert (upload["date"], upload["platform"], upload["completed"]) == (
        "2027-05-03",
        "youtube",
        False,
    )
    assert (await api_get(client, me, "/v1/workspace/shoots"))["items"] == []
    assert (await api_get(client, me, "/v1/workspace/calendar/blocks"))["items"] == []
    assert (await client.get("/portfolio/stolen-slug")).status_code == 404
    assert (await client.get(link_path)).status_code == 410  # used by the review, as it was


async def test_a_suspended_creator_reads_but_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    me, _ = await creator(client)
    async with signed_in_browser(app, me.email) as browser:
        token = await form_token(browser, "/studio/shoots")
        await scalar(
            app_database(client),
            "UPDATE identity.users SET status = 'suspended' WHERE id = CAST(:id AS uuid)"
            " RETURNING id",
            id=me.id,
        )
        assert (await browser.get("/studio/shoots")).status_code == 200
        refused = await browser.post("/studio/shoots", data=shoot_form(token))
        assert refused.status_code == 403 and "not active" in refused.text
        refused = await browser.post(
            "/studio/calendar/blocks", data={"csrf_token": token, "start_date": "2027-05-02"}
        )
        assert refused.status_code == 403
    rows = await scalar(
        app_database(client),
        "SELECT (SELECT count(*) FROM workspace.shoots WHERE user_id = CAST(:id AS uuid))"
        " + (SELECT count(*) FROM workspace.calendar WHERE user_id = CAST(:id AS uuid))",
        id=me.id,
    )
    assert rows == 0


# --- in a real Chromium, at a phone's width and a desktop's -----------------------------------

# The live server and the browser of the existing browser test, as fixtures of this module.
live_server, browser, chromium_path = shared.live_server, shared.browser, shared.chromium_path
PHONE_375 = (375, 812)


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE_375)])
async def test_the_studio_in_chromium(
    browser: Any, live_server: LiveServer, label: str, viewport: Any
) -> None:
    """Every studio page fits the screen, runs under the CSP without a violation and passes
    the accessibility checks; the preview follows the typing; Copy copies the review link."""
    from playwright.async_api import expect

    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as api:
        me, _ = await creator(api)
        long_name = "Supercalifragilisticexpialidocious Productions International"
        planned = await shoot(api, me, completed=False, brand_name=long_name, day=str(today))
        done = await shoot(api, me, brand_name="Reviewed Brand", day=str(today))
        response = await api.post(
            "/v1/workspace/calendar/blocks",
            json={"start_date": str(today), "reason": "A very long reason for being away"},
            headers=me.headers,
        )
        assert response.status_code == 201, response.text

    width, height = viewport
    context = await browser.new_context(viewport={"width": width, "height": height})
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    await context.add_init_script(CSP_LISTENER)
    if AXE_PRESENT:
        await context.add_init_script(path=str(AXE))
    page = await context.new_page()
    walk = Walk(page, f"studio_{label}", live_server)
    await walk.goto("/login")
    await page.get_by_label("E-mail address").fill(me.email)
    await page.get_by_label("Password").fill(PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()

    await walk.goto("/studio/portfolio")
    await walk.check("portfolio")
    await page.get_by_label("Name shown", exact=True).fill("Typed <b>Live</b>")
    await page.get_by_label("Categories", exact=True).fill("Travel, Food")
    await page.get_by_label("From", exact=True).fill("100")
    preview = page.locator(".studio-preview")
    await expect(preview.locator("[data-preview=display_name]")).to_have_text("Typed <b>Live</b>")
    await expect(preview.locator("[data-preview-list] li")).to_have_text(["Travel", "Food"])
    await expect(preview.locator("[data-preview-budget]")).to_have_text("EUR 100 – 2500")
    assert await preview.locator("b").count() == 0  # typed markup stays text

    await walk.goto("/studio/shoots")
    await walk.check("shoots")
    await walk.goto(f"/studio/shoots/{planned}")
    await walk.check("shoot")
    await walk.goto("/studio/uploads")
    await walk.check("uploads")
    await walk.goto("/studio/calendar")
    await expect(page.locator(f'td[data-day="{today}"]')).to_contain_text("Supercali")
    await walk.check("calendar")

    await walk.goto("/studio/reviews")
    await walk.check("reviews")
    async with page.expect_navigation():
        await page.locator(f"#shoot-{done} button").first.click()
    await walk.check("review_link")
    url = await page.get_by_label("Review link").input_value()
    assert f"{live_server.url}/review/review_" in url
    await page.get_by_role("button", name="Copy the link").click()
    await expect(page.locator("#review-url-status")).to_have_text("Copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == url
    await context.close()
    if AXE_PRESENT:
        for finding in walk.axe_findings:
            print(f"axe ({label}, {finding['page']}): {finding['impact']} {finding['id']}")
