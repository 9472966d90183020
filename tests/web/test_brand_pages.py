"""The brand's job pages over HTTP: a brand walks a job from its creation to its close on the
pages while creators act through the API, and the refusals (a bad form, a missing CSRF token,
another brand's job, a creator on a brand page) change nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from helpers import Account, account
from market_helpers import brand, claim, creator, submit
from payment_helpers import wallet
from web_helpers import csrf_of, form_token, page_login


def money(minor: int) -> str:
    return f"USD {minor // 100}" + (f".{minor % 100:02}" if minor % 100 else "")


JOB_PATH = re.compile(r"^/brand/jobs/([0-9a-f-]{36})$")


@contextlib.asynccontextmanager
async def browser_of(app: FastAPI, who: Account) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own, signed in on the pages as `who` (an account made through the API)."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.21", 40002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        assert (await page_login(browser, who.email)).status_code == 303
        yield browser


def job_form(token: str, **overrides: str) -> dict[str, str]:
    last_day = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    form = {
        "csrf_token": token,
        "title": "Spring launch reel",
        "description": "One reel about the spring collection",
        "budget": "200.00",
        "currency": "USD",
        "influencer_slots": "2",
        "influence_min": "0",
        "influence_max": "",
        "location": "Berlin",
        "genre": "Fashion",
        "end_date": last_day,
    }
    return {**form, **overrides}


async def api_job(client: httpx.AsyncClient, owner: Account, job_uid: str) -> dict[str, Any]:
    response = await client.get(f"/v1/marketplace/brand/jobs/{job_uid}", headers=owner.headers)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def new_page_job(browser: httpx.AsyncClient) -> str:
    token = await form_token(browser, "/brand/jobs/new")
    created = await browser.post("/brand/jobs/new", data=job_form(token))
    assert created.status_code == 303, created.text
    match = JOB_PATH.match(created.headers["location"])
    assert match, created.headers["location"]
    return match.group(1)


async def test_a_job_from_creation_to_close_on_the_pages(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await brand(client, funds=500_00)
    first, second = await creator(client), await creator(client)
    async with browser_of(app, owner) as browser:
        dashboard = await browser.get("/brand")
        assert dashboard.status_code == 200
        assert 'href="/brand"' in dashboard.text  # the brand's navigation has the Jobs link
        assert "USD 500" in dashboard.text

        job_uid = await new_page_job(browser)
        page = await browser.get(f"/brand/jobs/{job_uid}")
        assert page.status_code == 200
        assert "The job is saved" in page.text and "Awaiting funding" in page.text
        assert "USD 200" in page.text and f'action="/brand/jobs/{job_uid}/fund"' in page.text
        job = await api_job(client, owner, job_uid)
        assert (job["budget"], job["influencer_slots"], job["status"]) == (
            200_00,
            2,
            "awaiting_funding",
        )

        funded = await browser.post(
            f"/brand/jobs/{job_uid}/fund", data={"csrf_token": csrf_of(page.text)}
        )
        assert funded.status_code == 303 and funded.headers["location"] == f"/brand/jobs/{job_uid}"
        page = await browser.get(f"/brand/jobs/{job_uid}")
        assert "funded from your wallet" in page.text and ">Open<" in page.text
        assert (await wallet(client, owner.headers))["available"] == 300_00
        # A second click on the fund button moves nothing more.
        again = await browser.post(
            f"/brand/jobs/{job_uid}/fund", data={"csrf_token": csrf_of(page.text)}
        )
        assert again.status_code == 303
        assert (await wallet(client, owner.headers))["available"] == 300_00

        one = await claim(client, job_uid, first)
        two = await claim(client, job_uid, second)
        assert one.status_code == 201 and two.status_code == 201, (one.text, two.text)
        slot = one.json()["uid"]
        assert (await submit(client, slot, first)).status_code == 201

        page = await browser.get(f"/brand/jobs/{job_uid}")
        assert "awaiting your review" in page.text and "https://instagram.com/p/abc123" in page.text
        assert f'action="/brand/claims/{slot}/approve"' in page.text
        assert f'action="/brand/claims/{two.json()["uid"]}/approve"' not in page.text
        approved = await browser.post(
            f"/brand/claims/{slot}/approve", data={"csrf_token": csrf_of(page.text)}
        )
        assert approved.status_code == 303, approved.text
        assert approved.headers["location"] == f"/brand/jobs/{job_uid}"
        paid = (await client.get(f"/v1/marketplace/claims/{slot}", headers=first.headers)).json()
        net = paid["payout"]["net_amount"]
        assert 0 < net <= 100_00
        earned = await wallet(client, first.headers)
        assert earned["available"] + earned["pending"] == net

        page = await browser.get(f"/brand/jobs/{job_uid}")
        assert "creator is paid" in page.text and "approved" in page.text
        # Each slot names its creator (a link to the portfolio), and the figures add up.
        me = (await client.get("/v1/me", headers=first.headers)).json()
        slug = me["creator_profile"]["slug"]
        assert f'<a href="/portfolio/{slug}">{me["display_name"]}</a>' in page.text
        assert 'id="figure-claimed">2 of 2<' in page.text
        assert 'id="figure-approved">1<' in page.text
        assert f'id="figure-paid">{money(net)}<' in page.text
        closed = await browser.post(
            f"/brand/jobs/{job_uid}/close", data={"csrf_token": csrf_of(page.text)}
        )
        assert closed.status_code == 303
        page = await browser.get(f"/brand/jobs/{job_uid}")
        assert "The job is closed" in page.text and ">Closed<" in page.text
        assert 'id="refunded">USD 100<' in page.text
        assert 'id="figure-refunded">USD 100<' in page.text
        assert (await wallet(client, owner.headers))["available"] == 400_00
        dashboard = await browser.get("/brand")
        assert "USD 400" in dashboard.text and f'href="/brand/jobs/{job_uid}"' in dashboard.text

        # Closing again is refused by the service, shown as a page; nothing changes.
        refused = await browser.post(
            f"/brand/jobs/{job_uid}/close", data={"csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code == 409 and "<h1" in refused.text
        assert (await wallet(client, owner.headers))["available"] == 400_00


async def test_a_form_error_keeps_what_was_typed(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await brand(client)
    async with browser_of(app, owner) as browser:
        token = await form_token(browser, "/brand/jobs/new")
        sent = await browser.post(
            "/brand/jobs/new", data=job_form(token, budget="12.345", title="Kept title")
        )
        assert sent.status_code == 422
        assert "USD amounts have at most 2 decimals." in sent.text
        assert 'value="Kept title"' in sent.text and 'value="12.345"' in sent.text
        assert 'aria-invalid="true"' in sent.text
        # The service's own refusal (a budget smaller than the slots) lands at its field too.
        sent = await browser.post(
            "/brand/jobs/new", data=job_form(token, budget="0.01", influencer_slots="3")
        )
        assert sent.status_code == 422 and 'id="f-budget-error"' in sent.text
        past = await browser.post("/brand/jobs/new", data=job_form(token, end_date="2001-01-01"))
        assert past.status_code == 422 and 'id="f-end_date-error"' in past.text
        listed = await client.get("/v1/marketplace/brand/jobs", headers=owner.headers)
        assert listed.json()["items"] == []


async def test_a_form_without_its_csrf_token_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await brand(client, funds=300_00)
    async with browser_of(app, owner) as browser:
        job_uid = await new_page_job(browser)
        refused = await browser.post(f"/brand/jobs/{job_uid}/fund", data={})
        assert refused.status_code == 403 and "This form was not accepted" in refused.text
        assert (await api_job(client, owner, job_uid))["status"] == "awaiting_funding"
        assert (await wallet(client, owner.headers))["available"] == 300_00
        token = await form_token(browser, "/brand/jobs/new")
        refused = await browser.post("/brand/jobs/new", data={**job_form(token), "csrf_token": ""})
        assert refused.status_code == 403
        listed = await client.get("/v1/marketplace/brand/jobs", headers=owner.headers)
        assert len(listed.json()["items"]) == 1


async def test_another_brands_job_is_not_found_and_a_creator_is_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner, other = await brand(client, funds=300_00), await brand(client)
    async with browser_of(app, owner) as browser:
        job_uid = await new_page_job(browser)
    async with browser_of(app, other) as browser:
        missing = await browser.get(f"/brand/jobs/{job_uid}")
        assert missing.status_code == 404 and "Page not found" in missing.text
        token = csrf_of((await browser.get("/brand")).text)
        funded = await browser.post(f"/brand/jobs/{job_uid}/fund", data={"csrf_token": token})
        assert funded.status_code == 404
        assert (await browser.get("/brand/jobs/not-a-uuid")).status_code == 422
        assert (await browser.get("/brand?currency=XYZ")).status_code == 422
    assert (await api_job(client, owner, job_uid))["status"] == "awaiting_funding"

    someone = await account(client, roles=["creator"])
    async with browser_of(app, someone) as browser:
        refused = await browser.get("/brand")
        assert refused.status_code == 403 and "Brand" in refused.text
        assert 'href="/brand"' not in refused.text
