"""campaign sales: salesman campaigns' sales records (seed 002 `sales_records`), the
promoters' coupon codes, the campaigns' sealed sales-webhook secrets and the clicks of
referral links (issue 15). Payments'
fee rules gain the kind `campaign_commission` (10 %, like every kind of earnings).

Revision ID: 0022_campaign_sales
Revises: 0021_campaign_work
Create Date: 2026-12-07

Drafted by autogenerate from creatorhub.campaigns.sales.models and checked by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_campaign_sales"
down_revision: str | None = "0021_campaign_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sales_webhook_secrets",
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_sales_webhook_secrets_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_sales_webhook_secrets")),
        schema="campaigns",
    )
    op.create_table(
        "coupon_codes",
        sa.Column("promoter_campaign_id", sa.UUID(), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("code ~ '^[A-Z0-9_-]{3,32}$'", name=op.f("ck_coupon_codes_code_shape")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_coupon_codes_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_campaign_id"],
            ["campaigns.promoter_campaigns.id"],
            name=op.f("fk_coupon_codes_promoter_campaign_id_promoter_campaigns"),
        ),
        sa.PrimaryKeyConstraint("promoter_campaign_id", name=op.f("pk_coupon_codes")),
        sa.UniqueConstraint("campaign_id", "code", name="uq_coupon_codes_code"),
        schema="campaigns",
    )
    op.create_table(
        "sales_records",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("campaign_id", sa.UUID(), nullable=False),
        sa.Column("promoter_campaign_id", sa.UUID(), nullable=True),
        sa.Column("promoter_id", sa.UUID(), nullable=True),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("commission", sa.BigInteger(), nullable=False),
        sa.Column("attributed_by", sa.Text(), nullable=True),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("hold_id", sa.UUID(), nullable=True),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verify_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "attributed_by IS NULL OR attributed_by IN ('coupon', 'ref_link')",
            name=op.f("ck_sales_records_attribution_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'reversed', 'over_budget', 'campaign_inactive')",
            name=op.f("ck_sales_records_status_known"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('pending', 'verified') OR hold_id IS NOT NULL OR commission = 0",
            name=op.f("ck_sales_records_held"),
        ),
        sa.CheckConstraint(
            "amount >= 0 AND commission >= 0", name=op.f("ck_sales_records_amounts_nonneg")
        ),
        sa.CheckConstraint(
            "length(order_id) BETWEEN 1 AND 200", name=op.f("ck_sales_records_order_id_length")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaigns.id"],
            name=op.f("fk_sales_records_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_campaign_id"],
            ["campaigns.promoter_campaigns.id"],
            name=op.f("fk_sales_records_promoter_campaign_id_promoter_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["promoter_id"], ["identity.users.id"], name=op.f("fk_sales_records_promoter_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_records")),
        sa.UniqueConstraint("campaign_id", "order_id", name="uq_sales_records_order"),
        schema="campaigns",
    )
    op.create_index(
        "ix_sales_records_campaign",
        "sales_records",
        ["campaign_id", "occurred_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_index(
        "ix_sales_records_due",
        "sales_records",
        ["verify_after"],
        unique=False,
        schema="campaigns",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_sales_records_promoter",
        "sales_records",
        ["promoter_id", "occurred_at"],
        unique=False,
        schema="campaigns",
    )
    op.create_table(
        "referral_clicks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("promoter_campaign_id", sa.UUID(), nullable=False),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["promoter_campaign_id"],
            ["campaigns.promoter_campaigns.id"],
            name=op.f("fk_referral_clicks_promoter_campaign_id_promoter_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_clicks")),
        schema="campaigns",
    )
    op.create_index(
        "ix_referral_clicks_promoter_campaign",
        "referral_clicks",
        ["promoter_campaign_id", "clicked_at"],
        unique=False,
        schema="campaigns",
    )
    op.execute(
        sa.text(
            "INSERT INTO payments.fee_rules (transaction_kind, basis_points, fixed_amount)"
            " VALUES ('campaign_commission', 1000, 0)"
        )
    )


def downgrade() -> None:
    op.drop_index(
        "ix_referral_clicks_promoter_campaign", table_name="referral_clicks", schema="campaigns"
    )
    op.drop_table("referral_clicks", schema="campaigns")
    op.execute(
        sa.text("DELETE FROM payments.fee_rules WHERE transaction_kind = 'campaign_commission'")
    )
    op.drop_index("ix_sales_records_promoter", table_name="sales_records", schema="campaigns")
    op.drop_index(
        "ix_sales_records_due",
        table_name="sales_records",
        schema="campaigns",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_sales_records_campaign", table_name="sales_records", schema="campaigns")
    op.drop_table("sales_records", schema="campaigns")
    op.drop_table("coupon_codes", schema="campaigns")
    op.drop_table("sales_webhook_secrets", schema="campaigns")
