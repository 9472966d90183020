"""Each role's main path through the web app, end to end, in a real headless Chromium.

One marketplace story, every step clicked on the pages of a live server (uvicorn, with its job
worker in process, so the sandbox provider's webhook really arrives):

1. a brand adds funds to the wallet through the sandbox checkout, creates a job and funds it;
2. two creators find the job and claim a slot each; one submits content;
3. the brand approves it; the creator sees the earning (pending in the wallet, with its
   release date);
4. the brand closes the job and sees the refund of the unused slot;
5. the admin sees the marketplace analytics, the users and the ledger's status;
6. the creator's studio pages and everyone's settings page are visited.

Accounts are made through the API (an in-process client on the same database: the mail's
confirmation code is read from the outbox); everything after that is the browser's.

At every page: a screenshot at desktop and at phone width (in
`tests/output/screenshots/roles/`, not committed), no sideways scrolling at either width, no
Content Security Policy violation, no script error, and the accessibility checks of
test_shell_browser.py (axe-core's, no serious or critical violation, when it is installed; our
own smaller check always). Skipped without /usr/bin/chromium, a failure in CI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import Database
from helpers import PASSWORD, Account, account, grant_roles
from market_helpers import creator
from process_helpers import app_in_thread, loopback_socket
from web import test_browser as shared
from web.test_browser import DESKTOP, PHONE, SCREENSHOTS, LiveServer, fits_the_screen
from web.test_shell_browser import AXE, AXE_PRESENT, AXE_RUN, CSP_LISTENER, OWN_CHECKS

browser, chromium_path = shared.browser, shared.chromium_path
SHOTS = SCREENSHOTS / "roles"
# The checkout page reloads itself every 3 s until the webhook is in; the worker polls too.
WEBHOOK_TIMEOUT_MS = 30_000


@pytest.fixture
def live_server(database_url: str, app: FastAPI) -> Iterator[LiveServer]:
    """The real app under uvicorn, in a thread, with its job worker (test_browser's has none).

    It starts after the in-process `app` the tests make their accounts with: an app's start
    points the process's job runtime (procrastinate's connector, the tasks' database, the
    sandbox's in-process webhook target) at itself, and the worker running here must find
    its own there, bound to its own event loop. Started the other way round, the worker's
    jobs ran on the test loop's connections from this thread and could stall, holding their
    locks (a registration then waited on them until the test's timeout).
    """
    sock = loopback_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # Earnings stay pending a week, so the creator's wallet shows one with its release date.
    settings = make_settings(
        database_url, public_base_url=url, run_worker_in_process=True, earnings_hold_days=7
    )
    app = create_app(settings, database_url=database_url)
    with app_in_thread(app, sock):
        yield LiveServer(url, database_url)


class Person:
    """One person's browser context, signed in on the pages; every page checked the same way."""

    def __init__(self, page: Any, label: str, server: LiveServer) -> None:
        self.page, self.label, self.server = page, label, server
        self.shots = 0
        self.console: list[str] = []
        self.axe_findings: list[dict[str, Any]] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    @classmethod
    async def signed_in(cls, chromium: Any, server: LiveServer, label: str, who: Account) -> Person:
        from playwright.async_api import expect

        width, height = DESKTOP
        context = await chromium.new_context(
            viewport={"width": width, "height": height}, locale="en-GB"
        )
        await context.add_init_script(CSP_LISTENER)
        if AXE_PRESENT:
            await context.add_init_script(path=str(AXE))
        person = cls(await context.new_page(), label, server)
        await person.goto("/login")
        await person.page.get_by_label("E-mail address").fill(who.email)
        await person.page.get_by_label("Password").fill(PASSWORD)
        await person.click_button("Sign in")
        await expect(person.page.get_by_role("status")).to_contain_text("You are signed in")
        return person

    async def goto(self, path: str, status: int = 200) -> None:
        response = await self.page.goto(f"{self.server.url}{path}")
        assert response is not None and response.status == status, (path, response)

    async def click_button(self, name: str, **options: Any) -> None:
        async with self.page.expect_navigation():
            await self.page.get_by_role("button", name=name, **options).click()

    async def click_link(self, name: str, **options: Any) -> None:
        async with self.page.expect_navigation():
            await self.page.get_by_role("link", name=name, **options).first.click()

    @property
    def path(self) -> str:
        return str(self.page.url).removeprefix(self.server.url)

    async def check(self, name: str) -> None:
        """The page as it is now, at desktop and at phone width: screenshots, width, CSP,
        script errors, accessibility."""
        self.shots += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        stem = f"{self.label}_{self.shots:02}_{name}"
        await self.page.screenshot(path=str(SHOTS / f"{stem}_desktop.png"), full_page=True)
        assert await fits_the_screen(self.page), f"{name}: scrolls sideways at desktop width"
        await self.page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        try:
            await self.page.screenshot(path=str(SHOTS / f"{stem}_phone.png"), full_page=True)
            assert await fits_the_screen(self.page), f"{name}: scrolls sideways at phone width"
            # However many entries a role has, its navigation is one row (that scrolls).
            rows = await self.page.evaluate(
                "new Set([...document.querySelectorAll('.main-nav li')]"
                ".map((li) => li.offsetTop)).size"
            )
            assert rows <= 1, f"{name}: the navigation takes {rows} lines at phone width"
        finally:
            await self.page.set_viewport_size({"width": DESKTOP[0], "height": DESKTOP[1]})
        violations = await self.page.evaluate("window.__cspViolations")
        assert violations == [], (name, violations)
        assert not [c for c in self.console if "Content Security Policy" in c], self.console
        assert not [c for c in self.console if c.startswith("pageerror")], self.console
        problems = await self.page.evaluate(OWN_CHECKS)
        assert problems == [], (name, problems)
        if AXE_PRESENT:
            found = await self.page.evaluate(AXE_RUN)
            serious = [v for v in found if v["impact"] in {"serious", "critical"}]
            assert serious == [], (name, serious)
            self.axe_findings.extend({**v, "page": name} for v in found)

    async def close(self) -> None:
        await self.page.context.close()


async def accounts(client: httpx.AsyncClient, database: Database) -> dict[str, Account]:
    """The story's people, made through the API with confirmed addresses."""
    people = {
        "brand": await account(client, roles=["brand"]),
        "first": await creator(client, followers=12_000),
        "second": await creator(client, followers=8_000),
        "admin": await account(client),
    }
    await grant_roles(database, people["admin"].id, "admin")
    return people


async def brand_funds_and_posts_a_job(chromium: Any, server: LiveServer, who: Account) -> str:
    """The brand's first part: add 500 through the checkout, post a two-slot job of 200 and fund
    it; returns the job's page path."""
    from playwright.async_api import expect

    brand = await Person.signed_in(chromium, server, "brand", who)
    page = brand.page
    await brand.goto("/brand")
    await expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()
    await brand.check("dashboard_empty")

    await brand.click_link("Add funds")
    await expect(page.get_by_role("heading", name="Add funds to your wallet")).to_be_visible()
    await page.get_by_label("Amount").fill("500")
    await brand.check("add_funds")
    await brand.click_button("Continue to payment")
    await expect(page.locator("#payment-status")).to_have_text("waiting for you to pay")
    await brand.check("checkout")
    await brand.click_button("Pay USD 500")
    # The provider's webhook arrives through the worker; the page reloads itself until then.
    await expect(page.locator("#payment-status")).to_have_text(
        "paid: the money is in your wallet", timeout=WEBHOOK_TIMEOUT_MS
    )
    await brand.check("paid")

    await brand.goto("/brand")
    await expect(page.locator("#wallet-available")).to_have_text("USD 500")
    await brand.click_link("Post a new job")
    await page.get_by_label("Title").fill("Autumn lookbook reel")
    await page.get_by_label("Description").fill("One reel showing three autumn outfits.")
    await page.get_by_label("Last day").fill("2031-01-31")
    await page.get_by_label("Budget").fill("200")
    await page.get_by_label("Slots").fill("2")
    await brand.check("new_job")
    await brand.click_button("Save the job")
    await expect(page.get_by_role("status")).to_contain_text("The job is saved")
    job_path = brand.path
    assert re.fullmatch(r"/brand/jobs/[0-9a-f-]{36}", job_path), job_path
    await brand.click_button("Fund USD 200 from your wallet")
    await expect(page.locator("#job-status")).to_have_text("Open")
    await expect(page.locator("#escrow-balance")).to_have_text("USD 200")
    await brand.check("job_funded")
    await brand.close()
    return job_path


async def creator_claims(
    chromium: Any, server: LiveServer, label: str, who: Account, title: str
) -> Person:
    """A creator finds the job among those that match them and claims a slot; left on the
    claim's page."""
    from playwright.async_api import expect

    person = await Person.signed_in(chromium, server, label, who)
    page = person.page
    await person.goto("/creator")
    await expect(page.get_by_role("heading", name="Open jobs for you")).to_be_visible()
    await person.check("open_jobs")
    await person.click_link(title)
    await expect(page.get_by_role("heading", name=title)).to_be_visible()
    await person.check("job")
    await person.click_button("Claim a slot")
    await expect(page.get_by_role("status").first).to_contain_text("The slot is yours")
    assert re.fullmatch(r"/creator/claims/[0-9a-f-]{36}", person.path), person.path
    await person.check("claimed")
    return person


async def creator_submits(person: Person) -> None:
    from playwright.async_api import expect

    page = person.page
    await page.get_by_label("Platform").select_option("instagram")
    await page.get_by_label("Address of the content").fill("https://instagram.com/p/autumn1")
    await page.get_by_label("Note for the brand").fill("Live since this morning.")
    await person.click_button("Submit for review")
    await expect(page.get_by_role("status").first).to_contain_text("sent to the brand")
    await person.check("submitted")


async def brand_approves_and_closes(
    chromium: Any, server: LiveServer, who: Account, job_path: str
) -> None:
    """The brand approves the one submission, then closes the job: the unused slot's share
    comes back."""
    from playwright.async_api import expect

    brand = await Person.signed_in(chromium, server, "brand_later", who)
    page = brand.page
    await brand.goto(job_path)
    await expect(page.locator("#figure-claimed")).to_have_text("2 of 2")
    await expect(page.get_by_text("https://instagram.com/p/autumn1")).to_be_visible()
    await brand.check("review")
    await brand.click_button("Approve and pay USD 100")
    await expect(page.get_by_role("status").first).to_contain_text("The content is approved")
    await expect(page.locator("#figure-approved")).to_have_text("1")
    await brand.check("approved")
    await brand.click_button("Close the job")
    await expect(page.locator("#job-status")).to_have_text("Closed")
    await expect(page.locator("#figure-refunded")).to_have_text("USD 100")
    await brand.check("closed")
    await brand.goto("/wallet")
    # 500 in, 200 to the job, 100 back: 400 available.
    await expect(page.locator("#wallet-available")).to_have_text("USD 400")
    await brand.check("wallet")
    await brand.close()


async def creator_sees_the_earning(person: Person) -> None:
    from playwright.async_api import expect

    page = person.page
    await person.click_link("My claims")
    await expect(page.locator(".claim-state").first).to_contain_text("approved")
    await expect(page.locator("#earned-USD")).to_contain_text("earned after")
    await person.check("claims")
    await person.click_link("Wallet")
    await expect(page.locator("#wallet-pending")).not_to_have_text("USD 0")
    await expect(page.locator(".pending-list li").first).to_contain_text("released")
    await person.check("wallet")
    await person.goto("/payouts")
    await person.check("payouts")


async def admin_looks(chromium: Any, server: LiveServer, who: Account, brand_email: str) -> None:
    """The admin recomputes today's analytics and sees the job's fee; finds the brand among the
    users; checks the ledger."""
    from playwright.async_api import expect

    admin = await Person.signed_in(chromium, server, "admin", who)
    page = admin.page
    await admin.goto("/admin/analytics")
    await expect(page.get_by_role("heading", name="Marketplace analytics")).to_be_visible()
    await admin.click_button("Recompute the rollup")
    await expect(page.locator("#money-USD .platform-fees")).not_to_have_text("USD 0")
    await admin.check("analytics")
    await admin.goto("/admin/users")
    await page.get_by_label("E-mail address (its start) or name (any part)").fill(brand_email)
    await admin.click_button("Search")
    await expect(page.get_by_role("link", name=brand_email)).to_be_visible()
    await admin.check("users")
    await admin.click_link(brand_email)
    await admin.check("user")
    await admin.goto("/admin/ledger")
    await admin.click_button("Check the ledger now")
    await expect(page.locator("#ledger-result")).to_contain_text("The ledger is sound")
    await admin.check("ledger")
    for path, name in (
        ("/admin/payouts", "payouts"),
        ("/admin/fees", "fees"),
        ("/admin/logs", "logs"),
        ("/settings", "settings"),
    ):
        await admin.goto(path)
        await admin.check(name)
    await admin.close()


async def creator_studio(person: Person) -> None:
    """The creator's workspace pages and settings, each checked as it opens."""
    for path, name in (
        ("/studio/portfolio", "studio_portfolio"),
        ("/studio/shoots", "studio_shoots"),
        ("/studio/calendar", "studio_calendar"),
        ("/studio/reviews", "studio_reviews"),
        ("/settings", "settings"),
    ):
        await person.goto(path)
        await person.check(name)


async def test_each_role_walks_its_main_path_in_chromium(
    browser: Any, live_server: LiveServer, client: httpx.AsyncClient, database: Database
) -> None:
    people = await accounts(client, database)
    title = "Autumn lookbook reel"
    job_path = await brand_funds_and_posts_a_job(browser, live_server, people["brand"])
    first = await creator_claims(browser, live_server, "creator_first", people["first"], title)
    second = await creator_claims(browser, live_server, "creator_second", people["second"], title)
    await second.close()
    await creator_submits(first)
    await brand_approves_and_closes(browser, live_server, people["brand"], job_path)
    await creator_sees_the_earning(first)
    await creator_studio(first)
    await first.close()
    await admin_looks(browser, live_server, people["admin"], people["brand"].email)
