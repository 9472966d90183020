"""marketplace: seed 000's jobs, claims, influencer jobs, content, escrow records and events,
payouts, refunds, logs and daily analytics, with the seed's triggers.

Revision ID: 0008_marketplace
Revises: 0007_payments
Create Date: 2026-11-22

Drafted by autogenerate from creatorhub.marketplace.models and checked by hand; the triggers are
PL/pgSQL in marketplace/sql/marketplace_001_triggers.sql.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from creatorhub.migrate import execute_script, load_sql

revision: str = "0008_marketplace"
down_revision: str | None = "0007_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("CREATE SCHEMA marketplace"))
    op.create_table(
        "financial_analytics",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("total_payouts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("payouts_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_refunds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunds_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("platform_fees", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("net_revenue", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("largest_single_payout", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("largest_single_refund", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ck_financial_analytics_currency_iso")
        ),
        sa.PrimaryKeyConstraint("date", "currency", name=op.f("pk_financial_analytics")),
        schema="marketplace",
    )
    op.create_table(
        "platform_analytics",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("total_users", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_artists", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_influencers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active_users_daily", sa.Integer(), server_default="0", nullable=False),
        sa.Column("jobs_created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("jobs_closed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_influencer_claims", sa.Integer(), server_default="0", nullable=False),
        sa.Column("system_events_logged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escrow_events_logged", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_platform_analytics")),
        schema="marketplace",
    )
    op.create_table(
        "jobs",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("creator_uid", sa.UUID(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), server_default="USD", nullable=False),
        sa.Column("influencer_slots", sa.Integer(), nullable=False),
        sa.Column("max_slots", sa.Integer(), nullable=False),
        sa.Column("influence_min", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("influence_max", sa.BigInteger(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("genre", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="awaiting_funding", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("claim_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("influencers_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("approved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("all_content_ready", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stripe_charge_id", sa.Text(), nullable=True),
        sa.Column("funding_source", sa.Text(), nullable=True),
        sa.Column("funded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escrow_account_id", sa.UUID(), nullable=False),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)",
            name=op.f("ck_jobs_closed_iff_closed_at"),
        ),
        sa.CheckConstraint(
            "close_reason IS NULL OR close_reason IN ('brand', 'end_date')",
            name=op.f("ck_jobs_close_reason_known"),
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_jobs_currency_iso")),
        sa.CheckConstraint(
            "funding_source IS NULL OR funding_source IN ('wallet', 'provider')",
            name=op.f("ck_jobs_funding_source_known"),
        ),
        sa.CheckConstraint(
            "status = 'closed' OR (status = 'awaiting_funding') = (funded_at IS NULL)",
            name=op.f("ck_jobs_open_iff_funded"),
        ),
        sa.CheckConstraint(
            "status IN ('awaiting_funding', 'open', 'closed')", name=op.f("ck_jobs_status_known")
        ),
        sa.CheckConstraint(
            "approved BETWEEN 0 AND influencers_done", name=op.f("ck_jobs_approved_within_done")
        ),
        sa.CheckConstraint("budget > 0", name=op.f("ck_jobs_budget_positive")),
        sa.CheckConstraint("budget >= max_slots", name=op.f("ck_jobs_budget_covers_slots")),
        sa.CheckConstraint(
            "claim_count BETWEEN 0 AND max_slots", name=op.f("ck_jobs_claims_within_slots")
        ),
        sa.CheckConstraint(
            "influence_max IS NULL OR influence_min <= influence_max",
            name=op.f("ck_jobs_influence_range"),
        ),
        sa.CheckConstraint("influence_min >= 0", name=op.f("ck_jobs_influence_min_nonneg")),
        sa.CheckConstraint("influencer_slots BETWEEN 1 AND 1000", name=op.f("ck_jobs_slots_range")),
        sa.CheckConstraint(
            "influencers_done BETWEEN 0 AND claim_count", name=op.f("ck_jobs_done_within_claims")
        ),
        sa.CheckConstraint("length(title) BETWEEN 1 AND 200", name=op.f("ck_jobs_title_length")),
        sa.ForeignKeyConstraint(
            ["creator_uid"], ["identity.users.id"], name=op.f("fk_jobs_creator_uid_users")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_jobs")),
        schema="marketplace",
    )
    op.create_index(
        "ix_jobs_creator_uid_created_at",
        "jobs",
        ["creator_uid", "created_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_index(
        "ix_jobs_open_end_date",
        "jobs",
        ["end_date"],
        unique=False,
        schema="marketplace",
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index(
        "ix_jobs_open_influence",
        "jobs",
        ["influence_min"],
        unique=False,
        schema="marketplace",
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("influencer_id", sa.UUID(), nullable=False),
        sa.Column("slot_number", sa.Integer(), nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("slot_number >= 1", name=op.f("ck_claims_slot_number_positive")),
        sa.ForeignKeyConstraint(
            ["influencer_id"], ["identity.users.id"], name=op.f("fk_claims_influencer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["marketplace.jobs.uid"], name=op.f("fk_claims_job_id_jobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("job_id", "influencer_id", name="uq_claims_job_influencer"),
        sa.UniqueConstraint("job_id", "slot_number", name="uq_claims_job_slot"),
        schema="marketplace",
    )
    op.create_index(
        "ix_claims_claimed_at", "claims", ["claimed_at"], unique=False, schema="marketplace"
    )
    op.create_index(
        "ix_claims_influencer_id",
        "claims",
        ["influencer_id", "claimed_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_table(
        "influencer_logs",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_uid", sa.UUID(), nullable=False),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "log", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_influencer_logs_job_uid_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["user_uid"], ["identity.users.id"], name=op.f("fk_influencer_logs_user_uid_users")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_influencer_logs")),
        schema="marketplace",
    )
    op.create_index(
        "ix_influencer_logs_job_uid",
        "influencer_logs",
        ["job_uid", "created_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_table(
        "joblogs",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "log", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_joblogs_job_uid_jobs")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_joblogs")),
        schema="marketplace",
    )
    op.create_index(
        "ix_joblogs_job_uid",
        "joblogs",
        ["job_uid", "created_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_table(
        "unfilled_refunds",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_uid", sa.UUID(), nullable=False),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("max_slots", sa.Integer(), nullable=False),
        sa.Column("claimed_slots", sa.Integer(), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("stripe_charge_id", sa.Text(), nullable=True),
        sa.Column("provider_refund_id", sa.Text(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "refunded > 0 AND refunded <= budget",
            name=op.f("ck_unfilled_refunds_refunded_within_budget"),
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_unfilled_refunds_job_uid_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["user_uid"], ["identity.users.id"], name=op.f("fk_unfilled_refunds_user_uid_users")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_unfilled_refunds")),
        sa.UniqueConstraint("job_uid", name="uq_unfilled_refunds_job"),
        schema="marketplace",
    )
    op.create_index(
        "ix_unfilled_refunds_issued_at",
        "unfilled_refunds",
        ["issued_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_index(
        "ix_unfilled_refunds_not_issued",
        "unfilled_refunds",
        ["created_at"],
        unique=False,
        schema="marketplace",
        postgresql_where=sa.text("issued_at IS NULL"),
    )
    op.create_table(
        "influencer_jobs",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_uid", sa.UUID(), nullable=False),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("claim_id", sa.UUID(), nullable=False),
        sa.Column("slot_number", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.UUID(), nullable=False),
        sa.Column(
            "assigned_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("platform_fee", sa.BigInteger(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(content_approved_at IS NULL) = (platform_fee IS NULL)",
            name=op.f("ck_influencer_jobs_fee_iff_approved"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_influencer_jobs_amount_positive")),
        sa.CheckConstraint(
            "content_approved_at IS NULL OR content_done_at IS NOT NULL",
            name=op.f("ck_influencer_jobs_approved_after_done"),
        ),
        sa.CheckConstraint(
            "platform_fee IS NULL OR platform_fee BETWEEN 0 AND amount",
            name=op.f("ck_influencer_jobs_fee_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["marketplace.claims.id"], name=op.f("fk_influencer_jobs_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_influencer_jobs_job_uid_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["user_uid"], ["identity.users.id"], name=op.f("fk_influencer_jobs_user_uid_users")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_influencer_jobs")),
        sa.UniqueConstraint("claim_id", name="uq_influencer_jobs_claim"),
        sa.UniqueConstraint("job_uid", "user_uid", name="uq_influencer_jobs_job_user"),
        schema="marketplace",
    )
    op.create_index(
        "ix_influencer_jobs_user_uid",
        "influencer_jobs",
        ["user_uid", "assigned_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_table(
        "content_submissions",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("influencer_job_uid", sa.UUID(), nullable=False),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("user_uid", sa.UUID(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("post_id", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="submitted", nullable=False),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "platform IN ('instagram', 'tiktok', 'youtube', 'facebook', 'x', 'twitch', 'other')",
            name=op.f("ck_content_submissions_platform_known"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'rejected')",
            name=op.f("ck_content_submissions_status_known"),
        ),
        sa.CheckConstraint(
            "url IS NOT NULL OR post_id IS NOT NULL",
            name=op.f("ck_content_submissions_url_or_post_id"),
        ),
        sa.ForeignKeyConstraint(
            ["influencer_job_uid"],
            ["marketplace.influencer_jobs.uid"],
            name=op.f("fk_content_submissions_influencer_job_uid_influencer_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_content_submissions_job_uid_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["user_uid"], ["identity.users.id"], name=op.f("fk_content_submissions_user_uid_users")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_content_submissions")),
        schema="marketplace",
    )
    op.create_index(
        "ix_content_submissions_influencer_job",
        "content_submissions",
        ["influencer_job_uid", "submitted_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_index(
        "uq_content_submissions_one_pending",
        "content_submissions",
        ["influencer_job_uid"],
        unique=True,
        schema="marketplace",
        postgresql_where=sa.text("status = 'submitted'"),
    )
    op.create_table(
        "escrow_transactions",
        sa.Column(
            "escrow_uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("influencer_job_uid", sa.UUID(), nullable=False),
        sa.Column("buyer_uid", sa.UUID(), nullable=False),
        sa.Column("seller_uid", sa.UUID(), nullable=False),
        sa.Column("payment_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.UUID(), nullable=False),
        sa.Column(
            "payment_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("escrow_released_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default="held", nullable=False),
        sa.CheckConstraint(
            "(status = 'held') = (escrow_released_time IS NULL)",
            name=op.f("ck_escrow_transactions_resolved_iff_time"),
        ),
        sa.CheckConstraint(
            "status IN ('held', 'released', 'refunded')",
            name=op.f("ck_escrow_transactions_status_known"),
        ),
        sa.CheckConstraint(
            "payment_amount > 0", name=op.f("ck_escrow_transactions_payment_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["buyer_uid"],
            ["identity.users.id"],
            name=op.f("fk_escrow_transactions_buyer_uid_users"),
        ),
        sa.ForeignKeyConstraint(
            ["influencer_job_uid"],
            ["marketplace.influencer_jobs.uid"],
            name=op.f("fk_escrow_transactions_influencer_job_uid_influencer_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_escrow_transactions_job_uid_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["seller_uid"],
            ["identity.users.id"],
            name=op.f("fk_escrow_transactions_seller_uid_users"),
        ),
        sa.PrimaryKeyConstraint("escrow_uid", name=op.f("pk_escrow_transactions")),
        sa.UniqueConstraint("influencer_job_uid", name="uq_escrow_transactions_influencer_job"),
        schema="marketplace",
    )
    op.create_index(
        "ix_escrow_transactions_job_uid",
        "escrow_transactions",
        ["job_uid"],
        unique=False,
        schema="marketplace",
    )
    op.create_table(
        "influencer_payouts",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_uid", sa.UUID(), nullable=False),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("influencer_job_uid", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("platform_fee", sa.BigInteger(), nullable=False),
        sa.Column("net_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("genre", sa.Text(), nullable=True),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("payed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payout_id", sa.UUID(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_influencer_payouts_amount_positive")),
        sa.CheckConstraint(
            "platform_fee >= 0 AND net_amount = amount - platform_fee",
            name=op.f("ck_influencer_payouts_net_is_gross_less_fee"),
        ),
        sa.ForeignKeyConstraint(
            ["influencer_job_uid"],
            ["marketplace.influencer_jobs.uid"],
            name=op.f("fk_influencer_payouts_influencer_job_uid_influencer_jobs"),
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_influencer_payouts_job_uid_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["user_uid"], ["identity.users.id"], name=op.f("fk_influencer_payouts_user_uid_users")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_influencer_payouts")),
        sa.UniqueConstraint("influencer_job_uid", name="uq_influencer_payouts_influencer_job"),
        schema="marketplace",
    )
    op.create_index(
        "ix_influencer_payouts_issued_at",
        "influencer_payouts",
        ["issued_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_index(
        "ix_influencer_payouts_unpaid",
        "influencer_payouts",
        ["user_uid", "issued_at"],
        unique=False,
        schema="marketplace",
        postgresql_where=sa.text("payed_at IS NULL"),
    )
    op.create_table(
        "escrow_events",
        sa.Column(
            "event_uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("escrow_uid", sa.UUID(), nullable=True),
        sa.Column("job_uid", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column(
            "event_details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "event_type IN ('claimed', 'released', 'influencer_paid', 'voided', 'refund')",
            name=op.f("ck_escrow_events_event_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["escrow_uid"],
            ["marketplace.escrow_transactions.escrow_uid"],
            name=op.f("fk_escrow_events_escrow_uid_escrow_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["job_uid"], ["marketplace.jobs.uid"], name=op.f("fk_escrow_events_job_uid_jobs")
        ),
        sa.PrimaryKeyConstraint("event_uid", name=op.f("pk_escrow_events")),
        schema="marketplace",
    )
    op.create_index(
        "ix_escrow_events_created_at",
        "escrow_events",
        ["created_at"],
        unique=False,
        schema="marketplace",
    )
    op.create_index(
        "ix_escrow_events_job_uid",
        "escrow_events",
        ["job_uid", "created_at"],
        unique=False,
        schema="marketplace",
    )
    execute_script(
        op.get_bind(), load_sql("creatorhub.marketplace", "marketplace_001_triggers.sql")
    )


def downgrade() -> None:
    op.execute(sa.text("DROP SCHEMA marketplace CASCADE"))
