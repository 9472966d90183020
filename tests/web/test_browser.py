"""The review link and the portfolio in a real headless Chromium, end to end.

The real app runs under uvicorn on a free port (a thread, on the test's database); Debian's
chromium (`/usr/bin/chromium`, installed by `make test` where it can install system packages,
as on CI) is driven through Playwright, with JavaScript off: the pages must work without it.
Elsewhere the test is skipped with a message in pytest's summary; in CI (`CI=true`) it fails
instead (`components.require_component`). Playwright's own browser download is never used.

Flow: a creator with a portfolio and a completed shoot (set up through the API) makes a review
link; the client opens it (nothing is recorded), sends it once with an address the server
refuses, corrects it and sends it; the creator publishes the review, which the portfolio then
shows. Used, expired and unknown links get their 410 and 404 pages.

The API docs (`/docs`, `/redoc`) are opened with JavaScript on: their UI renders under the CSP
the server sends them, with no violation reported.

A screenshot of each page is saved in `tests/output/screenshots/` (or
`$CREATORHUB_SCREENSHOT_DIR`), which CI can keep as an artifact.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from components import require_component
from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import libpq_url
from process_helpers import app_in_thread, loopback_socket
from review_helpers import creator, review_link, shoot

CHROMIUM = Path("/usr/bin/chromium")
MISSING = f"{CHROMIUM} is missing; `make test` installs Debian's chromium where it can"
SCREENSHOTS = Path(
    os.environ.get(
        "CREATORHUB_SCREENSHOT_DIR", Path(__file__).resolve().parents[1] / "output" / "screenshots"
    )
)
PHONE = (390, 844)  # a common phone viewport, CSS pixels
DESKTOP = (1280, 900)
REVIEW_TEXT = "Sarah was punctual and creative; the photos arrived two days early."


@dataclass
class LiveServer:
    url: str
    database_url: str


@pytest.fixture
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The real app under uvicorn, in a thread, on a free port of 127.0.0.1."""
    sock = loopback_socket()  # bound first: the links the app gives out need its address
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(make_settings(database_url, public_base_url=url), database_url=database_url)
    with app_in_thread(app, sock):
        yield LiveServer(url, database_url)


async def rows(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        cursor = await conn.execute(sql, params)
        return await cursor.fetchall()


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        require_component("chromium", MISSING)  # skipped here, a failure in CI
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def fits_the_screen(page: Any) -> bool:
    """No sideways scrolling: the page is usable on a narrow screen."""
    return bool(
        await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    )


async def test_review_link_to_portfolio_in_chromium(browser: Any, live_server: LiveServer) -> None:
    from playwright.async_api import expect

    db = live_server.database_url
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as api:
        me, slug = await creator(
            api, display_name="Sarah Snaps", socials={"email": "bookings@sarah.example"}
        )
        await rows(
            db,
            "INSERT INTO social.credentials (user_id, platform, platform_user_id, username,"
            " access_token, key_id, follower_count, follower_count_at)"
            " VALUES (%s, 'instagram', 'ig-1', 'sarah.snaps', '\\x00'::bytea, 'k1', 48210, now())"
            " RETURNING 1",
            me.id,
        )
        shoot_id = await shoot(api, me, brand_name="Acme Studio", day="2025-05-01")
        _, token, link = await review_link(api, me, shoot_id)
        assert link["url"] == f"{live_server.url}/review/{token}"

        phone = await browser.new_context(
            viewport={"width": PHONE[0], "height": PHONE[1]},
            java_script_enabled=False,
            locale="en-GB",
        )
        page = await phone.new_page()

        # Opening the link shows the form and records nothing.
        response = await page.goto(link["url"])
        assert response is not None and response.status == 200
        await expect(
            page.get_by_role("heading", name="Review your shoot with Sarah Snaps")
        ).to_be_visible()
        assert await fits_the_screen(page)
        await shot(page, "01_review_form")
        assert await rows(db, "SELECT id FROM workspace.reviews") == []
        assert await rows(db, "SELECT used_at, revoked_at FROM workspace.review_links") == [
            (None, None)
        ]

        # Filled through the labels (they name the inputs); an address the browser takes but
        # the server refuses comes back with the message and what was typed.
        await page.get_by_label("Your phone number").fill("+44 20 7946 0958")
        await page.get_by_label("Your e-mail address").fill("client@example")
        await page.get_by_label("5 stars (excellent)").check()
        await page.get_by_label("Your review").fill(REVIEW_TEXT)
        async with page.expect_navigation():
            await page.get_by_role("button", name="Send my review").click()
        await expect(page.get_by_role("alert")).to_contain_text("Enter a valid e-mail address")
        await expect(page.get_by_label("Your phone number")).to_have_value("+44 20 7946 0958")
        await expect(page.get_by_label("Your review")).to_have_value(REVIEW_TEXT)
        await expect(page.get_by_label("5 stars (excellent)")).to_be_checked()
        await shot(page, "02_review_form_error")
        assert await rows(db, "SELECT id FROM workspace.reviews") == []

        await page.get_by_label("Your e-mail address").fill("client@acme.example")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Send my review").click()
        await expect(page.get_by_role("heading", name="Thank you for your review")).to_be_visible()
        await expect(page.get_by_role("status")).to_contain_text("Sarah Snaps")
        assert await fits_the_screen(page)
        await shot(page, "03_thank_you")
        recorded = await rows(
            db, "SELECT rating, review_text, client_email, is_published FROM workspace.reviews"
        )
        assert recorded == [(5, REVIEW_TEXT, "client@acme.example", False)]

        # The creator publishes it; the portfolio shows it.
        listed = await api.get("/v1/workspace/reviews", headers=me.headers)
        review_id = listed.json()["items"][0]["id"]
        published = await api.post(f"/v1/workspace/reviews/{review_id}/publish", headers=me.headers)
        assert published.status_code == 200, published.text

        response = await page.goto(f"{live_server.url}/portfolio/{slug}")
        assert response is not None and response.status == 200
        await expect(page.get_by_role("heading", name="Sarah Snaps", level=1)).to_be_visible()
        await expect(page.get_by_text(REVIEW_TEXT)).to_be_visible()
        await expect(page.get_by_text("5.0 out of 5")).to_be_visible()
        await expect(page.get_by_text("48,210 followers")).to_be_visible()
        await expect(page.get_by_role("link", name="E-mail Sarah Snaps")).to_have_attribute(
            "href",
            "mailto:bookings@sarah.example?subject=Collaboration%20enquiry%20for%20Sarah%20Snaps",
        )
        assert await fits_the_screen(page)
        await shot(page, "04_portfolio_phone")
        desktop = await browser.new_page(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
        await desktop.goto(f"{live_server.url}/portfolio/{slug}")
        await expect(desktop.get_by_text(REVIEW_TEXT)).to_be_visible()
        await shot(desktop, "05_portfolio_desktop")
        await desktop.close()

        # The used link: 410, and still one review.
        response = await page.goto(link["url"])
        assert response is not None and response.status == 410
        await expect(
            page.get_by_role("heading", name="This review was already sent")
        ).to_be_visible()
        await shot(page, "06_used_link_410")

        # An expired link: 410.
        other = await shoot(api, me, brand_name="Globex")
        _, old_token, old_link = await review_link(api, me, other)
        await rows(
            db,
            "UPDATE workspace.review_links SET created_at = now() - interval '31 days',"
            " expires_at = now() - interval '1 day' WHERE token_hash = %s RETURNING 1",
            hashlib.sha256(old_token.encode()).digest(),
        )
        response = await page.goto(old_link["url"])
        assert response is not None and response.status == 410
        await expect(
            page.get_by_role("heading", name="This review link has expired")
        ).to_be_visible()
        await shot(page, "07_expired_link_410")

        # A link that was never issued: 404.
        response = await page.goto(f"{live_server.url}/review/review_1700000000_{'A' * 43}")
        assert response is not None and response.status == 404
        await expect(
            page.get_by_role("heading", name="This review link is not valid")
        ).to_be_visible()
        await shot(page, "08_unknown_link_404")

        assert len(await rows(db, "SELECT id FROM workspace.reviews")) == 1
        await phone.close()
    print(f"screenshots in {SCREENSHOTS}")


# --- the API docs under their Content-Security-Policy -------------------------------------------


async def test_api_docs_render_in_chromium_without_a_csp_violation(
    browser: Any, live_server: LiveServer
) -> None:
    """/docs and /redoc run their local assets under the strict CSP the server sends them.

    Chromium reports every blocked script, style, image, worker or connection on the console
    ("Refused to ... because it violates the following Content Security Policy directive") and
    as a `securitypolicyviolation` event; both are collected, and an image from another site
    added at the end proves the collection sees a violation when there is one.
    """
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
    await context.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e =>"
        " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))

    async def violations() -> list[str]:
        reported: list[str] = await page.evaluate("window.__cspViolations")
        return reported + [line for line in console if "Content Security Policy" in line]

    # Swagger UI: the operations of the document are listed, and one opens.
    response = await page.goto(f"{live_server.url}/docs")
    assert response is not None and response.status == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    operations = page.locator(".swagger-ui .opblock")
    await expect(operations.first).to_be_visible(timeout=30_000)
    assert await operations.count() > 50
    await page.locator(".swagger-ui .opblock-summary").first.click()
    await expect(page.locator(".swagger-ui .opblock-body").first).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "09_api_docs_swagger.png"))
    assert await violations() == [], console
    assert not [line for line in console if line.startswith(("error", "pageerror"))], console

    # ReDoc: the title, the operations, and a search (which runs in its blob: worker).
    response = await page.goto(f"{live_server.url}/redoc")
    assert response is not None and response.status == 200
    await expect(page.get_by_role("heading", name="creatorhub", level=1)).to_be_visible(
        timeout=30_000
    )
    await expect(page.get_by_text("The database answers").first).to_be_attached()
    await page.get_by_placeholder("Search").fill("login")
    await expect(page.locator("[data-role='search:results'] li").first).to_be_visible(
        timeout=30_000
    )
    await page.screenshot(path=str(SCREENSHOTS / "10_api_docs_redoc.png"))
    assert await violations() == [], console
    assert not [line for line in console if line.startswith(("error", "pageerror"))], console

    # The collection works: something the policy forbids is reported.
    await page.evaluate(
        "() => { const image = document.createElement('img');"
        " image.src = 'https://third-party.invalid/pixel.png'; document.body.append(image); }"
    )
    for _ in range(50):
        if [line for line in await violations() if "third-party.invalid" in line]:
            break
        await page.wait_for_timeout(100)
    assert [line for line in await violations() if "third-party.invalid" in line], console
    await context.close()


async def test_the_demo_portfolio_shows_its_photo_in_chromium(
    browser: Any, live_server: LiveServer
) -> None:
    """The demo's one public product page: its photo ships with the package and loads from
    the platform itself (it once pointed at a host that does not exist: alt text only)."""
    from creatorhub.demo import load_demo

    await load_demo(
        live_server.database_url,
        make_settings(live_server.database_url, public_base_url=live_server.url),
    )
    page = await browser.new_page(viewport={"width": PHONE[0], "height": PHONE[1]})
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = await page.goto(f"{live_server.url}/portfolio/sarah")
    assert response is not None and response.status == 200
    photo = page.get_by_role("img", name="Photo of Sarah")
    assert await photo.get_attribute("src") == f"{live_server.url}/static/demo/sarah.svg"
    size = await photo.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert size == [True, 192, 192], size
    assert failed == []
    assert await fits_the_screen(page)
    await shot(page, "10_demo_portfolio_phone")
