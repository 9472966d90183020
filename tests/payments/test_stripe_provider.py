"""`StripeProvider` against localstripe (a local Stripe emulator) and our fake of Connect.

Nothing here reaches the internet: payments, refunds, customers and subscriptions go to
localstripe; Connect calls (accounts, account links, transfers) go to `fake_connect`
(see `stripe_servers.py`) through the provider's `connect_api_base`.

What localstripe (1.15.10) does not implement, and what these tests do about it:

- Connect: no accounts, account links or transfers (nor their `account.updated` /
  `transfer.*` events). Served by `fake_connect`; the event mapping is tested on signed
  payloads we build.
- Idempotency keys: `Idempotency-Key` is ignored (a repeated create makes a second object).
  The tests check that the provider sends the right keys; the fake honours them, which is
  where transfer idempotency is shown.
- Confirming a PaymentIntent with a `payment_method` parameter: 500 "Not implemented". The
  tests attach the test card by updating the intent (as a customer's client would), then the
  provider confirms without parameters.
- Test payment methods: only `pm_card_visa`, `pm_card_visa_chargeDeclined` (declined when
  attached, not when charged) and `pm_card_chargeCustomerFail` (declined when charged, used
  here); no `pm_card_chargeDeclined`.
- Errors: every error has type `invalid_request_error` and, except card declines
  (`card_declined`), no code (no `resource_missing`). The library still raises `CardError`
  from the 402 status.
- PaymentIntent payment method selection: neither `allowed_payment_method_types` (the
  installed library's API version's name) nor `automatic_payment_methods` is accepted, so the
  provider sends neither (Stripe then uses the account's enabled methods).
- Prices: no Prices API and no `price_data`; subscriptions use the Plans API, which Stripe
  also still accepts. No `payment_behavior=default_incomplete`; a customer without a default
  payment method cannot subscribe (404 "This customer has no payment method").
- API versions: objects keep their old shapes, e.g. `current_period_end` on the subscription
  rather than its items (the provider reads either).
- Refunds: always `succeeded` at once, no check against refunding more than was charged, and
  no `charge.refunded` / `refund.*` events.
- Webhooks: only some events are sent (here `payment_intent.succeeded` and
  `payment_intent.payment_failed`; none for `payment_intent.canceled` or `.processing`, nor any
  `setup_intent.*` or `payment_method.*`), one second after the fact, signed
  `t=<event created>,v1=<HMAC-SHA256>` like Stripe's.
- Saved payment methods: SetupIntents and PaymentMethods are there, but a SetupIntent takes
  only the older `payment_method_types` (not the library's `allowed_payment_method_types`,
  which a bank account setup sends), a confirmed one does not attach its method to the
  customer, and a decline names only the charge, not the PaymentIntent (see
  test_payment_methods.py for the flows through the API).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import stripe

from creatorhub.config import Settings
from creatorhub.payments.providers.base import (
    EventKind,
    IntentStatus,
    PaymentMethodKind,
    PaymentProvider,
    ProviderError,
    TransferStatus,
    WebhookSignatureError,
    WebhookStaleError,
)
from creatorhub.payments.providers.stripe_provider import StripeProvider, _payment_method

if TYPE_CHECKING:
    # Not imported at run time: pytest loads it as a plugin (and rewrites its asserts).
    from .stripe_servers import FakeConnect, LocalStripe, WebhookReceiver

pytest_plugins = ["payments.stripe_servers"]
pytestmark = [
    # stripe's HTTPXClient posts its form body with httpx's deprecated `data=<str>`.
    pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning:httpx"),
]

API_KEY = "sk_test_creatorhub"  # localstripe and the fake accept any sk_ key
WEBHOOK_SECRET = "whsec_creatorhub_tests"

TOLERANCE = 300


@pytest.fixture(autouse=True)
def ledger_verified() -> None:
    """Overrides the package's autouse ledger check: these tests use no database at all."""


@pytest.fixture(scope="session")
def stripe_webhook_secret() -> str:
    """The secret localstripe signs its deliveries with (overrides the plugin's)."""
    return WEBHOOK_SECRET


@pytest.fixture(scope="session")
async def provider(
    localstripe: LocalStripe, fake_connect: FakeConnect
) -> AsyncIterator[StripeProvider]:
    stripe_provider = StripeProvider(
        API_KEY,
        WEBHOOK_SECRET,
        api_base=localstripe.url,
        connect_api_base=fake_connect.url,
        tolerance_seconds=TOLERANCE,
    )
    yield stripe_provider
    await stripe_provider.aclose()


@pytest.fixture(scope="session")
async def customer_client(localstripe: LocalStripe) -> AsyncIterator[stripe.StripeClient]:
    """Plays the customer's side (Stripe.js in production) and inspects localstripe's state."""
    http_client = stripe.HTTPXClient()
    yield stripe.StripeClient(
        API_KEY, base_addresses={"api": localstripe.url}, http_client=http_client
    )
    await http_client.close_async()


@pytest.fixture
def recorded_requests(
    provider: StripeProvider, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str, dict[str, str]]]:
    """(method, url, headers) of every HTTP request the provider sends."""
    records: list[tuple[str, str, dict[str, str]]] = []
    http_client = provider._http_client
    original = http_client.request_with_retries_async

    async def recording(method: str, url: str, headers: Any, *args: Any, **kwargs: Any) -> Any:
        records.append((method, url, dict(headers)))
        return await original(method, url, headers, *args, **kwargs)

    monkeypatch.setattr(http_client, "request_with_retries_async", recording)
    return records


def sign(payload: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The `Stripe-Signature` header Stripe would send, computed by hand."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return {"Stripe-Signature": f"t={timestamp},v1={mac.hexdigest()}"}


def event_payload(event_type: str, obj: dict[str, Any], created: int | None = None) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:14]}",
            "object": "event",
            "type": event_type,
            "created": created or int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


async def new_intent(
    provider: StripeProvider, *, amount: int = 1_000, customer: str | None = None
) -> str:
    intent = await provider.create_funding_intent(
        intent_id=uuid.uuid4(),
        amount=amount,
        currency="USD",
        customer_reference=customer,
        metadata={"purpose": "wallet_funding"},
    )
    return intent.reference


async def attach(client: stripe.StripeClient, intent: str, payment_method: str) -> None:
    await client.v1.payment_intents.update_async(intent, {"payment_method": payment_method})


async def paid_intent(
    provider: StripeProvider, client: stripe.StripeClient, amount: int = 1_000
) -> str:
    reference = await new_intent(provider, amount=amount)
    await attach(client, reference, "pm_card_visa")
    confirmed = await provider.confirm_funding_intent(reference, amount=amount, currency="USD")
    assert confirmed.status is IntentStatus.SUCCEEDED
    return reference


def test_implements_every_method_of_the_protocol(provider: StripeProvider) -> None:
    assert provider.name == "stripe"
    members = [name for name in vars(PaymentProvider) if not name.startswith("_")]
    assert "verify_webhook" in members
    for name in members:
        if name == "name":
            continue
        expected = getattr(PaymentProvider, name)
        actual = getattr(StripeProvider, name)
        assert inspect.signature(actual) == inspect.signature(expected), name
        assert inspect.iscoroutinefunction(actual) == inspect.iscoroutinefunction(expected), name


def test_built_from_settings() -> None:
    settings = Settings.model_validate(
        {
            "stripe_api_key": "sk_test_x",
            "stripe_webhook_secret": "whsec_x",
            "stripe_api_base": "http://127.0.0.1:1",
            "webhook_tolerance_seconds": 60,
        }
    )
    assert isinstance(StripeProvider.from_settings(settings), StripeProvider)
    with pytest.raises(ValueError, match="STRIPE_API_KEY"):
        StripeProvider.from_settings(
            Settings.model_validate({"stripe_api_key": None, "stripe_webhook_secret": "whsec_x"})
        )


# --- funding -------------------------------------------------------------------------------


async def test_funding_intent_is_created_then_confirmed(
    provider: StripeProvider, customer_client: stripe.StripeClient
) -> None:
    customer = await provider.create_customer(user_id=uuid.uuid4(), email="fan@example.com")
    intent_id = uuid.uuid4()

    created = await provider.create_funding_intent(
        intent_id=intent_id,
        amount=2_500,
        currency="USD",
        customer_reference=customer.reference,
        metadata={"wallet": "w-1"},
    )

    assert created.reference.startswith("pi_")
    assert created.status is IntentStatus.REQUIRES_CONFIRMATION
    assert (created.amount, created.currency) == (2_500, "USD")
    assert created.client_secret and created.client_secret.startswith(created.reference)
    at_stripe = await customer_client.v1.payment_intents.retrieve_async(created.reference)
    assert at_stripe.currency == "usd"
    assert at_stripe.customer == customer.reference
    assert at_stripe.metadata.to_dict() == {"wallet": "w-1", "intent_id": str(intent_id)}

    await attach(customer_client, created.reference, "pm_card_visa")
    confirmed = await provider.confirm_funding_intent(
        created.reference, amount=2_500, currency="USD"
    )

    assert confirmed.reference == created.reference
    assert confirmed.status is IntentStatus.SUCCEEDED
    # Confirming again is harmless: the intent is reported as it is.
    again = await provider.confirm_funding_intent(created.reference, amount=2_500, currency="USD")
    assert again.status is IntentStatus.SUCCEEDED


async def test_declined_card_gives_a_failed_intent(
    provider: StripeProvider, customer_client: stripe.StripeClient
) -> None:
    reference = await new_intent(provider)
    await attach(customer_client, reference, "pm_card_chargeCustomerFail")

    failed = await provider.confirm_funding_intent(reference, amount=1_000, currency="USD")

    assert failed.status is IntentStatus.FAILED
    at_stripe = await customer_client.v1.payment_intents.retrieve_async(reference)
    assert at_stripe.status == "requires_payment_method"
    assert at_stripe.to_dict()["last_payment_error"]["code"] == "card_declined"
    assert (
        await provider.confirm_funding_intent(reference, amount=1_000, currency="USD")
    ).status is IntentStatus.FAILED


async def test_intent_without_payment_method_stays_awaiting_confirmation(
    provider: StripeProvider,
) -> None:
    reference = await new_intent(provider)

    intent = await provider.confirm_funding_intent(reference, amount=1_000, currency="USD")

    assert intent.status is IntentStatus.REQUIRES_CONFIRMATION


async def test_unknown_intent_is_a_provider_error(provider: StripeProvider) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider.confirm_funding_intent("pi_doesnotexist", amount=1_000, currency="USD")
    assert raised.value.retryable is False


async def test_confirming_checks_amount_and_currency(
    provider: StripeProvider, customer_client: stripe.StripeClient
) -> None:
    reference = await new_intent(provider, amount=1_000)
    await attach(customer_client, reference, "pm_card_visa")

    for amount, currency in [(999, "USD"), (1_000, "EUR")]:
        with pytest.raises(ProviderError) as raised:
            await provider.confirm_funding_intent(reference, amount=amount, currency=currency)
        assert (raised.value.code, raised.value.retryable) == ("intent_mismatch", False)
    at_stripe = await customer_client.v1.payment_intents.retrieve_async(reference)
    assert at_stripe.status == "requires_confirmation"


async def test_idempotency_keys_derive_from_our_ids(
    provider: StripeProvider,
    customer_client: stripe.StripeClient,
    recorded_requests: list[tuple[str, str, dict[str, str]]],
) -> None:
    """localstripe ignores the keys, so this checks what is sent (the fake honours them)."""
    payment = await paid_intent(provider, customer_client)
    intent_id, refund_id, user_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    recorded_requests.clear()

    await provider.create_funding_intent(
        intent_id=intent_id, amount=700, currency="EUR", customer_reference=None, metadata={}
    )
    await provider.refund(refund_id=refund_id, payment_reference=payment, amount=100)
    await provider.create_customer(user_id=user_id, email="k@example.com")

    posts = [
        (url.rsplit("/", 1)[-1], headers.get("Idempotency-Key"))
        for method, url, headers in recorded_requests
        if method == "post"
    ]
    assert posts == [
        ("payment_intents", f"funding-intent-{intent_id}"),
        ("refunds", f"refund-{refund_id}"),
        ("customers", f"customer-{user_id}"),
    ]


# --- refunds -------------------------------------------------------------------------------


async def test_partial_then_remaining_refund(
    provider: StripeProvider, customer_client: stripe.StripeClient
) -> None:
    payment = await paid_intent(provider, customer_client, amount=1_000)

    partial = await provider.refund(refund_id=uuid.uuid4(), payment_reference=payment, amount=300)
    rest = await provider.refund(refund_id=uuid.uuid4(), payment_reference=payment, amount=700)

    assert partial.reference.startswith("re_")
    assert (partial.status, partial.amount) == ("succeeded", 300)
    assert (rest.status, rest.amount) == ("succeeded", 700)
    assert partial.reference != rest.reference
    refund = await customer_client.v1.refunds.retrieve_async(partial.reference)
    assert refund.payment_intent == payment
    assert refund.amount == 300


async def test_full_refund(provider: StripeProvider, customer_client: stripe.StripeClient) -> None:
    payment = await paid_intent(provider, customer_client, amount=4_200)
    refund_id = uuid.uuid4()

    refund = await provider.refund(refund_id=refund_id, payment_reference=payment, amount=4_200)

    assert (refund.status, refund.amount) == ("succeeded", 4_200)
    at_stripe = await customer_client.v1.refunds.retrieve_async(refund.reference)
    assert at_stripe.metadata.to_dict() == {"refund_id": str(refund_id)}


async def test_refund_of_a_failed_payment_is_refused(
    provider: StripeProvider, customer_client: stripe.StripeClient
) -> None:
    reference = await new_intent(provider)
    await attach(customer_client, reference, "pm_card_chargeCustomerFail")
    await provider.confirm_funding_intent(reference, amount=1_000, currency="USD")

    with pytest.raises(ProviderError) as raised:
        await provider.refund(refund_id=uuid.uuid4(), payment_reference=reference, amount=100)
    assert raised.value.retryable is False


# --- customers and subscriptions -----------------------------------------------------------


async def customer_with_card(provider: StripeProvider, client: stripe.StripeClient) -> str:
    customer = await provider.create_customer(user_id=uuid.uuid4(), email="sub@example.com")
    card = await client.v1.payment_methods.attach_async(
        "pm_card_visa", {"customer": customer.reference}
    )
    await client.v1.customers.update_async(
        customer.reference, {"invoice_settings": {"default_payment_method": card.id}}
    )
    return customer.reference


@pytest.mark.parametrize(("interval", "days"), [("month", (28, 31)), ("year", (365, 366))])
async def test_subscription_is_created_and_canceled(
    provider: StripeProvider,
    customer_client: stripe.StripeClient,
    interval: str,
    days: tuple[int, int],
) -> None:
    user_id = uuid.uuid4()
    customer = await provider.create_customer(user_id=user_id, email="sub@example.com")
    at_stripe = await customer_client.v1.customers.retrieve_async(customer.reference)
    assert customer.reference.startswith("cus_")
    assert at_stripe.email == "sub@example.com"
    assert at_stripe.metadata.to_dict() == {"user_id": str(user_id)}
    reference = await customer_with_card(provider, customer_client)

    subscription = await provider.create_subscription(
        customer_reference=reference,
        amount=500,
        currency="USD",
        interval=interval,
        product_name="Gold tier",
    )

    assert subscription.reference.startswith("sub_")
    assert subscription.status == "active"
    assert subscription.current_period_end is not None
    ahead = subscription.current_period_end - datetime.now(UTC)
    assert timedelta(days=days[0] - 1) < ahead <= timedelta(days=days[1])
    sub = (await customer_client.v1.subscriptions.retrieve_async(subscription.reference)).to_dict()
    plan = sub["items"]["data"][0]["plan"]
    assert (plan["amount"], plan["currency"], plan["interval"]) == (500, "usd", interval)
    product = await customer_client.v1.products.retrieve_async(plan["product"])
    assert product.name == "Gold tier"

    canceled = await provider.cancel_subscription(subscription.reference)

    assert canceled.reference == subscription.reference
    assert canceled.status == "canceled"


async def test_subscription_interval_must_be_month_or_year(provider: StripeProvider) -> None:
    with pytest.raises(ValueError, match="interval"):
        await provider.create_subscription(
            customer_reference="cus_x",
            amount=500,
            currency="USD",
            interval="fortnight",
            product_name="x",
        )


async def test_subscription_needs_a_payment_method(provider: StripeProvider) -> None:
    customer = await provider.create_customer(user_id=uuid.uuid4(), email="nocard@example.com")

    with pytest.raises(ProviderError) as raised:
        await provider.create_subscription(
            customer_reference=customer.reference,
            amount=500,
            currency="USD",
            interval="month",
            product_name="Silver",
        )
    assert raised.value.retryable is False


# --- payees (Connect, on the fake) ---------------------------------------------------------


async def test_payee_account_onboarding_and_status(
    provider: StripeProvider, fake_connect: FakeConnect
) -> None:
    user_id = uuid.uuid4()

    account = await provider.create_payee_account(
        user_id=user_id, email="creator@example.com", country="us"
    )

    assert account.reference.startswith("acct_")
    assert (account.payouts_enabled, account.details_submitted) == (False, False)
    assert account.capabilities == {"card_payments": "inactive", "transfers": "inactive"}
    stored = fake_connect.accounts[account.reference]
    assert (stored["type"], stored["email"], stored["country"]) == (
        "express",
        "creator@example.com",
        "US",
    )
    assert stored["metadata"] == {"user_id": str(user_id)}
    # A retry for the same user gets the same account (idempotency key payee-account-{user}).
    again = await provider.create_payee_account(
        user_id=user_id, email="creator@example.com", country="us"
    )
    assert again.reference == account.reference

    url = await provider.payee_onboarding_link(
        account_reference=account.reference,
        return_url="https://creatorhub.test/payouts/done",
        refresh_url="https://creatorhub.test/payouts/again",
    )
    assert fake_connect.account_links[-1]["account"] == account.reference
    assert fake_connect.account_links[-1]["type"] == "account_onboarding"
    pending = await provider.payee_account_status(account.reference)
    assert pending.payouts_enabled is False

    # The creator goes through the hosted onboarding, which sends them back to return_url.
    async with httpx.AsyncClient() as browser:
        visit = await browser.get(url)
    assert visit.status_code == 302
    assert visit.headers["location"] == "https://creatorhub.test/payouts/done"

    ready = await provider.payee_account_status(account.reference)
    assert ready.reference == account.reference
    assert (ready.payouts_enabled, ready.details_submitted) == (True, True)
    assert ready.capabilities == {"card_payments": "active", "transfers": "active"}


async def test_unknown_payee_account_is_a_provider_error(provider: StripeProvider) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider.payee_account_status("acct_doesnotexist")
    assert (raised.value.code, raised.value.retryable) == ("resource_missing", False)


async def onboarded_account(provider: StripeProvider, fake: FakeConnect) -> str:
    account = await provider.create_payee_account(
        user_id=uuid.uuid4(), email="payee@example.com", country="US"
    )
    fake.complete_onboarding(account.reference)
    return account.reference


async def test_payout_transfer_is_idempotent_per_payout(
    provider: StripeProvider, fake_connect: FakeConnect
) -> None:
    account = await onboarded_account(provider, fake_connect)
    payout_id = uuid.uuid4()
    before = len(fake_connect.transfers)

    first = await provider.create_payout_transfer(
        payout_id=payout_id, account_reference=account, amount=2_000, currency="USD"
    )
    second = await provider.create_payout_transfer(
        payout_id=payout_id, account_reference=account, amount=2_000, currency="USD"
    )

    assert first.reference.startswith("tr_")
    assert first.status is TransferStatus.IN_TRANSIT
    assert second == first
    assert len(fake_connect.transfers) == before + 1
    assert len(fake_connect.transfers_with_key(f"payout-{payout_id}")) == 2
    transfer = fake_connect.transfers[first.reference]
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (
        2_000,
        "usd",
        account,
    )
    assert transfer["transfer_group"] == f"payout-{payout_id}"
    assert transfer["metadata"] == {"payout_id": str(payout_id)}

    other = await provider.create_payout_transfer(
        payout_id=uuid.uuid4(), account_reference=account, amount=2_000, currency="USD"
    )
    assert other.reference != first.reference
    assert len(fake_connect.transfers) == before + 2


async def test_transfer_to_an_account_not_onboarded_is_refused(
    provider: StripeProvider, fake_connect: FakeConnect
) -> None:
    account = await provider.create_payee_account(
        user_id=uuid.uuid4(), email="new@example.com", country="US"
    )

    with pytest.raises(ProviderError) as raised:
        await provider.create_payout_transfer(
            payout_id=uuid.uuid4(),
            account_reference=account.reference,
            amount=2_000,
            currency="USD",
        )
    assert raised.value.code == "insufficient_capabilities_for_transfer"
    assert raised.value.retryable is False


# --- error mapping -------------------------------------------------------------------------


@pytest.fixture
def failing_connect(fake_connect: FakeConnect) -> Iterator[FakeConnect]:
    """The fake, for tests that inject failures; none is left over for the next test."""
    yield fake_connect
    fake_connect.clear_failures()


@pytest.fixture
async def no_retry_provider(
    localstripe: LocalStripe, fake_connect: FakeConnect
) -> AsyncIterator[StripeProvider]:
    stripe_provider = StripeProvider(
        API_KEY,
        WEBHOOK_SECRET,
        api_base=localstripe.url,
        connect_api_base=fake_connect.url,
        max_network_retries=0,
    )
    yield stripe_provider
    await stripe_provider.aclose()


@pytest.mark.parametrize(
    ("status", "code"), [(503, "api_error"), (500, "api_error"), (429, "rate_limit")]
)
async def test_server_errors_and_rate_limits_are_retryable(
    no_retry_provider: StripeProvider, failing_connect: FakeConnect, status: int, code: str
) -> None:
    failing_connect.fail_next(status)

    with pytest.raises(ProviderError) as raised:
        await no_retry_provider.payee_account_status("acct_whatever")
    assert (raised.value.code, raised.value.retryable) == (code, True)


async def test_connection_failure_is_retryable() -> None:
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        unreachable = StripeProvider(
            API_KEY, WEBHOOK_SECRET, api_base=f"http://127.0.0.1:{port}", max_network_retries=0
        )
        try:
            with pytest.raises(ProviderError) as raised:
                await unreachable.create_customer(user_id=uuid.uuid4(), email="x@example.com")
        finally:
            await unreachable.aclose()
    assert (raised.value.code, raised.value.retryable) == ("api_connection_error", True)


async def test_library_retries_a_server_error_with_the_same_key(
    provider: StripeProvider, failing_connect: FakeConnect
) -> None:
    fake_connect = failing_connect
    account = await onboarded_account(provider, fake_connect)
    payout_id = uuid.uuid4()
    before = len(fake_connect.transfers)
    fake_connect.fail_next(503)

    transfer = await provider.create_payout_transfer(
        payout_id=payout_id, account_reference=account, amount=2_500, currency="USD"
    )

    assert transfer.reference in fake_connect.transfers
    assert len(fake_connect.transfers) == before + 1
    assert len(fake_connect.transfers_with_key(f"payout-{payout_id}")) == 2


# --- webhooks ------------------------------------------------------------------------------


async def test_signed_event_is_verified_and_normalized(provider: StripeProvider) -> None:
    created = int(time.time())
    payload = event_payload(
        "payment_intent.succeeded",
        {"id": "pi_123", "object": "payment_intent", "status": "succeeded"},
        created=created,
    )

    event = provider.verify_webhook(
        payload, sign(payload, WEBHOOK_SECRET, created), now=datetime.now(UTC)
    )

    assert event.event_id == json.loads(payload)["id"]
    assert event.event_type == "payment_intent.succeeded"
    assert event.kind is EventKind.FUNDING_SUCCEEDED
    assert event.object_reference == "pi_123"
    assert event.created == datetime.fromtimestamp(created, tz=UTC)
    assert event.payload == json.loads(payload)


def test_signature_header_name_is_case_insensitive(provider: StripeProvider) -> None:
    now = int(time.time())
    payload = event_payload("customer.created", {"id": "cus_1"})
    headers = {"stripe-signature": sign(payload, WEBHOOK_SECRET, now)["Stripe-Signature"]}

    assert provider.verify_webhook(payload, headers, now=datetime.now(UTC)).kind is EventKind.OTHER


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda p, h: (p, sign(p, "whsec_wrong", int(time.time()))), id="wrong-secret"),
        pytest.param(lambda p, h: (p.replace(b"pi_1", b"pi_2"), h), id="tampered-payload"),
        pytest.param(lambda p, h: (p, {}), id="no-header"),
        pytest.param(lambda p, h: (p, {"Stripe-Signature": "garbage"}), id="malformed-header"),
        pytest.param(
            lambda p, h: (p, {"Stripe-Signature": h["Stripe-Signature"].replace("v1=", "v0=")}),
            id="other-scheme",
        ),
        pytest.param(lambda p, h: (b"\xff" + p, h), id="not-utf8"),
    ],
)
def test_bad_signatures_are_rejected(provider: StripeProvider, mangle: Any) -> None:
    payload = event_payload("payment_intent.succeeded", {"id": "pi_1"})
    headers = sign(payload, WEBHOOK_SECRET, int(time.time()))
    bad_payload, bad_headers = mangle(payload, headers)

    with pytest.raises(WebhookSignatureError) as raised:
        provider.verify_webhook(bad_payload, bad_headers, now=datetime.now(UTC))
    assert not isinstance(raised.value, WebhookStaleError)


def test_old_signature_is_stale_relative_to_now(provider: StripeProvider) -> None:
    signed_at = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    payload = event_payload("payment_intent.succeeded", {"id": "pi_1"})
    headers = sign(payload, WEBHOOK_SECRET, int(signed_at.timestamp()))

    # Within the tolerance of `now` (not of the wall clock) it verifies...
    at_edge = signed_at + timedelta(seconds=TOLERANCE)
    assert provider.verify_webhook(payload, headers, now=at_edge).object_reference == "pi_1"
    # ...one second later it is a possible replay.
    with pytest.raises(WebhookStaleError):
        provider.verify_webhook(payload, headers, now=at_edge + timedelta(seconds=1))
    # and a correctly signed old event from the real clock's point of view too
    with pytest.raises(WebhookStaleError):
        provider.verify_webhook(payload, headers, now=datetime.now(UTC))


def test_now_must_be_timezone_aware(provider: StripeProvider) -> None:
    payload = event_payload("payment_intent.succeeded", {"id": "pi_1"})
    headers = sign(payload, WEBHOOK_SECRET, int(time.time()))

    with pytest.raises(ValueError, match="timezone"):
        provider.verify_webhook(payload, headers, now=datetime.now(UTC).replace(tzinfo=None))


def test_stale_check_uses_the_configured_tolerance(localstripe: LocalStripe) -> None:
    strict = StripeProvider(API_KEY, WEBHOOK_SECRET, api_base=localstripe.url, tolerance_seconds=10)
    now = datetime.now(UTC)
    payload = event_payload("payment_intent.succeeded", {"id": "pi_1"})
    headers = sign(payload, WEBHOOK_SECRET, int(now.timestamp()) - 11)

    with pytest.raises(WebhookStaleError):
        strict.verify_webhook(payload, headers, now=now)


@pytest.mark.parametrize(
    ("event_type", "obj", "kind"),
    [
        ("payment_intent.succeeded", {"id": "pi_1"}, EventKind.FUNDING_SUCCEEDED),
        ("payment_intent.payment_failed", {"id": "pi_1"}, EventKind.FUNDING_FAILED),
        ("payment_intent.canceled", {"id": "pi_1"}, EventKind.FUNDING_CANCELED),
        ("payment_intent.processing", {"id": "pi_1"}, EventKind.FUNDING_PROCESSING),
        ("payment_intent.requires_action", {"id": "pi_1"}, EventKind.OTHER),
        ("charge.refunded", {"id": "ch_1"}, EventKind.REFUND_SUCCEEDED),
        ("refund.created", {"id": "re_1", "status": "succeeded"}, EventKind.REFUND_SUCCEEDED),
        ("refund.updated", {"id": "re_1", "status": "succeeded"}, EventKind.REFUND_SUCCEEDED),
        ("refund.updated", {"id": "re_1", "status": "pending"}, EventKind.OTHER),
        ("refund.updated", {"id": "re_1", "status": "failed"}, EventKind.REFUND_FAILED),
        ("refund.failed", {"id": "re_1", "status": "failed"}, EventKind.REFUND_FAILED),
        ("transfer.created", {"id": "tr_1"}, EventKind.PAYOUT_IN_TRANSIT),
        ("transfer.reversed", {"id": "tr_1"}, EventKind.PAYOUT_FAILED),
        ("payout.paid", {"id": "po_1"}, EventKind.PAYOUT_PAID),
        ("payout.failed", {"id": "po_1"}, EventKind.PAYOUT_FAILED),
        ("payout.canceled", {"id": "po_1"}, EventKind.PAYOUT_CANCELED),
        ("account.updated", {"id": "acct_1"}, EventKind.PAYEE_ACCOUNT_UPDATED),
        ("setup_intent.succeeded", {"id": "seti_1"}, EventKind.SETUP_SUCCEEDED),
        ("setup_intent.setup_failed", {"id": "seti_1"}, EventKind.SETUP_FAILED),
        ("setup_intent.canceled", {"id": "seti_1"}, EventKind.SETUP_FAILED),
        ("payment_method.detached", {"id": "pm_1"}, EventKind.PAYMENT_METHOD_DETACHED),
        ("customer.created", {"id": "cus_1"}, EventKind.OTHER),
    ],
)
def test_event_types_map_to_kinds(
    provider: StripeProvider, event_type: str, obj: dict[str, Any], kind: EventKind
) -> None:
    now = int(time.time())
    payload = event_payload(event_type, obj, created=now)

    event = provider.verify_webhook(
        payload, sign(payload, WEBHOOK_SECRET, now), now=datetime.now(UTC)
    )

    assert (event.event_type, event.kind, event.object_reference) == (event_type, kind, obj["id"])


async def test_localstripe_delivers_signed_events_that_verify(
    provider: StripeProvider,
    customer_client: stripe.StripeClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    succeeded = await new_intent(provider)
    await attach(customer_client, succeeded, "pm_card_visa")
    failed = await new_intent(provider)
    await attach(customer_client, failed, "pm_card_chargeCustomerFail")
    await provider.confirm_funding_intent(succeeded, amount=1_000, currency="USD")
    await provider.confirm_funding_intent(failed, amount=1_000, currency="USD")

    for event_type, reference, kind in [
        ("payment_intent.succeeded", succeeded, EventKind.FUNDING_SUCCEEDED),
        ("payment_intent.payment_failed", failed, EventKind.FUNDING_FAILED),
    ]:
        delivery = await webhook_receiver.wait_for(event_type, reference)
        event = provider.verify_webhook(delivery.body, delivery.headers, now=datetime.now(UTC))
        assert (event.event_type, event.kind, event.object_reference) == (
            event_type,
            kind,
            reference,
        )
        with pytest.raises(WebhookSignatureError):
            provider.verify_webhook(delivery.body + b" ", delivery.headers, now=datetime.now(UTC))


# --- saved payment methods -------------------------------------------------------------------


async def test_a_card_is_saved_then_charged_off_session(
    provider: StripeProvider,
    customer_client: stripe.StripeClient,
    recorded_requests: list[tuple[str, str, dict[str, str]]],
) -> None:
    customer = await provider.create_customer(user_id=uuid.uuid4(), email="brand@example.com")
    setup_id = uuid.uuid4()
    recorded_requests.clear()
    setup = await provider.create_setup_intent(
        setup_id=setup_id,
        customer_reference=customer.reference,
        kind=PaymentMethodKind.CARD,
        metadata={"user_id": "u-1"},
    )
    assert setup.reference.startswith("seti_") and setup.status == "pending"
    assert setup.client_secret and setup.client_secret.startswith(setup.reference)
    assert [headers.get("Idempotency-Key") for _, _, headers in recorded_requests] == [
        f"setup-intent-{setup_id}"
    ]
    at_stripe = await customer_client.v1.setup_intents.retrieve_async(setup.reference)
    assert at_stripe.usage == "off_session" and at_stripe.customer == customer.reference
    assert at_stripe.metadata.to_dict() == {"user_id": "u-1", "setup_id": str(setup_id)}

    # Stripe.js in the browser confirms it with the card.
    await customer_client.v1.setup_intents.confirm_async(
        setup.reference, {"payment_method": "pm_card_visa"}
    )
    method = str(
        (await customer_client.v1.setup_intents.retrieve_async(setup.reference)).payment_method
    )
    details = await provider.payment_method_details(method)
    assert (details.reference, details.kind, details.brand, details.last4) == (
        method,
        PaymentMethodKind.CARD,
        "visa",
        "4242",
    )
    assert (details.exp_month, details.exp_year) == (12, 2030)

    intent_id = uuid.uuid4()
    charged = await provider.create_funding_intent(
        intent_id=intent_id,
        amount=1_250,
        currency="USD",
        customer_reference=customer.reference,
        metadata={},
        payment_method_reference=method,
    )
    assert charged.status is IntentStatus.SUCCEEDED and charged.failure_reason is None
    paid = await customer_client.v1.payment_intents.retrieve_async(charged.reference)
    assert (paid.customer, paid.payment_method, paid.amount) == (customer.reference, method, 1_250)

    await customer_client.v1.payment_methods.attach_async(method, {"customer": customer.reference})
    await provider.detach_payment_method(method)
    assert (await customer_client.v1.payment_methods.retrieve_async(method)).customer is None


async def test_a_saved_card_declined_off_session_is_a_failed_intent(
    provider: StripeProvider, customer_client: stripe.StripeClient
) -> None:
    customer = await provider.create_customer(user_id=uuid.uuid4(), email="brand@example.com")
    method = (
        await customer_client.v1.payment_methods.retrieve_async("pm_card_chargeCustomerFail")
    ).id

    declined = await provider.create_funding_intent(
        intent_id=uuid.uuid4(),
        amount=900,
        currency="USD",
        customer_reference=customer.reference,
        metadata={},
        payment_method_reference=method,
    )

    # localstripe's decline names the charge only: the intent is found through it.
    assert declined.reference.startswith("pi_")
    assert declined.status is IntentStatus.FAILED
    assert declined.failure_reason == "Your card was declined."


async def test_a_bank_account_setup_asks_for_bank_account_types(
    provider: StripeProvider,
) -> None:
    customer = await provider.create_customer(user_id=uuid.uuid4(), email="brand@example.com")
    # localstripe knows only the older parameter: its refusal shows the one sent.
    with pytest.raises(ProviderError, match="allowed_payment_method_types"):
        await provider.create_setup_intent(
            setup_id=uuid.uuid4(),
            customer_reference=customer.reference,
            kind=PaymentMethodKind.BANK_ACCOUNT,
            metadata={},
        )


async def test_a_bank_accounts_details(
    provider: StripeProvider, customer_client: stripe.StripeClient
) -> None:
    sepa = await customer_client.v1.payment_methods.create_async(
        {"type": "sepa_debit", "sepa_debit": {"iban": "DE89370400440532013000"}}
    )
    details = await provider.payment_method_details(sepa.id)
    assert (details.kind, details.last4, details.exp_month) == (
        PaymentMethodKind.BANK_ACCOUNT,
        "3000",
        None,
    )
    us_bank = _payment_method(
        {
            "id": "pm_us",
            "type": "us_bank_account",
            "us_bank_account": {"bank_name": "STRIPE TEST BANK", "last4": "6789"},
        }
    )
    assert (us_bank.kind, us_bank.brand, us_bank.last4) == (
        PaymentMethodKind.BANK_ACCOUNT,
        "STRIPE TEST BANK",
        "6789",
    )
    with pytest.raises(ProviderError) as raised:
        _payment_method({"id": "pm_link", "type": "link", "link": {}})
    assert raised.value.code == "payment_method_unsupported"


async def test_an_unknown_payment_method_is_a_provider_error(provider: StripeProvider) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider.payment_method_details("pm_doesnotexist")
    assert raised.value.retryable is False
