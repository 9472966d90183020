"""Tables of salesman campaigns: seed 002's `sales_records`, the promoters' coupon codes and
the campaigns' webhook secrets (sealed with the platform's keyring, like social tokens), and
the clicks of the promoters' referral links.

A sale's commission (`amount * commission_per_sale // 10000`, the fraction of a cent to the
advertiser) is held on the campaign's escrow when the sale is recorded; after the refund window
it is verified (the hold posted to the promoter's available wallet, less the fee, for the
monthly payout and its $20 threshold); a refund before that voids the hold (`reversed`). A
refund after it is recorded on the sale and takes nothing back (the promoter's paid history
never goes negative). A sale the budget cannot cover is recorded `over_budget`, without
commission, and the campaign pauses itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.campaigns.models import SCHEMA, USERS, _sql_list
from creatorhub.db import Base, inserted_at


class SaleStatus(StrEnum):
    PENDING = "pending"  # in its refund window; the commission held on the escrow
    VERIFIED = "verified"  # the window passed: the commission credited to the wallet
    REVERSED = "reversed"  # refunded in its window: the hold voided, no commission
    OVER_BUDGET = "over_budget"  # the budget could not cover its commission: none
    CAMPAIGN_INACTIVE = "campaign_inactive"  # the campaign was paused or ended: none


class Attribution(StrEnum):
    COUPON = "coupon"
    REF_LINK = "ref_link"


class SalesRecord(Base):
    """One sale of the advertiser's shop (seed 002 `sales_records`), unique per campaign by the
    shop's order id: a retried or replayed webhook records nothing twice."""

    __tablename__ = "sales_records"
    __table_args__ = (
        UniqueConstraint("campaign_id", "order_id", name="uq_sales_records_order"),
        CheckConstraint(f"status IN ({_sql_list(SaleStatus)})", name="status_known"),
        CheckConstraint(
            f"attributed_by IS NULL OR attributed_by IN ({_sql_list(Attribution)})",
            name="attribution_known",
        ),
        CheckConstraint("amount >= 0 AND commission >= 0", name="amounts_nonneg"),
        CheckConstraint("length(order_id) BETWEEN 1 AND 200", name="order_id_length"),
        CheckConstraint(
            "status NOT IN ('pending', 'verified') OR hold_id IS NOT NULL OR commission = 0",
            name="held",
        ),
        Index(
            "ix_sales_records_due",
            "verify_after",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_sales_records_promoter", "promoter_id", "occurred_at"),
        Index("ix_sales_records_campaign", "campaign_id", "occurred_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), nullable=False
    )
    # NULL for a refund that arrived before its sale (recorded so the sale counts nothing).
    promoter_campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.promoter_campaigns.id")
    )
    promoter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(USERS))
    order_id: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    commission: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # What traced the sale to the promoter: their coupon code or their referral code.
    attributed_by: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    fee: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    verify_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()


class CouponCode(Base):
    """A promoter's coupon code in a salesman campaign: one per promoter per campaign, unique
    per campaign (compared upper-cased)."""

    __tablename__ = "coupon_codes"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code", name="uq_coupon_codes_code"),
        CheckConstraint("code ~ '^[A-Z0-9_-]{3,32}$'", name="code_shape"),
        {"schema": SCHEMA},
    )

    promoter_campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.promoter_campaigns.id"), primary_key=True
    )
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), nullable=False
    )
    code: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = inserted_at()


class SalesWebhookSecret(Base):
    """The secret a campaign's shop signs its sales webhooks with, sealed with the platform's
    keyring (AES-GCM, the campaign id as associated data)."""

    __tablename__ = "sales_webhook_secrets"
    __table_args__ = ({"schema": SCHEMA},)

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), primary_key=True
    )
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = inserted_at()


class ReferralClick(Base):
    """A click of a promoter's referral link (`/r/{code}`) in a salesman campaign. A sale the
    shop attributes to a referral code counts when that code was clicked in the referral window
    (`campaign_referral_window_days`) before the sale."""

    __tablename__ = "referral_clicks"
    __table_args__ = (
        Index("ix_referral_clicks_promoter_campaign", "promoter_campaign_id", "clicked_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    promoter_campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.promoter_campaigns.id"), nullable=False
    )
    clicked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
