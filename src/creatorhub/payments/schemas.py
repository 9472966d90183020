"""Request and response bodies of the money endpoints.

Amounts are JSON integers in minor units: strict, so `12.5`, `"1250"` and `true` are refused
(422) rather than coerced. Currencies are ISO 4217 codes the platform supports.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from creatorhub.identity.schemas import RequestModel

# Currencies accepted at the API. Adding one is a decision (fees, payout rails), not a typo.
SUPPORTED_CURRENCIES = frozenset({"USD", "EUR", "GBP", "CAD", "AUD"})
MAX_AMOUNT = 100_000_000_00  # one hundred million in major units: beyond it, a typo

Amount = Annotated[
    int, Field(strict=True, gt=0, le=MAX_AMOUNT, description="integer minor units, e.g. cents")
]


def check_currency(value: str) -> str:
    if value not in SUPPORTED_CURRENCIES:
        raise ValueError(
            f"unknown or unsupported currency; use one of {', '.join(sorted(SUPPORTED_CURRENCIES))}"
        )
    return value


class CurrencyModel(RequestModel):
    currency: str = Field(default="USD", min_length=3, max_length=3, examples=["USD"])

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return check_currency(value)


class FundingCreate(CurrencyModel):
    amount: Amount
    target_type: Literal["wallet", "job", "campaign", "giveaway"] = "wallet"
    target_id: uuid.UUID | None = None
    payment_method_id: uuid.UUID | None = Field(
        default=None,
        description="one of your active saved payment methods (`/v1/me/payment-methods`): it "
        "is charged at once and the intent needs no confirmation",
    )


class FundingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    amount: int
    currency: str
    target_type: str
    target_id: uuid.UUID | None
    provider: str
    provider_reference: str | None
    status: str
    failure_reason: str | None
    created_at: datetime
    succeeded_at: datetime | None
    payment_method_id: uuid.UUID | None = None


class PendingItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    amount: int
    reason: str
    release_at: datetime
    source_type: str | None
    source_id: str | None


class WalletOut(BaseModel):
    currency: str
    available: int = Field(description="spendable and withdrawable now")
    held: int = Field(description="reserved by holds (escrow, reservations)")
    pending: int = Field(description="earned, released to available on the items' dates")
    pending_items: list[PendingItemOut]
    in_payout: int = Field(description="requested payouts not yet settled")


class WalletTransactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    kinds: list[str]
    reference_type: str | None
    reference_id: str | None
    gross: int
    fee: int
    net: int
    balance_after: int
    wallet: str


class WalletTransactionsPage(BaseModel):
    items: list[WalletTransactionOut]
    next_cursor: str | None


class PayoutAccountCreate(RequestModel):
    country: str = Field(default="US", pattern=r"^[A-Z]{2}$")


class PayoutAccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: str
    provider_reference: str
    country: str
    status: str
    payouts_enabled: bool
    details_submitted: bool
    capabilities: dict[str, str]
    created_at: datetime


class OnboardingLinkOut(BaseModel):
    url: str


class PayoutCreate(CurrencyModel):
    amount: Amount | None = Field(default=None, description="omit to withdraw everything available")


class AdminPayoutCreate(CurrencyModel):
    user_id: uuid.UUID
    amount: Amount
    reason: str = Field(min_length=3, max_length=500)


class PayoutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    amount: int
    currency: str
    status: str
    trigger: str
    minimum_amount: int
    released_below_minimum_by: uuid.UUID | None
    provider: str
    provider_reference: str | None
    failure_reason: str | None
    created_at: datetime
    settled_at: datetime | None


class PayoutsPage(BaseModel):
    items: list[PayoutOut]


class WebhookReceiptOut(BaseModel):
    event_id: str
    duplicate: bool
    outcome: str


class FeeRuleIn(RequestModel):
    basis_points: int = Field(strict=True, ge=0, le=10_000)
    fixed_amount: int = Field(default=0, strict=True, ge=0, le=MAX_AMOUNT)
    user_id: uuid.UUID | None = Field(
        default=None, description="set to override the default for one payee"
    )


class FeeRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    transaction_kind: str
    user_id: uuid.UUID | None
    basis_points: int
    fixed_amount: int
    updated_at: datetime


class FeeQuoteOut(BaseModel):
    kind: str
    gross: int
    fee: int
    net: int
    basis_points: int
    fixed_amount: int


# --- saved payment methods --------------------------------------------------------------------


class PaymentMethodCreate(RequestModel):
    kind: Literal["card", "bank_account"] = Field(
        default="card", description="what the payer is about to save"
    )


class PaymentMethodOut(BaseModel):
    """A saved payment method: what identifies it at the provider and what its owner is shown
    (never a card or account number: the provider keeps it)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: str
    provider_reference: str | None
    kind: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    status: str = Field(description="pending, active, failed or detached")
    is_default: bool
    failure_reason: str | None
    created_at: datetime
    detached_at: datetime | None


class PaymentMethodSetupOut(PaymentMethodOut):
    client_secret: str | None = Field(
        description="the setup intent's secret, for the provider's script in the payer's "
        "browser (Stripe.js `confirmSetup`): the card or account details go from there to the "
        "provider, never to this platform. The method is active once the provider confirms "
        "(webhook)"
    )


class PaymentMethodConfirm(RequestModel):
    """The sandbox provider's stand-in for the provider's script: a test method by its last
    four digits ("4242" saved, "0002" declined, "0341" saved but declining every charge,
    "4444" a mastercard, "6789" a bank account)."""

    last4: Literal["4242", "4444", "0002", "0341", "6789"]
