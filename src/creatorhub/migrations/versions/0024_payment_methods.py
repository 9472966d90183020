"""payments: saved payment methods (seed 002's `payment_methods`, issue 15), and the saved method a
funding intent charged.

A payer saves a card or bank account at the provider through a setup intent; the provider keeps
the number, `payments.payment_methods` what identifies it there (customer, setup intent, method)
and what its owner is shown (brand, last four digits, expiry). `pending` until the provider's
event says the setup succeeded (`active`) or failed; `detached` once removed; one default per
user (a partial unique index). `funding_intents.payment_method_id` names the saved method an
intent charged.

Revision ID: 0024_payment_methods
Revises: 0023_campaign_billing
Create Date: 2026-12-07

Drafted by autogenerate from creatorhub.payments.models and checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_payment_methods"
down_revision: str | None = "0023_campaign_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("customer_reference", sa.Text(), nullable=True),
        sa.Column("setup_reference", sa.Text(), nullable=True),
        sa.Column("provider_reference", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), server_default="card", nullable=False),
        sa.Column("brand", sa.Text(), nullable=True),
        sa.Column("last4", sa.Text(), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
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
        sa.Column("detached_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'failed', 'detached')",
            name=op.f("ck_payment_methods_status_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('card', 'bank_account')", name=op.f("ck_payment_methods_kind_known")
        ),
        sa.CheckConstraint(
            "last4 ~ '^[0-9]{4}$'", name=op.f("ck_payment_methods_last4_four_digits")
        ),
        sa.CheckConstraint(
            "exp_month BETWEEN 1 AND 12", name=op.f("ck_payment_methods_exp_month_range")
        ),
        sa.CheckConstraint(
            "exp_year BETWEEN 2000 AND 2999", name=op.f("ck_payment_methods_exp_year_range")
        ),
        sa.CheckConstraint(
            "status <> 'active' OR (provider_reference IS NOT NULL AND last4 IS NOT NULL)",
            name=op.f("ck_payment_methods_active_has_details"),
        ),
        sa.CheckConstraint(
            "NOT is_default OR status = 'active'", name=op.f("ck_payment_methods_default_is_active")
        ),
        sa.CheckConstraint(
            "(status = 'detached') = (detached_at IS NOT NULL)",
            name=op.f("ck_payment_methods_detached_at_iff_detached"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_payment_methods_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
        sa.UniqueConstraint(
            "provider",
            "provider_reference",
            name=op.f("uq_payment_methods_provider_provider_reference"),
        ),
        sa.UniqueConstraint(
            "provider",
            "setup_reference",
            name=op.f("uq_payment_methods_provider_setup_reference"),
        ),
        schema="payments",
    )
    op.create_index(
        "uq_payment_methods_one_default",
        "payment_methods",
        ["user_id"],
        unique=True,
        schema="payments",
        postgresql_where=sa.text("is_default"),
    )
    op.create_index(
        "ix_payment_methods_user_id_created_at",
        "payment_methods",
        ["user_id", "created_at"],
        unique=False,
        schema="payments",
    )
    op.add_column(
        "funding_intents",
        sa.Column("payment_method_id", sa.UUID(), nullable=True),
        schema="payments",
    )
    op.create_foreign_key(
        op.f("fk_funding_intents_payment_method_id_payment_methods"),
        "funding_intents",
        "payment_methods",
        ["payment_method_id"],
        ["id"],
        source_schema="payments",
        referent_schema="payments",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_funding_intents_payment_method_id_payment_methods"),
        "funding_intents",
        schema="payments",
        type_="foreignkey",
    )
    op.drop_column("funding_intents", "payment_method_id", schema="payments")
    op.drop_index(
        "ix_payment_methods_user_id_created_at", table_name="payment_methods", schema="payments"
    )
    op.drop_index("uq_payment_methods_one_default", table_name="payment_methods", schema="payments")
    op.drop_table("payment_methods", schema="payments")
