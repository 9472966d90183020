"""Seed 002's `billing_period_summaries`: per user, month, role and currency, what the ledger
moved for campaigns. Computed from `ledger.transfers` (`campaigns.billing.service`), never
written by hand; recomputing a month replaces its rows with the same figures.

Promoters: earned per campaign type (gross), the platform's fees on it, paid out (payouts less
returned ones), the wallet's balance at the month's end and, when that is below the payout
minimum, the amount carried forward. Advertisers: funded into their campaigns' escrows, spent
per campaign type (gross paid to promoters), the platform's fees within that spend, refunded.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.campaigns.models import SCHEMA, USERS
from creatorhub.db import Base

FIGURES = (
    "funded",
    "spent_visibility",
    "spent_consultant",
    "spent_seller",
    "spent_salesman",
    "refunded",
    "earned_visibility",
    "earned_consultant",
    "earned_seller",
    "earned_salesman",
    "fees",
    "paid_out",
    "balance_end",
    "carried_forward",
)


def _figure() -> Mapped[int]:
    return mapped_column(BigInteger, nullable=False, server_default="0")


class BillingPeriodSummary(Base):
    __tablename__ = "billing_period_summaries"
    __table_args__ = (
        CheckConstraint("role IN ('promoter', 'advertiser')", name="role_known"),
        CheckConstraint("extract(day FROM period) = 1", name="period_is_a_month"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)  # the month's first day
    role: Mapped[str] = mapped_column(Text, primary_key=True)
    currency: Mapped[str] = mapped_column(Text, primary_key=True)
    funded: Mapped[int] = _figure()
    spent_visibility: Mapped[int] = _figure()
    spent_consultant: Mapped[int] = _figure()
    spent_seller: Mapped[int] = _figure()
    spent_salesman: Mapped[int] = _figure()
    refunded: Mapped[int] = _figure()
    earned_visibility: Mapped[int] = _figure()
    earned_consultant: Mapped[int] = _figure()
    earned_seller: Mapped[int] = _figure()
    earned_salesman: Mapped[int] = _figure()
    fees: Mapped[int] = _figure()
    paid_out: Mapped[int] = _figure()
    balance_end: Mapped[int] = _figure()
    carried_forward: Mapped[int] = _figure()
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
