"""Tables of the `workspace` schema: a creator's shoots, uploads, blocked dates, calendar feeds,
review links and client reviews (seed 001).

The portfolio itself is `identity.creator_profiles` (seed 001 `profiles`) and the connected
accounts are `social.credentials`; this schema holds the creator's own planning and the
clients' word.

Secrets (review link tokens, calendar feed tokens) are stored as SHA-256 hashes: the link is
shown once when made, and a leaked database gives no working link.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
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
    LargeBinary,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "workspace"
USERS = "identity.users.id"
UPLOAD_PLATFORMS = ("instagram", "facebook", "youtube", "tiktok")


def _sql_list(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )


def _owner() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey(USERS, ondelete="CASCADE"), nullable=False)


class Shoot(Base):
    __tablename__ = "shoots"
    __table_args__ = (
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_nonneg"),
        CheckConstraint("(amount IS NULL) = (currency IS NULL)", name="currency_with_amount"),
        CheckConstraint("currency IS NULL OR currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("completed = (completed_at IS NOT NULL)", name="completed_iff_time"),
        CheckConstraint("length(brand_name) BETWEEN 1 AND 100", name="brand_name_length"),
        Index("idx_shoots_user_date", "user_id", "date"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
    date: Mapped[date] = mapped_column(Date, nullable=False)
    time: Mapped[time | None] = mapped_column(Time)
    location: Mapped[str | None] = mapped_column(Text)
    brand_name: Mapped[str] = mapped_column(Text, nullable=False)
    campaign_name: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int | None] = mapped_column(BigInteger)  # minor units
    currency: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the current review link was made (seed 001); the link itself is a ReviewLink row.
    review_link_generated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint(f"platform IN ({_sql_list(UPLOAD_PLATFORMS)})", name="platform_known"),
        CheckConstraint("completed = (completed_at IS NOT NULL)", name="completed_iff_time"),
        Index("idx_uploads_user_date", "user_id", "date"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
    date: Mapped[date] = mapped_column(Date, nullable=False)
    time: Mapped[time | None] = mapped_column(Time)
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    content_type: Mapped[str | None] = mapped_column(Text)
    brand_name: Mapped[str | None] = mapped_column(Text)
    campaign_name: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()


class BlockedDates(Base):
    """Seed 001 `calendar`: dates a creator is unavailable, as an inclusive range (one row for
    a two-week holiday, not fourteen), with an optional reason that may be shown publicly."""

    __tablename__ = "calendar"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="range_ordered"),
        CheckConstraint("end_date - start_date < 366", name="range_at_most_a_year"),
        Index("idx_calendar_user_date", "user_id", "start_date", "end_date"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    reason_public: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    created_at: Mapped[datetime] = inserted_at()


class CalendarFeed(Base):
    """A secret iCalendar feed URL of a creator's calendar; revoking it kills the URL."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_calendar_feeds_token_hash"),
        Index(
            "uq_calendar_feeds_one_live",
            "user_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = inserted_at()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewLink(Base):
    """A client review link for a completed shoot (seed 001 `shoots.review_token`).

    Regenerating revokes the previous link; a link expires, can be revoked, and is used up by
    the one review it records.
    """

    __tablename__ = "review_links"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_review_links_token_hash"),
        Index(
            "uq_review_links_one_live",
            "shoot_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL AND used_at IS NULL"),
        ),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        # A shoot's newest link, read with every list of shoots (workspace.review_status).
        Index("idx_review_links_shoot", "shoot_id", "created_at"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    shoot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.shoots.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = _owner()
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = inserted_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Review(Base):
    """A client's review of a completed shoot: one per shoot."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("shoot_id", name="uq_reviews_shoot"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("length(review_text) BETWEEN 1 AND 5000", name="review_text_length"),
        Index("idx_reviews_user", "user_id", "submitted_at"),
        Index("idx_reviews_token", "review_link_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    shoot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.shoots.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = _owner()
    review_link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.review_links.id", ondelete="CASCADE"), nullable=False
    )
    client_number: Mapped[str] = mapped_column(Text, nullable=False)
    client_email: Mapped[str] = mapped_column(Text, nullable=False)
    rating: Mapped[int] = mapped_column(Integer, nullable=False)
    review_text: Mapped[str] = mapped_column(Text, nullable=False)
    # Hidden until the creator (or an admin) publishes it.
    is_published: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()
    submitted_at: Mapped[datetime] = inserted_at()
