"""Tables of the `marketplace` schema: seed 000's jobs, claims, content, escrow records and logs.

Names are the seed's (`jobs.uid`, `creator_uid` for the brand who created the job,
`influencer_jobs`, `escrow_transactions`, ...), so a reader of the seed finds them. Money columns
are integer minor units with the job's currency; the money itself lives in the ledger (the job's
escrow account, one hold per claimed slot), and these rows are the marketplace's record of it.

The triggers that keep the seed's counters, logs and immutability rules are in
`sql/marketplace_001_triggers.sql`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
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

SCHEMA = "marketplace"
USERS = "identity.users.id"


def _uid(name: str = "uid") -> Mapped[uuid.UUID]:
    return mapped_column(
        name, UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )


def _job_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey(f"{SCHEMA}.jobs.uid"), nullable=False)


class JobStatus(StrEnum):
    AWAITING_FUNDING = "awaiting_funding"
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    BRAND = "brand"
    END_DATE = "end_date"


class EscrowStatus(StrEnum):
    HELD = "held"
    RELEASED = "released"
    REFUNDED = "refunded"


class SubmissionStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


CONTENT_PLATFORMS = ("instagram", "tiktok", "youtube", "facebook", "x", "twitch", "other")


def _sql_list(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Job(Base):
    """A brand's paid job with `max_slots` creator slots; opens once its budget is in escrow."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("budget > 0", name="budget_positive"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("influencer_slots BETWEEN 1 AND 1000", name="slots_range"),
        # Every slot's share is at least one minor unit.
        CheckConstraint("budget >= max_slots", name="budget_covers_slots"),
        CheckConstraint("influence_min >= 0", name="influence_min_nonneg"),
        CheckConstraint(
            "influence_max IS NULL OR influence_min <= influence_max", name="influence_range"
        ),
        CheckConstraint("claim_count BETWEEN 0 AND max_slots", name="claims_within_slots"),
        CheckConstraint("influencers_done BETWEEN 0 AND claim_count", name="done_within_claims"),
        CheckConstraint("approved BETWEEN 0 AND influencers_done", name="approved_within_done"),
        CheckConstraint(f"status IN ({_sql_list(JobStatus)})", name="status_known"),
        CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)", name="closed_iff_closed_at"
        ),
        CheckConstraint(
            "status = 'closed' OR (status = 'awaiting_funding') = (funded_at IS NULL)",
            name="open_iff_funded",
        ),
        CheckConstraint(
            "funding_source IS NULL OR funding_source IN ('wallet', 'provider')",
            name="funding_source_known",
        ),
        CheckConstraint(
            f"close_reason IS NULL OR close_reason IN ({_sql_list(CloseReason)})",
            name="close_reason_known",
        ),
        CheckConstraint("length(title) BETWEEN 1 AND 200", name="title_length"),
        Index("ix_jobs_creator_uid_created_at", "creator_uid", "created_at"),
        Index("ix_jobs_open_end_date", "end_date", postgresql_where=text("closed_at IS NULL")),
        Index("ix_jobs_open_influence", "influence_min", postgresql_where=text("status = 'open'")),
        {"schema": SCHEMA},
    )

    uid: Mapped[uuid.UUID] = _uid()
    creator_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    budget: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default="USD")
    influencer_slots: Mapped[int] = mapped_column(Integer, nullable=False)
    # Set from influencer_slots by `jobs_set_max_slots` (the seed keeps both).
    max_slots: Mapped[int] = mapped_column(Integer, nullable=False)
    influence_min: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    influence_max: Mapped[int | None] = mapped_column(BigInteger)
    location: Mapped[str | None] = mapped_column(Text)
    genre: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=JobStatus.AWAITING_FUNDING.value
    )
    created_at: Mapped[datetime] = inserted_at()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_reason: Mapped[str | None] = mapped_column(Text)
    claim_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    influencers_done: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # The seed's trg_create_unfilled_refund reads NEW.approved: slots whose content was approved.
    approved: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    all_content_ready: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    end_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The provider's reference of the funding charge (PaymentIntent); NULL when funded from the
    # brand's wallet.
    stripe_charge_id: Mapped[str | None] = mapped_column(Text)
    funding_source: Mapped[str | None] = mapped_column(Text)
    funded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escrow_account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)


class JobLog(Base):
    __tablename__ = "joblogs"
    __table_args__ = (Index("ix_joblogs_job_uid", "job_uid", "created_at"), {"schema": SCHEMA})

    uid: Mapped[uuid.UUID] = _uid()
    job_uid: Mapped[uuid.UUID] = _job_fk()
    description: Mapped[str] = mapped_column(Text, nullable=False)
    log: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    created_at: Mapped[datetime] = inserted_at()


class Claim(Base):
    """A creator's claim of one slot. The database itself keeps claims within slots, whatever
    the concurrency: claim n of a job must take slot n (`count_claim`), slot numbers are unique
    per job, and `jobs.claim_count` may not pass `max_slots` (CHECK)."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("job_id", "influencer_id", name="uq_claims_job_influencer"),
        UniqueConstraint("job_id", "slot_number", name="uq_claims_job_slot"),
        CheckConstraint("slot_number >= 1", name="slot_number_positive"),
        Index("ix_claims_influencer_id", "influencer_id", "claimed_at"),
        Index("ix_claims_claimed_at", "claimed_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _uid("id")
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.jobs.uid"), nullable=False)
    influencer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    slot_number: Mapped[int] = mapped_column(Integer, nullable=False)
    claimed_at: Mapped[datetime] = inserted_at()


class InfluencerJob(Base):
    """A creator's work on a claimed slot (content done, approved, closed) and its budget share."""

    __tablename__ = "influencer_jobs"
    __table_args__ = (
        UniqueConstraint("job_uid", "user_uid", name="uq_influencer_jobs_job_user"),
        UniqueConstraint("claim_id", name="uq_influencer_jobs_claim"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "content_approved_at IS NULL OR content_done_at IS NOT NULL",
            name="approved_after_done",
        ),
        CheckConstraint(
            "(content_approved_at IS NULL) = (platform_fee IS NULL)", name="fee_iff_approved"
        ),
        CheckConstraint(
            "platform_fee IS NULL OR platform_fee BETWEEN 0 AND amount", name="fee_within_amount"
        ),
        Index("ix_influencer_jobs_user_uid", "user_uid", "assigned_at"),
        {"schema": SCHEMA},
    )

    uid: Mapped[uuid.UUID] = _uid()
    user_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    job_uid: Mapped[uuid.UUID] = _job_fk()
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.claims.id"), nullable=False)
    slot_number: Mapped[int] = mapped_column(Integer, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    hold_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    assigned_at: Mapped[datetime] = inserted_at()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content_done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    content_approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    platform_fee: Mapped[int | None] = mapped_column(BigInteger)
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)


class ContentSubmission(Base):
    __tablename__ = "content_submissions"
    __table_args__ = (
        CheckConstraint(f"platform IN ({_sql_list(CONTENT_PLATFORMS)})", name="platform_known"),
        CheckConstraint("url IS NOT NULL OR post_id IS NOT NULL", name="url_or_post_id"),
        CheckConstraint(f"status IN ({_sql_list(SubmissionStatus)})", name="status_known"),
        Index("ix_content_submissions_influencer_job", "influencer_job_uid", "submitted_at"),
        # At most one submission awaits review per slot.
        Index(
            "uq_content_submissions_one_pending",
            "influencer_job_uid",
            unique=True,
            postgresql_where=text("status = 'submitted'"),
        ),
        {"schema": SCHEMA},
    )

    uid: Mapped[uuid.UUID] = _uid()
    influencer_job_uid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.influencer_jobs.uid"), nullable=False
    )
    job_uid: Mapped[uuid.UUID] = _job_fk()
    user_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    url: Mapped[str | None] = mapped_column(Text)
    post_id: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=SubmissionStatus.SUBMITTED.value
    )
    submitted_at: Mapped[datetime] = inserted_at()
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_reason: Mapped[str | None] = mapped_column(Text)


class EscrowTransaction(Base):
    """One slot's reserved share: the marketplace's record of its ledger hold."""

    __tablename__ = "escrow_transactions"
    __table_args__ = (
        UniqueConstraint("influencer_job_uid", name="uq_escrow_transactions_influencer_job"),
        CheckConstraint("payment_amount > 0", name="payment_amount_positive"),
        CheckConstraint(f"status IN ({_sql_list(EscrowStatus)})", name="status_known"),
        CheckConstraint(
            "(status = 'held') = (escrow_released_time IS NULL)", name="resolved_iff_time"
        ),
        Index("ix_escrow_transactions_job_uid", "job_uid"),
        {"schema": SCHEMA},
    )

    escrow_uid: Mapped[uuid.UUID] = _uid("escrow_uid")
    job_uid: Mapped[uuid.UUID] = _job_fk()
    influencer_job_uid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.influencer_jobs.uid"), nullable=False
    )
    buyer_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    seller_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    payment_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    hold_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    payment_time: Mapped[datetime] = inserted_at()
    escrow_released_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=EscrowStatus.HELD.value
    )


class EscrowEvent(Base):
    __tablename__ = "escrow_events"
    __table_args__ = (
        CheckConstraint(
            "event_type IN ('claimed', 'released', 'influencer_paid', 'voided', 'refund')",
            name="event_type_known",
        ),
        Index("ix_escrow_events_job_uid", "job_uid", "created_at"),
        Index("ix_escrow_events_created_at", "created_at"),
        {"schema": SCHEMA},
    )

    event_uid: Mapped[uuid.UUID] = _uid("event_uid")
    escrow_uid: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.escrow_transactions.escrow_uid")
    )
    job_uid: Mapped[uuid.UUID] = _job_fk()
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    event_details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default="{}"
    )
    created_at: Mapped[datetime] = inserted_at()


class InfluencerPayout(Base):
    """What an approved slot earned (gross, fee, net); `payed_at` once a payout took it out."""

    __tablename__ = "influencer_payouts"
    __table_args__ = (
        UniqueConstraint("influencer_job_uid", name="uq_influencer_payouts_influencer_job"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "platform_fee >= 0 AND net_amount = amount - platform_fee", name="net_is_gross_less_fee"
        ),
        Index(
            "ix_influencer_payouts_unpaid",
            "user_uid",
            "issued_at",
            postgresql_where=text("payed_at IS NULL"),
        ),
        Index("ix_influencer_payouts_issued_at", "issued_at"),
        {"schema": SCHEMA},
    )

    uid: Mapped[uuid.UUID] = _uid()
    user_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    job_uid: Mapped[uuid.UUID] = _job_fk()
    influencer_job_uid: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.influencer_jobs.uid"), nullable=False
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    platform_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    net_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    genre: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime] = inserted_at()
    payed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payout_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class InfluencerLog(Base):
    __tablename__ = "influencer_logs"
    __table_args__ = (
        Index("ix_influencer_logs_job_uid", "job_uid", "created_at"),
        {"schema": SCHEMA},
    )

    uid: Mapped[uuid.UUID] = _uid()
    user_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    job_uid: Mapped[uuid.UUID] = _job_fk()
    description: Mapped[str | None] = mapped_column(Text)
    log: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    created_at: Mapped[datetime] = inserted_at()


class UnfilledRefund(Base):
    """The brand's money for the slots not approved when the job closed."""

    __tablename__ = "unfilled_refunds"
    __table_args__ = (
        UniqueConstraint("job_uid", name="uq_unfilled_refunds_job"),
        CheckConstraint("refunded > 0 AND refunded <= budget", name="refunded_within_budget"),
        Index("ix_unfilled_refunds_issued_at", "issued_at"),
        Index(
            "ix_unfilled_refunds_not_issued",
            "created_at",
            postgresql_where=text("issued_at IS NULL"),
        ),
        {"schema": SCHEMA},
    )

    uid: Mapped[uuid.UUID] = _uid()
    user_uid: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    job_uid: Mapped[uuid.UUID] = _job_fk()
    max_slots: Mapped[int] = mapped_column(Integer, nullable=False)
    claimed_slots: Mapped[int] = mapped_column(Integer, nullable=False)
    budget: Mapped[int] = mapped_column(BigInteger, nullable=False)
    refunded: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    stripe_charge_id: Mapped[str | None] = mapped_column(Text)
    provider_refund_id: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()


class PlatformAnalytics(Base):
    """Seed 000's daily platform metrics, rebuilt from the source tables by the rollup job."""

    __tablename__ = "platform_analytics"
    __table_args__ = ({"schema": SCHEMA},)

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    total_users: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_artists: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_influencers: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    active_users_daily: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    jobs_created: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    jobs_closed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_influencer_claims: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    system_events_logged: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    escrow_events_logged: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    computed_at: Mapped[datetime] = inserted_at()


class FinancialAnalytics(Base):
    """Seed 000's daily money metrics per currency, computed from the ledger's transfers."""

    __tablename__ = "financial_analytics"
    __table_args__ = (
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        {"schema": SCHEMA},
    )

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(Text, primary_key=True)
    total_payouts: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    payouts_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_refunds: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    refunds_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    platform_fees: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    net_revenue: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    largest_single_payout: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default="0"
    )
    largest_single_refund: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default="0"
    )
    computed_at: Mapped[datetime] = inserted_at()
