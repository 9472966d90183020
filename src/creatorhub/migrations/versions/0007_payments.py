"""payments: fee rules, funding intents, webhook events, payout accounts and payouts, pending
earnings, plans and subscriptions.

Revision ID: 0007_payments
Revises: 0006_ledger
Create Date: 2026-11-21

Drafted by autogenerate from creatorhub.payments.models and checked by hand; the default fee
rules are data the platform needs to charge anything, so they are part of the schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_payments"
down_revision: str | None = "0006_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("CREATE SCHEMA payments"))
    op.create_table(
        "fee_rules",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("transaction_kind", sa.Text(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("basis_points", sa.Integer(), nullable=False),
        sa.Column("fixed_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_by", sa.UUID(), nullable=True),
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
            "basis_points BETWEEN 0 AND 10000", name=op.f("ck_fee_rules_basis_points_range")
        ),
        sa.CheckConstraint("fixed_amount >= 0", name=op.f("ck_fee_rules_fixed_amount_nonneg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_rules")),
        schema="payments",
    )
    op.create_index(
        "uq_fee_rules_default",
        "fee_rules",
        ["transaction_kind"],
        unique=True,
        schema="payments",
        postgresql_where=sa.text("user_id IS NULL"),
    )
    op.create_index(
        "uq_fee_rules_override",
        "fee_rules",
        ["transaction_kind", "user_id"],
        unique=True,
        schema="payments",
        postgresql_where=sa.text("user_id IS NOT NULL"),
    )
    op.create_table(
        "pending_earnings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source_type", sa.Text(), nullable=True),
        sa.Column("source_id", sa.Text(), nullable=True),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$' OR currency = 'CREDIT'",
            name=op.f("ck_pending_earnings_currency_format"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pending_earnings_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_earnings")),
        schema="payments",
    )
    op.create_index(
        "ix_pending_earnings_due",
        "pending_earnings",
        ["release_at"],
        unique=False,
        schema="payments",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index(
        "ix_pending_earnings_user_id",
        "pending_earnings",
        ["user_id"],
        unique=False,
        schema="payments",
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("object_reference", sa.Text(), nullable=True),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_webhook_events_provider_event_id")
        ),
        schema="payments",
    )
    op.create_index(
        "ix_webhook_events_received_at",
        "webhook_events",
        ["received_at"],
        unique=False,
        schema="payments",
    )
    op.create_table(
        "funding_intents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), server_default="wallet", nullable=False),
        sa.Column("target_id", sa.UUID(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_reference", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="requires_confirmation", nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
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
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'succeeded') = (succeeded_at IS NOT NULL)",
            name=op.f("ck_funding_intents_succeeded_at_iff_succeeded"),
        ),
        sa.CheckConstraint(
            "(target_type = 'wallet') = (target_id IS NULL)",
            name=op.f("ck_funding_intents_target_id_iff_not_wallet"),
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$' OR currency = 'CREDIT'",
            name=op.f("ck_funding_intents_currency_format"),
        ),
        sa.CheckConstraint(
            "status IN ('requires_confirmation', 'processing', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_funding_intents_status_known"),
        ),
        sa.CheckConstraint(
            "target_type IN ('wallet', 'job', 'campaign', 'giveaway')",
            name=op.f("ck_funding_intents_target_type_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_funding_intents_amount_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_funding_intents_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_intents")),
        sa.UniqueConstraint(
            "provider",
            "provider_reference",
            name=op.f("uq_funding_intents_provider_provider_reference"),
        ),
        schema="payments",
    )
    op.create_index(
        "ix_funding_intents_user_id_created_at",
        "funding_intents",
        ["user_id", "created_at"],
        unique=False,
        schema="payments",
    )
    op.create_table(
        "payout_accounts",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_reference", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="onboarding", nullable=False),
        sa.Column("payouts_enabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "details_submitted", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "capabilities",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
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
            "status IN ('onboarding', 'active', 'restricted', 'disabled')",
            name=op.f("ck_payout_accounts_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_payout_accounts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_accounts")),
        sa.UniqueConstraint(
            "provider",
            "provider_reference",
            name=op.f("uq_payout_accounts_provider_provider_reference"),
        ),
        sa.UniqueConstraint(
            "user_id", "provider", name=op.f("uq_payout_accounts_user_id_provider")
        ),
        schema="payments",
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("interval", sa.Text(), nullable=False),
        sa.Column("transaction_kind", sa.Text(), server_default="subscription", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$' OR currency = 'CREDIT'", name=op.f("ck_plans_currency_format")
        ),
        sa.CheckConstraint(
            "interval IN ('month', 'year', 'lifetime')", name=op.f("ck_plans_interval_known")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_plans_amount_positive")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["identity.users.id"], name=op.f("fk_plans_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        schema="payments",
    )
    op.create_index("ix_plans_owner_id", "plans", ["owner_id"], unique=False, schema="payments")
    op.create_table(
        "payouts",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("payout_account_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("minimum_amount", sa.BigInteger(), nullable=False),
        sa.Column("released_below_minimum_by", sa.UUID(), nullable=True),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("provider_reference", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
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
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$' OR currency = 'CREDIT'",
            name=op.f("ck_payouts_currency_format"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'in_transit', 'paid', 'failed', 'canceled')",
            name=op.f("ck_payouts_status_known"),
        ),
        sa.CheckConstraint(
            "trigger IN ('on_demand', 'monthly_cycle', 'admin')",
            name=op.f("ck_payouts_trigger_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payouts_amount_positive")),
        sa.CheckConstraint(
            "amount >= minimum_amount OR released_below_minimum_by IS NOT NULL",
            name=op.f("ck_payouts_minimum_or_released"),
        ),
        sa.CheckConstraint("minimum_amount >= 0", name=op.f("ck_payouts_minimum_nonneg")),
        sa.ForeignKeyConstraint(
            ["payout_account_id"],
            ["payments.payout_accounts.id"],
            name=op.f("fk_payouts_payout_account_id_payout_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_payouts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        schema="payments",
    )
    op.create_index(
        "ix_payouts_open",
        "payouts",
        ["status"],
        unique=False,
        schema="payments",
        postgresql_where=sa.text("status IN ('pending', 'in_transit')"),
    )
    op.create_index(
        "ix_payouts_user_id_created_at",
        "payouts",
        ["user_id", "created_at"],
        unique=False,
        schema="payments",
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("plan_id", sa.UUID(), nullable=False),
        sa.Column("subscriber_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "cancel_at_period_end", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("periods_paid", sa.Integer(), server_default="0", nullable=False),
        sa.Column("past_due_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
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
            "(status = 'canceled') = (canceled_at IS NOT NULL)",
            name=op.f("ck_subscriptions_canceled_at"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'past_due', 'canceled')",
            name=op.f("ck_subscriptions_status_known"),
        ),
        sa.CheckConstraint("periods_paid >= 0", name=op.f("ck_subscriptions_periods_paid_nonneg")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payments.plans.id"], name=op.f("fk_subscriptions_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["identity.users.id"],
            name=op.f("fk_subscriptions_subscriber_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        schema="payments",
    )
    op.create_index(
        "ix_subscriptions_due",
        "subscriptions",
        ["current_period_end"],
        unique=False,
        schema="payments",
        postgresql_where=sa.text("status <> 'canceled' AND current_period_end IS NOT NULL"),
    )
    op.create_index(
        "uq_subscriptions_live",
        "subscriptions",
        ["plan_id", "subscriber_id"],
        unique=True,
        schema="payments",
        postgresql_where=sa.text("status <> 'canceled'"),
    )
    # Defaults: 10 % on earnings of every kind, nothing fixed; admins change them at
    # /v1/admin/fees and may override them per payee.
    op.execute(
        sa.text(
            "INSERT INTO payments.fee_rules (transaction_kind, basis_points, fixed_amount) VALUES"
            " ('escrow_release', 1000, 0), ('campaign_earning', 1000, 0), ('tip', 1000, 0),"
            " ('subscription', 1000, 0), ('purchase', 1000, 0), ('funding', 0, 0)"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("DROP SCHEMA payments CASCADE"))
