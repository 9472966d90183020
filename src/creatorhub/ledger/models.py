"""Tables of the `ledger` schema: accounts, immutable transfers (which carry the balance chain),
holds. The view `ledger.entries` shows each transfer as its two legs.

Every balance is a row in `accounts`, changed only by the functions in `sql/` (ledger_001,
replaced in part by ledger_002), in the transaction that writes the transfer explaining it.
Amounts are integers in minor units (cents) of the account's currency, or whole credits.
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
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "ledger"

# Owner of the platform's own accounts (fees, provider clearing, payouts in transit).
PLATFORM_OWNER_ID = uuid.UUID(int=0)

CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$' OR currency = 'CREDIT'"


class OwnerType(StrEnum):
    USER = "user"
    JOB = "job"
    CAMPAIGN = "campaign"
    GIVEAWAY = "giveaway"
    PLATFORM = "platform"


class AccountKind(StrEnum):
    WALLET_AVAILABLE = "wallet_available"  # spendable / withdrawable
    WALLET_PENDING = "wallet_pending"  # earned, released to available on a date
    ESCROW = "escrow"  # a job's or campaign's funded budget
    CREDITS = "credits"  # giveaway credits (currency CREDIT)
    PLATFORM_FEES = "platform_fees"  # split into shards: see ledger.service.fee_account
    PROVIDER_CLEARING = "provider_clearing"  # money outside the platform; may go negative
    PAYOUTS_IN_TRANSIT = "payouts_in_transit"  # withdrawn, not yet confirmed paid
    CREDIT_ISSUANCE = "credit_issuance"  # source of credits; may go negative


class HoldStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "kind", "currency", "shard"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
        CheckConstraint(
            "owner_type IN ('user', 'job', 'campaign', 'giveaway', 'platform')",
            name="owner_type_known",
        ),
        CheckConstraint("shard >= 0", name="shard_nonneg"),
        CheckConstraint("pending_debits >= 0", name="pending_debits_nonneg"),
        CheckConstraint("pending_credits >= 0", name="pending_credits_nonneg"),
        CheckConstraint("version >= 0", name="version_nonneg"),
        # Backstop of the prevent_negative_wallet trigger, which fires first and explains.
        CheckConstraint("allow_negative OR balance - pending_debits >= 0", name="not_overdrawn"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    owner_type: Mapped[str] = mapped_column(Text, nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    shard: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    allow_negative: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    balance: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    pending_debits: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    pending_credits: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    created_at: Mapped[datetime] = inserted_at()


class Hold(Base):
    """A two-phase transfer: reserved now, posted (all or part) or voided later, once."""

    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        CheckConstraint(
            "status IN ('pending', 'posted', 'voided', 'expired')", name="status_known"
        ),
        CheckConstraint("(status = 'pending') = (resolved_at IS NULL)", name="resolved_iff_done"),
        CheckConstraint(
            "(status = 'posted') = (posted_amount IS NOT NULL)", name="posted_amount_iff_posted"
        ),
        CheckConstraint(
            "posted_amount IS NULL OR (posted_amount > 0 AND posted_amount <= amount)",
            name="posted_within_amount",
        ),
        Index(
            "ix_holds_pending_expiry",
            "expires_at",
            postgresql_where=text("status = 'pending' AND expires_at IS NOT NULL"),
        ),
        Index(
            "ix_holds_debit_account_id_pending",
            "debit_account_id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_holds_reference", "reference_type", "reference_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    debit_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.accounts.id"), nullable=False
    )
    credit_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.accounts.id"), nullable=False
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    reference_type: Mapped[str | None] = mapped_column(Text)
    reference_id: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text(collation="C"), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    posted_amount: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime] = inserted_at()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Transfer(Base):
    """One immutable movement of `amount` from the debit to the credit account."""

    __tablename__ = "transfers"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(CURRENCY_CHECK, name="currency_format"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        CheckConstraint(
            "debit_account_version > 0 AND credit_account_version > 0", name="versions_positive"
        ),
        # The balance chain: versions run 1, 2, 3… per account without gaps (a version is on
        # the debit or the credit side of exactly one transfer: `ledger verify` checks the
        # sides together), and each leg's previous balance is the new balance of the one before.
        Index("uq_transfers_debit_chain", "debit_account_id", "debit_account_version", unique=True),
        Index(
            "uq_transfers_credit_chain",
            "credit_account_id",
            "credit_account_version",
            unique=True,
        ),
        Index(
            "ix_transfers_reference",
            "reference_type",
            "reference_id",
            postgresql_where=text("reference_id IS NOT NULL"),
        ),
        Index("ix_transfers_hold_id", "hold_id", postgresql_where=text("hold_id IS NOT NULL")),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    # Transfers applied together share a group (a posting and its fee, a batch).
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    debit_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.accounts.id"), nullable=False
    )
    credit_account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.accounts.id"), nullable=False
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    reference_type: Mapped[str | None] = mapped_column(Text)
    reference_id: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text(collation="C"), nullable=False)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.holds.id")
    )
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime] = inserted_at()
    # Each account's version and balance after this transfer (the view ledger.entries shows
    # them as one leg per account, with the balance before).
    debit_account_version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    debit_new_balance: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credit_account_version: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credit_new_balance: Mapped[int] = mapped_column(BigInteger, nullable=False)
