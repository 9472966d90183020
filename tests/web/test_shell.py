"""The web app's shell over HTTP: cookie sessions, CSRF, the account pages, headers, errors.

Each test drives the pages as a browser would (GET a form, POST it back with its token and the
cookies), through the real app, and checks the database where a page claims an effect.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import Database
from creatorhub.identity.models import Role
from creatorhub.kit.errors import Conflict, TooManyRequests
from creatorhub.web.csrf import CSRF_CHECKS
from creatorhub.web.errors import is_page_request
from creatorhub.web.session import SignedIn, page_role
from helpers import PASSWORD, account, mailed_token, scalar, unique_email
from review_helpers import creator
from web_helpers import (
    PRE_SESSION_COOKIE,
    ROLE_COOKIE,
    SESSION_COOKIE,
    csrf_of,
    form_token,
    page_login,
    page_register,
    session_cookie,
    set_cookie_header,
)


@contextlib.asynccontextmanager
async def signed_in_client(
    app: FastAPI, email: str | None = None, roles: tuple[str, ...] = ("creator",)
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A new browser (its own cookie jar) with a page session of a new account."""
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        email = email or unique_email("shell")
        assert (await page_register(browser, email, roles=roles)).status_code == 303
        assert (await page_login(browser, email)).status_code == 303
        yield browser, email


async def sessions_of(database: Database, email: str) -> list[tuple[Any, ...]]:
    async with database.session_scope() as session:
        rows = await session.execute(
            text(
                "SELECT s.id, s.revoked_at, s.revoked_reason FROM identity.auth_sessions s"
                " JOIN identity.users u ON u.id = s.user_id WHERE lower(u.email) = lower(:email)"
                " ORDER BY s.created_at"
            ),
            {"email": email},
        )
        return [tuple(row) for row in rows]


async def test_register_verify_sign_in_dashboard_sign_out(
    client: httpx.AsyncClient, database: Database
) -> None:
    email = unique_email("shell-walk")
    registered = await page_register(
        client, email, roles=("creator", "brand"), display_name="Walker"
    )
    assert registered.status_code == 303 and registered.headers["location"] == "/login"
    landing = await client.get("/login")
    assert "a link to confirm it is on its way" in landing.text
    # The flash is shown once.
    assert "a link to confirm it is on its way" not in (await client.get("/login")).text

    token = await mailed_token(database, email, "verify_email")
    confirm = await client.get(f"/verify-email?token={token}")
    assert confirm.status_code == 200 and 'name="token"' in confirm.text
    done = await client.post("/verify-email", data={"token": token})
    assert done.status_code == 200 and "confirmed" in done.text

    signed = await page_login(client, email, next_path="/account")
    assert signed.status_code == 303 and signed.headers["location"] == "/account"
    cookie = set_cookie_header(signed, SESSION_COOKIE)
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes, cookie
    assert "secure" not in attributes  # plain http here; https is tested below
    value = session_cookie(client)
    assert value is not None and value.startswith("chp_")
    user_id = await scalar(
        database, "SELECT id::text FROM identity.users WHERE email = :email", email=email
    )
    assert user_id not in value and user_id.replace("-", "") not in value

    dashboard = await client.get("/account")
    assert dashboard.status_code == 200
    assert "Hello, Walker" in dashboard.text and "confirmed" in dashboard.text
    assert "You are signed in." in dashboard.text
    assert dashboard.headers["cache-control"] == "no-store"

    out = await client.post("/logout", data={"csrf_token": csrf_of(dashboard.text)})
    assert out.status_code == 303 and out.headers["location"] == "/"
    assert session_cookie(client) is None
    [(_, revoked_at, reason)] = await sessions_of(database, email)
    assert revoked_at is not None and reason == "logout"
    again = await client.get("/account")
    assert again.status_code == 303 and again.headers["location"] == "/login"


async def test_a_request_over_https_gets_secure_host_cookies(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 40002))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as browser:
        email = unique_email("shell-https")
        assert (await page_register(browser, email)).status_code == 303
        signed = await page_login(browser, email)
        cookie = set_cookie_header(signed, f"__Host-{SESSION_COOKIE}")
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/", "secure"} <= attributes, cookie
        assert (await browser.get("/account")).status_code == 200


async def test_forms_without_the_right_token_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    async with signed_in_client(app, roles=("creator", "brand")) as (browser, email):
        dashboard = await browser.get("/account")
        token = csrf_of(dashboard.text)
        for data, headers in (
            ({"role": "creator"}, {}),  # no token
            ({"role": "creator", "csrf_token": "x" * 43}, {}),  # a wrong one
            ({"role": "creator", "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
        ):
            refused = await browser.post("/account/role", data=data, headers=headers)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"].startswith("text/html")
            assert "This form was not accepted" in refused.text
            assert "Nothing was changed" in refused.text
            assert ROLE_COOKIE not in refused.headers.get("set-cookie", "")
        assert "acting as <strong>Brand" in (await browser.get("/account")).text

        refused = await browser.post("/logout", data={"csrf_token": "nope"})
        assert refused.status_code == 403
        assert (await browser.get("/account")).status_code == 200  # still signed in
        assert all(revoked is None for _, revoked, _ in await sessions_of(database, email))

        # Another browser's token does not fit this session.
        async with signed_in_client(app) as (other, _):
            foreign = csrf_of((await other.get("/account")).text)
        assert (
            await browser.post("/account/role", data={"role": "creator", "csrf_token": foreign})
        ).status_code == 403

    # Signing in without a token (login CSRF) opens no session.
    sessions = len(await sessions_of(database, email))
    forged = await client.post("/login", data={"email": email, "password": PASSWORD})
    assert forged.status_code == 403 and session_cookie(client) is None
    assert len(await sessions_of(database, email)) == sessions
    # Registering neither.
    other_email = unique_email("shell-forged")
    forged = await client.post(
        "/register",
        data={"email": other_email, "password": PASSWORD, "display_name": "X"},
    )
    assert forged.status_code == 403
    count = "SELECT count(*) FROM identity.users WHERE email = :email"
    assert await scalar(database, count, email=other_email) == 0


async def test_every_page_post_is_checked_against_forgery(app: FastAPI) -> None:
    checked = set(CSRF_CHECKS)
    posts = [
        route
        for route in app.routes
        if isinstance(route, APIRoute)
        and "POST" in route.methods
        and not route.path.startswith("/v1/")
        and route.path != "/v1"
    ]
    assert posts
    for route in posts:
        calls = {dependency.call for dependency in route.dependant.dependencies}
        assert calls & checked, f"POST {route.path} has no CSRF check"


async def test_a_session_cookie_from_before_the_login_is_never_promoted(
    app: FastAPI, database: Database
) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 40003))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        email = unique_email("shell-fixation")
        assert (await page_register(browser, email)).status_code == 303
        # An attacker plants a session cookie of their choosing, then the victim signs in.
        planted = "chp_" + "A" * 43
        browser.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        assert (await page_login(browser, email)).status_code == 303
        first = session_cookie(browser)
        assert first is not None and first != planted
        # Signing in again makes yet another session; the first one stays its own.
        assert (await page_login(browser, email)).status_code == 303
        second = session_cookie(browser)
        assert second is not None and second not in {first, planted}
        assert len(await sessions_of(database, email)) == 2

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as attacker:
        attacker.cookies.set(SESSION_COOKIE, planted)
        answer = await attacker.get("/account")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"


async def test_signing_out_revokes_the_session_on_the_server(
    app: FastAPI, database: Database
) -> None:
    async with signed_in_client(app) as (browser, email):
        stolen = session_cookie(browser)
        token = csrf_of((await browser.get("/account")).text)
        assert (await browser.post("/logout", data={"csrf_token": token})).status_code == 303
    transport = httpx.ASGITransport(app=app, client=("203.0.113.12", 40004))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as thief:
        assert stolen is not None
        thief.cookies.set(SESSION_COOKIE, stolen)
        answer = await thief.get("/account")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        # ...and the stale cookie is cleared, with a word on the login page.
        assert f"{SESSION_COOKIE}=" in answer.headers["set-cookie"]
        assert "Your session has ended" in (await thief.get("/login")).text
        # A page cookie is no API token either.
        api = await thief.get("/v1/me", headers={"Authorization": f"Bearer {stolen}"})
        assert api.status_code == 401
    [(_, revoked_at, reason)] = await sessions_of(database, email)
    assert revoked_at is not None and reason == "logout"


@pytest.mark.parametrize(
    "wanted",
    [
        "https://evil.example/",
        "//evil.example/account",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/account\r\nSet-Cookie: x=1",
        "http:/evil.example",
        "evil.example",
    ],
)
async def test_next_never_leaves_the_site(app: FastAPI, wanted: str) -> None:
    async with signed_in_client(app) as (browser, email):
        # The login page does not even offer it back.
        page = await browser.get("/login", params={"next": wanted})
        assert 'name="next" value="/account"' in page.text
        answer = await page_login(browser, email, next_path=wanted)
        assert answer.status_code == 303 and answer.headers["location"] == "/account"


async def test_next_brings_you_back_to_the_page_you_wanted(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.13", 40005))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        email = unique_email("shell-next")
        assert (await page_register(browser, email)).status_code == 303
        sent = await browser.get("/account?tab=wallet")
        assert sent.headers["location"] == "/login?next=/account%3Ftab%3Dwallet"
        page = await browser.get(sent.headers["location"])
        assert 'name="next" value="/account?tab=wallet"' in page.text
        answer = await page_login(browser, email, next_path="/account?tab=wallet")
        assert answer.headers["location"] == "/account?tab=wallet"


async def test_role_switching(app: FastAPI) -> None:
    async with signed_in_client(app, roles=("creator", "brand")) as (browser, _):
        dashboard = await browser.get("/account")
        # The default is the first in the order brand, creator; both are offered.
        assert "acting as <strong>Brand</strong>" in dashboard.text
        assert '<option value="creator">Creator</option>' in dashboard.text
        token = csrf_of(dashboard.text)
        switched = await browser.post(
            "/account/role", data={"role": "creator", "csrf_token": token}
        )
        assert switched.status_code == 303
        dashboard = await browser.get("/account")
        assert "acting as <strong>Creator</strong>" in dashboard.text
        assert "The pages now show what you do in this role." in dashboard.text
        # A role the account does not have is refused, and a forged role cookie is ignored.
        refused = await browser.post("/account/role", data={"role": "admin", "csrf_token": token})
        assert refused.status_code == 403 and "does not have the role" in refused.text
        browser.cookies.set(ROLE_COOKIE, "admin")
        assert "acting as <strong>Brand</strong>" in (await browser.get("/account")).text


PAGES = ("/", "/login", "/register", "/forgot-password", "/account", "/no-such-page")


async def test_every_page_has_the_security_headers(app: FastAPI) -> None:
    async with signed_in_client(app) as (browser, _):
        for path in PAGES:
            page = await browser.get(path)
            assert page.headers["content-type"].startswith("text/html"), path
            policy = page.headers["content-security-policy"]
            directives = {
                part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()
            }
            assert directives["script-src"] == ["'self'"], (path, policy)
            assert directives["style-src"] == ["'self'"], (path, policy)
            assert directives["frame-ancestors"] == ["'none'"], (path, policy)
            assert directives["default-src"] == ["'none'"], (path, policy)
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["referrer-policy"] == "no-referrer"
            # Nothing inline for the CSP to block: no script or style blocks, no handlers.
            assert "<script>" not in page.text and "<style" not in page.text, path
            assert not re.search(r"\son[a-z]+=", page.text), path
            assert " style=" not in page.text, path


async def test_assets_are_served_by_the_app(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    script = await client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    home = await client.get("/")
    assert re.findall(r'(?:href|src)="(https?:)?//', home.text) == []


async def test_errors_are_pages_on_pages_and_problems_on_the_api(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    missing = await client.get("/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in missing.text and "home page" in missing.text.lower()
    api = await client.get("/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["code"] == "not_found"

    # 403: a page refusal, and the API's for the same kind of refusal.
    async with signed_in_client(app) as (browser, _):
        token = csrf_of((await browser.get("/account")).text)
        page = await browser.post("/account/role", data={"role": "admin", "csrf_token": token})
        assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
        assert "You cannot do this here" in page.text
    me = await account(client)
    refused = await client.get("/v1/admin/audit-logs", headers=me.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "role_required"

    # 409 and 500 from routes made for the test, one a page and one under /v1.
    async def conflict() -> None:
        raise Conflict("the job was closed meanwhile", code="job_closed")

    async def defect() -> None:
        raise RuntimeError("a bug")

    name = uuid.uuid4().hex[:8]
    for path, endpoint in ((f"/test-{name}/conflict", conflict), (f"/test-{name}/defect", defect)):
        app.add_api_route(path, endpoint)
        app.add_api_route(f"/v1{path}", endpoint)
    page = await client.get(f"/test-{name}/conflict")
    assert page.status_code == 409 and page.headers["content-type"].startswith("text/html")
    assert "The job was closed meanwhile." in page.text and "Reload the page" in page.text
    problem = await client.get(f"/v1/test-{name}/conflict")
    assert problem.status_code == 409 and problem.json()["code"] == "job_closed"
    page = await client.get(f"/test-{name}/defect")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Something went wrong on our side" in page.text
    assert page.headers["x-request-id"] in page.text  # to quote to the administrators
    assert "a bug" not in page.text
    problem = await client.get(f"/v1/test-{name}/defect")
    assert problem.status_code == 500 and problem.json()["code"] == "internal_error"


def test_which_paths_are_pages() -> None:
    class Fake:
        def __init__(self, path: str) -> None:
            self.url = type("U", (), {"path": path})()

    for path in ("/", "/login", "/account", "/portfolio/x", "/nothing"):
        assert is_page_request(Fake(path)), path  # type: ignore[arg-type]
    for path in ("/v1", "/v1/me", "/static/app.css", "/healthz", "/openapi.json", "/metrics"):
        assert not is_page_request(Fake(path)), path  # type: ignore[arg-type]


async def test_a_failed_form_keeps_what_was_typed_but_never_the_password(
    client: httpx.AsyncClient, database: Database
) -> None:
    email = unique_email("shell-typed")
    token = await form_token(client, "/register")
    secret = "short1"
    page = await client.post(
        "/register",
        data={
            "csrf_token": token,
            "email": email,
            "display_name": 'Zoë <b>"bold"</b>',
            "password": secret,
            "roles": ["brand"],
        },
    )
    assert page.status_code == 422
    assert f'value="{email}"' in page.text
    assert 'value="Zoë &lt;b&gt;&#34;bold&#34;&lt;/b&gt;"' in page.text  # escaped
    assert "<b>" not in page.text
    assert secret not in page.text
    assert 'id="f-password-error"' in page.text and 'aria-invalid="true"' in page.text
    assert re.search(r'value="brand" checked', page.text)
    count = "SELECT count(*) FROM identity.users WHERE email = :email"
    assert await scalar(database, count, email=email) == 0

    # A bad address, and the service's own refusal (wrong password) on the login form.
    page = await client.post(
        "/register",
        data={"csrf_token": token, "email": "not-an-address", "display_name": "A", "password": "x"},
    )
    assert page.status_code == 422 and 'id="f-email-error"' in page.text
    assert 'value="not-an-address"' in page.text
    me = await account(client)
    wrong = await client.post(
        "/login",
        data={"csrf_token": token, "email": me.email, "password": "not the password 1"},
    )
    assert wrong.status_code == 401
    assert "Wrong e-mail address or password." in wrong.text
    assert f'value="{me.email}"' in wrong.text and "not the password 1" not in wrong.text
    assert session_cookie(client) is None


async def test_forgotten_password_and_resending_the_confirmation(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client)
    token = await form_token(client, "/forgot-password")
    for email in (me.email, unique_email("nobody")):
        answer = await client.post("/forgot-password", data={"csrf_token": token, "email": email})
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert "a link to choose a new password" in (await client.get("/login")).text
    assert await mailed_token(database, me.email, "reset_password")
    bad = await client.post("/forgot-password", data={"csrf_token": token, "email": "x@"})
    assert bad.status_code == 422 and 'value="x@"' in bad.text

    async with signed_in_client(app) as (browser, email):
        dashboard = await browser.get("/account")
        assert "not confirmed yet" in dashboard.text
        sent = await browser.post(
            "/account/verify-email", data={"csrf_token": csrf_of(dashboard.text)}
        )
        assert sent.status_code == 303
        assert "A new confirmation link is on its way" in (await browser.get("/account")).text
        mails = await scalar(
            database,
            "SELECT count(*) FROM mail.outbox WHERE to_address = :to AND template = 'verify_email'",
            to=email,
        )
        assert mails == 2


async def test_the_landing_page_is_the_front_door(client: httpx.AsyncClient) -> None:
    _, slug = await creator(client, display_name="Directory <Star>")
    home = await client.get("/")
    assert home.status_code == 200
    assert 'href="/register"' in home.text and 'href="/login"' in home.text
    assert f'href="/portfolio/{slug}"' in home.text
    assert "Directory &lt;Star&gt;" in home.text
    # No session cookie: nothing is set but what the page's forms need (none here).
    assert PRE_SESSION_COOKIE not in home.headers.get("set-cookie", "")


async def test_cookies_are_secure_when_the_public_address_is_https(
    database_url: str,
) -> None:
    # Behind a proxy that ends TLS, the app may see plain http; the configured address says.
    app = create_app(
        make_settings(database_url, public_base_url="https://hub.example"),
        database_url=database_url,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.14", 40006))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            page = await web.get("/login")
            cookie = set_cookie_header(page, f"__Host-{PRE_SESSION_COOKIE}")
            assert "secure" in cookie.lower()


async def test_product_pages_ask_for_their_role(app: FastAPI) -> None:
    async def brand_page(me: SignedIn = Depends(page_role(Role.BRAND))) -> dict[str, str]:
        return {"acting_as": me.role}

    path = f"/test-{uuid.uuid4().hex[:8]}/brand"
    app.add_api_route(path, brand_page)
    async with signed_in_client(app, roles=("creator",)) as (browser, _):
        refused = await browser.get(path)
        assert refused.status_code == 403 and "This page is for the role: Brand." in refused.text
    async with signed_in_client(app, roles=("creator", "brand")) as (browser, _):
        token = csrf_of((await browser.get("/account")).text)
        await browser.post("/account/role", data={"role": "creator", "csrf_token": token})
        assert (await browser.get(path)).json() == {"acting_as": "brand"}
    transport = httpx.ASGITransport(app=app, client=("203.0.113.15", 40007))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anonymous:
        answer = await anonymous.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={path}"


async def test_malformed_forms_get_a_page(client: httpx.AsyncClient) -> None:
    token = await form_token(client, "/login")
    page = await client.post(
        "/login", data={"csrf_token": token, "email": "a" * 2000, "password": "x"}
    )
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "Some of what you entered is not valid" in page.text
    assert session_cookie(client) is None


async def test_too_many_sign_ins_say_when_to_try_again(app: FastAPI) -> None:
    email = unique_email("throttled")
    transport = httpx.ASGITransport(app=app, client=("203.0.113.16", 40008))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        assert (await page_register(browser, email)).status_code == 303
        answers = [await page_login(browser, email, password="wrong-" + PASSWORD) for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    throttled = answers[-1]
    assert int(throttled.headers["retry-after"]) > 0
    assert "Too many sign-in attempts" in throttled.text
    assert f'value="{email}"' in throttled.text  # what was typed stays


async def test_an_error_page_keeps_the_problems_retry_after(app: FastAPI) -> None:
    async def busy() -> None:
        raise TooManyRequests("slow down", retry_after=90)

    path = f"/test-{uuid.uuid4().hex[:8]}/busy"
    app.add_api_route(path, busy)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.17", 40009))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        page = await browser.get(path)
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "90"
    assert page.headers["cache-control"] == "no-store"
    assert "Slow down" in page.text or "slow down" in page.text
    assert "Wait 90 seconds, then try again." in page.text


async def test_the_sign_in_page_says_when_the_browser_is_signed_in(app: FastAPI) -> None:
    async with signed_in_client(app) as (browser, _):
        page = await browser.get("/login")
        assert page.status_code == 200 and 'id="signed-in-note"' in page.text
        assert 'href="/account"' in page.text
    transport = httpx.ASGITransport(app=app, client=("203.0.113.18", 40010))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anonymous:
        assert 'id="signed-in-note"' not in (await anonymous.get("/login")).text


async def test_a_page_session_ends_when_idle_and_each_use_extends_it_within_its_lifetime(
    app: FastAPI, database: Database
) -> None:
    """Idle 2 h (the default) ends a page session; a use moves its end 2 h ahead (at most once
    a minute), never past 30 days (the refresh token's lifetime) from the sign-in."""

    async def expiry() -> tuple[float, float]:
        """(seconds from now to the token's end, seconds from its sign-in to its end)."""
        async with database.read_scope() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT extract(epoch FROM expires_at - now()),"
                        " extract(epoch FROM expires_at - created_at)"
                        " FROM identity.auth_tokens WHERE kind = 'page'"
                    )
                )
            ).one()
        return float(row[0]), float(row[1])

    async def set_token(expires_in: str, *, signed_in_ago: str | None = None) -> None:
        async with database.session_scope() as session:
            await session.execute(
                text(
                    "UPDATE identity.auth_tokens SET"
                    " expires_at = now() + CAST(:expires_in AS interval),"
                    " created_at = coalesce(now() - CAST(:ago AS interval), created_at)"
                    " WHERE kind = 'page'"
                ),
                {"expires_in": expires_in, "ago": signed_in_ago},
            )

    two_hours = 2 * 3600
    async with signed_in_client(app) as (browser, _):
        left, _ = await expiry()
        assert two_hours - 60 < left <= two_hours
        # Unused for 90 minutes: the next page puts the end 2 h ahead again.
        await set_token("30 minutes")
        assert (await browser.get("/account")).status_code == 200
        left, _ = await expiry()
        assert two_hours - 60 < left <= two_hours
        # Signed in almost 30 days ago: a use extends it to the 30 days, not 2 h past now.
        await set_token("5 minutes", signed_in_ago="30 days -10 minutes")
        assert (await browser.get("/account")).status_code == 200
        left, lifetime = await expiry()
        assert 9 * 60 < left <= 10 * 60 and lifetime == 30 * 86_400
        # Idle past its end: the session has ended, the login page says so.
        await set_token("-1 second")
        answer = await browser.get("/account")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        assert "Your session has ended" in (await browser.get("/login")).text
