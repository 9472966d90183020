"""The account settings pages over HTTP: details, profiles, e-mail address, password and
deleting the account, each checked through the API (or the database) after the page says it
is done, and the refusals (a bad form, a wrong password, a missing CSRF token, a suspended
account, a signed-out browser) that change nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from creatorhub.db import Database
from helpers import PASSWORD, Account, account, mailed_token, scalar, unique_email
from market_helpers import creator as market_creator
from web_helpers import SESSION_COOKIE, csrf_of, form_token, session_cookie, signed_in_browser

NEW_PASSWORD = "another horse battery 7"


async def me_of(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    response = await client.get("/v1/me", headers=who.headers)
    assert response.status_code == 200, response.text
    me: dict[str, Any] = response.json()
    return me


async def api_login(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    return response.status_code


def details(token: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "display_name": "Renamed Person",
        "username": "renamed.person",
        "phone": "+49 30 1234567",
        "bio": "Songs & reels <b>loud</b>",
        "socials": "instagram: https://instagram.com/renamed\nYouTube: https://youtube.com/@renamed",
    }
    return {**form, **overrides}


def creator_form(token: str, **overrides: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "slug": "Page-Creator-One",
        "categories": "Music, Travel",
        "photo_url": "https://cdn.example/me.jpg",
        "min_budget": "250",
        "max_budget": "1,000.50",
        "budget_currency": "usd",
        "languages": "en, pt-BR",
        "skills": "Editing, Drone",
        "follower_estimates": "instagram: 12,000\ntiktok: 3000",
    }
    return {**form, **overrides}


async def outbox_to(database: Database, address: str) -> int:
    count: int = await scalar(
        database,
        "SELECT count(*) FROM mail.outbox WHERE lower(to_address) = lower(:to)",
        to=address,
    )
    return count


# --- the page and its navigation ------------------------------------------------------------


async def test_signed_out_the_settings_ask_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/settings", "/settings/delete"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


async def test_every_role_finds_its_settings(app: FastAPI, client: httpx.AsyncClient) -> None:
    for roles in (["fan"], ["brand"], ["creator"], ["brand", "creator"]):
        who = await account(client, roles=roles)
        async with signed_in_browser(app, who.email) as browser:
            dashboard = await browser.get("/account")
            assert dashboard.status_code == 200
            assert dashboard.text.count('href="/settings"') == 2  # the navigation and the card
            page = await browser.get("/settings")
            assert page.status_code == 200, page.text
            assert page.text.count("<h1") == 1
            assert 'href="/settings" aria-current="page"' in page.text
            assert who.email in page.text
            for action in ("/settings/profile", "/settings/email", "/settings/password"):
                assert f'action="{action}"' in page.text
            assert 'href="/settings/delete"' in page.text
            assert ('action="/settings/brand-profile"' in page.text) is ("brand" in roles)
            assert ('action="/settings/creator-profile"' in page.text) is ("creator" in roles)
            # Every input has its label.
            for name in ("display_name", "new_email", "email_password", "current_password"):
                assert f'<label for="f-{name}">' in page.text and f'id="f-{name}"' in page.text


# --- the account's details ------------------------------------------------------------------


async def test_changing_the_details(app: FastAPI, client: httpx.AsyncClient) -> None:
    who = await account(client, roles=["fan"])
    async with signed_in_browser(app, who.email) as browser:
        token = await form_token(browser, "/settings")
        saved = await browser.post("/settings/profile", data=details(token))
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == "/settings"
        me = await me_of(client, who)
        assert me["display_name"] == "Renamed Person"
        assert me["username"] == "renamed.person"
        assert me["phone"] == "+49 30 1234567"
        assert me["bio"] == "Songs & reels <b>loud</b>"
        assert me["socials"] == {
            "instagram": "https://instagram.com/renamed",
            "youtube": "https://youtube.com/@renamed",
        }
        page = await browser.get("/settings")
        assert "Your account details are saved." in page.text
        assert 'value="Renamed Person"' in page.text
        assert "Songs &amp; reels &lt;b&gt;loud&lt;/b&gt;" in page.text  # escaped
        assert "youtube: https://youtube.com/@renamed" in page.text

        # Emptied fields clear, as null does in the API.
        cleared = await browser.post(
            "/settings/profile",
            data=details(csrf_of(page.text), username="", phone="", bio="", socials=""),
        )
        assert cleared.status_code == 303, cleared.text
        me = await me_of(client, who)
        assert (me["username"], me["phone"], me["bio"], me["socials"]) == (None, None, None, {})
        assert me["display_name"] == "Renamed Person"


async def test_a_bad_detail_comes_back_at_its_field_and_nothing_is_saved(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    who = await account(client, roles=["creator"])
    other = await account(client)
    taken = await client.patch("/v1/me", json={"username": "taken_name"}, headers=other.headers)
    assert taken.status_code == 200, taken.text
    before = await me_of(client, who)
    async with signed_in_browser(app, who.email) as browser:
        token = await form_token(browser, "/settings")
        cases = [
            ("display_name", {"display_name": "x" * 101}, 422, "at most 100 characters"),
            ("display_name", {"display_name": "   "}, 422, "Enter the name others see."),
            ("username", {"username": "no spaces here"}, 422, "3 to 30 letters"),
            ("phone", {"phone": "call me"}, 422, "Enter the number in digits"),
            ("socials", {"socials": "just a line"}, 422, "one profile a line"),
            ("socials", {"socials": "Insta Gram: x"}, 422, "one profile a line"),
            ("bio", {"bio": "b" * 2001}, 422, "at most 2000 characters"),
            ("username", {"username": "TAKEN_NAME"}, 409, "The username is taken."),
        ]
        for field, override, status, message in cases:
            form = details(token, **override)
            response = await browser.post("/settings/profile", data=form)
            assert response.status_code == status, (field, response.text[:2000])
            assert f'id="f-{field}-error"' in response.text, field
            assert message.lower() in response.text.lower(), (field, message)
            # What was typed comes back; only this form is shown.
            kept = form["username"].replace("<", "&lt;")
            assert f'value="{kept}"' in response.text
            assert 'action="/settings/email"' not in response.text
        assert await me_of(client, who) == before


# --- the profiles ---------------------------------------------------------------------------


async def test_the_brand_profile(app: FastAPI, client: httpx.AsyncClient) -> None:
    who = await account(client, roles=["brand"])
    async with signed_in_browser(app, who.email) as browser:
        token = await form_token(browser, "/settings")
        form = {
            "csrf_token": token,
            "company_name": "Acme Records",
            "website": "not a url",
            "business_categories": "Music, Fashion",
        }
        refused = await browser.post("/settings/brand-profile", data=form)
        assert refused.status_code == 422
        assert 'id="f-website-error"' in refused.text and "https://" in refused.text
        assert 'value="Acme Records"' in refused.text and 'value="not a url"' in refused.text
        assert (await me_of(client, who))["brand_profile"] is None

        long_name = await browser.post(
            "/settings/brand-profile",
            data={**form, "website": "", "company_name": "A" * 201},
        )
        assert long_name.status_code == 422 and 'id="f-company_name-error"' in long_name.text
        assert (await me_of(client, who))["brand_profile"] is None

        saved = await browser.post(
            "/settings/brand-profile", data={**form, "website": "https://acme.example"}
        )
        assert saved.status_code == 303, saved.text
        profile = (await me_of(client, who))["brand_profile"]
        assert profile["company_name"] == "Acme Records"
        assert profile["website"] == "https://acme.example"
        assert profile["business_categories"] == ["Music", "Fashion"]
        page = await browser.get("/settings")
        assert "Your brand profile is saved." in page.text
        assert 'value="Music, Fashion"' in page.text and 'value="https://acme.example"' in page.text


async def test_the_creator_profile(app: FastAPI, client: httpx.AsyncClient) -> None:
    who = await account(client, roles=["creator"])
    rival = await market_creator(client)
    rival_slug = (await me_of(client, rival))["creator_profile"]["slug"]
    async with signed_in_browser(app, who.email) as browser:
        token = await form_token(browser, "/settings")
        cases = [
            ("slug", {"slug": "settings"}, 422, "reserved"),
            ("slug", {"slug": "a b"}, 422, "lower-case letters"),
            ("slug", {"slug": rival_slug}, 409, "taken"),
            ("max_budget", {"max_budget": "100"}, 422, "must not be below"),
            ("min_budget", {"min_budget": "2.505"}, 422, "at most 2 decimals"),
            ("budget_currency", {"budget_currency": ""}, 422, "currency of your budget"),
            ("languages", {"languages": "English"}, 422, "language codes"),
            ("follower_estimates", {"follower_estimates": "instagram: lots"}, 422, "whole number"),
            ("photo_url", {"photo_url": "me.jpg"}, 422, "https://"),
        ]
        for field, override, status, message in cases:
            form = creator_form(token, **override)
            response = await browser.post("/settings/creator-profile", data=form)
            assert response.status_code == status, (field, response.text[:2000])
            assert f'id="f-{field}-error"' in response.text, (field, response.text[:3000])
            assert message.lower() in response.text.lower(), (field, message)
            assert 'value="Music, Travel"' in response.text  # what was typed comes back
        assert (await me_of(client, who))["creator_profile"] is None

        saved = await browser.post("/settings/creator-profile", data=creator_form(token))
        assert saved.status_code == 303, saved.text
        profile = (await me_of(client, who))["creator_profile"]
        assert profile == {
            "slug": "page-creator-one",
            "categories": ["Music", "Travel"],
            "photo_url": "https://cdn.example/me.jpg",
            "min_budget_minor": 250_00,
            "max_budget_minor": 1_000_50,
            "budget_currency": "USD",
            "languages": ["en", "pt-BR"],
            "skills": ["Editing", "Drone"],
            "follower_estimates": {"instagram": 12_000, "tiktok": 3_000},
        }
        page = await browser.get("/settings")
        assert "Your creator profile is saved." in page.text
        assert 'value="1,000.50"' in page.text and 'value="250"' in page.text
        assert "instagram: 12000" in page.text
        # Saved again as shown, it stays the same.
        again = {
            **creator_form(csrf_of(page.text)),
            "slug": "page-creator-one",
            "follower_estimates": "instagram: 12000\ntiktok: 3000",
        }
        assert (await browser.post("/settings/creator-profile", data=again)).status_code == 303
        assert (await me_of(client, who))["creator_profile"] == profile


async def test_a_profile_of_a_role_the_account_lacks_is_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    fan = await account(client, roles=["fan"])
    async with signed_in_browser(app, fan.email) as browser:
        token = await form_token(browser, "/settings")
        brand = await browser.post(
            "/settings/brand-profile", data={"csrf_token": token, "company_name": "Acme"}
        )
        assert brand.status_code == 403 and "brand role" in brand.text
        creator = await browser.post("/settings/creator-profile", data=creator_form(token))
        assert creator.status_code == 403 and "creator role" in creator.text
    me = await me_of(client, fan)
    assert me["brand_profile"] is None and me["creator_profile"] is None


# --- the e-mail address ---------------------------------------------------------------------


async def test_changing_the_email_address(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    who = await account(client)
    new = unique_email("settings-new")
    async with signed_in_browser(app, who.email) as browser:
        token = await form_token(browser, "/settings")
        wrong = await browser.post(
            "/settings/email",
            data={"csrf_token": token, "new_email": new, "email_password": "not my password"},
        )
        assert wrong.status_code == 422
        assert 'id="f-email_password-error"' in wrong.text
        assert "This is not your current password." in wrong.text
        assert f'value="{new}"' in wrong.text and "not my password" not in wrong.text
        bad = await browser.post(
            "/settings/email",
            data={"csrf_token": token, "new_email": "nobody-at-all", "email_password": PASSWORD},
        )
        assert bad.status_code == 422 and 'id="f-new_email-error"' in bad.text
        same = await browser.post(
            "/settings/email",
            data={"csrf_token": token, "new_email": who.email.upper(), "email_password": PASSWORD},
        )
        assert same.status_code == 409 and 'id="f-new_email-error"' in same.text
        assert await outbox_to(database, new) == 0

        sent = await browser.post(
            "/settings/email",
            data={"csrf_token": token, "new_email": new, "email_password": PASSWORD},
        )
        assert sent.status_code == 303, sent.text
        page = await browser.get("/settings")
        assert "A link to confirm the change is on its way to the new address" in page.text
        assert await outbox_to(database, new) == 1
        # Nothing changes before the link is opened.
        assert (await me_of(client, who))["email"] == who.email

        code = await mailed_token(database, new, "change_email")
        link = await browser.get(f"/confirm-email-change?token={code}")
        assert link.status_code == 200
        confirmed = await browser.post("/confirm-email-change", data={"token": code})
        assert confirmed.status_code == 200, confirmed.text
        me = await me_of(client, who)
        assert me["email"] == new and me["email_verified"] is True
        page = await browser.get("/settings")
        assert f"<strong>{new}</strong>" in page.text
    assert await api_login(client, new, PASSWORD) == 200


# --- the password ---------------------------------------------------------------------------


async def test_changing_the_password(app: FastAPI, client: httpx.AsyncClient) -> None:
    who = await account(client)
    async with signed_in_browser(app, who.email) as browser:
        token = await form_token(browser, "/settings")
        wrong = await browser.post(
            "/settings/password",
            data={
                "csrf_token": token,
                "current_password": "not my password",
                "new_password": NEW_PASSWORD,
            },
        )
        assert wrong.status_code == 422
        assert 'id="f-current_password-error"' in wrong.text
        assert "This is not your current password." in wrong.text
        assert NEW_PASSWORD not in wrong.text
        weak = await browser.post(
            "/settings/password",
            data={"csrf_token": token, "current_password": PASSWORD, "new_password": "short"},
        )
        assert weak.status_code == 422 and 'id="f-new_password-error"' in weak.text
        # Nothing changed: the old password logs in, the API's token works.
        assert await api_login(client, who.email, PASSWORD) == 200
        assert await api_login(client, who.email, NEW_PASSWORD) == 401
        await me_of(client, who)

        changed = await browser.post(
            "/settings/password",
            data={"csrf_token": token, "current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert changed.status_code == 303, changed.text
        # This browser stays signed in; the other sessions (the API's token) ended.
        page = await browser.get("/settings")
        assert page.status_code == 200
        assert "Your password is changed." in page.text and "you are signed out" in page.text
        assert (await client.get("/v1/me", headers=who.headers)).status_code == 401
    assert await api_login(client, who.email, PASSWORD) == 401
    assert await api_login(client, who.email, NEW_PASSWORD) == 200


# --- deleting the account -------------------------------------------------------------------


async def test_deleting_the_account(app: FastAPI, client: httpx.AsyncClient) -> None:
    who = await account(client, roles=["creator"])
    async with signed_in_browser(app, who.email) as browser:
        page = await browser.get("/settings/delete")
        assert page.status_code == 200
        assert page.text.count("<h1") == 1 and 'action="/settings/delete"' in page.text
        token = csrf_of(page.text)
        wrong = await browser.post(
            "/settings/delete", data={"csrf_token": token, "current_password": "not mine"}
        )
        assert wrong.status_code == 422
        assert 'id="f-current_password-error"' in wrong.text
        empty = await browser.post(
            "/settings/delete", data={"csrf_token": token, "current_password": ""}
        )
        assert empty.status_code == 422 and "Enter your current password." in empty.text
        assert (await me_of(client, who))["status"] == "active"
        assert (await browser.get("/account")).status_code == 200

        cookie = session_cookie(browser)
        assert cookie is not None
        deleted = await browser.post(
            "/settings/delete", data={"csrf_token": token, "current_password": PASSWORD}
        )
        assert deleted.status_code == 303, deleted.text
        assert deleted.headers["location"] == "/"
        landing = await browser.get("/")
        assert "Your account is deleted" in landing.text
        # The browser is signed out: its next page asks to sign in.
        after = await browser.get("/account")
        assert after.status_code == 303 and after.headers["location"] == "/login"
    # The session is revoked on the server, not only forgotten by the browser.
    transport = httpx.ASGITransport(app=app, client=("203.0.113.31", 40031))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies={SESSION_COOKIE: cookie}
    ) as replay:
        again = await replay.get("/account")
        assert again.status_code == 303 and again.headers["location"] == "/login"
    assert await api_login(client, who.email, PASSWORD) == 401
    assert (await client.get("/v1/me", headers=who.headers)).status_code == 401


# --- refusals -------------------------------------------------------------------------------


async def test_forms_without_the_csrf_token_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    who = await account(client, roles=["brand", "creator"])
    before = await me_of(client, who)
    new = unique_email("settings-forged")
    forged = {
        "/settings/profile": details(""),
        "/settings/brand-profile": {"company_name": "Forged"},
        "/settings/creator-profile": creator_form(""),
        "/settings/email": {"new_email": new, "email_password": PASSWORD},
        "/settings/password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        "/settings/delete": {"current_password": PASSWORD},
    }
    async with signed_in_browser(app, who.email) as browser:
        for path, form in forged.items():
            form = {name: value for name, value in form.items() if name != "csrf_token"}
            response = await browser.post(path, data=form)
            assert response.status_code == 403, path
            assert "This form was not accepted" in response.text
            wrong_token = await browser.post(path, data={**form, "csrf_token": "forged"})
            assert wrong_token.status_code == 403, path
        assert (await browser.get("/settings")).status_code == 200
    assert await me_of(client, who) == before
    assert await outbox_to(database, new) == 0
    assert await api_login(client, who.email, PASSWORD) == 200


async def test_a_suspended_account_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    who = await account(client, roles=["fan"])
    async with signed_in_browser(app, who.email) as browser:
        token = await form_token(browser, "/settings")
        async with database.session_scope() as session:
            await session.execute(
                text("UPDATE identity.users SET status = 'suspended' WHERE id = CAST(:id AS uuid)"),
                {"id": who.id},
            )
        page = await browser.get("/settings")
        assert page.status_code == 200
        assert "its settings cannot be changed" in page.text
        assert 'action="/settings/profile"' not in page.text
        refused = await browser.post("/settings/profile", data=details(token))
        assert refused.status_code == 403
        password = await browser.post(
            "/settings/password",
            data={"csrf_token": token, "current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert password.status_code == 403
        deleted = await browser.post(
            "/settings/delete", data={"csrf_token": token, "current_password": PASSWORD}
        )
        assert deleted.status_code == 403
    row = await scalar(
        database,
        "SELECT display_name || '/' || status FROM identity.users WHERE id = CAST(:id AS uuid)",
        id=who.id,
    )
    assert row == "Test User/suspended"
