"""The web app's shell in a real headless Chromium, at desktop and at phone width.

Someone new opens the landing page, creates an account with two roles (a mistake first, which
comes back with what was typed), confirms the address from the mail's link, signs in, sees the
dashboard, switches roles, signs out, and meets a 404 page. At each page: a screenshot (in
`tests/output/screenshots/shell/`, not committed), no sideways scrolling, no Content Security
Policy violation, and an accessibility check.

The accessibility check is axe-core's when its script is there (`$CREATORHUB_AXE_CORE`, or
`tests/output/axe/node_modules/axe-core/axe.min.js`: `npm install --prefix tests/output/axe
axe-core`): no serious or critical violation. It is injected as an init script, which the page's
CSP does not govern (the page itself still runs nothing inline). Whether or not axe-core is
there, a smaller check of our own runs: `lang` set, one h1, a main landmark, the skip link's
target, every visible form control labelled, every image with alt text.

Both runs have JavaScript on, since the checks run in the page; nothing here needs it (the
forms are plain posts, `static/app.js` only moves the focus to a field at fault), and the HTTP
tests (test_shell.py) drive every form without any. The same skip rule as test_browser.py:
skipped without /usr/bin/chromium, a failure in CI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from helpers import PASSWORD, unique_email
from web import test_browser as shared
from web.test_browser import DESKTOP, PHONE, SCREENSHOTS, LiveServer, fits_the_screen, rows

# The live server and the browser of the existing browser test, as fixtures of this module.
live_server, browser, chromium_path = shared.live_server, shared.browser, shared.chromium_path

AXE = Path(
    os.environ.get(
        "CREATORHUB_AXE_CORE",
        Path(__file__).resolve().parents[1]
        / "output"
        / "axe"
        / "node_modules"
        / "axe-core"
        / "axe.min.js",
    )
)
AXE_PRESENT = AXE.exists()
SHOTS = SCREENSHOTS / "shell"

CSP_LISTENER = (
    "window.__cspViolations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
)

OWN_CHECKS = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  const h1 = document.querySelectorAll("h1").length;
  if (h1 !== 1) problems.push(`${h1} h1 elements`);
  // A title is a short text: markup in it means a template's block swallowed the page.
  if (!document.title || document.title.includes("<") || document.title.length > 150)
    problems.push(`title: ${document.title.slice(0, 80)}`);
  if (document.querySelectorAll("main").length !== 1) problems.push("not one <main>");
  const skip = document.querySelector("a.skip-link");
  if (!skip || !document.querySelector(skip.getAttribute("href"))) problems.push("skip link");
  for (const control of document.querySelectorAll("input, select, textarea, button")) {
    if (control.type === "hidden") continue;
    const named = control.labels?.length || control.getAttribute("aria-label")
      || control.getAttribute("aria-labelledby")
      || (control.tagName === "BUTTON" && control.textContent.trim());
    if (!named) problems.push(`unlabelled ${control.outerHTML.slice(0, 80)}`);
  }
  for (const image of document.querySelectorAll("img")) {
    if (!image.hasAttribute("alt")) problems.push(`no alt: ${image.outerHTML.slice(0, 80)}`);
  }
  return problems;
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


class Walk:
    """One person's run through the shell in one browser context."""

    def __init__(self, page: Any, label: str, server: LiveServer) -> None:
        self.page, self.label, self.server = page, label, server
        self.shots = 0
        self.console: list[str] = []
        self.axe_findings: list[dict[str, Any]] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    async def goto(self, path: str, status: int = 200) -> None:
        response = await self.page.goto(f"{self.server.url}{path}")
        assert response is not None and response.status == status, path

    async def check(self, name: str) -> None:
        """The page as it is now: screenshot, width, CSP, accessibility."""
        self.shots += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(
            path=str(SHOTS / f"{self.label}_{self.shots:02}_{name}.png"), full_page=True
        )
        assert await fits_the_screen(self.page), f"{name}: scrolls sideways"
        violations = await self.page.evaluate("window.__cspViolations")
        assert violations == [], (name, violations)
        assert not [c for c in self.console if "Content Security Policy" in c], self.console
        assert not [c for c in self.console if c.startswith("pageerror")], self.console
        problems = await self.page.evaluate(OWN_CHECKS)
        assert problems == [], (name, problems)
        if AXE_PRESENT:
            assert await self.page.evaluate("typeof axe.run") == "function"
            found = await self.page.evaluate(AXE_RUN)
            serious = [v for v in found if v["impact"] in {"serious", "critical"}]
            assert serious == [], (name, serious)
            self.axe_findings.extend({**v, "page": name} for v in found)


async def walk_the_shell(chromium: Any, server: LiveServer, label: str, viewport: Any) -> Walk:
    from playwright.async_api import expect

    width, height = viewport
    context = await chromium.new_context(
        viewport={"width": width, "height": height},
        locale="en-GB",
    )
    await context.add_init_script(CSP_LISTENER)
    if AXE_PRESENT:
        await context.add_init_script(path=str(AXE))
    page = await context.new_page()
    walk = Walk(page, label, server)
    email = unique_email(f"shell-{label}")

    await walk.goto("/")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Brands and creators")
    await walk.check("landing")

    # Registering: a password that is too short comes back with what was typed.
    await page.get_by_role("link", name="Create an account").first.click()
    await expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Your name as others see it").fill("Robin Shell")
    await page.get_by_label("Password").fill("short")
    await page.get_by_label("Creator: I take on jobs").check()
    await page.get_by_label("Brand: I hire creators").check()
    async with page.expect_navigation():
        await page.get_by_role("button", name="Create the account").click()
    await expect(page.locator("#f-password-error")).to_be_visible()
    await expect(page.get_by_label("E-mail address")).to_have_value(email)
    await expect(page.get_by_label("Your name as others see it")).to_have_value("Robin Shell")
    await expect(page.get_by_label("Password")).to_have_value("")
    await expect(page.get_by_label("Brand: I hire creators")).to_be_checked()
    await walk.check("register_error")
    await page.get_by_label("Password").fill(PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Create the account").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("link to confirm it")
    await walk.check("registered")

    # The mail's link: the page's button confirms.
    [(body,)] = await rows(
        server.database_url,
        "SELECT body_text FROM mail.outbox WHERE to_address = %s AND template = 'verify_email'",
        email,
    )
    link = next(word for word in body.split() if "/verify-email?token=" in word)
    response = await page.goto(link)
    assert response is not None and response.status == 200
    async with page.expect_navigation():
        await page.get_by_role("button", name="Confirm my address").click()
    await expect(page.get_by_role("status")).to_contain_text("Your e-mail address is confirmed")
    await walk.check("verified")

    # Signing in leads to the dashboard of the first role.
    await walk.goto("/login")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Hello, Robin Shell")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("You are signed in")
    await expect(page.get_by_text("confirmed", exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()  # brand
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    await walk.check("dashboard_brand")

    # Switching roles, with the keyboard-usable picker in the header.
    await page.get_by_label("Acting as").select_option("creator")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Switch").click()
    await expect(page.get_by_role("heading", name="Your work")).to_be_visible()  # creator
    await expect(page.get_by_label("Acting as")).to_have_value("creator")
    await walk.check("dashboard_creator")

    # Signing out, then the dashboard asks to sign in again.
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_contain_text("You are signed out")
    await walk.check("signed_out")
    await walk.goto("/account")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    [(revoked,)] = await rows(
        server.database_url,
        "SELECT count(*) FROM identity.auth_sessions s JOIN identity.users u"
        " ON u.id = s.user_id WHERE u.email = %s AND s.revoked_reason = 'logout'",
        email,
    )
    assert revoked == 1

    await walk.goto("/no-such-page", status=404)
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    await walk.check("not_found")
    await context.close()
    return walk


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
async def test_the_shell_in_chromium(
    browser: Any, live_server: LiveServer, label: str, viewport: Any
) -> None:
    walk = await walk_the_shell(browser, live_server, label, viewport)
    assert walk.shots == 8
    if AXE_PRESENT:
        # Minor and moderate findings are reported, not failed (serious ones fail above).
        for finding in walk.axe_findings:
            print(f"axe ({label}, {finding['page']}): {finding['impact']} {finding['id']}")
