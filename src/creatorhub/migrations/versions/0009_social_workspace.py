"""social and workspace: connected platform accounts (encrypted tokens), OAuth state and
connector logs; a creator's shoots, uploads, blocked dates, calendar feeds, review links and
client reviews (seed 001).

Revision ID: 0009_social_workspace
Revises: 0008_marketplace
Create Date: 2026-11-22

Drafted by autogenerate from creatorhub.social.models and creatorhub.workspace.models and
checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_social_workspace"
down_revision: str | None = "0008_marketplace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("CREATE SCHEMA social"))
    op.execute(sa.text("CREATE SCHEMA workspace"))
    op.create_table(
        "credentials",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("platform_user_id", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("access_token", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column(
            "scopes",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("follower_count", sa.BigInteger(), nullable=True),
        sa.Column("follower_count_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "platform IN ('instagram', 'facebook', 'youtube', 'tiktok')",
            name=op.f("ck_credentials_platform_known"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'reconnect_needed', 'disconnected')",
            name=op.f("ck_credentials_status_known"),
        ),
        sa.CheckConstraint(
            "follower_count IS NULL OR follower_count >= 0",
            name=op.f("ck_credentials_followers_nonneg"),
        ),
        sa.CheckConstraint(
            "refresh_failures >= 0", name=op.f("ck_credentials_refresh_failures_nonneg")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("user_id", "platform", name="uq_credentials_user_platform"),
        schema="social",
    )
    op.create_index(
        "ix_credentials_key_id", "credentials", ["key_id"], unique=False, schema="social"
    )
    op.create_index(
        "ix_credentials_refresh_due",
        "credentials",
        ["expires_at"],
        unique=False,
        schema="social",
        postgresql_where=sa.text("status = 'active' AND refresh_token IS NOT NULL"),
    )
    op.create_table(
        "logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("platform", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("request_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ip_address", postgresql.INET(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "platform IS NULL OR platform IN ('instagram', 'facebook', 'youtube', 'tiktok')",
            name=op.f("ck_logs_platform_known"),
        ),
        sa.CheckConstraint("status IN ('success', 'failure')", name=op.f("ck_logs_status_known")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_logs_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs")),
        schema="social",
    )
    op.create_index(
        "idx_logs_action_status", "logs", ["action", "status"], unique=False, schema="social"
    )
    op.create_index("idx_logs_created", "logs", ["created_at"], unique=False, schema="social")
    op.create_index("idx_logs_user", "logs", ["user_id"], unique=False, schema="social")
    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("code_verifier", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "platform IN ('instagram', 'facebook', 'youtube', 'tiktok')",
            name=op.f("ck_oauth_states_platform_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_oauth_states_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
        schema="social",
    )
    op.create_index(
        "ix_oauth_states_expires_at", "oauth_states", ["expires_at"], unique=False, schema="social"
    )
    op.create_table(
        "calendar",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reason_public", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "end_date - start_date < 366", name=op.f("ck_calendar_range_at_most_a_year")
        ),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_calendar_range_ordered")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_calendar_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar")),
        schema="workspace",
    )
    op.create_index(
        "idx_calendar_user_date",
        "calendar",
        ["user_id", "start_date", "end_date"],
        unique=False,
        schema="workspace",
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_calendar_feeds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name="uq_calendar_feeds_token_hash"),
        schema="workspace",
    )
    op.create_index(
        "uq_calendar_feeds_one_live",
        "calendar_feeds",
        ["user_id"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "shoots",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("time", sa.Time(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("brand_name", sa.Text(), nullable=False),
        sa.Column("campaign_name", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("completed", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_link_generated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "currency IS NULL OR currency ~ '^[A-Z]{3}$'", name=op.f("ck_shoots_currency_iso")
        ),
        sa.CheckConstraint(
            "(amount IS NULL) = (currency IS NULL)", name=op.f("ck_shoots_currency_with_amount")
        ),
        sa.CheckConstraint("amount IS NULL OR amount >= 0", name=op.f("ck_shoots_amount_nonneg")),
        sa.CheckConstraint(
            "completed = (completed_at IS NOT NULL)", name=op.f("ck_shoots_completed_iff_time")
        ),
        sa.CheckConstraint(
            "length(brand_name) BETWEEN 1 AND 100", name=op.f("ck_shoots_brand_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_shoots_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shoots")),
        schema="workspace",
    )
    op.create_index(
        "idx_shoots_user_date", "shoots", ["user_id", "date"], unique=False, schema="workspace"
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("time", sa.Time(), nullable=True),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("brand_name", sa.Text(), nullable=True),
        sa.Column("campaign_name", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("completed", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "platform IN ('instagram', 'facebook', 'youtube', 'tiktok')",
            name=op.f("ck_uploads_platform_known"),
        ),
        sa.CheckConstraint(
            "completed = (completed_at IS NOT NULL)", name=op.f("ck_uploads_completed_iff_time")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        schema="workspace",
    )
    op.create_index(
        "idx_uploads_user_date", "uploads", ["user_id", "date"], unique=False, schema="workspace"
    )
    op.create_table(
        "review_links",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("shoot_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_review_links_expires_after_creation")
        ),
        sa.ForeignKeyConstraint(
            ["shoot_id"],
            ["workspace.shoots.id"],
            name=op.f("fk_review_links_shoot_id_shoots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_review_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_links")),
        sa.UniqueConstraint("token_hash", name="uq_review_links_token_hash"),
        schema="workspace",
    )
    op.create_index(
        "uq_review_links_one_live",
        "review_links",
        ["shoot_id"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("revoked_at IS NULL AND used_at IS NULL"),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("shoot_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("review_link_id", sa.UUID(), nullable=False),
        sa.Column("client_number", sa.Text(), nullable=False),
        sa.Column("client_email", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("review_text", sa.Text(), nullable=False),
        sa.Column("is_published", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(review_text) BETWEEN 1 AND 5000", name=op.f("ck_reviews_review_text_length")
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(
            ["review_link_id"],
            ["workspace.review_links.id"],
            name=op.f("fk_reviews_review_link_id_review_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shoot_id"],
            ["workspace.shoots.id"],
            name=op.f("fk_reviews_shoot_id_shoots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity.users.id"],
            name=op.f("fk_reviews_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("shoot_id", name="uq_reviews_shoot"),
        schema="workspace",
    )
    op.create_index(
        "idx_reviews_token", "reviews", ["review_link_id"], unique=False, schema="workspace"
    )
    op.create_index(
        "idx_reviews_user", "reviews", ["user_id", "submitted_at"], unique=False, schema="workspace"
    )


def downgrade() -> None:
    op.execute(sa.text("DROP SCHEMA workspace CASCADE"))
    op.execute(sa.text("DROP SCHEMA social CASCADE"))
