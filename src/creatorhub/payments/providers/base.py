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
    OTHER = "other"


@dataclass(frozen=True)
class ProviderIntent:
    """A funding intent (a Stripe PaymentIntent, or the sandbox's own)."""

    reference: str
    status: IntentStatus
    amount: int
    currency: str
    client_secret: str | None = None


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
    ) -> ProviderIntent: ...

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

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: datetime
    ) -> ProviderEvent: ...
