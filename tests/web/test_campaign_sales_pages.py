"""The salesman campaign pages over HTTP (issue 15): a brand starts a salesman campaign on the
form (the commission typed as a percentage, read in basis points) and funds it; it reveals its
shop's webhook secret and replaces it (with a confirmation); creators join on the campaign's
page, one sets a coupon code (a taken one and a malformed one are refused on the page); the
shop reports signed sales, the brand imports a CSV through the form (its report on the page:
recorded, duplicates, refused lines); the verification job pays the commissions. Exact figures
on both pages at every step. The ledger's invariants are checked after every test
(`money_fixtures`).

Fees: the default rule of kind `campaign_commission` is 10 % of the commission.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from campaign_helpers import advertiser, campaign_of, promoter
from creatorhub.campaigns.sales import service as sales
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.payments.providers.sandbox import sign
from helpers import Account, scalar
from money_fixtures import ledger_verified
from payment_helpers import wallet
from web_helpers import csrf_of, form_token, page_login

__all__ = ["ledger_verified"]  # the ledger's invariants are checked after each test

CAMPAIGN_PATH = re.compile(r"^/brand/campaigns/([0-9a-f-]{36})$")
SECRET = re.compile(r'id="webhook-secret" type="text" value="(whsec_[^"]+)"')
REFERRAL = re.compile(r'id="referral-link" type="text" value="([^"]+/r/([^"]+))"')


@contextlib.asynccontextmanager
async def browser_of(
    app: FastAPI, who: Account, port: int = 40061
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.61", port))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        assert (await page_login(browser, who.email)).status_code == 303
        yield browser


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, f"no #{element_id} in the page"
    return match.group(1)


def salesman_form(token: str, **overrides: str) -> dict[str, str]:
    last_day = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    form = {
        "csrf_token": token,
        "type": "salesman",
        "title": "Winter boots sales",
        "description": "A commission on every pair",
        "destination_url": "",
        "cpv": "",
        "currency": "USD",
        "max_views": "",
        "max_views_per_promoter": "",
        "starts_on": "",
        "ends_on": last_day,
        "min_budget": "",
        "max_budget": "",
        "commission": "12.5",
        "tracking_method": "ref_link",
        "budget": "300",
        "shop_url": "https://shop.example.com/boots",
    }
    return {**form, **overrides}


async def post(
    browser: httpx.AsyncClient, path: str, page: str, status: int = 303, **fields: str
) -> httpx.Response:
    answer = await browser.post(path, data={"csrf_token": csrf_of(page), **fields})
    assert answer.status_code == status, (path, answer.status_code, answer.text[-2000:])
    return answer


def refused(answer: httpx.Response, status: int, message: str) -> None:
    """A refusal shown on the page again: its status, the message at the top."""
    assert answer.status_code == status, (answer.status_code, answer.text[-2000:])
    assert 'role="alert"' in answer.text and message in answer.text, answer.text[-3000:]


async def deliver(
    client: httpx.AsyncClient, campaign_id: str, secret: str, body: dict[str, object]
) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await client.post(
        f"/v1/campaigns/{campaign_id}/sales-events",
        content=raw,
        headers={
            "Creatorhub-Signature": sign(secret, raw, int(datetime.now(UTC).timestamp())),
            "Content-Type": "application/json",
        },
    )


def sale(order: str, amount: int, **code: str) -> dict[str, object]:
    return {"type": "sale", "order_id": order, "amount": amount, "currency": "USD", **code}


async def test_a_salesman_campaign_from_the_form_to_verified_commissions(
    app: FastAPI, client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await advertiser(client, funds=500_00)
    anna = await promoter(client)
    ben = await promoter(client)

    # The brand starts a salesman campaign on the form: a third decimal is refused.
    async with browser_of(app, owner) as brand:
        token = await form_token(brand, "/brand/campaigns/new")
        assert 'value="salesman"' in (await brand.get("/brand/campaigns/new")).text
        bad = await brand.post(
            "/brand/campaigns/new", data=salesman_form(token, commission="1.255")
        )
        assert bad.status_code == 422 and 'id="f-commission-error"' in bad.text
        assert "at most two decimals" in bad.text
        assert 'value="salesman" checked' in bad.text and 'value="1.255"' in bad.text
        no_shop = await brand.post("/brand/campaigns/new", data=salesman_form(token, shop_url=""))
        assert no_shop.status_code == 422 and 'id="f-shop_url-error"' in no_shop.text
        created = await brand.post("/brand/campaigns/new", data=salesman_form(token))
        assert created.status_code == 303, created.text[-2000:]
        match = CAMPAIGN_PATH.match(created.headers["location"])
        assert match, created.headers["location"]
        cid = match.group(1)
        stored = await campaign_of(client, cid, owner)
        assert (
            stored["type"],
            stored["commission_per_sale"],
            stored["tracking_method"],
            stored["budget"],
            stored["destination_url"],
        ) == ("salesman", 1_250, "ref_link", 300_00, "https://shop.example.com/boots")
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert text_of(page, "sales-commission-rate") == "12.5 % of each sale"
        assert 'id="no-sales"' in page and 'id="campaign-chart"' not in page
        assert f"/v1/campaigns/{cid}/sales-events" in page and "Creatorhub-Signature" in page
        await post(brand, f"/brand/campaigns/{cid}/fund", page)
        assert (await wallet(client, owner.headers))["available"] == 200_00

        # The secret: shown on the page the POST answers, the same when asked again.
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert 'id="webhook-secret"' not in page
        shown = await post(brand, f"/brand/campaigns/{cid}/sales-webhook-secret", page, 200)
        first = SECRET.search(shown.text)
        assert first and shown.headers["cache-control"] == "no-store"
        again = await post(brand, f"/brand/campaigns/{cid}/sales-webhook-secret", page, 200)
        same = SECRET.search(again.text)
        assert same and same.group(1) == first.group(1)
        unconfirmed = await post(
            brand, f"/brand/campaigns/{cid}/sales-webhook-secret/rotate", page, 422
        )
        refused(unconfirmed, 422, "Tick the box to confirm")
        rotated = await post(
            brand, f"/brand/campaigns/{cid}/sales-webhook-secret/rotate", page, 200, confirm="yes"
        )
        new = SECRET.search(rotated.text)
        assert new and new.group(1) != first.group(1)
        secret = new.group(1)
    old = await deliver(client, cid, first.group(1), sale("x-0", 100))
    assert old.status_code == 400 and old.json()["code"] == "signature_invalid"

    # Anna joins on the page and sets her coupon code.
    async with browser_of(app, anna, 40062) as mine:
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert text_of(page, "campaign-rate") == "12.5 % of each sale you bring"
        await post(mine, f"/creator/campaigns/{cid}/join", page)
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        link = REFERRAL.search(page)
        assert link and link.group(1).startswith("http") and 'data-copy="referral-link"' in page
        assert text_of(page, "coupon-code") == "none yet"
        await post(mine, f"/creator/campaigns/{cid}/coupon", page, code="anna10")
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert "Your coupon code is saved" in page
        assert text_of(page, "coupon-code") == "ANNA10"
        assert text_of(page, "sales-count") == "0"

    # Ben joins; Anna's code (in other letters) and a malformed one are refused on his page.
    async with browser_of(app, ben, 40063) as his:
        page = (await his.get(f"/creator/campaigns/{cid}")).text
        await post(his, f"/creator/campaigns/{cid}/join", page)
        page = (await his.get(f"/creator/campaigns/{cid}")).text
        ben_link = REFERRAL.search(page)
        assert ben_link
        ben_code = ben_link.group(2)
        taken = await post(his, f"/creator/campaigns/{cid}/coupon", page, 409, code="Anna10")
        refused(taken, 409, "The coupon code ANNA10 is taken in this campaign")
        assert 'value="Anna10"' in taken.text  # what was typed comes back
        bad = await post(his, f"/creator/campaigns/{cid}/coupon", page, 422, code="a")
        refused(bad, 422, "A coupon code is 3 to 32 letters")
        assert text_of(bad.text, "coupon-code") == "none yet"
    coupons = "SELECT count(*) FROM campaigns.coupon_codes"
    assert await scalar(database, coupons) == 1

    # The shop reports two sales: Anna's coupon, Ben's link (clicked first).
    assert (await client.get(f"/r/{ben_code}")).status_code == 302
    by_coupon = await deliver(client, cid, secret, sale("o-1", 12_345, coupon="anna10"))
    assert by_coupon.json()["commission"] == 1_543  # floor(12,345 x 12.5 %)
    by_link = await deliver(client, cid, secret, sale("o-2", 20_000, ref=ben_code))
    assert by_link.json()["commission"] == 2_500

    # The brand imports a CSV: one sale, one refund (Ben's), a duplicate, two refused lines.
    csv = (
        "order_id,amount,currency,coupon,ref,occurred_at,type\n"
        "c-1,8000,USD,ANNA10,,,sale\n"
        "o-2,20000,USD,,,,refund\n"
        "o-1,12345,USD,ANNA10,,,sale\n"
        "c-2,ten,USD,ANNA10,,,sale\n"
        "c-3,500,USD,NOBODY,,,sale\n"
    )
    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert 'enctype="multipart/form-data"' in page
        wrong = await brand.post(
            f"/brand/campaigns/{cid}/sales/import",
            data={"csrf_token": csrf_of(page)},
            files={"file": ("sales.csv", b"order,price\n1,2\n", "text/csv")},
        )
        refused(wrong, 422, "The CSV&#39;s header names the columns")
        empty = await brand.post(
            f"/brand/campaigns/{cid}/sales/import",
            data={"csrf_token": csrf_of(page)},
            files={"file": ("sales.csv", b"", "text/csv")},
        )
        refused(empty, 422, "Choose the CSV file")
        imported = await brand.post(
            f"/brand/campaigns/{cid}/sales/import",
            data={"csrf_token": csrf_of(page)},
            files={"file": ("sales.csv", csv.encode(), "text/csv")},
        )
        assert imported.status_code == 200, imported.text[-2000:]
        report = imported.text
        assert text_of(report, "import-recorded") == "2"
        assert text_of(report, "import-duplicates") == "1"
        assert text_of(report, "import-refused") == "2"
        refusals = re.findall(
            r'<tr><th scope="row">(\d+)</th><td>[^<]*<span class="muted">\((\w+)\)', report
        )
        assert refusals == [("5", "sale_event_invalid"), ("6", "code_unknown")]
        # The page the import answered shows the figures after it.
        assert text_of(report, "sales-count") == "3"
        assert text_of(report, "sales-pending") == "USD 25.43 (2 sales, held on the campaign)"
        assert text_of(report, "sales-verified") == "USD 0 (0 sales, paid)"
        assert text_of(report, "sales-reversed") == "1"
        assert 'id="sale-o-2"' in report and "Reversed: refunded" in report
        assert "coupon <span" in report and "referral code <span" in report
    assert (await campaign_of(client, cid, owner))["escrow_reserved"] == 2_543

    # Past the refund window the job pays both of Anna's commissions, less the fee.
    later = datetime.now(UTC) + timedelta(days=settings.campaign_sale_refund_window_days, hours=1)
    assert await sales.verify_all_due(database, settings, later) == 2
    fee = await scalar(database, "SELECT sum(fee) FROM campaigns.sales_records")
    assert fee == 154 + 100
    async with browser_of(app, owner) as brand:
        page = (await brand.get(f"/brand/campaigns/{cid}")).text
        assert text_of(page, "sales-pending") == "USD 0 (0 sales, held on the campaign)"
        assert text_of(page, "sales-verified") == "USD 25.43 (2 sales, paid)"
    async with browser_of(app, anna, 40062) as mine:
        page = (await mine.get(f"/creator/campaigns/{cid}")).text
        assert text_of(page, "sales-count") == "2"
        assert text_of(page, "sales-pending") == "USD 0 (0 sales)"
        assert text_of(page, "sales-verified") == "USD 25.43 (2 sales)"
        assert text_of(page, "sales-fee") == "USD 2.54"
        assert text_of(page, "sales-net") == "USD 22.89"
        assert text_of(page, "sales-reversed") == "0"
    assert (await wallet(client, anna.headers))["available"] == 2_543 - 254
    async with browser_of(app, ben, 40063) as his:
        page = (await his.get(f"/creator/campaigns/{cid}")).text
        assert text_of(page, "sales-count") == "1"
        assert text_of(page, "sales-reversed") == "1"
        assert text_of(page, "sales-verified") == "USD 0 (0 sales)"
        assert 'id="sale-o-2"' in page


async def test_a_coupon_campaign_needs_no_shop_and_a_foreign_campaign_is_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await advertiser(client, funds=100_00)
    other = await advertiser(client)
    async with browser_of(app, owner) as brand:
        token = await form_token(brand, "/brand/campaigns/new")
        form = salesman_form(token, tracking_method="coupon", shop_url="", budget="50.00")
        created = await brand.post("/brand/campaigns/new", data=form)
        assert created.status_code == 303, created.text[-2000:]
        cid = created.headers["location"].rsplit("/", 1)[-1]
        stored = await campaign_of(client, cid, owner)
        assert (stored["tracking_method"], stored["destination_url"]) == ("coupon", None)
    async with browser_of(app, other, 40064) as stranger:
        page = (await stranger.get("/account")).text
        for path in ("sales-webhook-secret", "sales/import"):
            answer = await stranger.post(
                f"/brand/campaigns/{cid}/{path}", data={"csrf_token": csrf_of(page)}
            )
            assert answer.status_code == 404, (path, answer.status_code)
