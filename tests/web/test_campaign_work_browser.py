"""The consultant pages in a real headless Chromium (issue 15), end to end on a live server:

1. a brand starts a consultant campaign on the form (the kind chosen, the range in dollars)
   and funds it from its wallet;
2. a creator applies from the campaign's page; the brand counters; the creator accepts;
3. the brand proposes a deliverable; the creator agrees and submits links to the work; the
   brand approves it (paid at once);
4. the creator's list of applications; an administrator decides a dispute (set up through the
   API) on the disputes page, paying part of it.

Every page is checked as test_roles_browser.py checks them (its `Person`): screenshots at
desktop and phone width (`tests/output/screenshots/roles/work_*`), no sideways scrolling, no
Content Security Policy violation or script error, the accessibility checks (axe-core's when
installed). Skipped without /usr/bin/chromium, a failure in CI. The ledger's invariants are
checked after the test (`money_fixtures`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from campaign_helpers import advertiser, promoter
from creatorhub.db import Database
from helpers import account, grant_roles
from money_fixtures import ledger_verified
from payment_helpers import wallet
from web import test_browser as shared
from web.test_browser import LiveServer
from web.test_roles_browser import Person, live_server
from work_helpers import call, propose, submit

browser, chromium_path = shared.browser, shared.chromium_path
__all__ = ["browser", "chromium_path", "ledger_verified", "live_server"]


async def test_a_consultant_campaign_from_the_form_to_a_decided_dispute_in_chromium(
    browser: Any, live_server: LiveServer, client: httpx.AsyncClient, database: Database
) -> None:
    from playwright.async_api import expect

    owner = await advertiser(client, funds=1_500_00)
    creator = await promoter(client, followers=9_000)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    last_day = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()

    brand = await Person.signed_in(browser, live_server, "work_brand", owner)
    page = brand.page
    await brand.goto("/brand/campaigns/new")
    await page.get_by_role("radio", name=re.compile("^Consultant")).check()
    await page.get_by_label("Title").fill("Spring launch strategy")
    await page.get_by_label("Description").fill("A plan for the launch, in two pieces.")
    await page.get_by_label("Minimum budget", exact=True).fill("500")
    await page.get_by_label("Maximum budget", exact=True).fill("1000")
    await page.get_by_label("Last day").fill(last_day)
    await brand.check("new_consultant")
    await brand.click_button("Save the campaign")
    await expect(page.get_by_role("status")).to_contain_text("saved as a draft")
    campaign_path = brand.path
    cid = campaign_path.rsplit("/", 1)[-1]
    await expect(page.locator("#work-range")).to_have_text("USD 500 to USD 1,000")
    await brand.click_button("Fund USD 1,000 from your wallet")
    await expect(page.locator("#campaign-status")).to_have_text("Active")
    await brand.check("funded")

    promoting = await Person.signed_in(browser, live_server, "work_creator", creator)
    mine = promoting.page
    await promoting.goto("/creator/campaigns")
    await expect(mine.locator("#matching")).to_contain_text("Consultant work: USD 500")
    await promoting.click_link("Spring launch strategy")
    await promoting.check("to_apply")
    await mine.get_by_label("Your proposed amount (USD)").fill("1200")
    await promoting.click_button("Apply")
    await expect(mine.locator("#work-error")).to_contain_text("outside the campaign's range")
    await promoting.check("apply_refused")
    await mine.get_by_label("Your proposed amount (USD)").fill("900")
    await mine.get_by_label("Note to the brand").fill("I launched two brands last spring.")
    await promoting.click_button("Apply")
    await expect(mine.locator("#application-status")).to_have_text("Negotiating")
    await promoting.check("applied")

    await brand.goto(campaign_path)
    await expect(page.locator("#applications")).to_contain_text("I launched two brands")
    await page.get_by_label("Your counter-offer (USD)").fill("700")
    await page.get_by_label("Note to the promoter").fill("Our range for this scope.")
    await brand.click_button("Send the counter-offer")
    await expect(page.locator("#applications")).to_contain_text("waits for the promoter")
    await brand.check("countered")

    await mine.reload()
    await promoting.click_button("Accept USD 700")
    await expect(mine.locator("#agreed")).to_have_text("USD 700")
    await promoting.check("accepted")

    await brand.goto(campaign_path)
    await page.get_by_label("Title").fill("Strategy deck")
    await page.get_by_label("Amount (USD)").fill("300")
    await page.get_by_label("Due date").fill(last_day)
    await brand.click_button("Propose the deliverable")
    await expect(page.get_by_role("status")).to_contain_text("The deliverable is proposed")
    await brand.check("proposed")

    await mine.reload()
    await promoting.click_button("Agree to USD 300")
    await mine.get_by_label("Links to the work").fill(
        "https://drive.example.com/deck\nhttps://drive.example.com/notes"
    )
    await promoting.click_button("Submit the work")
    await expect(mine.get_by_role("status")).to_contain_text("submitted for review")
    await promoting.check("submitted")

    await brand.goto(campaign_path)
    await expect(page.get_by_role("link", name="https://drive.example.com/notes")).to_be_visible()
    await brand.check("to_review")
    await brand.click_button("Approve and pay USD 300")
    await expect(page.get_by_role("status")).to_contain_text("approved and paid")
    await brand.check("approved")
    await brand.close()
    assert (await wallet(client, creator.headers))["available"] == 27_000

    # A second piece, rejected and disputed through the API, for the administrator.
    app_id = (await call(client, "GET", "/v1/campaign-applications", creator))["items"][0]["id"]
    plan = (await propose(client, app_id, owner, 40_000, "Launch plan"))["id"]
    await call(client, "POST", f"/v1/campaign-deliverables/{plan}/agree", creator)
    await submit(client, plan, creator)
    reason = {"reason": "the plan is too long"}
    await call(
        client, "POST", f"/v1/campaign-deliverables/{plan}/request-changes", owner, json=reason
    )
    await mine.reload()
    await mine.get_by_label("Why the request for changes is unfair").fill("It was agreed.")
    await promoting.click_button("Dispute the request")
    await expect(mine.get_by_role("status")).to_contain_text("an administrator decides")
    await promoting.goto("/creator/campaign-applications")
    await expect(mine.locator("#applications")).to_contain_text("Spring launch strategy")
    await promoting.check("my_applications")
    await promoting.close()

    staff = await Person.signed_in(browser, live_server, "work_admin", admin)
    await staff.goto("/admin/campaign-disputes")
    await expect(staff.page.locator(f"#dispute-{plan}")).to_contain_text("It was agreed.")
    await staff.check("disputes")
    await staff.page.get_by_role("radio", name="Pay part of it").check()
    await staff.page.get_by_label("Amount paid, for part of it (USD)").fill("250")
    await staff.page.get_by_label("Note (why)").fill("Half of the plan was usable.")
    await staff.click_button("Decide the dispute")
    await expect(staff.page.get_by_role("status")).to_contain_text("The dispute is decided")
    await staff.check("decided")
    await staff.close()
    assert (await wallet(client, creator.headers))["available"] == 27_000 + 22_500
    campaign = await call(client, "GET", f"/v1/campaigns/{cid}", owner)
    assert (campaign["escrow_balance"], campaign["escrow_reserved"]) == (45_000, 0)
