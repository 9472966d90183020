"""The API configured with the Stripe provider, against localstripe: funding through a real
PaymentIntent, credited only by a Stripe-signed `payment_intent.succeeded` webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import stripe
from fastapi import FastAPI

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.config import Settings
from helpers import account, assert_problem
from payment_helpers import idem, wallet

if TYPE_CHECKING:
    from .stripe_servers import LocalStripe

pytest_plugins = ["payments.stripe_servers"]
pytestmark = [pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning:httpx")]

API_KEY = "sk_test_creatorhub_flow"
SECRET = "whsec_creatorhub_flow"


@pytest.fixture
def settings(database_url: str, localstripe: LocalStripe) -> Settings:
    return make_settings(
        database_url,
        payments_provider="stripe",
        stripe_api_key=API_KEY,
        stripe_webhook_secret=SECRET,
        stripe_api_base=localstripe.url,
    )


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


def stripe_signed(
    event_type: str, obj: dict[str, Any], *, secret: str = SECRET, age: int = 0
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()
    timestamp = int(time.time()) - age
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, {
        "Stripe-Signature": f"t={timestamp},v1={mac.hexdigest()}",
        "Content-Type": "application/json",
    }


async def test_funding_through_a_stripe_payment_intent(
    client: httpx.AsyncClient, localstripe: LocalStripe
) -> None:
    brand = await account(client, roles=["brand"])
    created = await client.post(
        "/v1/funding", json={"amount": 42_00}, headers={**brand.headers, **idem()}
    )
    assert created.status_code == 201, created.text
    intent = created.json()
    assert intent["provider"] == "stripe"
    assert intent["provider_reference"].startswith("pi_")

    # The customer's browser attaches a card (Stripe.js); then the server confirms.
    customer = stripe.StripeClient(API_KEY, base_addresses={"api": localstripe.url})
    await customer.v1.payment_intents.update_async(
        intent["provider_reference"], {"payment_method": "pm_card_visa"}
    )
    confirmed = await client.post(
        f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (await wallet(client, brand.headers))["available"] == 0  # not before the webhook

    pi = {
        "id": intent["provider_reference"],
        "object": "payment_intent",
        "amount": 42_00,
        "currency": "usd",
        "status": "succeeded",
    }
    body, headers = stripe_signed("payment_intent.succeeded", pi)
    bad_body, bad_headers = stripe_signed("payment_intent.succeeded", pi, secret="whsec_other")
    stale_body, stale_headers = stripe_signed("payment_intent.succeeded", pi, age=301)
    assert_problem(
        await client.post("/v1/webhooks/stripe", content=bad_body, headers=bad_headers),
        400,
        "invalid_signature",
    )
    assert_problem(
        await client.post("/v1/webhooks/stripe", content=stale_body, headers=stale_headers),
        400,
        "stale_signature",
    )
    first = await client.post("/v1/webhooks/stripe", content=body, headers=headers)
    again = await client.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert first.json()["outcome"] == "applied_succeeded"
    assert again.json()["duplicate"] is True
    assert (await wallet(client, brand.headers))["available"] == 42_00

    # With Stripe configured, sandbox-signed events are not accepted at all.
    sandbox = await client.post("/v1/webhooks/sandbox", content=body, headers=headers)
    assert_problem(sandbox, 404, "unknown_provider")
