"""The interface every payment provider implements, and the normalized shapes it returns.

Services speak only these types. A provider turns them into its own API calls and turns its
webhook events into `ProviderEvent`s, so the webhook handler and the state machines do not know
which provider they are talking to.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class ProviderError(Exception):
    """The provider refused or failed a call. `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, code: str = "provider_error", retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class WebhookSignatureError(Exception):
    """The webhook's signature is missing, malformed or wrong."""


class WebhookStaleError(WebhookSignatureError):
    """The webhook's signature is valid but older than the tolerance (a possible replay)."""


class IntentStatus(StrEnum):
    REQUIRES_CONFIRMATION = "requires_confirmation"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class TransferStatus(StrEnum):
    PENDING = "pending"
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


class EventKind(StrEnum):
    """What a provider event means to us; anything else is stored and ignored."""

    FUNDING_SUCCEEDED = "funding.succeeded"
    FUNDING_FAILED = "funding.failed"
    FUNDING_CANCELED = "funding.canceled"
    FUNDING_PROCESSING = "funding.processing"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    PAYOUT_IN_TRANSIT = "payout.in_transit"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    PAYOUT_CANCELED = "payout.canceled"
    PAYEE_ACCOUNT_UPDATED = "payee_account.updated"
    SETUP_SUCCEEDED = "setup.succeeded"
    SETUP_FAILED = "setup.failed"
    PAYMENT_METHOD_DETACHED = "payment_method.detached"
    OTHER = "other"


@dataclass(frozen=True)
class ProviderIntent:
    """A funding intent (a Stripe PaymentIntent, or the sandbox's own)."""

    reference: str
    status: IntentStatus
    amount: int
    currency: str
    client_secret: str | None = None
    # Why a charge of a saved payment method failed at once (declined), when it did.
    failure_reason: str | None = None


@dataclass(frozen=True)
class ProviderRefund:
    reference: str
    status: str  # "pending" | "succeeded" | "failed"
    amount: int


@dataclass(frozen=True)
class ProviderPayeeAccount:
    reference: str
    payouts_enabled: bool
    details_submitted: bool
    capabilities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderTransfer:
    reference: str
    status: TransferStatus


@dataclass(frozen=True)
class ProviderCustomer:
    reference: str


@dataclass(frozen=True)
class ProviderSubscription:
    reference: str
    status: str
    current_period_end: datetime | None


class SetupStatus(StrEnum):
    """Where saving a payment method stands at the provider."""

    PENDING = "pending"  # waiting for the customer's client (Stripe.js) to confirm it
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentMethodKind(StrEnum):
    CARD = "card"
    BANK_ACCOUNT = "bank_account"


@dataclass(frozen=True)
class ProviderSetupIntent:
    """Saving a payment method (a Stripe SetupIntent, or the sandbox's own). The card or bank
    details go from the customer's client to the provider with `client_secret`: never to us."""

    reference: str
    status: SetupStatus
    client_secret: str | None = None


@dataclass(frozen=True)
class ProviderPaymentMethod:
    """A saved payment method as shown to its owner: display fields only, never a number."""

    reference: str
    kind: PaymentMethodKind
    brand: str | None  # a card's network (visa, mastercard…), a bank account's bank name
    last4: str | None
    exp_month: int | None = None  # cards only
    exp_year: int | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event, normalized."""

    event_id: str
    event_type: str  # the provider's own type, e.g. "payment_intent.succeeded"
    kind: EventKind
    object_reference: str | None  # the provider id of the object the event is about
    created: datetime
    payload: Mapping[str, Any]  # the whole event as the provider sent it


class PaymentProvider(Protocol):
    name: str
    # Whether its calls go over the network. Such a call never runs inside a database
    # transaction: the services record the intent and commit first, call, then record the
    # outcome in a second transaction (`Responder.hold`). A provider whose calls are local (the
    # sandbox: its "call" defers a webhook job in the request's transaction) is called inside it.
    calls_out: bool

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
        """A funding intent. With `payment_method_reference` (a saved method of the customer
        `customer_reference`), it is charged at once, the customer not present: the intent
        comes back `PROCESSING` or `SUCCEEDED` (the money still arrives by webhook) or `FAILED`
        with its `failure_reason` (declined), and needs no confirmation."""
        ...

    async def confirm_funding_intent(
        self, reference: str, *, amount: int, currency: str
    ) -> ProviderIntent: ...

    async def refund(
        self, *, refund_id: uuid.UUID, payment_reference: str, amount: int
    ) -> ProviderRefund: ...

    async def create_payee_account(
        self, *, user_id: uuid.UUID, email: str, country: str
    ) -> ProviderPayeeAccount: ...

    async def payee_onboarding_link(
        self, *, account_reference: str, return_url: str, refresh_url: str
    ) -> str: ...

    async def payee_account_status(self, account_reference: str) -> ProviderPayeeAccount: ...

    async def create_payout_transfer(
        self, *, payout_id: uuid.UUID, account_reference: str, amount: int, currency: str
    ) -> ProviderTransfer: ...

    async def create_customer(self, *, user_id: uuid.UUID, email: str) -> ProviderCustomer: ...

    async def create_subscription(
        self,
        *,
        customer_reference: str,
        amount: int,
        currency: str,
        interval: str,
        product_name: str,
    ) -> ProviderSubscription: ...

    async def cancel_subscription(self, reference: str) -> ProviderSubscription: ...

    async def create_setup_intent(
        self,
        *,
        setup_id: uuid.UUID,
        customer_reference: str,
        kind: PaymentMethodKind,
        metadata: Mapping[str, str],
    ) -> ProviderSetupIntent:
        """Start saving a payment method of `kind` for the customer (idempotent per
        `setup_id`). Its outcome arrives as a `SETUP_SUCCEEDED` / `SETUP_FAILED` event."""
        ...

    async def payment_method_details(self, reference: str) -> ProviderPaymentMethod: ...

    async def detach_payment_method(self, reference: str) -> None:
        """The method can no longer be charged (detached from its customer)."""
        ...

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> ProviderEvent: ...
