"""Saved payment methods (seed 002 `payment_methods`, issue 15): a card or bank account saved at
the provider through a setup intent, activated by the provider's signed webhook, then charged to
fund a campaign or a wallet without the payer's client.

The sandbox flows run the real path: the sandbox's setup confirmation (`POST .../confirm`, its
stand-in for Stripe.js) defers its signed event, which the job worker delivers to
`POST /v1/webhooks/sandbox`. The Stripe flows run against localstripe (see the bottom of this
module for what it can and cannot do).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import stripe
from fastapi import FastAPI

from campaign_helpers import DEFAULT_BUDGET, advertiser, create_campaign
from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.payments.providers.base import EventKind
from creatorhub.payments.providers.sandbox import make_event
from helpers import Account, account, assert_problem, scalar
from payment_helpers import count, funding_event, idem, post_event, wallet

if TYPE_CHECKING:
    from .stripe_servers import LocalStripe

pytest_plugins = ["payments.stripe_servers"]
pytestmark = [pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning:httpx")]

Jobs = Callable[[], Awaitable[None]]
BASE = "/v1/me/payment-methods"


async def start(client: httpx.AsyncClient, who: Account, **body: Any) -> dict[str, Any]:
    response = await client.post(BASE, json=body or None, headers={**who.headers, **idem()})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def shown(client: httpx.AsyncClient, who: Account, method_id: str) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{method_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    method: dict[str, Any] = response.json()
    return method


async def saved(
    client: httpx.AsyncClient, who: Account, run_jobs: Jobs, last4: str = "4242"
) -> dict[str, Any]:
    """A method saved through the sandbox: set up, confirmed with a test method, the provider's
    event delivered by the worker."""
    created = await start(client, who)
    confirmed = await client.post(
        f"{BASE}/{created['id']}/confirm", json={"last4": last4}, headers=who.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "pending"  # until the provider's event
    await run_jobs()
    return await shown(client, who, created["id"])


async def campaign_view(client: httpx.AsyncClient, campaign_id: str, who: Account) -> Any:
    response = await client.get(f"/v1/campaigns/{campaign_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def fund_campaign(
    client: httpx.AsyncClient, campaign_id: str, who: Account, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/campaigns/{campaign_id}/fund", json=body, headers={**who.headers, **idem()}
    )


async def fund_with(
    client: httpx.AsyncClient, who: Account, method_id: str, amount: int
) -> httpx.Response:
    return await client.post(
        "/v1/funding",
        json={"amount": amount, "currency": "USD", "payment_method_id": method_id},
        headers={**who.headers, **idem()},
    )


async def setup_reference(database: Database, method_id: str) -> str:
    sql = "SELECT setup_reference FROM payments.payment_methods WHERE id = CAST(:id AS uuid)"
    reference = await scalar(database, sql, id=method_id)
    assert reference is not None
    return str(reference)


# --- the sandbox ---------------------------------------------------------------------------------


async def test_save_a_card_then_fund_a_campaign_with_it_to_the_cent(
    client: httpx.AsyncClient, database: Database, run_jobs: Jobs
) -> None:
    owner = await advertiser(client)
    created = await start(client, owner)
    assert created["status"] == "pending" and created["provider"] == "sandbox"
    assert created["client_secret"].startswith("sbx_seti_")
    assert (created["last4"], created["brand"], created["is_default"]) == (None, None, False)
    listed = (await client.get(BASE, headers=owner.headers)).json()
    assert [m["id"] for m in listed] == [created["id"]]
    assert "client_secret" not in listed[0]  # shown once, with the create

    confirmed = await client.post(
        f"{BASE}/{created['id']}/confirm", json={"last4": "4242"}, headers=owner.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (await shown(client, owner, created["id"]))["status"] == "pending"
    await run_jobs()  # the sandbox's signed setup.succeeded, through POST /v1/webhooks/sandbox
    card = await shown(client, owner, created["id"])
    assert card["status"] == "active" and card["is_default"] is True
    assert (card["kind"], card["brand"], card["last4"]) == ("card", "visa", "4242")
    assert (card["exp_month"], card["exp_year"]) == (12, 2030)
    assert card["provider_reference"].startswith("sbx_pm_4242_")
    # What the platform keeps of a card: no number, no column that could hold one.
    columns = await scalar(
        database,
        "SELECT string_agg(column_name, ',') FROM information_schema.columns"
        " WHERE table_schema = 'payments' AND table_name = 'payment_methods'",
    )
    assert not {"number", "card_number", "pan", "cvc"} & set(columns.split(","))

    campaign = await create_campaign(client, owner)
    funded = await fund_campaign(client, campaign["id"], owner, payment_method_id=card["id"])
    assert funded.status_code == 200, funded.text
    intent = funded.json()["funding_intent"]
    assert intent["status"] == "processing"  # charged at once: no confirmation needed
    assert intent["payment_method_id"] == card["id"]
    assert (intent["amount"], intent["target_id"]) == (DEFAULT_BUDGET, campaign["id"])
    assert funded.json()["campaign"]["status"] == "draft"  # until the provider confirms

    await run_jobs()  # funding.succeeded
    view = await campaign_view(client, campaign["id"], owner)
    assert view["status"] == "active" and view["escrow_balance"] == DEFAULT_BUDGET
    assert view["allocation"]["funding_source"] == "provider"
    assert view["allocation"]["funding_intent_id"] == intent["id"]
    credited = await scalar(
        database,
        "SELECT sum(amount) FROM ledger.transfers"
        " WHERE reference_type = 'funding_intent' AND reference_id = :id",
        id=intent["id"],
    )
    assert credited == DEFAULT_BUDGET  # exactly the budget, once
    assert (await wallet(client, owner.headers))["available"] == 0
    outcomes = await scalar(
        database,
        "SELECT string_agg(outcome, ',' ORDER BY received_at, outcome)"
        " FROM payments.webhook_events",
    )
    assert sorted(outcomes.split(",")) == ["applied_active", "applied_succeeded"]


async def test_fund_the_wallet_with_a_saved_card_and_replays_change_nothing(
    client: httpx.AsyncClient, database: Database, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    card = await saved(client, payer, run_jobs)
    response = await fund_with(client, payer, card["id"], 55_55)
    assert response.status_code == 201, response.text
    intent = response.json()
    assert (intent["status"], intent["payment_method_id"]) == ("processing", card["id"])
    again = await client.post(
        f"/v1/funding/{intent['id']}/confirm", headers={**payer.headers, **idem()}
    )
    assert_problem(again, 409, "funding_intent_not_confirmable")
    await run_jobs()
    assert (await wallet(client, payer.headers))["available"] == 55_55

    # The provider delivers again, or a late event comes: nothing is credited twice.
    event = funding_event(intent["provider_reference"], amount=55_55)
    first, repeated = await post_event(client, event), await post_event(client, event)
    assert first.json()["outcome"] == "ignored_succeeded"
    assert repeated.json()["duplicate"] is True
    assert (await wallet(client, payer.headers))["available"] == 55_55


async def test_a_replayed_setup_event_activates_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    payer = await account(client, roles=["brand"])
    created = await start(client, payer)
    reference = await setup_reference(database, created["id"])
    obj = {
        "id": reference,
        "payment_method": {
            "id": f"sbx_pm_4444_{reference.rsplit('_', 1)[-1]}",
            "type": "card",
            "brand": "mastercard",
            "last4": "4444",
            "exp_month": 3,
            "exp_year": 2031,
        },
    }
    event = make_event(EventKind.SETUP_SUCCEEDED, obj, now=datetime.now(UTC))
    first, repeated = await post_event(client, event), await post_event(client, event)
    assert (first.json()["outcome"], repeated.json()["duplicate"]) == ("applied_active", True)
    late = make_event(EventKind.SETUP_FAILED, {"id": reference}, now=datetime.now(UTC))
    assert (await post_event(client, late)).json()["outcome"] == "ignored_active"
    card = await shown(client, payer, created["id"])
    assert (card["status"], card["brand"], card["last4"]) == ("active", "mastercard", "4444")
    assert (card["exp_month"], card["exp_year"], card["is_default"]) == (3, 2031, True)
    audited = "SELECT count(*) FROM audit.audit_logs WHERE action = 'payment_method.activate'"
    assert await count(database, audited) == 1


async def test_a_declined_card_is_not_saved_and_cannot_be_charged(
    client: httpx.AsyncClient, database: Database, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    declined = await saved(client, payer, run_jobs, last4="0002")
    assert declined["status"] == "failed"
    assert declined["failure_reason"] == "sandbox: card declined"
    assert (declined["last4"], declined["is_default"]) == (None, False)
    assert_problem(
        await fund_with(client, payer, declined["id"], 10_00), 409, "payment_method_not_active"
    )
    refused = await client.post(
        f"{BASE}/{declined['id']}/confirm", json={"last4": "4242"}, headers=payer.headers
    )
    assert_problem(refused, 409, "payment_method_not_pending")
    assert_problem(
        await client.post(f"{BASE}/{declined['id']}/default", headers=payer.headers),
        409,
        "payment_method_not_active",
    )
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 0


async def test_a_saved_card_whose_charges_are_declined_moves_no_money(
    client: httpx.AsyncClient, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    card = await saved(client, payer, run_jobs, last4="0341")
    assert card["status"] == "active"  # saving it worked: its charges fail
    response = await fund_with(client, payer, card["id"], 20_00)
    assert response.status_code == 201, response.text
    await run_jobs()
    intent = (
        await client.get(f"/v1/funding/{response.json()['id']}", headers=payer.headers)
    ).json()
    assert (intent["status"], intent["failure_reason"]) == ("failed", "sandbox: card declined")
    assert (await wallet(client, payer.headers))["available"] == 0


async def test_a_bank_account_has_no_expiry(client: httpx.AsyncClient, run_jobs: Jobs) -> None:
    payer = await account(client, roles=["brand"])
    created = await start(client, payer, kind="bank_account")
    assert created["kind"] == "bank_account"
    await client.post(
        f"{BASE}/{created['id']}/confirm", json={"last4": "6789"}, headers=payer.headers
    )
    await run_jobs()
    bank = await shown(client, payer, created["id"])
    assert (bank["status"], bank["kind"], bank["brand"], bank["last4"]) == (
        "active",
        "bank_account",
        "STRIPE TEST BANK",
        "6789",
    )
    assert (bank["exp_month"], bank["exp_year"]) == (None, None)
    unknown = await client.post(
        f"{BASE}/{created['id']}/confirm", json={"last4": "1234"}, headers=payer.headers
    )
    assert_problem(unknown, 422, "validation_error")


async def test_the_default_moves_from_one_method_to_another(
    client: httpx.AsyncClient, database: Database, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    first = await saved(client, payer, run_jobs)
    second = await saved(client, payer, run_jobs, last4="4444")
    assert (first["is_default"], second["is_default"]) == (True, False)  # the first saved

    moved = await client.post(f"{BASE}/{second['id']}/default", headers=payer.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["is_default"] is True
    listed = {
        m["id"]: m["is_default"] for m in (await client.get(BASE, headers=payer.headers)).json()
    }
    assert listed == {first["id"]: False, second["id"]: True}
    again = await client.post(f"{BASE}/{second['id']}/default", headers=payer.headers)
    assert again.json()["is_default"] is True  # already the default: nothing changes
    back = await client.post(f"{BASE}/{first['id']}/default", headers=payer.headers)
    assert back.json()["is_default"] is True
    defaults = "SELECT count(*) FROM payments.payment_methods WHERE is_default"
    assert await count(database, defaults) == 1

    pending = await start(client, payer)
    assert_problem(
        await client.post(f"{BASE}/{pending['id']}/default", headers=payer.headers),
        409,
        "payment_method_not_active",
    )


async def test_detaching_stops_charges_and_clears_the_default(
    client: httpx.AsyncClient, database: Database, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    card = await saved(client, payer, run_jobs)
    removed = await client.delete(f"{BASE}/{card['id']}", headers=payer.headers)
    assert removed.status_code == 200, removed.text
    gone = removed.json()
    assert (gone["status"], gone["is_default"]) == ("detached", False)
    assert gone["detached_at"] is not None
    assert (await client.get(BASE, headers=payer.headers)).json() == []
    assert_problem(
        await fund_with(client, payer, card["id"], 10_00), 409, "payment_method_not_active"
    )
    again = await client.delete(f"{BASE}/{card['id']}", headers=payer.headers)
    assert again.status_code == 200 and again.json()["status"] == "detached"

    # A method removed while the provider was saving it stays removed, whatever it says next.
    pending = await start(client, payer)
    await client.post(
        f"{BASE}/{pending['id']}/confirm", json={"last4": "4242"}, headers=payer.headers
    )
    assert (
        await client.delete(f"{BASE}/{pending['id']}", headers=payer.headers)
    ).status_code == 200
    await run_jobs()
    assert (await shown(client, payer, pending["id"]))["status"] == "detached"
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 0


async def test_the_providers_detached_event_detaches_it_here(
    client: httpx.AsyncClient, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    card = await saved(client, payer, run_jobs)
    event = make_event(
        EventKind.PAYMENT_METHOD_DETACHED, {"id": card["provider_reference"]}, now=datetime.now(UTC)
    )
    assert (await post_event(client, event)).json()["outcome"] == "applied_detached"
    assert (await shown(client, payer, card["id"]))["status"] == "detached"


async def test_someone_elses_method_is_not_found(
    client: httpx.AsyncClient, database: Database, run_jobs: Jobs
) -> None:
    owner = await account(client, roles=["brand"])
    card = await saved(client, owner, run_jobs)
    other = await advertiser(client)
    campaign = await create_campaign(client, other)

    for response in [
        await fund_with(client, other, card["id"], 10_00),
        await fund_campaign(client, campaign["id"], other, payment_method_id=card["id"]),
        await client.get(f"{BASE}/{card['id']}", headers=other.headers),
        await client.post(f"{BASE}/{card['id']}/default", headers=other.headers),
        await client.post(
            f"{BASE}/{card['id']}/confirm", json={"last4": "4242"}, headers=other.headers
        ),
        await client.delete(f"{BASE}/{card['id']}", headers=other.headers),
        await client.get(f"{BASE}/{uuid.uuid4()}", headers=owner.headers),
    ]:
        assert_problem(response, 404, "payment_method_not_found")
    assert (await client.get(BASE, headers=other.headers)).json() == []
    assert (await shown(client, owner, card["id"]))["status"] == "active"
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 0
    assert (await campaign_view(client, campaign["id"], other))["status"] == "draft"


async def test_a_saved_method_is_a_charge_not_a_wallet_payment(
    client: httpx.AsyncClient, run_jobs: Jobs
) -> None:
    owner = await advertiser(client)
    card = await saved(client, owner, run_jobs)
    campaign = await create_campaign(client, owner)
    refused = await fund_campaign(
        client, campaign["id"], owner, source="wallet", payment_method_id=card["id"]
    )
    assert refused.status_code == 422, refused.text
    charged = await fund_campaign(
        client, campaign["id"], owner, source="provider", payment_method_id=card["id"]
    )
    assert charged.status_code == 200, charged.text
    assert charged.json()["funding_intent"]["status"] == "processing"
    await run_jobs()
    assert (await campaign_view(client, campaign["id"], owner))["status"] == "active"


async def test_saving_needs_a_verified_address(client: httpx.AsyncClient) -> None:
    unverified = await account(client, roles=["brand"], verified=False)
    response = await client.post(BASE, headers={**unverified.headers, **idem()})
    assert_problem(response, 403, "email_not_verified")


# --- Stripe, against localstripe ------------------------------------------------------------------
#
# localstripe (1.15.10) implements SetupIntents (create, confirm with a payment method, cancel),
# PaymentMethods (retrieve, attach, detach; `pm_card_visa`, `pm_card_visa_chargeDeclined` and
# `pm_card_chargeCustomerFail` as test methods) and PaymentIntents created with a customer, a
# payment method, `confirm` and `off_session`: the whole Stripe side of saving a card and
# charging it off-session runs there. What it lacks, and what these tests do instead:
#
# - no `setup_intent.*` or `payment_method.*` webhook events: the tests sign Stripe-shaped
#   events themselves, with the objects read back from localstripe;
# - a confirmed SetupIntent does not attach its method to the customer (Stripe does), and a
#   PaymentIntent does not check that its method is the customer's;
# - a declined SetupIntent confirmation is a 402 with no `last_setup_error` on the intent (it
#   goes `canceled`); the failed event is built as Stripe sends it;
# - a decline names only the charge, not the PaymentIntent (Stripe names both): the provider
#   finds the intent through the charge, which works at Stripe too;
# - only card SetupIntents (no `allowed_payment_method_types`, so no bank account setups: the
#   bank account mapping is tested on Stripe-shaped objects in test_stripe_provider.py).

STRIPE_KEY = "sk_test_creatorhub_methods"
STRIPE_SECRET = "whsec_creatorhub_methods"


@pytest.fixture
def stripe_settings(database_url: str, localstripe: LocalStripe) -> Settings:
    return make_settings(
        database_url,
        payments_provider="stripe",
        stripe_api_key=STRIPE_KEY,
        stripe_webhook_secret=STRIPE_SECRET,
        stripe_api_base=localstripe.url,
    )


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    if "stripe" in request.node.name:
        stripe_settings: Settings = request.getfixturevalue("stripe_settings")
        return stripe_settings
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def browser_side(localstripe: LocalStripe) -> AsyncIterator[stripe.StripeClient]:
    """What Stripe.js does in the payer's browser (confirming the setup with a card), and a
    look at localstripe's state."""
    http_client = stripe.HTTPXClient()
    yield stripe.StripeClient(
        STRIPE_KEY, base_addresses={"api": localstripe.url}, http_client=http_client
    )
    await http_client.close_async()


async def post_stripe(client: httpx.AsyncClient, event_type: str, obj: dict[str, Any]) -> Any:
    from .test_stripe_flow import stripe_signed

    body, headers = stripe_signed(event_type, obj, secret=STRIPE_SECRET)
    return await client.post("/v1/webhooks/stripe", content=body, headers=headers)


async def stripe_saved(
    client: httpx.AsyncClient,
    browser_side: stripe.StripeClient,
    who: Account,
    run_jobs: Jobs,
    test_method: str = "pm_card_visa",
) -> dict[str, Any]:
    created = await start(client, who)
    seti = created["client_secret"].split("_secret_")[0]
    assert seti.startswith("seti_")
    # The browser confirms with the card (Stripe.js): the number never reaches the platform.
    await browser_side.v1.setup_intents.confirm_async(seti, {"payment_method": test_method})
    setup = (await browser_side.v1.setup_intents.retrieve_async(seti)).to_dict()
    assert setup["status"] == "succeeded" and setup["customer"].startswith("cus_")
    received = await post_stripe(client, "setup_intent.succeeded", setup)
    assert received.json()["outcome"] == "applied_awaiting_details", received.text
    waiting = await shown(client, who, created["id"])
    assert (waiting["status"], waiting["provider_reference"]) == (
        "pending",
        setup["payment_method"],
    )
    await run_jobs()  # the method's details, asked of Stripe outside any transaction
    return await shown(client, who, created["id"])


async def test_stripe_saves_a_card_and_charges_it_off_session(
    client: httpx.AsyncClient, browser_side: stripe.StripeClient, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    card = await stripe_saved(client, browser_side, payer, run_jobs)
    assert (card["status"], card["brand"], card["last4"], card["is_default"]) == (
        "active",
        "visa",
        "4242",
        True,
    )
    assert (card["exp_month"], card["exp_year"]) == (12, 2030)
    refused = await client.post(
        f"{BASE}/{card['id']}/confirm", json={"last4": "4242"}, headers=payer.headers
    )
    assert_problem(refused, 409, "payment_method_confirmed_at_provider")

    response = await fund_with(client, payer, card["id"], 42_00)
    assert response.status_code == 201, response.text
    intent = response.json()
    assert intent["status"] == "processing" and intent["provider_reference"].startswith("pi_")
    at_stripe = (
        await browser_side.v1.payment_intents.retrieve_async(intent["provider_reference"])
    ).to_dict()
    assert at_stripe["status"] == "succeeded"
    assert at_stripe["payment_method"] == card["provider_reference"]
    assert at_stripe["customer"].startswith("cus_")
    assert (await wallet(client, payer.headers))["available"] == 0  # not before the webhook

    pi = {**at_stripe, "object": "payment_intent"}
    first = await post_stripe(client, "payment_intent.succeeded", pi)
    again = await post_stripe(client, "payment_intent.succeeded", pi)
    assert (first.json()["outcome"], again.json()["outcome"]) == (
        "applied_succeeded",
        "ignored_succeeded",
    )
    assert (await wallet(client, payer.headers))["available"] == 42_00

    # A second card reuses the payer's customer at Stripe.
    second = await stripe_saved(client, browser_side, payer, run_jobs)
    assert second["is_default"] is False
    customers = {
        (
            await browser_side.v1.setup_intents.retrieve_async(
                await scalar_setup(client, method["id"])
            )
        ).customer
        for method in (card, second)
    }
    assert len(customers) == 1

    removed = await client.delete(f"{BASE}/{card['id']}", headers=payer.headers)
    assert removed.json()["status"] == "detached"
    detached = await browser_side.v1.payment_methods.retrieve_async(card["provider_reference"])
    assert detached.customer is None


async def scalar_setup(client: httpx.AsyncClient, method_id: str) -> str:
    from helpers import app_database

    return await setup_reference(app_database(client), method_id)


async def test_stripe_a_saved_card_declined_when_charged(
    client: httpx.AsyncClient, browser_side: stripe.StripeClient, run_jobs: Jobs
) -> None:
    payer = await account(client, roles=["brand"])
    card = await stripe_saved(client, browser_side, payer, run_jobs, "pm_card_chargeCustomerFail")
    assert (card["status"], card["last4"]) == ("active", "0341")
    response = await fund_with(client, payer, card["id"], 15_00)
    assert response.status_code == 201, response.text
    intent = response.json()
    assert intent["status"] == "failed"
    assert intent["failure_reason"] == "Your card was declined."
    failed = await post_stripe(
        client,
        "payment_intent.payment_failed",
        {"id": intent["provider_reference"], "object": "payment_intent", "amount": 15_00},
    )
    assert failed.json()["outcome"] == "ignored_failed"
    assert (await wallet(client, payer.headers))["available"] == 0


async def test_stripe_a_card_declined_when_saved(
    client: httpx.AsyncClient, browser_side: stripe.StripeClient, database: Database
) -> None:
    payer = await account(client, roles=["brand"])
    created = await start(client, payer)
    seti = created["client_secret"].split("_secret_")[0]
    with pytest.raises(stripe.CardError):
        await browser_side.v1.setup_intents.confirm_async(
            seti, {"payment_method": "pm_card_visa_chargeDeclined"}
        )
    failed = {
        "id": seti,
        "object": "setup_intent",
        "status": "requires_payment_method",
        "last_setup_error": {"code": "card_declined", "message": "Your card was declined."},
    }
    assert (await post_stripe(client, "setup_intent.setup_failed", failed)).json()["outcome"] == (
        "applied_failed"
    )
    method = await shown(client, payer, created["id"])
    assert (method["status"], method["failure_reason"]) == ("failed", "Your card was declined.")


async def test_stripe_an_early_event_is_refused_until_its_intent_is_recorded(
    client: httpx.AsyncClient, database: Database
) -> None:
    """An intent charging a saved card is paid while Stripe creates it: its event may come
    before the request recorded the intent's reference. It is refused (409, nothing stored), so
    Stripe delivers it again later."""
    payer = await account(client, roles=["brand"])
    intent_id = uuid.uuid4()
    async with database.session_scope() as session:
        from sqlalchemy import text

        await session.execute(
            text(
                "INSERT INTO payments.funding_intents (id, user_id, amount, currency, provider)"
                " VALUES (:id, CAST(:user AS uuid), 900, 'USD', 'stripe')"
            ),
            {"id": intent_id, "user": payer.id},
        )
    pi = {
        "id": "pi_not_recorded_yet",
        "object": "payment_intent",
        "amount": 900,
        "currency": "usd",
        "metadata": {"intent_id": str(intent_id)},
    }
    refused = await post_stripe(client, "payment_intent.succeeded", pi)
    assert_problem(refused, 409, "webhook_too_early")
    assert await count(database, "SELECT count(*) FROM payments.webhook_events") == 0
    unrelated = await post_stripe(client, "payment_intent.succeeded", {**pi, "metadata": {}})
    assert unrelated.json()["outcome"] == "unknown_object"
