"""Tables of the `social` schema: connected platform accounts, OAuth state, connector logs.

A connection (seed 001 `credentials`) belongs to the platform, not to one product: the creator
workspace shows it on the portfolio, the giveaway tool (seed 003) reads comments through it.
Tokens are stored encrypted (AES-GCM, see `kit.crypto`): the columns hold ciphertext and the
id of the key that sealed it, so keys can rotate (`creatorhub keys rotate`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "social"
USERS = "identity.users.id"


class Platform(StrEnum):
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    # The platform refused the refresh token (`invalid_grant`): the creator must connect again.
    RECONNECT_NEEDED = "reconnect_needed"
    DISCONNECTED = "disconnected"


class LogStatus(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


def _sql_list(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )


class Credential(Base):
    """A creator's connected account on one platform (seed 001 `credentials`)."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("user_id", "platform", name="uq_credentials_user_platform"),
        CheckConstraint(f"platform IN ({_sql_list(Platform)})", name="platform_known"),
        CheckConstraint(f"status IN ({_sql_list(ConnectionStatus)})", name="status_known"),
        CheckConstraint("follower_count IS NULL OR follower_count >= 0", name="followers_nonneg"),
        CheckConstraint("refresh_failures >= 0", name="refresh_failures_nonneg"),
        # The refresh job's queue: active connections by expiry.
        Index(
            "ix_credentials_refresh_due",
            "expires_at",
            postgresql_where=text("status = 'active' AND refresh_token IS NOT NULL"),
        ),
        Index("ix_credentials_key_id", "key_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(USERS, ondelete="CASCADE"), nullable=False
    )
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    platform_user_id: Mapped[str] = mapped_column(Text, nullable=False)
    username: Mapped[str | None] = mapped_column(Text)
    # Ciphertexts (nonce + AES-GCM output) sealed with the key `key_id`.
    access_token: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(Text, nullable=False)
    scopes: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    status: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=ConnectionStatus.ACTIVE.value
    )
    follower_count: Mapped[int | None] = mapped_column(BigInteger)
    follower_count_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = inserted_at()
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refresh_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # A token refresh in flight (the platform is being called, no transaction open) until then:
    # nobody else refreshes this connection meanwhile, and its outcome is written only if the
    # lease is still this value (a reconnect or a disconnect clears it).
    refresh_leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OAuthState(Base):
    """One authorization in flight: the `state` sent to the platform (stored as its SHA-256)
    and the PKCE verifier (encrypted), valid for minutes and usable once."""

    __tablename__ = "oauth_states"
    __table_args__ = (
        CheckConstraint(f"platform IN ({_sql_list(Platform)})", name="platform_known"),
        Index("ix_oauth_states_expires_at", "expires_at"),
        {"schema": SCHEMA},
    )

    state_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(USERS, ondelete="CASCADE"), nullable=False
    )
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    code_verifier: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(Text, nullable=False)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = inserted_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConnectorLog(Base):
    """Seed 001 `logs`: every connector call and OAuth event, payloads with secrets redacted."""

    __tablename__ = "logs"
    __table_args__ = (
        CheckConstraint(
            f"platform IS NULL OR platform IN ({_sql_list(Platform)})", name="platform_known"
        ),
        CheckConstraint(f"status IN ({_sql_list(LogStatus)})", name="status_known"),
        Index("idx_logs_user", "user_id"),
        Index("idx_logs_created", "created_at"),
        Index("idx_logs_action_status", "action", "status"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(USERS, ondelete="SET NULL"))
    platform: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    request_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ip_address: Mapped[str | None] = mapped_column(INET)
    created_at: Mapped[datetime] = inserted_at()
