"""campaigns: seed 002's campaigns of four types, their funded budgets, promoters'
participation, and the view tracking of visibility campaigns.

Revision ID: 0015_campaigns
Revises: 0014_page_session_tokens
Create Date: 2026-12-07

Drafted by autogenerate from creatorhub.campaigns.models and checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_campaigns"
down_revision: str | None = "0014_page_session_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("CREATE SCHEMA campaigns"))
    op.create_table(
        "view_salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("length(salt) = 32", name=op.f("ck_view_salts_salt_length")),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_view_salts")),
        schema="campaigns",
    )
    op.create_table(
        "advertiser_details",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("verification_status", sa.Text(), server_default="unverified", nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "verification_status IN ('unverified', 'pending', 'verified', 'rejected')",
            name=op.f("ck_advertiser_details_verification_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_advertiser_details_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_advertiser_details")),
        schema="campaigns",
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("advertiser_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="draft", nullable=False),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("min_followers", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cpv", sa.BigInteger(), nullable=True),
        sa.Column("max_views", sa.BigInteger(), nullable=True),
        sa.Column("max_views_per_promoter", sa.BigInteger(), nullable=True),
        sa.Column("destination_url", sa.Text(), nullable=True),
        sa.Column("min_budget", sa.BigInteger(), nullable=True),
        sa.Column("max_budget", sa.BigInteger(), nullable=True),
        sa.Column("commission_per_sale", sa.Integer(), nullable=True),
        sa.Column("tracking_method", sa.Text(), nullable=True),
        sa.Column("escrow_account_id", sa.UUID(), nullable=False),
        sa.Column("funded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'paused') = (pause_reason IS NOT NULL)", name=op.f("ck_campaigns_paused_why")
        ),
        sa.CheckConstraint(
            "(status IN ('completed', 'cancelled')) = (ended_at IS NOT NULL)",
            name=op.f("ck_campaigns_ended_when"),
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_campaigns_currency_iso")),
        sa.CheckConstraint(
            "pause_reason IS NULL OR pause_reason IN ('advertiser', 'budget_spent', 'max_views')",
            name=op.f("ck_campaigns_pause_reason_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'paused', 'completed', 'cancelled')",
            name=op.f("ck_campaigns_status_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'cancelled') OR funded_at IS NOT NULL",
            name=op.f("ck_campaigns_funded_before_use"),
        ),
        sa.CheckConstraint(
            "type <> 'salesman' OR (commission_per_sale BETWEEN 1 AND 10000 AND tracking_method IN"
            " ('ref_link', 'coupon'))",
            name=op.f("ck_campaigns_salesman_parameters"),
        ),
        sa.CheckConstraint(
            "type <> 'visibility' OR (cpv > 0 AND max_views >= 100 AND destination_url IS NOT NULL"
            " AND budget >= (cpv * max_views + 99) / 100)",
            name=op.f("ck_campaigns_visibility_parameters"),
        ),
        sa.CheckConstraint(
            "type IN ('visibility', 'consultant', 'seller', 'salesman')",
            name=op.f("ck_campaigns_type_known"),
        ),
        sa.CheckConstraint(
            "type NOT IN ('consultant', 'seller') OR (min_budget > 0 AND max_budget >= min_budget "
            "AND budget >= max_budget)",
            name=op.f("ck_campaigns_range_parameters"),
        ),
        sa.CheckConstraint("budget > 0", name=op.f("ck_campaigns_budget_positive")),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_campaigns_dates_ordered")
        ),
        sa.CheckConstraint(
            "length(title) BETWEEN 1 AND 200", name=op.f("ck_campaigns_title_length")
        ),
        sa.CheckConstraint(
            "max_views_per_promoter IS NULL OR max_views_per_promoter > 0",
            name=op.f("ck_campaigns_promoter_cap_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["advertiser_id"], ["identity.users.id"], name=op.f("fk_campaigns_advertiser_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        schema="campaigns",
    )
    op.create_index(
        "ix_campaigns_active_type",
        "campaigns",
        ["type", "created_at"],
        unique=False,
        schema="campaigns",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_campaigns_advertiser_created",
        "campaigns",
        ["advertiser_id", "created_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_table(
        "promoter_details",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("gender", sa.Text(), nullable=True),
        sa.Column(
            "audience_countries", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "country IS NULL OR country ~ '^[A-Z]{2}$'",
            name=op.f("ck_promoter_details_country_iso"),
        ),
        sa.CheckConstraint(
            "birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100",
            name=op.f("ck_promoter_details_birth_year_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_promoter_details_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_promoter_details")),
        schema="campaigns",
    )
    op.create_table(
        "campaign_budget_allocations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("allocated_amount", sa.BigInteger(), nullable=False),
        sa.Column("spent_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("funding_source", sa.Text(), nullable=False),
        sa.Column("funding_intent_id", sa.UUID(), nullable=True),
        sa.Column("rate_per_100_views", sa.BigInteger(), nullable=True),
        sa.Column("commission_rate", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "funding_source IN ('wallet', 'provider')",
            name=op.f("ck_campaign_budget_allocations_funding_source_known"),
        ),
        sa.CheckConstraint(
            "allocated_amount > 0", name=op.f("ck_campaign_budget_allocations_allocated_positive")
        ),
        sa.CheckConstraint(
            "spent_amount + refunded_amount <= allocated_amount",
            name=op.f("ck_campaign_budget_allocations_within_allocation"),
        ),
        sa.CheckConstraint(
            "spent_amount >= 0 AND refunded_amount >= 0",
            name=op.f("ck_campaign_budget_allocations_amounts_nonneg"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_campaign_budget_allocations_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_budget_allocations")),
        sa.UniqueConstraint("campaign_id", name="uq_campaign_budget_allocations_campaign"),
        schema="campaigns",
    )
    op.create_table(
        "promoter_campaigns",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("promoter_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("tracking_code", sa.Text(), nullable=False),
        sa.Column("views_generated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("budget_held", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("spent_budget", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "joined_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'left', 'removed')",
            name=op.f("ck_promoter_campaigns_status_known"),
        ),
        sa.CheckConstraint(
            "tracking_code ~ '^[A-Za-z0-9_-]{8,64}$'",
            name=op.f("ck_promoter_campaigns_tracking_code_shape"),
        ),
        sa.CheckConstraint(
            "views_generated >= 0 AND budget_held >= 0 AND spent_budget >= 0",
            name=op.f("ck_promoter_campaigns_counts_nonneg"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_promoter_campaigns_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_id"],
            ["identity.users.id"],
            name=op.f("fk_promoter_campaigns_promoter_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promoter_campaigns")),
        sa.UniqueConstraint("campaign_id", "promoter_id", name="uq_promoter_campaigns_promoter"),
        sa.UniqueConstraint("tracking_code", name="uq_promoter_campaigns_tracking_code"),
        schema="campaigns",
    )
    op.create_index(
        "ix_promoter_campaigns_promoter",
        "promoter_campaigns",
        ["promoter_id", "joined_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_table(
        "unique_views",
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor_hash", sa.LargeBinary(), nullable=False),
        sa.Column("view_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_unique_views_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", "day", "visitor_hash", name=op.f("pk_unique_views")),
        schema="campaigns",
    )
    op.create_table(
        "view_settlements",
        sa.Column("promoter_campaign_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("carry_before", sa.Integer(), nullable=False),
        sa.Column("carry_after", sa.Integer(), nullable=False),
        sa.Column("ledger_transfer_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_view_settlements_amount_nonneg")),
        sa.CheckConstraint(
            "carry_after BETWEEN 0 AND 99", name=op.f("ck_view_settlements_carry_after_range")
        ),
        sa.CheckConstraint(
            "carry_before BETWEEN 0 AND 99", name=op.f("ck_view_settlements_carry_before_range")
        ),
        sa.CheckConstraint("views > 0", name=op.f("ck_view_settlements_views_positive")),
        sa.ForeignKeyConstraint(
            ["promoter_campaign_id"],
            ["campaigns.promoter_campaigns.id"],
            name=op.f("fk_view_settlements_promoter_campaign_id_promoter_campaigns"),
        ),
        sa.PrimaryKeyConstraint("promoter_campaign_id", "day", name=op.f("pk_view_settlements")),
        schema="campaigns",
    )
    op.create_table(
        "view_stats",
        sa.Column("promoter_campaign_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("counted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dropped_duplicate", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dropped_bot", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dropped_rate_limited", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dropped_inactive", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dropped_over_cap", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("validated", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rejected", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_views", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "counted >= 0 AND dropped_duplicate >= 0 AND dropped_bot >= 0 AND dropped_rate_limited"
            " >= 0 AND dropped_inactive >= 0 AND dropped_over_cap >= 0 AND validated >= 0 AND "
            "rejected >= 0 AND paid_views >= 0 AND paid_amount >= 0",
            name=op.f("ck_view_stats_counts_nonneg"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_view_stats_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_campaign_id"],
            ["campaigns.promoter_campaigns.id"],
            name=op.f("fk_view_stats_promoter_campaign_id_promoter_campaigns"),
        ),
        sa.PrimaryKeyConstraint("promoter_campaign_id", "day", name=op.f("pk_view_stats")),
        schema="campaigns",
    )
    op.create_index(
        "ix_view_stats_campaign_day",
        "view_stats",
        ["campaign_id", "day"],
        unique=False,
        schema="campaigns",
    )
    op.create_table(
        "views",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("promoter_campaign_id", sa.UUID(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visitor_hash", sa.LargeBinary(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "(outcome = 'rejected') = (reject_reason IS NOT NULL)",
            name=op.f("ck_views_rejected_why"),
        ),
        sa.CheckConstraint(
            "outcome IN ('pending', 'validated', 'rejected', 'paid', 'duplicate', 'bot', "
            "'rate_limited', 'campaign_inactive', 'over_cap')",
            name=op.f("ck_views_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.campaigns.id"], name=op.f("fk_views_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["promoter_campaign_id"],
            ["campaigns.promoter_campaigns.id"],
            name=op.f("fk_views_promoter_campaign_id_promoter_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_views")),
        schema="campaigns",
    )
    op.create_index(
        "ix_views_pending",
        "views",
        ["campaign_id", "occurred_at"],
        unique=False,
        schema="campaigns",
        postgresql_where=sa.text("outcome = 'pending'"),
    )
    op.create_index(
        "ix_views_promoter_campaign_day",
        "views",
        ["promoter_campaign_id", "occurred_at"],
        unique=False,
        schema="campaigns",
    )


def downgrade() -> None:
    op.execute(sa.text("DROP SCHEMA campaigns CASCADE"))
