"""The campaign pages in a real headless Chromium (issue 14), end to end on a live server:

1. a brand opens its campaigns, starts a visibility campaign on the form and funds it from its
   wallet;
2. a creator finds it among the campaigns for them, joins, and copies the tracking link with
   the Copy button (the clipboard holds the link);
3. visitors follow the link (GET /t/{code}: unique visitors, one twice, a crawler);
4. the validation window passes: settlement runs with a later `now` (the hourly job's call);
5. the creator's page shows their figures and earnings, the brand's dashboard the budget spent,
   the promoters and the chart of views and spend per day.

Every page is checked as test_roles_browser.py checks them (its `Person`): screenshots at
desktop and phone width (`tests/output/screenshots/roles/campaign_*`), no sideways scrolling, no
Content Security Policy violation or script error, the accessibility checks (axe-core's when
installed). Skipped without /usr/bin/chromium, a failure in CI.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from campaign_helpers import advertiser, promoter
from conftest import make_settings
from creatorhub.campaigns import settlement
from creatorhub.db import Database
from web import test_browser as shared
from web.test_browser import LiveServer
from web.test_roles_browser import Person, live_server

browser, chromium_path = shared.browser, shared.chromium_path
__all__ = ["browser", "chromium_path", "live_server"]

VISITOR = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
CRAWLER = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


async def test_a_campaign_from_the_form_to_the_chart_in_chromium(
    browser: Any,
    live_server: LiveServer,
    client: httpx.AsyncClient,
    database: Database,
    database_url: str,
) -> None:
    from playwright.async_api import expect

    owner = await advertiser(client, funds=50_00)
    creator = await promoter(client, followers=9_000)
    last_day = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()

    brand = await Person.signed_in(browser, live_server, "campaign_brand", owner)
    page = brand.page
    await brand.goto("/brand/campaigns")
    await expect(page.get_by_role("heading", name="Your campaigns", level=1)).to_be_visible()
    await expect(page.locator("#wallet-available")).to_have_text("USD 50")
    await brand.check("campaigns_empty")
    await brand.click_link("Start a new campaign")
    await page.get_by_label("Title").fill("Trail shoes spring drop")
    await page.get_by_label("Description").fill("Show the new trail shoes on a real trail.")
    await page.get_by_label("Destination address").fill("https://shop.example.com/trail")
    await page.get_by_label("Price per 100 views").fill("4.10")
    await page.get_by_label("Views to buy").fill("300")
    await page.get_by_label("Last day").fill(last_day)
    await brand.check("campaign_new")
    await brand.click_button("Save the campaign")
    await expect(page.get_by_role("status")).to_contain_text("saved as a draft")
    campaign_path = brand.path
    assert re.fullmatch(r"/brand/campaigns/[0-9a-f-]{36}", campaign_path), campaign_path
    await expect(page.locator("#budget")).to_have_text("USD 12.30")  # ceil(410 x 300 / 100)
    await brand.check("campaign_draft")
    await brand.click_button("Fund USD 12.30 from your wallet")
    await expect(page.locator("#campaign-status")).to_have_text("Active")
    await expect(page.locator("#budget-left")).to_have_text("USD 12.30")
    await brand.check("campaign_funded")

    promoting = await Person.signed_in(browser, live_server, "campaign_creator", creator)
    mine = promoting.page
    await promoting.goto("/creator/campaigns")
    await expect(mine.locator("#matching")).to_contain_text("Trail shoes spring drop")
    await promoting.check("campaigns_for_me")
    await promoting.click_link("Trail shoes spring drop")
    await expect(mine.locator("#campaign-rate")).to_have_text("USD 4.10 per 100 views")
    await promoting.check("campaign_to_join")
    await promoting.click_button("Join the campaign")
    await expect(mine.get_by_role("status").first).to_contain_text("You joined the campaign")
    link = await mine.locator("#tracking-link").input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/t/[A-Za-z0-9_-]{{16}}", link), link
    await mine.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=live_server.url
    )
    await mine.get_by_role("button", name="Copy the link").click()
    await expect(mine.locator("#tracking-link-status")).to_have_text("Copied.")
    assert await mine.evaluate("navigator.clipboard.readText()") == link
    await promoting.check("campaign_joined")

    # Visitors follow the link: five people (one of them twice) and a crawler.
    async with httpx.AsyncClient(timeout=30) as visitors:
        for agent in [f"{VISITOR} n{i}" for i in range(5)] + [f"{VISITOR} n0", CRAWLER]:
            answer = await visitors.get(link, headers={"User-Agent": agent})
            assert answer.status_code == 302
            assert answer.headers["location"] == "https://shop.example.com/trail"
    await mine.reload()
    await expect(mine.locator("#figure-counted")).to_have_text("5")
    await expect(mine.locator("#figure-pending")).to_have_text("5")
    await promoting.check("campaign_pending")

    # The validation window passes; the hourly job validates and settles (a later `now`).
    settings = make_settings(database_url, earnings_hold_days=7)
    await settlement.settle_now(database, settings, datetime.now(UTC) + timedelta(days=4))

    await mine.reload()
    # 5 views x 410 / 100 = 20.5: 20 paid, 50 hundredths carried.
    await expect(mine.locator("#figure-paid")).to_have_text("5")
    await expect(mine.locator("#figure-gross")).to_have_text("USD 0.20")
    await expect(mine.locator("#figure-carried")).to_have_text("50 hundredths of a cent")
    await promoting.check("campaign_paid")
    await promoting.close()

    await brand.goto(campaign_path)
    await expect(page.locator("#budget-spent")).to_have_text("USD 0.20")
    await expect(page.locator("#budget-left")).to_have_text("USD 12.10")
    await expect(page.locator("#total-counted")).to_have_text("5")
    await expect(page.locator("#total-spend")).to_have_text("USD 0.20")
    chart = page.get_by_role("img", name="Views counted and spend per day")
    await expect(chart).to_be_visible()
    assert await page.locator("#campaign-chart rect").count() == 2
    await expect(page.locator("#promoter-figures")).to_contain_text("Promoter 1")
    await brand.check("campaign_chart")
    await brand.click_button("Pause the campaign")
    await expect(page.locator("#pause-reason")).to_have_text("(paused by you)")
    await brand.check("campaign_paused")
    await brand.click_button("End the campaign and refund what is left")
    await expect(page.locator("#campaign-status")).to_have_text("Completed")
    await expect(page.locator("#budget-refunded")).to_have_text("USD 12.10")
    await brand.check("campaign_ended")
    await brand.goto("/brand/campaigns")
    await expect(page.locator("#wallet-available")).to_have_text("USD 49.80")
    await brand.check("campaigns_after")
    await brand.close()
