"""The payment methods page (issue 15): a brand saves a sandbox test card, sees it ready once the
provider's webhook came, makes another the default and removes one, every form with its CSRF
token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from helpers import account
from money_fixtures import ledger_verified
from web_helpers import csrf_of, signed_in_browser

__all__ = ["ledger_verified"]


def ids_on(html: str) -> list[str]:
    return re.findall(r'id="method-([0-9a-f-]{36})"', html)


async def test_a_brand_saves_cards_moves_the_default_and_removes_one(
    app: FastAPI, client: httpx.AsyncClient, run_jobs: Callable[[], Awaitable[None]]
) -> None:
    brand = await account(client, roles=["brand"])
    async with signed_in_browser(app, brand.email) as browser:
        page = await browser.get("/payment-methods")
        assert page.status_code == 200, page.text
        assert "None yet." in page.text
        token = csrf_of(page.text)
        refused = await browser.post("/payment-methods", data={"last4": "4242"})
        assert refused.status_code == 403  # no CSRF token: nothing is saved

        for last4 in ("4242", "4444"):
            saved = await browser.post(
                "/payment-methods", data={"csrf_token": token, "last4": last4}
            )
            assert saved.status_code == 303, saved.text
        page = await browser.get("/payment-methods")
        assert page.text.count("being saved by the provider") == 2
        await run_jobs()  # the sandbox's signed events, through the webhook

        page = await browser.get("/payment-methods")
        assert "Visa ending in 4242" in page.text and "Mastercard ending in 4444" in page.text
        assert "expires 12/2030" in page.text
        newest, first = ids_on(page.text)  # newest first
        assert page.text.count('class="method-default"') == 1
        default = await browser.post(
            f"/payment-methods/{newest}/default", data={"csrf_token": token}
        )
        assert default.status_code == 303
        listed = (await client.get("/v1/me/payment-methods", headers=brand.headers)).json()
        assert {m["id"]: m["is_default"] for m in listed} == {newest: True, first: False}

        removed = await browser.post(f"/payment-methods/{first}/remove", data={"csrf_token": token})
        assert removed.status_code == 303
        page = await browser.get("/payment-methods")
        assert ids_on(page.text) == [newest]
        assert "The payment method is removed" in page.text

        stranger = await account(client, roles=["brand"])
        async with signed_in_browser(app, stranger.email) as other:
            token_other = csrf_of((await other.get("/payment-methods")).text)
            foreign = await other.post(
                f"/payment-methods/{newest}/remove", data={"csrf_token": token_other}
            )
            assert foreign.status_code == 404
