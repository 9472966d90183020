"""Tables of the `giveaways` schema (seed 003, "Cleack"): draws, their entries, their history,
the host's blacklist, the platform's signing keys and the daily system metrics.

Credits are not a table: they are the ledger's `CREDIT` currency on each user's `credits`
account, and the seed's `credits` rows are a view over the ledger's transfers (migration 0025),
so the balance a row shows cannot disagree with the sum of the movements.

A draw's randomness is committed before it exists: `seed_sha256` is public from the draw's
creation, the entries' Merkle root, the config and the blacklist at commit time
(`commitment`, `commitment_hash`), and the drand round whose randomness will be mixed in, when a
beacon is configured. The secret seed itself is sealed with the platform's keyring until the
draw completes, then published in the certificate.
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
    Identity,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "giveaways"
USERS = "identity.users.id"


def _sql_list(values: Any) -> str:
    return ", ".join(f"'{value}'" for value in values)


class DrawPlatform(StrEnum):
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    TIKTOK = "tiktok"
    TWITTER = "twitter"
    FILE = "file"  # entries from an uploaded file of another source


class DrawStatus(StrEnum):
    PENDING = "pending"  # created; entries being imported
    PROCESSING = "processing"  # committed; waiting for its beacon round, then drawn
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class HistoryAction(StrEnum):
    CREATED = "created"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRIED = "retried"
    # Not in the seed's list, and needed on the record: entries imported, a winner replaced.
    IMPORTED = "imported"
    REROLLED = "rerolled"


class MetricType(StrEnum):
    DAILY_DRAWS = "daily_draws"
    USER_SIGNUPS = "user_signups"
    REVENUE = "revenue"  # minor units of `currency`
    AVG_PARTICIPANTS_PER_DRAW = "avg_participants_per_draw"  # rounded down to a whole entrant
    ERROR_RATE = "error_rate"  # basis points of the day's finished draws that failed


BLACKLIST_PLATFORMS = (*(p.value for p in DrawPlatform if p != DrawPlatform.FILE), "all")


class Draw(Base):
    """A giveaway draw (seed 003 `Draw`). Its config is the seed's JSON, validated by
    `giveaways.proof.rules`; its winners and certificate exist once it is completed."""

    __tablename__ = "draws"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(DrawStatus)})", name="status_known"),
        CheckConstraint(f"platform IN ({_sql_list(DrawPlatform)})", name="platform_known"),
        CheckConstraint("winners_count BETWEEN 1 AND 1000", name="winners_count_range"),
        CheckConstraint("alternates_count BETWEEN 0 AND 100", name="alternates_count_range"),
        CheckConstraint("credits_used >= 0", name="credits_used_nonneg"),
        CheckConstraint("entries_count >= 0", name="entries_count_nonneg"),
        CheckConstraint("seed_sha256 ~ '^[0-9a-f]{64}$'", name="seed_sha256_hex"),
        # What each state has: a commitment from processing on, a certificate when completed.
        CheckConstraint(
            "status = 'pending' OR status = 'cancelled' OR status = 'failed'"
            " OR (commitment IS NOT NULL AND commitment_hash IS NOT NULL)",
            name="committed_when_drawn",
        ),
        CheckConstraint(
            "(status = 'completed') = (certificate_hash IS NOT NULL AND executed_at IS NOT NULL)",
            name="certificate_when_completed",
        ),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)", name="cancelled_at"),
        CheckConstraint(
            "(status = 'failed') = (failure_reason IS NOT NULL)", name="failure_reason"
        ),
        Index("ix_draws_user_id_created_at", "user_id", "created_at"),
        Index("ix_draws_status", "status"),
        Index("ix_draws_platform", "platform"),
        Index("ix_draws_executed_at", "executed_at"),
        # The beacon job's queue: committed draws by the time their round is due.
        Index(
            "ix_draws_beacon_due",
            "beacon_due_at",
            postgresql_where=text("status = 'processing'"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(USERS, ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(Text, nullable=False)
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    post_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    is_test: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    winners_count: Mapped[int] = mapped_column(Integer, nullable=False)
    alternates_count: Mapped[int] = mapped_column(Integer, nullable=False)
    entries_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    credits_used: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    credit_hold_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    seed_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    seed_key_id: Mapped[str] = mapped_column(Text, nullable=False)
    seed_sha256: Mapped[str] = mapped_column(Text, nullable=False)
    # The host's active blacklist as it was at commit time (the commitment hashes it with the
    # config; the certificate shows it).
    blacklist: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    commitment: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    commitment_hash: Mapped[str | None] = mapped_column(Text)
    committed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    beacon_round: Mapped[int | None] = mapped_column(BigInteger)
    beacon_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    winners: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    certificate_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    video_url: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    created_at: Mapped[datetime] = inserted_at()
    executed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Entry(Base):
    """One comment of a draw's post, as its canonical line (`giveaways.proof.canonical`): the
    bytes the Merkle root commits to are exactly the bytes kept here."""

    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_draw_username", "draw_id", "username"),
        {"schema": SCHEMA},
    )

    draw_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey(f"{SCHEMA}.draws.id", ondelete="CASCADE"),
        primary_key=True,
    )
    # The proof's sort key: the platform, then the platform's comment id.
    entry_platform: Mapped[str] = mapped_column(Text, primary_key=True)
    comment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    username: Mapped[str] = mapped_column(Text, nullable=False)
    line: Mapped[str] = mapped_column(Text, nullable=False)


class Certificate(Base):
    """A completed draw's signed certificate: its canonical bytes, kept as issued (a reroll
    issues a new one; the draw points at the latest by `certificate_hash`)."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("certificate_hash ~ '^[0-9a-f]{64}$'", name="certificate_hash_hex"),
        Index("ix_certificates_draw_id", "draw_id", "issued_at"),
        {"schema": SCHEMA},
    )

    certificate_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    draw_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.draws.id", ondelete="CASCADE"), nullable=False
    )
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    issued_at: Mapped[datetime] = inserted_at()


class DrawHistory(Base):
    """Seed 003 `DrawHistory`: every operation on a draw, with the request's IP and user
    agent in `metadata`. Append-only (a trigger refuses updates and deletes)."""

    __tablename__ = "draw_history"
    __table_args__ = (
        CheckConstraint(f"action IN ({_sql_list(HistoryAction)})", name="action_known"),
        Index("ix_draw_history_draw_id", "draw_id", "seq"),
        Index("ix_draw_history_user_id", "user_id"),
        Index("ix_draw_history_created_at", "created_at"),
        Index("ix_draw_history_action", "action"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    # The order of the operations (several share a transaction's `created_at`).
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), nullable=False)
    draw_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.draws.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey(USERS, ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    request_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default="{}"
    )
    created_at: Mapped[datetime] = inserted_at()


class BlacklistEntry(Base):
    """Seed 003 `Blacklist`: a username the host excludes from their draws, on one platform or
    `all`. Deactivated, never deleted, so a certificate's blacklist stays explainable."""

    __tablename__ = "blacklist"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("user_id", "username", "platform", name="uq_blacklist_user_username"),
        CheckConstraint(f"platform IN ({_sql_list(BLACKLIST_PLATFORMS)})", name="platform_known"),
        CheckConstraint(
            "char_length(username) BETWEEN 1 AND 100 AND username !~ '[[:space:]@[:cntrl:]]'",
            name="username_normalized",
        ),
        Index("ix_blacklist_platform", "platform"),
        Index("ix_blacklist_username", "username"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(USERS, ondelete="CASCADE"), nullable=False
    )
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    username: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = inserted_at()


class SigningKey(Base):
    """The platform's Ed25519 keys that sign certificates. The private key is sealed with the
    keyring; the public key is published (`GET /v1/giveaways/signing-keys`) and inside every
    certificate. One active key at a time; retired keys stay listed so old certificates verify."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("public_key ~ '^[0-9a-f]{64}$'", name="public_key_hex"),
        Index(
            "uq_signing_keys_active",
            text("(true)"),
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
        {"schema": SCHEMA},
    )

    key_id: Mapped[str] = mapped_column(Text, primary_key=True)
    public_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    private_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sealing_key_id: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = inserted_at()
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SystemMetric(Base):
    """Seed 003 `SystemMetrics`, one row per metric per day (and currency, for revenue),
    written by the daily job from the source tables: re-running a day rewrites the same rows.
    Values are integers (the platform has no floats): see `MetricType` for each one's unit."""

    __tablename__ = "system_metrics"
    __table_args__ = (
        UniqueConstraint("metric_type", "day", "currency", name="uq_system_metrics_day"),
        CheckConstraint(f"metric_type IN ({_sql_list(MetricType)})", name="metric_type_known"),
        CheckConstraint(
            "(metric_type = 'revenue') = (currency <> '')", name="currency_only_for_revenue"
        ),
        Index("ix_system_metrics_day", "day"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    metric_type: Mapped[str] = mapped_column(Text, nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default="{}"
    )
    computed_at: Mapped[datetime] = inserted_at()


class CommentImportStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # rate-limited or the platform unavailable: resumes at `retry_at`
    COMPLETED = "completed"
    FAILED = "failed"


class CommentImport(Base):
    """A draw's comments being read from the host's connected account, a page at a time
    (`giveaways.connected_import`): where it stands (`next_cursor`, the platform's `after`
    cursor or next-page URL) so a rate limit resumes it instead of restarting it."""

    __tablename__ = "comment_imports"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(f"status IN ({_sql_list(CommentImportStatus)})", name="status_known"),
        CheckConstraint("platform IN ('instagram', 'facebook')", name="platform_known"),
        CheckConstraint("pages >= 0 AND imported >= 0 AND duplicates >= 0", name="counts_nonneg"),
        CheckConstraint("(status = 'waiting') = (retry_at IS NOT NULL)", name="retry_at_waiting"),
        Index("ix_comment_imports_draw_id", "draw_id", "started_at"),
        # One import in flight per draw.
        Index(
            "uq_comment_imports_in_flight",
            "draw_id",
            unique=True,
            postgresql_where=text("status IN ('running', 'waiting')"),
        ),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    draw_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.draws.id", ondelete="CASCADE"), nullable=False
    )
    platform: Mapped[str] = mapped_column(Text, nullable=False)
    media_id: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="running")
    next_cursor: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    imported: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    duplicates: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = inserted_at()
    updated_at: Mapped[datetime] = inserted_at()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DrawVideo(Base):
    """A certificate's replay video (`giveaways.video`), rendered by the `render_draw_video`
    job: an H.264 MP4 made from the certificate's bytes alone, so it is named by the
    certificate's hash and never changes. The draw's `video_url` points at the video of its
    latest certificate once that one is rendered."""

    __tablename__ = "draw_videos"
    __table_args__ = (
        CheckConstraint("bytes = octet_length(mp4)", name="bytes_of_mp4"),
        CheckConstraint("duration_ms > 0", name="duration_ms_positive"),
        Index("ix_draw_videos_draw_id", "draw_id"),
        {"schema": SCHEMA},
    )

    certificate_hash: Mapped[str] = mapped_column(
        Text,
        ForeignKey(f"{SCHEMA}.certificates.certificate_hash", ondelete="CASCADE"),
        primary_key=True,
    )
    draw_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.draws.id", ondelete="CASCADE"), nullable=False
    )
    # Kept uncompressed (STORAGE EXTERNAL, migration 0026): an MP4 does not compress, and a
    # byte range is then read from its chunks alone.
    mp4: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    rendered_at: Mapped[datetime] = inserted_at()
