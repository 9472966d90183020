"""Adding money to a wallet on the pages: the amount, the sandbox checkout, the webhook's credit,
and the refusals (a bad amount, an unverified address, another payer's checkout, a second click,
a creator) that change nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from creatorhub.db import Database
from helpers import account, scalar
from market_helpers import brand, creator
from payment_helpers import count, wallet
from web_helpers import csrf_of, form_token, signed_in_browser

CHECKOUT = re.compile(r"^/wallet/add-funds/([0-9a-f-]{36})$")
INTENTS = "SELECT count(*) FROM payments.funding_intents WHERE user_id = :user_id"


async def start(browser: httpx.AsyncClient, amount: str, currency: str = "USD") -> httpx.Response:
    token = await form_token(browser, "/wallet/add-funds")
    return await browser.post(
        "/wallet/add-funds", data={"csrf_token": token, "amount": amount, "currency": currency}
    )


async def test_a_brand_adds_funds_through_the_sandbox_checkout(
    app: FastAPI, client: httpx.AsyncClient, database: Database, run_jobs: Any
) -> None:
    owner = await brand(client)
    async with signed_in_browser(app, owner.email) as browser:
        dashboard = await browser.get("/brand")
        assert 'href="/wallet/add-funds"' in dashboard.text

        started = await start(browser, "250.75")
        assert started.status_code == 303, started.text
        match = CHECKOUT.match(started.headers["location"])
        assert match, started.headers["location"]
        intent_id = match.group(1)
        page = await browser.get(f"/wallet/add-funds/{intent_id}")
        assert page.status_code == 200
        assert "USD 250.75" in page.text and "waiting for you to pay" in page.text
        assert 'http-equiv="refresh"' not in page.text
        # Nothing is charged before the button.
        assert (await wallet(client, owner.headers))["available"] == 0

        paid = await browser.post(
            f"/wallet/add-funds/{intent_id}/pay", data={"csrf_token": csrf_of(page.text)}
        )
        assert paid.status_code == 303 and paid.headers["location"] == started.headers["location"]
        waiting = await browser.get(f"/wallet/add-funds/{intent_id}")
        assert "being confirmed by the provider" in waiting.text
        assert 'http-equiv="refresh" content="3"' in waiting.text
        assert (await wallet(client, owner.headers))["available"] == 0

        # A second click on Pay: the payment goes on once.
        again = await browser.post(
            f"/wallet/add-funds/{intent_id}/pay", data={"csrf_token": csrf_of(page.text)}
        )
        assert again.status_code == 303
        assert "sent already" in (await browser.get(again.headers["location"])).text

        await run_jobs()  # the sandbox's signed webhook credits the wallet
        done = await browser.get(f"/wallet/add-funds/{intent_id}")
        assert "paid: the money is in your wallet" in done.text
        assert 'http-equiv="refresh"' not in done.text and "/pay" not in done.text
        assert (await wallet(client, owner.headers))["available"] == 250_75
        listed = await browser.get("/wallet/add-funds")
        assert f'href="/wallet/add-funds/{intent_id}"' in listed.text
    assert await count(database, "SELECT count(*) FROM payments.webhook_events") == 1


async def test_a_declined_card_says_so_and_credits_nothing(
    app: FastAPI, client: httpx.AsyncClient, run_jobs: Any
) -> None:
    owner = await brand(client)
    async with signed_in_browser(app, owner.email) as browser:
        started = await start(browser, "13.13")  # the sandbox declines 13.13
        checkout = started.headers["location"]
        token = csrf_of((await browser.get(checkout)).text)
        paid = await browser.post(f"{checkout}/pay", data={"csrf_token": token})
        assert paid.status_code == 303
        await run_jobs()
        page = await browser.get(checkout)
        assert "failed: nothing was taken" in page.text and "card declined" in page.text
    assert (await wallet(client, owner.headers))["available"] == 0


async def test_bad_amounts_come_back_at_their_field_and_create_nothing(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client)
    async with signed_in_browser(app, owner.email) as browser:
        for amount, currency, message in (
            ("", "USD", "Enter the amount as a number"),
            ("-5", "USD", "Enter an amount above zero"),
            ("10.555", "USD", "USD amounts have at most 2 decimals"),
            ("10", "JPY", "Unknown or unsupported currency; use one of AUD, CAD, EUR, GBP, USD"),
            ("10", "XX", "Unknown or unsupported currency"),
        ):
            answer = await start(browser, amount, currency)
            assert answer.status_code == 422, (amount, currency)
            assert message in answer.text, (amount, answer.text[:2000])
            assert f'value="{amount}"' in answer.text and 'aria-invalid="true"' in answer.text
        # Without the form's token: refused, nothing made.
        forged = await browser.post("/wallet/add-funds", data={"amount": "10", "currency": "USD"})
        assert forged.status_code == 403
    assert await count(database, INTENTS, user_id=owner.id) == 0


async def test_only_the_payer_sees_and_pays_a_checkout(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner, other = await brand(client), await brand(client)
    async with signed_in_browser(app, owner.email) as browser:
        checkout = (await start(browser, "20")).headers["location"]
    async with signed_in_browser(app, other.email, address=("203.0.113.31", 40031)) as intruder:
        assert (await intruder.get(checkout)).status_code == 404
        token = await form_token(intruder, "/wallet/add-funds")
        stolen = await intruder.post(f"{checkout}/pay", data={"csrf_token": token})
        assert stolen.status_code == 404
    status = "SELECT status FROM payments.funding_intents WHERE user_id = :user_id"
    assert await scalar(database, status, user_id=owner.id) == "requires_confirmation"

    maker = await creator(client)
    async with signed_in_browser(app, maker.email, address=("203.0.113.32", 40032)) as browser:
        refused = await browser.get("/wallet/add-funds")
        assert refused.status_code == 403 and "This page is for the role" in refused.text


async def test_an_unverified_address_cannot_pay(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    unverified = await account(client, roles=["brand"], verified=False)
    async with signed_in_browser(app, unverified.email) as browser:
        refused = await start(browser, "20")
        assert refused.status_code == 403 and "verified e-mail address" in refused.text
    assert await count(database, INTENTS, user_id=unverified.id) == 0
