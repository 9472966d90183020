"""campaign tracking: the campaign's counted views (kept under its row's lock by each counted
click, so that max_views can never be passed), and the visitor's hash across campaigns that the
click rate limit counts.

Revision ID: 0017_campaign_tracking
Revises: 0015_campaigns
Create Date: 2026-12-07

Drafted by autogenerate from creatorhub.campaigns.models and checked by hand (the CHECK
constraint added by hand: autogenerate does not see them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_campaign_tracking"
down_revision: str | None = "0015_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("views_counted", sa.BigInteger(), server_default="0", nullable=False),
        schema="campaigns",
    )
    op.create_check_constraint(
        op.f("ck_campaigns_views_counted_within_max"),
        "campaigns",
        "views_counted >= 0 AND (max_views IS NULL OR views_counted <= max_views)",
        schema="campaigns",
    )
    op.add_column(
        "views", sa.Column("source_hash", sa.LargeBinary(), nullable=True), schema="campaigns"
    )
    op.create_index(
        "ix_views_source_recent",
        "views",
        ["source_hash", "occurred_at"],
        unique=False,
        schema="campaigns",
        postgresql_where=sa.text("source_hash IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_views_source_recent", table_name="views", schema="campaigns")
    op.drop_column("views", "source_hash", schema="campaigns")
    op.drop_constraint(
        op.f("ck_campaigns_views_counted_within_max"), "campaigns", schema="campaigns"
    )
    op.drop_column("campaigns", "views_counted", schema="campaigns")
