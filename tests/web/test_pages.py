"""The pages linked from e-mails: a GET never uses the token, the form's POST does."""

from __future__ import annotations

import re

import httpx
import pytest

from creatorhub.db import Database
from helpers import PASSWORD, account, login, scalar

LINK = re.compile(r"(http://testserver/[a-z\-]+\?token=(che_[A-Za-z0-9_\-]+))")


async def mailed_link(database: Database, to_address: str, template: str) -> tuple[str, str]:
    body = await scalar(
        database,
        "SELECT body_text FROM mail.outbox WHERE to_address = :to AND template = :template"
        " ORDER BY created_at DESC LIMIT 1",
        to=to_address,
        template=template,
    )
    match = LINK.search(body or "")
    assert match, body
    return match.group(1), match.group(2)


async def test_landing_page_links_the_docs(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in page.text and 'href="/readyz"' in page.text


async def test_verification_link_needs_the_button(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client, verified=False)
    url, token = await mailed_link(database, me.email, "verify_email")

    # A mail scanner opening the link changes nothing.
    for _ in range(2):
        page = await client.get(url.removeprefix("http://testserver"))
        assert page.status_code == 200
        assert f'value="{token}"' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
    assert (await client.get("/v1/me", headers=me.headers)).json()["email_verified"] is False

    done = await client.post("/verify-email", data={"token": token})
    assert done.status_code == 200 and "is confirmed" in done.text
    assert (await client.get("/v1/me", headers=me.headers)).json()["email_verified"] is True
    again = await client.post("/verify-email", data={"token": token})
    assert again.status_code == 410 and "already used" in again.text


@pytest.mark.parametrize(
    "token", ["", "nonsense", "che_short", '"><script>alert(1)</script>', "che_" + "A" * 400]
)
async def test_malformed_links_get_a_page_not_a_crash(
    client: httpx.AsyncClient, token: str
) -> None:
    for path in ("/verify-email", "/reset-password", "/confirm-email-change"):
        page = await client.get(path, params={"token": token})
        assert page.status_code == 400, (path, page.status_code)
        assert "<script>alert(1)</script>" not in page.text
        posted = await client.post(
            path, data={"token": token, "new_password": "x", "confirm_password": "x"}
        )
        # An empty form field is a missing one: the form's validation answers before the token
        # is read.
        assert posted.status_code == (422 if token == "" else 400), (path, posted.status_code)


async def test_unknown_token_is_explained(client: httpx.AsyncClient) -> None:
    page = await client.post("/verify-email", data={"token": "che_" + "B" * 43})
    assert page.status_code == 401
    assert "not valid" in page.text


async def test_password_reset_page(client: httpx.AsyncClient, database: Database) -> None:
    me = await account(client)
    await client.post("/v1/auth/password-reset", json={"email": me.email})
    url, token = await mailed_link(database, me.email, "reset_password")
    form = await client.get(url.removeprefix("http://testserver"))
    assert form.status_code == 200 and 'name="new_password"' in form.text

    differ = await client.post(
        "/reset-password",
        data={"token": token, "new_password": "new passphrase 1", "confirm_password": "other 2"},
    )
    assert differ.status_code == 422 and "differ" in differ.text
    weak = await client.post(
        "/reset-password",
        data={"token": token, "new_password": "password123", "confirm_password": "password123"},
    )
    assert weak.status_code == 422 and "too common" in weak.text
    # Neither refusal spent the token.
    done = await client.post(
        "/reset-password",
        data={
            "token": token,
            "new_password": "new passphrase 1",
            "confirm_password": "new passphrase 1",
        },
    )
    assert done.status_code == 200 and "password is changed" in done.text
    await login(client, me.email, "new passphrase 1")
    bad = await client.post("/v1/auth/login", json={"email": me.email, "password": PASSWORD})
    assert bad.status_code == 401


async def test_email_change_page(client: httpx.AsyncClient, database: Database) -> None:
    me = await account(client)
    r = await client.post(
        "/v1/me/email",
        headers=me.headers,
        json={"new_email": "page-moved@example.com", "current_password": PASSWORD},
    )
    assert r.status_code == 202
    url, token = await mailed_link(database, "page-moved@example.com", "change_email")
    assert (await client.get(url.removeprefix("http://testserver"))).status_code == 200
    done = await client.post("/confirm-email-change", data={"token": token})
    assert done.status_code == 200 and "page-moved@example.com" in done.text
    assert (await client.get("/v1/me", headers=me.headers)).json()[
        "email"
    ] == "page-moved@example.com"
