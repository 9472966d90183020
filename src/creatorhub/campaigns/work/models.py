"""Tables of consultant and seller campaigns (seed 002: `campaign_applications`,
`campaign_deliverables`, `campaign_works`; the negotiation's offers are ours).

The money chain, each link a CHECK so that no path can pay past what was agreed:

* the campaign's `committed_budget` (the accepted applications' agreed amounts) never passes
  its `max_budget` (`campaigns.campaigns`, migration 0021);
* an application's `committed_amount` (its live and paid deliverables) never passes its
  `agreed_amount`, and its `paid_amount` never passes that;
* a deliverable is paid at most its `amount`, reserved as a ledger hold on the campaign's
  escrow from the moment both parties agreed on it.

Workflows lock the campaign row first (`campaigns.service.common.lock_campaign`), then the
application, then the deliverable, then the ledger: one campaign's steps are serialized.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.campaigns.models import SCHEMA, USERS, _sql_list
from creatorhub.db import Base, inserted_at

WORK_TYPES = ("consultant", "seller")


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )


def _updated_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class ApplicationStatus(StrEnum):
    PENDING = "pending"  # an offer is on the table (the proposal, or a counter-offer)
    ACCEPTED = "accepted"  # selected, at `agreed_amount`
    REJECTED = "rejected"  # by the advertiser, with a reason
    WITHDRAWN = "withdrawn"  # by the promoter


class OfferParty(StrEnum):
    PROMOTER = "promoter"
    ADVERTISER = "advertiser"


class OfferStatus(StrEnum):
    OPEN = "open"  # waiting for the other party
    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"  # answered by a counter-offer
    CLOSED = "closed"  # the application was rejected or withdrawn


class DeliverableStatus(StrEnum):
    PROPOSED = "proposed"  # by the advertiser; nothing reserved yet
    AGREED = "agreed"  # the promoter agreed: its amount is held on the escrow
    SUBMITTED = "submitted"  # a work waits for review
    CHANGES_REQUESTED = "changes_requested"  # the last work was rejected, with a reason
    DISPUTED = "disputed"  # the promoter contests the rejection; an admin decides
    APPROVED = "approved"  # paid (all of it, or what an admin decided)
    CANCELLED = "cancelled"  # withdrawn, cancelled or refunded: its hold released


# A deliverable whose amount is reserved by its hold.
HELD = (
    DeliverableStatus.AGREED,
    DeliverableStatus.SUBMITTED,
    DeliverableStatus.CHANGES_REQUESTED,
    DeliverableStatus.DISPUTED,
)


class WorkStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    SUPERSEDED = "superseded"  # a dispute's decision closed it without approval


class DisputeResolution(StrEnum):
    PAY = "pay"  # the deliverable paid in full
    PARTIAL = "partial"  # part of it paid, the rest released to the campaign
    REFUND = "refund"  # nothing paid, all of it released to the campaign


class CampaignApplication(Base):
    """A promoter's application to a consultant or seller campaign, its negotiated amount
    once accepted, and the deliverables' running totals against it."""

    __tablename__ = "campaign_applications"
    __table_args__ = (
        UniqueConstraint("campaign_id", "promoter_id", name="uq_campaign_applications_promoter"),
        # The campaign's type travels with the key, so the database knows a consultant
        # campaign's applications (one of them accepted at most, below).
        ForeignKeyConstraint(
            ["campaign_id", "campaign_type"],
            [f"{SCHEMA}.campaigns.id", f"{SCHEMA}.campaigns.type"],
        ),
        CheckConstraint(f"campaign_type IN ({_sql_list(WORK_TYPES)})", name="work_type"),
        CheckConstraint(f"status IN ({_sql_list(ApplicationStatus)})", name="status_known"),
        CheckConstraint("proposed_rate > 0", name="proposed_rate_positive"),
        CheckConstraint(
            "(status = 'accepted') = (agreed_amount IS NOT NULL)", name="agreed_when_accepted"
        ),
        CheckConstraint("agreed_amount IS NULL OR agreed_amount > 0", name="agreed_positive"),
        CheckConstraint(
            "committed_amount >= 0 AND committed_amount <= coalesce(agreed_amount, 0)",
            name="committed_within_agreed",
        ),
        CheckConstraint(
            "paid_amount >= 0 AND paid_amount <= committed_amount", name="paid_within_committed"
        ),
        CheckConstraint("(status = 'rejected') = (reject_reason IS NOT NULL)", name="rejected_why"),
        CheckConstraint("length(note) <= 5000", name="note_length"),
        # A consultant campaign selects one promoter.
        Index(
            "uq_campaign_applications_one_consultant",
            "campaign_id",
            unique=True,
            postgresql_where=text("status = 'accepted' AND campaign_type = 'consultant'"),
        ),
        Index("ix_campaign_applications_promoter", "promoter_id", "created_at"),
        Index("ix_campaign_applications_campaign", "campaign_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    campaign_type: Mapped[str] = mapped_column(Text, nullable=False)
    promoter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=ApplicationStatus.PENDING.value
    )
    # The promoter's first proposal (seed: proposed rate); the negotiation is in the offers.
    proposed_rate: Mapped[int] = mapped_column(BigInteger, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    agreed_amount: Mapped[int | None] = mapped_column(BigInteger)
    # The deliverables agreed or proposed against it (live or paid) and what was paid.
    committed_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    paid_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    reject_reason: Mapped[str | None] = mapped_column(Text)
    # The promoter agreed that the campaign may complete below its min_budget.
    close_agreed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class ApplicationOffer(Base):
    """One offer of an application's negotiation: the promoter's proposal first, then counter-
    offers from either side; the open one is answered by the other party (accepted, or
    superseded by their counter-offer)."""

    __tablename__ = "campaign_application_offers"
    __table_args__ = (
        CheckConstraint(f"party IN ({_sql_list(OfferParty)})", name="party_known"),
        CheckConstraint(f"status IN ({_sql_list(OfferStatus)})", name="status_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("length(note) <= 5000", name="note_length"),
        CheckConstraint("(status = 'open') = (decided_at IS NULL)", name="decided_when_closed"),
        Index(
            "uq_campaign_application_offers_open",
            "application_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_campaign_application_offers_thread", "application_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaign_applications.id"), nullable=False
    )
    party: Mapped[str] = mapped_column(Text, nullable=False)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=OfferStatus.OPEN.value)
    created_at: Mapped[datetime] = inserted_at()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignDeliverable(Base):
    """A piece of the agreed work (seed 002 `campaign_deliverables`): its amount is held on
    the campaign's escrow from agreement until it is paid (approval, or an admin's decision
    on a dispute) or released (cancelled, refunded)."""

    __tablename__ = "campaign_deliverables"
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(DeliverableStatus)})", name="status_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("length(title) BETWEEN 1 AND 200", name="title_length"),
        CheckConstraint("length(description) <= 10000", name="description_length"),
        CheckConstraint(
            f"status NOT IN ({_sql_list(HELD)}) OR hold_id IS NOT NULL", name="held_when_agreed"
        ),
        CheckConstraint(
            "(status = 'approved') = (paid_amount IS NOT NULL)", name="paid_when_approved"
        ),
        CheckConstraint(
            "paid_amount IS NULL OR (paid_amount > 0 AND paid_amount <= amount)",
            name="paid_within_amount",
        ),
        CheckConstraint(
            "(status = 'disputed') <= (dispute_reason IS NOT NULL)", name="disputed_why"
        ),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('pay', 'partial', 'refund')",
            name="resolution_known",
        ),
        Index("ix_campaign_deliverables_application", "application_id", "created_at"),
        Index("ix_campaign_deliverables_campaign", "campaign_id", "created_at"),
        Index("ix_campaign_deliverables_promoter", "promoter_id", "status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), nullable=False
    )
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaign_applications.id"), nullable=False
    )
    promoter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    due_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=DeliverableStatus.PROPOSED.value
    )
    # The ledger hold reserving `amount` on the escrow for the promoter's wallet.
    hold_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    paid_amount: Mapped[int | None] = mapped_column(BigInteger)
    fee: Mapped[int | None] = mapped_column(BigInteger)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    disputed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agreed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class CampaignWork(Base):
    """A submission of a deliverable's work (seed 002 `campaign_works`): links to it and a
    note; each revision a row of its own, reviewed once."""

    __tablename__ = "campaign_works"
    __table_args__ = (
        UniqueConstraint("deliverable_id", "revision", name="uq_campaign_works_revision"),
        CheckConstraint(f"status IN ({_sql_list(WorkStatus)})", name="status_known"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("cardinality(links) BETWEEN 1 AND 10", name="links_count"),
        CheckConstraint("length(note) <= 5000", name="note_length"),
        CheckConstraint(
            "(status = 'changes_requested') <= (review_note IS NOT NULL)", name="rejected_why"
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    deliverable_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaign_deliverables.id"), nullable=False
    )
    promoter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    links: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=WorkStatus.SUBMITTED.value
    )
    review_note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = inserted_at()
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
