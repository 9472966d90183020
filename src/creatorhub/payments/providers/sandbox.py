"""The sandbox provider: a local stand-in for a card processor and a payout network.

It behaves like a real provider where it matters to the platform: calls return a provider
reference and a non-final status, and the final outcome arrives later as a signed webhook event,
delivered over HTTP to the same `/v1/webhooks/{provider}` endpoint a real provider calls (by a
job, so an event exists only if the state change that caused it committed). Signatures use the
same scheme as Stripe's (`t=<unix time>,v1=<HMAC-SHA256 of "t.body">`), so the webhook path is
exercised for real: wrong secrets and stale timestamps are refused.

Outcomes are configurable: intents and payouts whose amount is in `sandbox_fail_amounts` fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from creatorhub.payments.providers.base import (
    EventKind,
    IntentStatus,
    ProviderCustomer,
    ProviderEvent,
    ProviderIntent,
    ProviderPayeeAccount,
    ProviderRefund,
    ProviderSubscription,
    ProviderTransfer,
    TransferStatus,
    WebhookSignatureError,
    WebhookStaleError,
)

SIGNATURE_HEADER = "sandbox-signature"

# Delivers one event body (already serialized); the platform binds it to a job.
EventSink = Callable[[dict[str, Any]], Awaitable[None]]


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
    ) -> ProviderIntent:
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
