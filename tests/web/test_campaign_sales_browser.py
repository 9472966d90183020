"""The salesman campaign pages in a real headless Chromium (issue 15), end to end on a live
server:

1. a brand starts a salesman campaign on the form (the kind chosen, the commission as a
   percentage, the budget in dollars, the shop's address) and funds it from its wallet;
2. the brand reveals the shop's webhook secret, then replaces it (the box ticked to confirm);
3. a creator joins from the campaign's page, sees their referral link with its Copy button and
   sets a coupon code; the shop reports a sale by it (signed, through the API);
4. the brand imports a CSV of sales through the form and reads its report and the sales.

Every page is checked as test_roles_browser.py checks them (its `Person`): screenshots at
desktop and phone width (`tests/output/screenshots/roles/sales_*`), no sideways scrolling, no
Content Security Policy violation or script error, the accessibility checks (axe-core's when
installed). Skipped without /usr/bin/chromium, a failure in CI. The ledger's invariants are
checked after the test (`money_fixtures`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from campaign_helpers import advertiser, promoter
from creatorhub.payments.providers.sandbox import sign
from money_fixtures import ledger_verified
from payment_helpers import wallet
from web import test_browser as shared
from web.test_browser import LiveServer
from web.test_roles_browser import Person, live_server

browser, chromium_path = shared.browser, shared.chromium_path
__all__ = ["browser", "chromium_path", "ledger_verified", "live_server"]


async def test_a_salesman_campaign_from_the_form_to_imported_sales_in_chromium(
    browser: Any, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    from playwright.async_api import expect

    owner = await advertiser(client, funds=500_00)
    creator = await promoter(client, followers=9_000)
    last_day = (datetime.now(UTC) + timedelta(days=45)).date().isoformat()

    brand = await Person.signed_in(browser, live_server, "sales_brand", owner)
    page = brand.page
    await brand.goto("/brand/campaigns/new")
    await page.get_by_role("radio", name=re.compile("^Salesman")).check()
    await page.get_by_label("Title").fill("Winter boots sales")
    await page.get_by_label("Description").fill("A commission on every pair sold.")
    await page.get_by_label("Commission per sale (%)").fill("12.5")
    await page.get_by_role("radio", name=re.compile("^Referral links")).check()
    await page.get_by_label("Budget for commissions").fill("300")
    await page.get_by_label("Shop address").fill("https://shop.example.com/boots")
    await page.get_by_label("Last day").fill(last_day)
    await brand.check("new_salesman")
    await brand.click_button("Save the campaign")
    await expect(page.get_by_role("status")).to_contain_text("saved as a draft")
    campaign_path = brand.path
    cid = campaign_path.rsplit("/", 1)[-1]
    await expect(page.locator("#sales-commission-rate")).to_have_text("12.5 % of each sale")
    await brand.click_button("Fund USD 300 from your wallet")
    await expect(page.locator("#campaign-status")).to_have_text("Active")
    await brand.check("sales_funded")
    assert (await wallet(client, owner.headers))["available"] == 200_00

    await brand.click_button("Show the webhook secret")
    await expect(page.locator("#webhook-secret")).to_have_value(re.compile("^whsec_"))
    first = await page.locator("#webhook-secret").input_value()
    await brand.check("sales_secret")
    await page.get_by_label(re.compile("Yes, replace it")).check()
    await brand.click_button("Replace the secret")
    await expect(page.locator("#webhook-secret")).not_to_have_value(first)
    secret = await page.locator("#webhook-secret").input_value()

    promoting = await Person.signed_in(browser, live_server, "sales_creator", creator)
    mine = promoting.page
    await promoting.goto(f"/creator/campaigns/{cid}")
    await promoting.check("sales_to_join")
    await promoting.click_button("Join the campaign")
    await expect(mine.locator("#referral-link")).to_have_value(re.compile("/r/"))
    await expect(mine.get_by_role("button", name="Copy the link")).to_be_visible()
    await mine.get_by_label("Your coupon code").fill("a")
    await promoting.click_button("Save the coupon code")
    await expect(mine.locator("#sales-error")).to_contain_text("A coupon code is 3 to 32")
    await promoting.check("sales_coupon_refused")
    await mine.get_by_label("Your coupon code").fill("boots10")
    await promoting.click_button("Save the coupon code")
    await expect(mine.locator("#coupon-code")).to_have_text("BOOTS10")

    raw = json.dumps(
        {
            "type": "sale",
            "order_id": "o-1",
            "amount": 12_345,
            "currency": "USD",
            "coupon": "BOOTS10",
        }
    ).encode()
    delivered = await client.post(
        f"/v1/campaigns/{cid}/sales-events",
        content=raw,
        headers={
            "Creatorhub-Signature": sign(secret, raw, int(datetime.now(UTC).timestamp())),
            "Content-Type": "application/json",
        },
    )
    assert delivered.status_code == 200 and delivered.json()["commission"] == 1_543
    await mine.reload()
    await expect(mine.locator("#sales-pending")).to_have_text("USD 15.43 (1 sale)")
    await promoting.check("sales_creator_sales")
    await promoting.close()

    await brand.goto(campaign_path)
    await page.get_by_label("CSV file (UTF-8)").set_input_files(
        files=[
            {
                "name": "sales.csv",
                "mimeType": "text/csv",
                "buffer": b"order_id,amount,currency,coupon,type\n"
                b"c-1,8000,USD,BOOTS10,sale\nc-2,ten,USD,BOOTS10,sale\n",
            }
        ]
    )
    await brand.click_button("Import the sales")
    await expect(page.locator("#import-recorded")).to_have_text("1")
    await expect(page.locator("#import-refusals")).to_contain_text("sale_event_invalid")
    await expect(page.locator("#sales-pending")).to_contain_text("USD 25.43 (2 sales")
    await brand.check("sales_imported")
    await brand.close()
