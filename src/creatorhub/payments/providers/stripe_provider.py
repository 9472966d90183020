"""The Stripe implementation of `PaymentProvider`, on the official `stripe` library.

Each provider owns its `stripe.StripeClient` (never the library's global state) with an async
HTTP client (`stripe.HTTPXClient`), and calls only the library's `*_async` methods. Call
`aclose()` when done with it.

What each method does at Stripe:

- funding: a PaymentIntent (automatic capture; the payment methods the Stripe account enables),
  our intent id in its metadata and in the idempotency key `funding-intent-{intent_id}`. The
  customer's client attaches a payment method (Stripe.js in production); `confirm_funding_intent`
  then confirms it server side, after checking the intent is for the amount and currency we
  expect (else `ProviderError` code `intent_mismatch`). Confirming is idempotent at our level: an
  intent that is no longer awaiting confirmation is returned as it is (one still without a payment
  method stays `REQUIRES_CONFIRMATION`), and a declined card gives a `FAILED` intent rather than
  an error.
  With a saved payment method (`payment_method_reference`), the PaymentIntent is created with
  the customer and the method, `confirm=true` and `off_session=true` (the customer is not
  there to authenticate): it comes back succeeded or processing, or declined: Stripe answers a
  decline with a `CardError` naming the PaymentIntent (or only its charge: localstripe), which
  is read back and reported `FAILED` with the decline's message, not raised.
- saved payment methods: a SetupIntent for the customer (`usage=off_session`; the method types
  allowed for a bank account: `us_bank_account` and `sepa_debit`, none named for a card, as for
  funding intents; idempotency key `setup-intent-{setup_id}`), confirmed by the customer's
  client (Stripe.js) with the `client_secret`: card numbers go from the browser to Stripe, never
  through the platform. Its `setup_intent.succeeded` event names the PaymentMethod by id only;
  `payment_method_details` reads its display fields (brand, last four digits, expiry; a bank
  account's bank name and last four), and `detach_payment_method` detaches it from the customer.
- refunds: a Refund of the PaymentIntent, idempotency key `refund-{refund_id}`.
- payees: a Connect Express account (card_payments and transfers requested; idempotency key
  `payee-account-{user_id}`), an `account_onboarding` AccountLink, and the account's
  payouts_enabled / details_submitted / capabilities.
- payouts: a Transfer to the connected account (`transfer_group` and metadata carry our payout
  id; idempotency key `payout-{payout_id}`). A Stripe transfer has no status of its own: a fresh
  one is reported `IN_TRANSIT` (as its `transfer.created` event is), a reversed one `FAILED`.
- subscriptions: a Customer (idempotency key `customer-{user_id}`), then a Plan created with an
  inline product and a Subscription on that plan. The Plans API is used (not Prices/`price_data`)
  because it is what both Stripe and the local emulator accept; plan ids work wherever price ids do.
- webhooks: `stripe.WebhookSignature.verify_header` checks the signature; the age check is ours,
  against the caller's `now` (the library would compare with the wall clock), so it is testable
  and consistent with the rest of the request handling.

Amounts are in minor units. Currencies go to Stripe lower-case and come back upper-case (our
convention, e.g. the `payout_currency` setting).

Base addresses. In production both `api_base` and `connect_api_base` are None: every call goes to
Stripe's API. `api_base` points every call elsewhere (tests: localstripe, a local Stripe
emulator). `connect_api_base` points the Connect calls only (accounts, account links, transfers)
elsewhere, because localstripe implements none of them; the tests run a small fake of those
endpoints there. (It is not the library's `connect` base address, which is for OAuth.)

Errors: any `stripe.StripeError` becomes a `ProviderError` whose `code` is Stripe's error code
(e.g. `card_declined`, `resource_missing`) or, failing that, its error type; `retryable` is true
for connection errors, rate limits, 5xx answers and answers Stripe marks `Stripe-Should-Retry:
true`. The library itself retries network failures and 5xx `max_network_retries` times, with the
same idempotency key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import stripe

from creatorhub.payments.providers.base import (
    EventKind,
    IntentStatus,
    PaymentMethodKind,
    PaymentProvider,
    ProviderCustomer,
    ProviderError,
    ProviderEvent,
    ProviderIntent,
    ProviderPayeeAccount,
    ProviderPaymentMethod,
    ProviderRefund,
    ProviderSetupIntent,
    ProviderSubscription,
    ProviderTransfer,
    SetupStatus,
    TransferStatus,
    WebhookSignatureError,
    WebhookStaleError,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams, SetupIntentCreateParams

    from creatorhub.config import Settings

SIGNATURE_HEADER = "Stripe-Signature"
SUBSCRIPTION_INTERVALS = frozenset({"month", "year"})
# The payment method types a bank account setup allows (a card's sends none: the account's
# enabled methods, cards among them, as for funding intents; see the module docstring).
BANK_ACCOUNT_TYPES: list[Literal["us_bank_account", "sepa_debit"]] = [
    "us_bank_account",
    "sepa_debit",
]

# Stripe event type -> what it means to us (refund.created/updated also need the object).
_EVENT_KINDS: dict[str, EventKind] = {
    "payment_intent.succeeded": EventKind.FUNDING_SUCCEEDED,
    "payment_intent.payment_failed": EventKind.FUNDING_FAILED,
    "payment_intent.canceled": EventKind.FUNDING_CANCELED,
    "payment_intent.processing": EventKind.FUNDING_PROCESSING,
    "charge.refunded": EventKind.REFUND_SUCCEEDED,
    "refund.failed": EventKind.REFUND_FAILED,
    "transfer.created": EventKind.PAYOUT_IN_TRANSIT,
    "transfer.reversed": EventKind.PAYOUT_FAILED,
    "payout.paid": EventKind.PAYOUT_PAID,
    "payout.failed": EventKind.PAYOUT_FAILED,
    "payout.canceled": EventKind.PAYOUT_CANCELED,
    "account.updated": EventKind.PAYEE_ACCOUNT_UPDATED,
    "setup_intent.succeeded": EventKind.SETUP_SUCCEEDED,
    "setup_intent.setup_failed": EventKind.SETUP_FAILED,
    "setup_intent.canceled": EventKind.SETUP_FAILED,
    "payment_method.detached": EventKind.PAYMENT_METHOD_DETACHED,
}


def event_kind(event_type: str, obj: Mapping[str, Any]) -> EventKind:
    """What a Stripe event means to us, from its type and (for refunds) its object.

    Notes for the webhook handler:
    - `charge.refunded` is about a charge: its object reference is the charge id (`ch_...`),
      and it is sent for partial refunds too. `refund.created` / `refund.updated` carry the
      refund itself (`re_...`, what `refund()` returns) and are the ones to match refunds by.
    - `payout.*` events are Stripe payouts from a connected account to its bank (`po_...`,
      the connected account in the event's `account`), not our transfers (`tr_...`).
    """
    if event_type in ("refund.created", "refund.updated"):
        status = obj.get("status")
        if status == "succeeded":
            return EventKind.REFUND_SUCCEEDED
        if status in ("failed", "canceled"):
            return EventKind.REFUND_FAILED
        return EventKind.OTHER
    return _EVENT_KINDS.get(event_type, EventKind.OTHER)


def _provider_error(exc: stripe.StripeError) -> ProviderError:
    status = exc.http_status
    headers = {name.lower(): value for name, value in (exc.headers or {}).items()}
    retryable = (
        isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError)
        or (status is not None and status >= 500)
        or headers.get("stripe-should-retry") == "true"
    )
    code = exc.code or (exc.error.code if exc.error is not None else None)
    if not code:
        if isinstance(exc, stripe.APIConnectionError):
            code = "api_connection_error"
        elif isinstance(exc, stripe.RateLimitError):
            code = "rate_limit"
        elif exc.error is not None and exc.error.type:
            code = exc.error.type  # e.g. invalid_request_error, idempotency_error, api_error
        else:
            code = "stripe_error"
    return ProviderError(f"stripe: {exc.user_message or exc}", code=code, retryable=retryable)


@contextmanager
def _stripe_errors() -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc


def _intent_status(intent: Mapping[str, Any]) -> IntentStatus:
    status = intent.get("status")
    if status == "succeeded":
        return IntentStatus.SUCCEEDED
    if status in ("processing", "requires_capture"):
        return IntentStatus.PROCESSING
    if status == "canceled":
        return IntentStatus.CANCELED
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        # A confirmation was tried and the payment failed; Stripe waits for another method.
        return IntentStatus.FAILED
    # requires_payment_method (none attached yet), requires_confirmation, requires_action
    return IntentStatus.REQUIRES_CONFIRMATION


def _intent(intent: Mapping[str, Any]) -> ProviderIntent:
    status = _intent_status(intent)
    error = intent.get("last_payment_error") or {}
    return ProviderIntent(
        reference=str(intent["id"]),
        status=status,
        amount=int(intent["amount"]),
        currency=str(intent["currency"]).upper(),
        client_secret=intent.get("client_secret"),
        failure_reason=(
            str(error.get("message") or error.get("code") or "declined")[:500]
            if status is IntentStatus.FAILED
            else None
        ),
    )


def _setup_intent(setup: Mapping[str, Any]) -> ProviderSetupIntent:
    status = setup.get("status")
    return ProviderSetupIntent(
        reference=str(setup["id"]),
        status=(
            SetupStatus.SUCCEEDED
            if status == "succeeded"
            else SetupStatus.FAILED
            if status == "canceled"
            else SetupStatus.PENDING
        ),
        client_secret=setup.get("client_secret"),
    )


def _payment_method(method: Mapping[str, Any]) -> ProviderPaymentMethod:
    """A PaymentMethod's display fields. Kinds we do not save are a `ProviderError`."""
    reference, kind = str(method["id"]), method.get("type")
    details: Mapping[str, Any] = method.get(str(kind)) or {}
    if kind == "card":
        return ProviderPaymentMethod(
            reference,
            PaymentMethodKind.CARD,
            brand=details.get("brand"),
            last4=details.get("last4"),
            exp_month=details.get("exp_month"),
            exp_year=details.get("exp_year"),
        )
    if kind in ("us_bank_account", "sepa_debit"):
        return ProviderPaymentMethod(
            reference,
            PaymentMethodKind.BANK_ACCOUNT,
            brand=details.get("bank_name") or details.get("bank_code"),
            last4=details.get("last4"),
        )
    raise ProviderError(
        f"stripe: payment method {reference} is a {kind}, which is not saved here",
        code="payment_method_unsupported",
    )


def _refund(refund: Mapping[str, Any]) -> ProviderRefund:
    status = refund.get("status")
    if status == "succeeded":
        normalized = "succeeded"
    elif status in ("failed", "canceled"):
        normalized = "failed"
    else:  # pending, requires_action
        normalized = "pending"
    return ProviderRefund(
        reference=str(refund["id"]), status=normalized, amount=int(refund["amount"])
    )


def _payee_account(account: Mapping[str, Any]) -> ProviderPayeeAccount:
    capabilities = account.get("capabilities") or {}
    return ProviderPayeeAccount(
        reference=str(account["id"]),
        payouts_enabled=bool(account.get("payouts_enabled")),
        details_submitted=bool(account.get("details_submitted")),
        capabilities={str(name): str(status) for name, status in capabilities.items()},
    )


def _transfer(transfer: Mapping[str, Any]) -> ProviderTransfer:
    failed = transfer.get("reversed") or int(transfer.get("amount_reversed") or 0) > 0
    return ProviderTransfer(
        reference=str(transfer["id"]),
        status=TransferStatus.FAILED if failed else TransferStatus.IN_TRANSIT,
    )


def _subscription(subscription: Mapping[str, Any]) -> ProviderSubscription:
    # Since API version 2025-03-31 the period is on the items; older versions (and localstripe)
    # have it on the subscription.
    period_end = None
    items = (subscription.get("items") or {}).get("data") or []
    if items:
        period_end = items[0].get("current_period_end")
    if period_end is None:
        period_end = subscription.get("current_period_end")
    return ProviderSubscription(
        reference=str(subscription["id"]),
        status=str(subscription.get("status")),
        current_period_end=(
            datetime.fromtimestamp(int(period_end), tz=UTC) if period_end is not None else None
        ),
    )


def _signature_timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    raise ValueError("no timestamp")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


class StripeProvider:
    """`PaymentProvider` on Stripe. See the module docstring for what each call does.

    `max_network_retries` (the library's retries of connection failures and 5xx answers, with
    the same idempotency key) and `timeout_seconds` (per HTTP request) default to values fit
    for production.
    """

    name = "stripe"
    calls_out = True

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        connect_api_base: str | None = None,
        tolerance_seconds: int = 300,
        max_network_retries: int = 2,
        timeout_seconds: float = 30.0,
    ) -> None:
        if not api_key:
            raise ValueError("a Stripe API key is required")
        if not webhook_secret:
            raise ValueError("a Stripe webhook signing secret is required")
        self._webhook_secret = webhook_secret
        self._tolerance_seconds = tolerance_seconds
        self._http_client = stripe.HTTPXClient(timeout=timeout_seconds)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else {},
            http_client=self._http_client,
            max_network_retries=max_network_retries,
        )
        self._connect_client = (
            stripe.StripeClient(
                api_key,
                base_addresses={"api": connect_api_base},
                http_client=self._http_client,
                max_network_retries=max_network_retries,
            )
            if connect_api_base
            else self._client
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        if not settings.stripe_api_key or not settings.stripe_webhook_secret:
            raise ValueError(
                "payments_provider=stripe needs CREATORHUB_STRIPE_API_KEY and "
                "CREATORHUB_STRIPE_WEBHOOK_SECRET"
            )
        return cls(
            settings.stripe_api_key,
            settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base,
            tolerance_seconds=settings.webhook_tolerance_seconds,
        )

    async def aclose(self) -> None:
        await self._http_client.close_async()  # type: ignore[no-untyped-call]

    # --- funding ------------------------------------------------------------------------------

    async def create_funding_intent(
        self,
        *,
        intent_id: uuid.UUID,
        amount: int,
        currency: str,
        customer_reference: str | None,
        metadata: Mapping[str, str],
        payment_method_reference: str | None = None,
    ) -> ProviderIntent:
        params: PaymentIntentCreateParams = {
            "amount": amount,
            "currency": currency.lower(),
            "metadata": {**metadata, "intent_id": str(intent_id)},
        }
        if customer_reference:
            params["customer"] = customer_reference
        if payment_method_reference:
            # Charged now, the customer not present (Stripe may then claim exemptions from
            # authentication, or decline with `authentication_required`).
            params["payment_method"] = payment_method_reference
            params["confirm"] = True
            params["off_session"] = True
        with _stripe_errors():
            try:
                intent = await self._client.v1.payment_intents.create_async(
                    params, {"idempotency_key": f"funding-intent-{intent_id}"}
                )
            except stripe.CardError as declined:
                if not payment_method_reference:
                    raise
                return _intent(await self._declined_intent(declined))
        return _intent(intent.to_dict())

    async def _declined_intent(self, declined: stripe.CardError) -> dict[str, Any]:
        """The PaymentIntent a decline is about: named by the error (Stripe), or found through
        the declined charge (localstripe names only the charge)."""
        error = declined.error
        named = getattr(error, "payment_intent", None) if error is not None else None
        if named is not None and getattr(named, "id", None):
            reference = str(named.id)
        else:
            charge_id = getattr(error, "charge", None) if error is not None else None
            if not charge_id:
                raise declined
            charge = await self._client.v1.charges.retrieve_async(str(charge_id))
            if not charge.payment_intent:
                raise declined
            reference = str(getattr(charge.payment_intent, "id", charge.payment_intent))
        intent = await self._client.v1.payment_intents.retrieve_async(reference)
        return intent.to_dict()

    async def confirm_funding_intent(
        self, reference: str, *, amount: int, currency: str
    ) -> ProviderIntent:
        intents = self._client.v1.payment_intents
        with _stripe_errors():
            current = (await intents.retrieve_async(reference)).to_dict()
            if current.get("amount") != amount or current.get("currency") != currency.lower():
                raise ProviderError(
                    f"PaymentIntent {reference} is for {current.get('amount')} "
                    f"{current.get('currency')}, not {amount} {currency.lower()}",
                    code="intent_mismatch",
                )
            if current.get("status") != "requires_confirmation":
                # Already confirmed (or failed, canceled, or still without a payment method).
                return _intent(current)
            try:
                confirmed = await intents.confirm_async(reference)
            except stripe.CardError:
                # Declined: the intent records the failure (status requires_payment_method
                # with last_payment_error), which is what we report.
                return _intent((await intents.retrieve_async(reference)).to_dict())
        return _intent(confirmed.to_dict())

    async def refund(
        self, *, refund_id: uuid.UUID, payment_reference: str, amount: int
    ) -> ProviderRefund:
        with _stripe_errors():
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": payment_reference,
                    "amount": amount,
                    "metadata": {"refund_id": str(refund_id)},
                },
                {"idempotency_key": f"refund-{refund_id}"},
            )
        return _refund(refund.to_dict())

    # --- payees (Connect) ---------------------------------------------------------------------

    async def create_payee_account(
        self, *, user_id: uuid.UUID, email: str, country: str
    ) -> ProviderPayeeAccount:
        with _stripe_errors():
            account = await self._connect_client.v1.accounts.create_async(
                {
                    "type": "express",
                    "email": email,
                    "country": country.upper(),
                    "capabilities": {
                        "card_payments": {"requested": True},
                        "transfers": {"requested": True},
                    },
                    "metadata": {"user_id": str(user_id)},
                },
                {"idempotency_key": f"payee-account-{user_id}"},
            )
        return _payee_account(account.to_dict())

    async def payee_onboarding_link(
        self, *, account_reference: str, return_url: str, refresh_url: str
    ) -> str:
        with _stripe_errors():
            link = await self._connect_client.v1.account_links.create_async(
                {
                    "account": account_reference,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        return str(link.url)

    async def payee_account_status(self, account_reference: str) -> ProviderPayeeAccount:
        with _stripe_errors():
            account = await self._connect_client.v1.accounts.retrieve_async(account_reference)
        return _payee_account(account.to_dict())

    async def create_payout_transfer(
        self, *, payout_id: uuid.UUID, account_reference: str, amount: int, currency: str
    ) -> ProviderTransfer:
        with _stripe_errors():
            transfer = await self._connect_client.v1.transfers.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "destination": account_reference,
                    "transfer_group": f"payout-{payout_id}",
                    "metadata": {"payout_id": str(payout_id)},
                },
                {"idempotency_key": f"payout-{payout_id}"},
            )
        return _transfer(transfer.to_dict())

    # --- recurring billing --------------------------------------------------------------------

    async def create_customer(self, *, user_id: uuid.UUID, email: str) -> ProviderCustomer:
        with _stripe_errors():
            customer = await self._client.v1.customers.create_async(
                {"email": email, "metadata": {"user_id": str(user_id)}},
                {"idempotency_key": f"customer-{user_id}"},
            )
        return ProviderCustomer(reference=customer.id)

    async def create_subscription(
        self,
        *,
        customer_reference: str,
        amount: int,
        currency: str,
        interval: str,
        product_name: str,
    ) -> ProviderSubscription:
        if interval not in SUBSCRIPTION_INTERVALS:
            raise ValueError(f"interval must be one of {sorted(SUBSCRIPTION_INTERVALS)}")
        with _stripe_errors():
            plan = await self._client.v1.plans.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "interval": interval,
                    "product": {"name": product_name},
                }
            )
            subscription = await self._client.v1.subscriptions.create_async(
                {"customer": customer_reference, "items": [{"plan": plan.id}]}
            )
        return _subscription(subscription.to_dict())

    async def cancel_subscription(self, reference: str) -> ProviderSubscription:
        with _stripe_errors():
            subscription = await self._client.v1.subscriptions.cancel_async(reference)
        return _subscription(subscription.to_dict())

    # --- saved payment methods ----------------------------------------------------------------

    async def create_setup_intent(
        self,
        *,
        setup_id: uuid.UUID,
        customer_reference: str,
        kind: PaymentMethodKind,
        metadata: Mapping[str, str],
    ) -> ProviderSetupIntent:
        params: SetupIntentCreateParams = {
            "customer": customer_reference,
            "usage": "off_session",
            "metadata": {**metadata, "setup_id": str(setup_id)},
        }
        if kind is PaymentMethodKind.BANK_ACCOUNT:
            # The library's API version's name (localstripe knows only the older
            # `payment_method_types`, and no bank account type but SEPA debits).
            params["allowed_payment_method_types"] = list(BANK_ACCOUNT_TYPES)
        with _stripe_errors():
            setup = await self._client.v1.setup_intents.create_async(
                params, {"idempotency_key": f"setup-intent-{setup_id}"}
            )
        return _setup_intent(setup.to_dict())

    async def payment_method_details(self, reference: str) -> ProviderPaymentMethod:
        with _stripe_errors():
            method = await self._client.v1.payment_methods.retrieve_async(reference)
        return _payment_method(method.to_dict())

    async def detach_payment_method(self, reference: str) -> None:
        with _stripe_errors():
            await self._client.v1.payment_methods.detach_async(reference)

    # --- webhooks -----------------------------------------------------------------------------

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> ProviderEvent:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        header = _header(headers, SIGNATURE_HEADER)
        if not header:
            raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
        try:
            # tolerance=None: the library checks only the signature; the age is checked below
            # against `now` rather than the wall clock.
            stripe.WebhookSignature.verify_header(
                payload, header, self._webhook_secret, tolerance=None
            )
            timestamp = _signature_timestamp(header)
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise WebhookSignatureError(f"invalid Stripe webhook: {exc}") from exc
        if timestamp < now.timestamp() - self._tolerance_seconds:
            raise WebhookStaleError(
                f"Stripe webhook signed at {timestamp}, older than {self._tolerance_seconds} s"
            )
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise WebhookSignatureError("Stripe webhook payload is not an event")
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            obj = {}
        object_id = obj.get("id")
        return ProviderEvent(
            event_id=str(event.get("id")),
            event_type=event["type"],
            kind=event_kind(event["type"], obj),
            object_reference=str(object_id) if object_id is not None else None,
            created=datetime.fromtimestamp(int(event.get("created") or timestamp), tz=UTC),
            payload=event,
        )


if TYPE_CHECKING:

    def _implements_the_protocol(provider: StripeProvider) -> PaymentProvider:
        return provider  # mypy checks StripeProvider against PaymentProvider here
