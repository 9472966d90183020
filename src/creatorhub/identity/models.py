"""Tables of the `identity` schema: one account per person, whatever the product."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "identity"


class Role(StrEnum):
    FAN = "fan"
    CREATOR = "creator"  # seed 000/001 "influencer", seed 002 "promoter"
    BRAND = "brand"  # seed 000 "artist", seed 002 "advertiser"
    MODERATOR = "moderator"
    ADMIN = "admin"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    BANNED = "banned"
    DELETED = "deleted"


class EmailTokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose, not a secret
    CHANGE_EMAIL = "change_email"


def _sql_list(values: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in values)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )


def _updated_at() -> Mapped[datetime]:
    # Set by the identity.touch_updated_at() trigger; FetchedValue tells the ORM to read it back
    # instead of keeping the value it loaded before the UPDATE.
    return mapped_column(
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        server_onupdate=FetchedValue(),
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Case-insensitive uniqueness without the citext extension (the embedded server has none).
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
        Index("uq_users_username_lower", func.lower(text("username")), unique=True),
        CheckConstraint("roles <@ ARRAY[" + _sql_list(Role) + "]::text[]", name="roles_known"),
        CheckConstraint("cardinality(roles) > 0", name="roles_not_empty"),
        CheckConstraint(f"status IN ({_sql_list(AccountStatus)})", name="status_known"),
        CheckConstraint(
            "(status = 'deleted') = (deleted_at IS NOT NULL)", name="deleted_at_iff_deleted"
        ),
        CheckConstraint(
            "length(email) BETWEEN 3 AND 254 AND position('@' in email) > 1", name="email_shape"
        ),
        CheckConstraint(
            "(age_verification_method IS NULL) = (age_verification_result IS NULL)"
            " AND (age_verification_result IS NULL) = (age_verified_at IS NULL)",
            name="age_verification_complete",
        ),
        CheckConstraint(
            "age_verification_result IS NULL OR age_verification_result IN ('passed', 'failed')",
            name="age_verification_result_known",
        ),
        CheckConstraint("username ~ '^[A-Za-z0-9_.]{3,30}$'", name="username_shape"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_hash: Mapped[str | None] = mapped_column(Text)  # NULL: no password login (imported)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    username: Mapped[str | None] = mapped_column(String(30))
    phone: Mapped[str | None] = mapped_column(String(32))
    bio: Mapped[str | None] = mapped_column(Text)
    socials: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    roles: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("ARRAY['fan']::text[]")
    )
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=AccountStatus.ACTIVE.value
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Age verification keeps how and with what result, never an image of an ID (seed 004, GDPR).
    age_verification_method: Mapped[str | None] = mapped_column(Text)
    age_verification_result: Mapped[str | None] = mapped_column(Text)
    age_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Firebase uid of accounts carried over from seeds 000 and 002.
    external_uid: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles


class CreatorProfile(Base):
    """A creator's public profile (seed 001 `profiles`, seed 002 `promoter_details`)."""

    __tablename__ = "creator_profiles"
    __table_args__ = (
        Index("uq_creator_profiles_slug_lower", func.lower(text("slug")), unique=True),
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$'", name="slug_shape"),
        CheckConstraint(
            "min_budget_minor IS NULL OR min_budget_minor >= 0", name="min_budget_nonneg"
        ),
        CheckConstraint(
            "min_budget_minor IS NULL OR max_budget_minor IS NULL"
            " OR min_budget_minor <= max_budget_minor",
            name="budget_range_ordered",
        ),
        CheckConstraint(
            "(min_budget_minor IS NULL AND max_budget_minor IS NULL)"
            " OR budget_currency IS NOT NULL",
            name="budget_has_currency",
        ),
        CheckConstraint("budget_currency ~ '^[A-Z]{3}$'", name="budget_currency_iso"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
    )
    slug: Mapped[str] = mapped_column(String(50), nullable=False)
    categories: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    photo_url: Mapped[str | None] = mapped_column(String(2048))
    min_budget_minor: Mapped[int | None] = mapped_column(BigInteger)
    max_budget_minor: Mapped[int | None] = mapped_column(BigInteger)
    budget_currency: Mapped[str | None] = mapped_column(String(3))
    languages: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    skills: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class FollowerEstimate(Base):
    """Audience size per platform (seed 002 `follower_estimates`)."""

    __tablename__ = "follower_estimates"
    __table_args__ = (
        CheckConstraint("followers >= 0", name="followers_nonneg"),
        CheckConstraint("platform ~ '^[a-z0-9_]{2,30}$'", name="platform_shape"),
        {"schema": SCHEMA},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.creator_profiles.user_id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    followers: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Rows are replaced whole when the profile is saved, so the insert default is the update time.
    updated_at: Mapped[datetime] = inserted_at()


class BrandProfile(Base):
    """A brand's company profile (seed 002 `advertiser_details`, `advertiser_type_mappings`).
    The platform's verification of the advertiser is campaigns' (`campaigns.advertiser_details`,
    with its workflow): one status, kept where it is decided."""

    __tablename__ = "brand_profiles"
    __table_args__ = ({"schema": SCHEMA},)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), primary_key=True
    )
    company_name: Mapped[str] = mapped_column(String(200), nullable=False)
    website: Mapped[str | None] = mapped_column(String(2048))
    business_categories: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = _updated_at()


class AuthSession(Base):
    """One login: the family of access and refresh tokens issued from it.

    Revoking the session (logout, password change, reuse of a spent refresh token) kills every
    token of the family at once.
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (
        Index(
            "ix_auth_sessions_user_id_active",
            "user_id",
            postgresql_where=text("revoked_at IS NULL"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = inserted_at()
    last_refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(INET)  # read back as ipaddress objects
    user_agent: Mapped[str | None] = mapped_column(String(512))


class AuthToken(Base):
    """An access or refresh token, or the cookie of a signed-in browser (`page`), stored as its
    SHA-256 only."""

    __tablename__ = "auth_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('access', 'refresh', 'page')", name="kind_known"),
        CheckConstraint("kind = 'refresh' OR used_at IS NULL", name="only_refresh_is_used"),
        Index("ix_auth_tokens_session_id", "session_id"),
        Index("ix_auth_tokens_expires_at", "expires_at"),
        {"schema": SCHEMA},
    )

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.auth_sessions.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = inserted_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EmailToken(Base):
    """A one-time token sent by e-mail: verify an address, reset a password, change e-mail."""

    __tablename__ = "email_tokens"
    __table_args__ = (
        CheckConstraint(f"purpose IN ({_sql_list(EmailTokenPurpose)})", name="purpose_known"),
        CheckConstraint(
            "(purpose = 'change_email') = (new_email IS NOT NULL)", name="new_email_iff_change"
        ),
        Index("ix_email_tokens_user_id", "user_id"),
        {"schema": SCHEMA},
    )

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), nullable=False
    )
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    new_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = inserted_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """Login attempts per key (`account:<email>` or `ip:<address>`) in fixed windows.

    Counted with one upsert per attempt, so concurrent attempts cannot slip past the limit.
    """

    __tablename__ = "login_throttle"
    __table_args__ = (
        CheckConstraint("attempts > 0", name="attempts_positive"),
        Index("ix_login_throttle_window_start", "window_start"),
        {"schema": SCHEMA},
    )

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
