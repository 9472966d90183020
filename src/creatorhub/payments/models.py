"""Tables of the `payments` schema: what the platform asks of providers and what they answer.

Money itself is in the ledger; these rows are the workflows around it (a funding intent, a
payout, a subscription, a saved payment method) and the evidence (webhook events, kept raw).
Each workflow's state only moves forward: see `STATE_RANK`s in the services.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "payments"
CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$' OR currency = 'CREDIT'"


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )


def _updated_at() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


class FundingStatus(StrEnum):
    REQUIRES_CONFIRMATION = "requires_confirmation"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class PayoutStatus(StrEnum):
    PENDING = "pending"
    IN_TRANSIT = "in_transit"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


class PaymentMethodStatus(StrEnum):
    PENDING = "pending"  # its setup intent awaits the customer, or the provider's outcome
    ACTIVE = "active"
    FAILED = "failed"  # the provider refused to save it (declined), or the setup was abandoned
    DETACHED = "detached"


class PlanInterval(StrEnum):
    MONTH = "month"
    YEAR = "year"
    LIFETIME = "lifetime"


class FeeRule(Base):
    """Platform fee for a kind of transaction: basis points of the gross plus a fixed amount.

    A rule with `user_id` overrides the default (user_id NULL) for that payee.
    """

    __tablename__ = "fee_rules"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("basis_points BETWEEN 0 AND 10000", name="basis_points_range"),
        CheckConstraint("fixed_amount >= 0", name="fixed_amount_nonneg"),
        Index(
            "uq_fee_rules_default",
            "transaction_kind",
            unique=True,
            postgresql_where=text("user_id IS NULL"),
        ),
        Index(
            "uq_fee_rules_override",
            "transaction_kind",
            "user_id",
            unique=True,
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    transaction_kind: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    basis_points: Mapped[int] = mapped_column(Integer, nullable=False)
    fixed_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    updated_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class FundingIntent(Base):
    """Money a payer asks to bring in; it reaches the ledger only when the provider confirms."""

    __tablename__ = "funding_intents"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
        CheckConstraint(
            "status IN ('requires_confirmation', 'processing', 'succeeded', 'failed', 'canceled')",
            name="status_known",
        ),
        CheckConstraint(
            "target_type IN ('wallet', 'job', 'campaign', 'giveaway')", name="target_type_known"
        ),
        CheckConstraint(
            "(target_type = 'wallet') = (target_id IS NULL)", name="target_id_iff_not_wallet"
        ),
        CheckConstraint(
            "(status = 'succeeded') = (succeeded_at IS NOT NULL)", name="succeeded_at_iff_succeeded"
        ),
        UniqueConstraint("provider", "provider_reference"),
        Index("ix_funding_intents_user_id_created_at", "user_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id"), nullable=False
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    target_type: Mapped[str] = mapped_column(Text, nullable=False, server_default="wallet")
    target_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    provider_reference: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="requires_confirmation"
    )
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The saved method it charged (then it needs no confirmation); NULL: the payer's client
    # gives a method at the provider and the intent is confirmed.
    payment_method_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.payment_methods.id")
    )


class PaymentMethod(Base):
    """A card or bank account a payer saved at the provider (seed 002 `payment_methods`).

    The provider keeps the number; this row keeps what identifies it there (the customer, the
    setup intent that saved it, the method's id) and what its owner is shown (brand, last four
    digits, expiry). Saved through a setup intent: `pending` until the provider's event says it
    succeeded (`active`) or failed; `detached` when removed. At most one default per user.
    """

    __tablename__ = "payment_methods"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'active', 'failed', 'detached')", name="status_known"
        ),
        CheckConstraint("kind IN ('card', 'bank_account')", name="kind_known"),
        CheckConstraint("last4 ~ '^[0-9]{4}$'", name="last4_four_digits"),
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_range"),
        CheckConstraint("exp_year BETWEEN 2000 AND 2999", name="exp_year_range"),
        CheckConstraint(
            "status <> 'active' OR (provider_reference IS NOT NULL AND last4 IS NOT NULL)",
            name="active_has_details",
        ),
        CheckConstraint("NOT is_default OR status = 'active'", name="default_is_active"),
        CheckConstraint(
            "(status = 'detached') = (detached_at IS NOT NULL)", name="detached_at_iff_detached"
        ),
        UniqueConstraint("provider", "provider_reference"),
        UniqueConstraint("provider", "setup_reference"),
        Index(
            "uq_payment_methods_one_default",
            "user_id",
            unique=True,
            postgresql_where=text("is_default"),
        ),
        Index("ix_payment_methods_user_id_created_at", "user_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id"), nullable=False
    )
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    # The payer at the provider (a Stripe Customer), the same on each of the payer's methods.
    customer_reference: Mapped[str | None] = mapped_column(Text)
    # The setup intent saving it (NULL until a provider that calls out has answered).
    setup_reference: Mapped[str | None] = mapped_column(Text)
    # The saved method at the provider (NULL until its setup succeeded).
    provider_reference: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, nullable=False, server_default="card")
    brand: Mapped[str | None] = mapped_column(Text)
    last4: Mapped[str | None] = mapped_column(Text)
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    failure_reason: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()
    detached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookEvent(Base):
    """Every verified provider event, stored in the transaction that applies its effects."""

    __tablename__ = "webhook_events"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_webhook_events_received_at", "received_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    event_id: Mapped[str] = mapped_column(Text, nullable=False)
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    object_reference: Mapped[str | None] = mapped_column(Text)
    # Exactly the bytes the provider sent (decoded as UTF-8), for disputes and replays.
    raw_body: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = inserted_at()


class PayoutAccount(Base):
    """Where a payee's payouts go: a connected account at the provider."""

    __tablename__ = "payout_accounts"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("user_id", "provider"),
        UniqueConstraint("provider", "provider_reference"),
        CheckConstraint(
            "status IN ('onboarding', 'active', 'restricted', 'disabled')", name="status_known"
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id"), nullable=False
    )
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    provider_reference: Mapped[str] = mapped_column(Text, nullable=False)
    country: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="onboarding")
    payouts_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    details_submitted: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    capabilities: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class Payout(Base):
    """Money leaving a payee's available balance for their payout account."""

    __tablename__ = "payouts"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("minimum_amount >= 0", name="minimum_nonneg"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
        CheckConstraint(
            "status IN ('pending', 'in_transit', 'paid', 'failed', 'canceled')",
            name="status_known",
        ),
        CheckConstraint("trigger IN ('on_demand', 'monthly_cycle', 'admin')", name="trigger_known"),
        # I6 in the database: below the minimum only with an administrator's release.
        CheckConstraint(
            "amount >= minimum_amount OR released_below_minimum_by IS NOT NULL",
            name="minimum_or_released",
        ),
        Index("ix_payouts_user_id_created_at", "user_id", "created_at"),
        Index(
            "ix_payouts_open",
            "status",
            postgresql_where=text("status IN ('pending', 'in_transit')"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id"), nullable=False
    )
    payout_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.payout_accounts.id"), nullable=False
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    minimum_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    released_below_minimum_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    trigger: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    provider_reference: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PendingEarning(Base):
    """Earnings in a holding period: credited to the pending wallet, released on a date.

    The wallet shows each one with its release date and reason, so nobody has to guess why
    money is not yet available.
    """

    __tablename__ = "pending_earnings"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
        Index(
            "ix_pending_earnings_due",
            "release_at",
            postgresql_where=text("released_at IS NULL"),
        ),
        Index("ix_pending_earnings_user_id", "user_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    source_type: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[str | None] = mapped_column(Text)
    release_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()


class Plan(Base):
    """A recurring price a payee offers (fan subscription, giveaway credits plan)."""

    __tablename__ = "plans"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
        CheckConstraint("interval IN ('month', 'year', 'lifetime')", name="interval_known"),
        Index("ix_plans_owner_id", "owner_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    interval: Mapped[str] = mapped_column(Text, nullable=False)
    transaction_kind: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="subscription"
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = inserted_at()


class Subscription(Base):
    """A subscriber on a plan; renewed by a periodic job from the subscriber's wallet."""

    __tablename__ = "subscriptions"
    # updated_at and other server values come back with the write (RETURNING): reading them
    # later must not lazy-load outside the async context.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("status IN ('active', 'past_due', 'canceled')", name="status_known"),
        CheckConstraint("periods_paid >= 0", name="periods_paid_nonneg"),
        CheckConstraint("(status = 'canceled') = (canceled_at IS NOT NULL)", name="canceled_at"),
        # One live subscription per subscriber and plan.
        Index(
            "uq_subscriptions_live",
            "plan_id",
            "subscriber_id",
            unique=True,
            postgresql_where=text("status <> 'canceled'"),
        ),
        Index(
            "ix_subscriptions_due",
            "current_period_end",
            postgresql_where=text("status <> 'canceled' AND current_period_end IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    plan_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.plans.id"), nullable=False
    )
    subscriber_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("identity.users.id"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    current_period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # NULL for a lifetime plan: nothing to renew.
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    periods_paid: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    past_due_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    canceled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()
