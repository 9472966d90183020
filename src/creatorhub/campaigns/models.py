"""Tables of the `campaigns` schema: seed 002's campaigns (four types), their funded budgets,
promoters' participation, and the first-party view tracking of visibility campaigns.

Names are the seed's where it names the thing (`campaigns`, `campaign_budget_allocations`,
`promoter_campaigns`, `unique_views`, `view_stats`, `advertiser_details`, `promoter_details`);
its advertiser is our brand and its promoter our creator (the columns keep the seed's words).
Money columns are integer minor units in the campaign's currency; the money itself is in the
ledger: the campaign's escrow account (owner type `campaign`) holds the funded budget, and every
payment to a promoter is a posting from it (`campaign_budget_allocations` is the campaign's
record of it: allocated, spent, refunded).

Views: `views` keeps every click of a tracking link with its outcome (counted, or dropped with
its reason); a counted view waits its validation window (`pending`), then is `validated` or
`rejected` by an admin, and a validated one is `paid` by the day's settlement. `unique_views`
is the dedupe key (a visitor, by a keyed hash of address and user agent under the day's salt,
once per campaign and day); `view_salts` holds the daily salts (deleted after two days, so no
hash can be tied back to an address); `view_stats` the daily counts per promoter;
`view_settlements` one row per promoter campaign and day settled, with the fraction of a cent
carried to the next day.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "campaigns"
USERS = "identity.users.id"


def _sql_list(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )


def _updated_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class CampaignType(StrEnum):
    VISIBILITY = "visibility"  # paid per 100 views
    CONSULTANT = "consultant"  # a budget range, payments on approved work (part 2)
    SELLER = "seller"  # a budget range, milestone deliverables (part 2)
    SALESMAN = "salesman"  # a commission per sale (part 2)


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # created, not funded: nobody can join
    ACTIVE = "active"  # funded: promoters join, views count
    PAUSED = "paused"  # by the advertiser, or by itself when its budget ran out
    COMPLETED = "completed"  # ended (by the advertiser or its end date); unspent refunded
    CANCELLED = "cancelled"  # ended before it was funded


class PauseReason(StrEnum):
    ADVERTISER = "advertiser"
    BUDGET_SPENT = "budget_spent"
    MAX_VIEWS = "max_views"


class TrackingMethod(StrEnum):
    REF_LINK = "ref_link"
    COUPON = "coupon"


class ParticipationStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"  # the promoter left: their link stops counting
    REMOVED = "removed"  # the advertiser or an admin removed them


class ViewOutcome(StrEnum):
    """What became of one click. Counted views go pending → validated → paid (or rejected);
    the others were dropped when they arrived, for the reason they name."""

    PENDING = "pending"  # counted, in its validation window
    VALIDATED = "validated"  # past the window: payable
    REJECTED = "rejected"  # an admin rejected it, with a reason
    PAID = "paid"  # settled into the promoter's earnings
    DUPLICATE = "duplicate"  # the visitor was counted for this campaign today already
    BOT = "bot"  # a known bot, crawler or preview fetcher (its user agent)
    RATE_LIMITED = "rate_limited"  # too many clicks from one source in a short time
    CAMPAIGN_INACTIVE = "campaign_inactive"  # the campaign was not active (draft, paused, ended)
    OVER_CAP = "over_cap"  # past the campaign's max_views or the promoter's cap


COUNTED_OUTCOMES = (
    ViewOutcome.PENDING,
    ViewOutcome.VALIDATED,
    ViewOutcome.REJECTED,
    ViewOutcome.PAID,
)
DROPPED_OUTCOMES = (
    ViewOutcome.DUPLICATE,
    ViewOutcome.BOT,
    ViewOutcome.RATE_LIMITED,
    ViewOutcome.CAMPAIGN_INACTIVE,
    ViewOutcome.OVER_CAP,
)


class Campaign(Base):
    """An advertiser's campaign of one of the four types, with that type's parameters.

    A visibility campaign's budget covers its views at its rate, rounded up to the cent:
    `budget >= ceil(cpv * max_views / 100)`; what settlement leaves unpaid (views never made,
    the last fractions of a cent) is refunded when the campaign ends.
    """

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"type IN ({_sql_list(CampaignType)})", name="type_known"),
        CheckConstraint(f"status IN ({_sql_list(CampaignStatus)})", name="status_known"),
        CheckConstraint(
            f"pause_reason IS NULL OR pause_reason IN ({_sql_list(PauseReason)})",
            name="pause_reason_known",
        ),
        CheckConstraint("(status = 'paused') = (pause_reason IS NOT NULL)", name="paused_why"),
        CheckConstraint(
            "(status IN ('completed', 'cancelled')) = (ended_at IS NOT NULL)", name="ended_when"
        ),
        CheckConstraint(
            "status IN ('draft', 'cancelled') OR funded_at IS NOT NULL", name="funded_before_use"
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("budget > 0", name="budget_positive"),
        CheckConstraint("length(title) BETWEEN 1 AND 200", name="title_length"),
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="dates_ordered"),
        # Visibility: a rate, a view count of at least 100, a destination, a covering budget.
        CheckConstraint(
            "type <> 'visibility' OR (cpv > 0 AND max_views >= 100 AND destination_url IS NOT NULL"
            " AND budget >= (cpv * max_views + 99) / 100)",
            name="visibility_parameters",
        ),
        CheckConstraint(
            "max_views_per_promoter IS NULL OR max_views_per_promoter > 0",
            name="promoter_cap_positive",
        ),
        # Consultant and seller: a budget range the budget covers.
        CheckConstraint(
            "type NOT IN ('consultant', 'seller') OR (min_budget > 0 AND max_budget >= min_budget"
            " AND budget >= max_budget)",
            name="range_parameters",
        ),
        # Salesman: a commission in basis points and how sales are traced.
        CheckConstraint(
            "type <> 'salesman' OR (commission_per_sale BETWEEN 1 AND 10000"
            f" AND tracking_method IN ({_sql_list(TrackingMethod)}))",
            name="salesman_parameters",
        ),
        CheckConstraint(
            "views_counted >= 0 AND (max_views IS NULL OR views_counted <= max_views)",
            name="views_counted_within_max",
        ),
        # Consultant and seller: what the accepted applications agreed never passes max_budget.
        CheckConstraint(
            "committed_budget >= 0 AND (max_budget IS NULL OR committed_budget <= max_budget)",
            name="committed_within_max_budget",
        ),
        # What an application's key refers to (the campaign and its type, together).
        UniqueConstraint("id", "type", name="uq_campaigns_id_type"),
        Index("ix_campaigns_advertiser_created", "advertiser_id", "created_at"),
        Index(
            "ix_campaigns_active_type",
            "type",
            "created_at",
            postgresql_where=text("status = 'active'"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    advertiser_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=CampaignStatus.DRAFT.value
    )
    pause_reason: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    budget: Mapped[int] = mapped_column(BigInteger, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Matching: who the campaign is for (empty: anyone).
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    min_followers: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # Visibility.
    cpv: Mapped[int | None] = mapped_column(BigInteger)  # per 100 views, minor units
    max_views: Mapped[int | None] = mapped_column(BigInteger)
    max_views_per_promoter: Mapped[int | None] = mapped_column(BigInteger)
    destination_url: Mapped[str | None] = mapped_column(Text)
    # Views counted so far (pending when they arrived), kept by the click that counts one under
    # this row's lock: the campaign's max_views can never be passed by concurrent clicks.
    views_counted: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # Consultant and seller.
    min_budget: Mapped[int | None] = mapped_column(BigInteger)
    max_budget: Mapped[int | None] = mapped_column(BigInteger)
    # The accepted applications' agreed amounts (issue 15), kept under this row's lock.
    committed_budget: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # Salesman.
    commission_per_sale: Mapped[int | None] = mapped_column(Integer)  # basis points
    tracking_method: Mapped[str | None] = mapped_column(Text)
    # The ledger account holding the funded budget (owner type `campaign`, kind `escrow`).
    escrow_account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    funded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class CampaignBudgetAllocation(Base):
    """The campaign's funded budget and what became of it (seed 002): allocated when funded,
    spent as promoters are paid, refunded when it ends. The ledger's escrow account is the
    money; this row is the campaign's own account of it, kept in the same transactions."""

    __tablename__ = "campaign_budget_allocations"
    __table_args__ = (
        UniqueConstraint("campaign_id", name="uq_campaign_budget_allocations_campaign"),
        CheckConstraint("allocated_amount > 0", name="allocated_positive"),
        CheckConstraint("spent_amount >= 0 AND refunded_amount >= 0", name="amounts_nonneg"),
        # Budget control is absolute: nothing is spent or refunded that was not funded.
        CheckConstraint(
            "spent_amount + refunded_amount <= allocated_amount", name="within_allocation"
        ),
        CheckConstraint("funding_source IN ('wallet', 'provider')", name="funding_source_known"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), nullable=False
    )
    allocated_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    spent_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    refunded_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    funding_source: Mapped[str] = mapped_column(Text, nullable=False)
    # The funding intent that paid it (seed: `stripe_payment_intent_id`); NULL from the wallet.
    funding_intent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The campaign's rates as funded (seed: `rate_per_100_views`, `commission_rate`).
    rate_per_100_views: Mapped[int | None] = mapped_column(BigInteger)
    commission_rate: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class PromoterCampaign(Base):
    """A promoter's participation in a campaign, with their own tracking code (`/t/{code}`)."""

    __tablename__ = "promoter_campaigns"
    __table_args__ = (
        UniqueConstraint("campaign_id", "promoter_id", name="uq_promoter_campaigns_promoter"),
        UniqueConstraint("tracking_code", name="uq_promoter_campaigns_tracking_code"),
        CheckConstraint(f"status IN ({_sql_list(ParticipationStatus)})", name="status_known"),
        CheckConstraint("tracking_code ~ '^[A-Za-z0-9_-]{8,64}$'", name="tracking_code_shape"),
        CheckConstraint(
            "views_generated >= 0 AND budget_held >= 0 AND spent_budget >= 0",
            name="counts_nonneg",
        ),
        Index("ix_promoter_campaigns_promoter", "promoter_id", "joined_at"),
        # What the views' key refers to (a view's promoter campaign and campaign, together).
        UniqueConstraint("id", "campaign_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), nullable=False
    )
    promoter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), nullable=False)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=ParticipationStatus.ACTIVE.value
    )
    tracking_code: Mapped[str] = mapped_column(Text, nullable=False)
    # Counted views (seed: views_generated), what is reserved for them and what was paid.
    views_generated: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    budget_held: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    spent_budget: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    joined_at: Mapped[datetime] = inserted_at()
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class View(Base):
    """One click of a tracking link and what became of it. Never the visitor's address: a
    keyed hash of it (see `unique_views`)."""

    __tablename__ = "views"
    __table_args__ = (
        CheckConstraint(
            f"outcome IN ({_sql_list(ViewOutcome)})",
            name="outcome_known",
        ),
        CheckConstraint(
            "(outcome = 'rejected') = (reject_reason IS NOT NULL)", name="rejected_why"
        ),
        # The validation queue: counted views by when their window ends.
        Index(
            "ix_views_pending",
            "campaign_id",
            "occurred_at",
            postgresql_where=text("outcome = 'pending'"),
        ),
        Index("ix_views_promoter_campaign_day", "promoter_campaign_id", "occurred_at"),
        # One key for both columns: the view's campaign is its promoter campaign's (a single
        # check per inserted view, where a key per column checked twice and allowed a mismatch).
        ForeignKeyConstraint(
            ["promoter_campaign_id", "campaign_id"],
            [f"{SCHEMA}.promoter_campaigns.id", f"{SCHEMA}.promoter_campaigns.campaign_id"],
        ),
        # The rate limit: a visitor's recent clicks across all campaigns.
        Index(
            "ix_views_source_recent",
            "source_hash",
            "occurred_at",
            postgresql_where=text("source_hash IS NOT NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    promoter_campaign_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    visitor_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # The visitor across campaigns (a keyed hash of address and user agent under the day's
    # salt, without the campaign): what the rate limit counts.
    source_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    validated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_on: Mapped[date | None] = mapped_column(Date)


class UniqueView(Base):
    """A visitor counted once per campaign per day: the dedupe key of `views` (seed 002's
    fraud prevention). The hash is an HMAC of the address and user agent under the day's salt."""

    __tablename__ = "unique_views"
    __table_args__ = ({"schema": SCHEMA},)

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visitor_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    view_id: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ViewSalt(Base):
    """The secret salt of one UTC day's visitor hashes; deleted once the day is over, so that
    no hash can be recomputed from an address afterwards."""

    __tablename__ = "view_salts"
    __table_args__ = (
        CheckConstraint("length(salt) = 32", name="salt_length"),
        {"schema": SCHEMA},
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = inserted_at()


class ViewStat(Base):
    """Daily view counts of one promoter in one campaign (seed 002 `view_stats`)."""

    __tablename__ = "view_stats"
    __table_args__ = (
        CheckConstraint(
            "counted >= 0 AND dropped_duplicate >= 0 AND dropped_bot >= 0"
            " AND dropped_rate_limited >= 0 AND dropped_inactive >= 0 AND dropped_over_cap >= 0"
            " AND validated >= 0 AND rejected >= 0 AND paid_views >= 0 AND paid_amount >= 0",
            name="counts_nonneg",
        ),
        Index("ix_view_stats_campaign_day", "campaign_id", "day"),
        {"schema": SCHEMA},
    )

    promoter_campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.promoter_campaigns.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.campaigns.id"), nullable=False
    )
    counted: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    dropped_duplicate: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    dropped_bot: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    dropped_rate_limited: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default="0"
    )
    dropped_inactive: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    dropped_over_cap: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    validated: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    rejected: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    paid_views: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    paid_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    updated_at: Mapped[datetime] = _updated_at()


class ViewSettlement(Base):
    """One promoter campaign's settled day: the validated views paid, the amount, and the
    fraction of a minor unit carried to the next day (`carry_after`, in hundredths: the rest
    of `(carry_before + views * cpv) / 100`). Its key makes re-running a day change nothing."""

    __tablename__ = "view_settlements"
    __table_args__ = (
        CheckConstraint("views > 0", name="views_positive"),
        CheckConstraint("amount >= 0", name="amount_nonneg"),
        CheckConstraint("carry_before BETWEEN 0 AND 99", name="carry_before_range"),
        CheckConstraint("carry_after BETWEEN 0 AND 99", name="carry_after_range"),
        {"schema": SCHEMA},
    )

    promoter_campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.promoter_campaigns.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    carry_before: Mapped[int] = mapped_column(Integer, nullable=False)
    carry_after: Mapped[int] = mapped_column(Integer, nullable=False)
    ledger_transfer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = inserted_at()


class AdvertiserDetails(Base):
    """What seed 002 adds to a brand's profile (company, website and business categories are
    `identity.brand_profiles`): the verification of the advertiser by the platform."""

    __tablename__ = "advertiser_details"
    __table_args__ = (
        CheckConstraint(
            "verification_status IN ('unverified', 'pending', 'verified', 'rejected')",
            name="verification_status_known",
        ),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), primary_key=True)
    verification_status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="unverified"
    )
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class PromoterDetails(Base):
    """What seed 002 adds to a creator's profile (skills, languages and categories are
    `identity.creator_profiles`, follower counts `identity.follower_estimates`): the
    demographics campaigns match on."""

    __tablename__ = "promoter_details"
    __table_args__ = (
        CheckConstraint("country IS NULL OR country ~ '^[A-Z]{2}$'", name="country_iso"),
        CheckConstraint(
            "birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100", name="birth_year_range"
        ),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(USERS), primary_key=True)
    country: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(Text)
    audience_countries: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default="{}"
    )
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()
