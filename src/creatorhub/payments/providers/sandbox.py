"""The sandbox provider: a local stand-in for a card processor and a payout network.

It behaves like a real provider where it matters to the platform: calls return a provider
reference and a non-final status, and the final outcome arrives later as a signed webhook event,
delivered over HTTP to the same `/v1/webhooks/{provider}` endpoint a real provider calls (by a
job, so an event exists only if the state change that caused it committed). Signatures use the
same scheme as Stripe's (`t=<unix time>,v1=<HMAC-SHA256 of "t.body">`), so the webhook path is
exercised for real: wrong secrets and stale timestamps are refused.

Outcomes are configurable: intents and payouts whose amount is in `sandbox_fail_amounts` fail.

Saved payment methods: `create_setup_intent` answers a setup intent waiting for the customer's
client, which with the sandbox is `confirm_setup_intent` (the platform's stand-in for Stripe.js,
`POST /v1/me/payment-methods/{id}/confirm` and the payment methods page) given one of the
`TEST_METHODS` by its last four digits: "4242" is saved, "0002" is declined (a `setup.failed`
event), "0341" is saved but declines every charge. No number is ever given or kept: the method's
reference names the test method, so its details and outcomes need no stored state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from creatorhub.payments.providers.base import (
    EventKind,
    IntentStatus,
    PaymentMethodKind,
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

SIGNATURE_HEADER = "sandbox-signature"

# Delivers one event body (already serialized); the platform binds it to a job.
EventSink = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class SandboxMethod:
    """A payment method the sandbox knows by its last four digits (Stripe's test numbers')."""

    kind: PaymentMethodKind
    brand: str
    expiry: tuple[int, int] | None = (12, 2030)
    declined_when_saved: bool = False
    declined_when_charged: bool = False


TEST_METHODS: dict[str, SandboxMethod] = {
    "4242": SandboxMethod(PaymentMethodKind.CARD, "visa"),
    "4444": SandboxMethod(PaymentMethodKind.CARD, "mastercard"),
    "0002": SandboxMethod(PaymentMethodKind.CARD, "visa", declined_when_saved=True),
    "0341": SandboxMethod(PaymentMethodKind.CARD, "visa", declined_when_charged=True),
    "6789": SandboxMethod(PaymentMethodKind.BANK_ACCOUNT, "STRIPE TEST BANK", expiry=None),
}
DECLINED = "sandbox: card declined"
_METHOD_PREFIX = "sbx_pm_"


def method_reference(setup_reference: str, last4: str) -> str:
    """The saved method a setup intent confirmed with a test method gives: it names the test
    method (`sbx_pm_<last4>_<setup intent's id>`)."""
    return f"{_METHOD_PREFIX}{last4}_{setup_reference.rsplit('_', 1)[-1]}"


def sandbox_method(reference: str) -> tuple[str, SandboxMethod]:
    """The test method a sandbox payment method reference names (`ProviderError` if none)."""
    last4 = reference.removeprefix(_METHOD_PREFIX).split("_", 1)[0]
    method = TEST_METHODS.get(last4) if reference.startswith(_METHOD_PREFIX) else None
    if method is None:
        raise ProviderError(
            f"sandbox: no such payment method {reference!r}", code="resource_missing"
        )
    return last4, method


def method_details(reference: str) -> ProviderPaymentMethod:
    last4, method = sandbox_method(reference)
    month, year = method.expiry or (None, None)
    return ProviderPaymentMethod(reference, method.kind, method.brand, last4, month, year)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def check_signature(
    secret: str,
    payload: bytes,
    header: str | None,
    *,
    now: datetime,
    tolerance_seconds: int,
    header_name: str,
) -> None:
    """Check a `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>">` header (several `v1`
    while a secret is rolled): `WebhookSignatureError` if it is missing, malformed or wrong,
    `WebhookStaleError` if its time is further from `now` than the tolerance. The sandbox's
    webhooks and the campaigns' sales webhooks are signed this way."""
    if not header:
        raise WebhookSignatureError(f"missing {header_name} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise WebhookSignatureError("malformed signature header") from None
    expected = sign(secret, payload, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise WebhookSignatureError("signature does not match")
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise WebhookStaleError(f"signature timestamp {timestamp} outside the tolerance")


def make_event(event_type: str, obj: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    return {
        "id": f"evt_sbx_{uuid.uuid4().hex}",
        "type": event_type,
        "created": int(now.timestamp()),
        "data": {"object": dict(obj)},
    }


class SandboxProvider:
    name = "sandbox"
    # Nothing leaves the process: its events are jobs deferred in the caller's transaction.
    calls_out = False

    def __init__(
        self,
        *,
        webhook_secret: str,
        fail_amounts: frozenset[int] = frozenset(),
        tolerance_seconds: int = 300,
        emit: EventSink | None = None,
        public_base_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self.webhook_secret = webhook_secret
        self.fail_amounts = fail_amounts
        self.tolerance_seconds = tolerance_seconds
        self._emit = emit
        self.public_base_url = public_base_url.rstrip("/")

    async def _send(self, event_type: str, obj: Mapping[str, Any]) -> None:
        if self._emit is not None:
            await self._emit(make_event(event_type, obj, now=datetime.now(UTC)))

    # --- funding ---------------------------------------------------------------------------

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
        if payment_method_reference is not None:
            # A saved method, charged at once: the outcome follows as the event, as it would
            # after a confirmation.
            _, method = sandbox_method(payment_method_reference)
            reference = f"sbx_pi_{intent_id.hex}"
            obj = {"id": reference, "amount": amount, "currency": currency.lower()}
            if method.declined_when_charged or amount in self.fail_amounts:
                await self._send(EventKind.FUNDING_FAILED, {**obj, "failure_message": DECLINED})
            else:
                await self._send(EventKind.FUNDING_SUCCEEDED, obj)
            return ProviderIntent(reference, IntentStatus.PROCESSING, amount, currency)
        return ProviderIntent(
            reference=f"sbx_pi_{intent_id.hex}",
            status=IntentStatus.REQUIRES_CONFIRMATION,
            amount=amount,
            currency=currency,
            client_secret=f"sbx_pi_{intent_id.hex}_secret_{uuid.uuid4().hex[:16]}",
        )

    async def confirm_funding_intent(
        self, reference: str, *, amount: int, currency: str
    ) -> ProviderIntent:
        failed = amount in self.fail_amounts
        obj = {"id": reference, "amount": amount, "currency": currency.lower()}
        if failed:
            await self._send(
                EventKind.FUNDING_FAILED, {**obj, "failure_message": "sandbox: card declined"}
            )
        else:
            await self._send(EventKind.FUNDING_SUCCEEDED, obj)
        return ProviderIntent(reference, IntentStatus.PROCESSING, amount, currency)

    async def refund(
        self, *, refund_id: uuid.UUID, payment_reference: str, amount: int
    ) -> ProviderRefund:
        reference = f"sbx_re_{refund_id.hex}"
        await self._send(
            EventKind.REFUND_SUCCEEDED,
            {"id": reference, "payment_intent": payment_reference, "amount": amount},
        )
        return ProviderRefund(reference, "pending", amount)

    # --- payees and payouts ----------------------------------------------------------------

    async def create_payee_account(
        self, *, user_id: uuid.UUID, email: str, country: str
    ) -> ProviderPayeeAccount:
        # The sandbox has no onboarding to complete: the account can receive payouts at once.
        return ProviderPayeeAccount(
            reference=f"sbx_acct_{user_id.hex}",
            payouts_enabled=True,
            details_submitted=True,
            capabilities={"transfers": "active"},
        )

    async def payee_onboarding_link(
        self, *, account_reference: str, return_url: str, refresh_url: str
    ) -> str:
        return return_url

    async def payee_account_status(self, account_reference: str) -> ProviderPayeeAccount:
        return ProviderPayeeAccount(account_reference, True, True, {"transfers": "active"})

    async def create_payout_transfer(
        self, *, payout_id: uuid.UUID, account_reference: str, amount: int, currency: str
    ) -> ProviderTransfer:
        # Derived from the payout id, as the idempotency key at a real provider is: a retried
        # submission names the same transfer.
        reference = f"sbx_tr_{payout_id.hex}"
        obj = {
            "id": reference,
            "amount": amount,
            "currency": currency.lower(),
            "destination": account_reference,
        }
        if amount in self.fail_amounts:
            await self._send(
                EventKind.PAYOUT_FAILED, {**obj, "failure_message": "sandbox: account closed"}
            )
        else:
            await self._send(EventKind.PAYOUT_PAID, obj)
        return ProviderTransfer(reference, TransferStatus.IN_TRANSIT)

    # --- customers and subscriptions (card billing at the provider) ------------------------

    async def create_customer(self, *, user_id: uuid.UUID, email: str) -> ProviderCustomer:
        return ProviderCustomer(f"sbx_cus_{user_id.hex}")

    async def create_subscription(
        self,
        *,
        customer_reference: str,
        amount: int,
        currency: str,
        interval: str,
        product_name: str,
    ) -> ProviderSubscription:
        return ProviderSubscription(f"sbx_sub_{uuid.uuid4().hex}", "active", None)

    async def cancel_subscription(self, reference: str) -> ProviderSubscription:
        return ProviderSubscription(reference, "canceled", None)

    # --- saved payment methods -------------------------------------------------------------

    async def create_setup_intent(
        self,
        *,
        setup_id: uuid.UUID,
        customer_reference: str,
        kind: PaymentMethodKind,
        metadata: Mapping[str, str],
    ) -> ProviderSetupIntent:
        reference = f"sbx_seti_{setup_id.hex}"
        return ProviderSetupIntent(
            reference, SetupStatus.PENDING, f"{reference}_secret_{uuid.uuid4().hex[:16]}"
        )

    async def confirm_setup_intent(self, reference: str, *, last4: str) -> ProviderSetupIntent:
        """What the customer's client does with the provider's script: give the payment method
        (here one of `TEST_METHODS`, by its last four digits). The outcome follows as an event,
        with the method's display details in it (Stripe's names only the method's id)."""
        method = TEST_METHODS.get(last4)
        if method is None:
            raise ProviderError(f"sandbox: no test payment method {last4!r}", code="invalid_number")
        if method.declined_when_saved:
            await self._send(EventKind.SETUP_FAILED, {"id": reference, "failure_message": DECLINED})
            return ProviderSetupIntent(reference, SetupStatus.FAILED)
        details = method_details(method_reference(reference, last4))
        await self._send(
            EventKind.SETUP_SUCCEEDED,
            {
                "id": reference,
                "payment_method": {
                    "id": details.reference,
                    "type": details.kind.value,
                    "brand": details.brand,
                    "last4": details.last4,
                    "exp_month": details.exp_month,
                    "exp_year": details.exp_year,
                },
            },
        )
        return ProviderSetupIntent(reference, SetupStatus.SUCCEEDED)

    async def payment_method_details(self, reference: str) -> ProviderPaymentMethod:
        return method_details(reference)

    async def detach_payment_method(self, reference: str) -> None:
        sandbox_method(reference)  # refuses what the sandbox never gave

    # --- webhooks --------------------------------------------------------------------------

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> ProviderEvent:
        header = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER)
        check_signature(
            self.webhook_secret,
            payload,
            header,
            now=now,
            tolerance_seconds=self.tolerance_seconds,
            header_name=SIGNATURE_HEADER,
        )
        try:
            event = json.loads(payload)
            obj = event["data"]["object"]
            try:
                kind = EventKind(event["type"])
            except ValueError:
                kind = EventKind.OTHER
            return ProviderEvent(
                event_id=str(event["id"]),
                event_type=str(event["type"]),
                kind=kind,
                object_reference=str(obj["id"]) if obj.get("id") else None,
                created=datetime.fromtimestamp(int(event["created"]), UTC),
                payload=event,
            )
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookSignatureError(f"signed but not a valid event: {error}") from error
