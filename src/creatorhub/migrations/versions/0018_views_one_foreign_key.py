"""campaign views: one foreign key (promoter campaign, campaign) instead of one per column.

A view's campaign must be its promoter campaign's: the composite key says so, and checks it
once per inserted view where the two keys checked twice (half the bulk insert's time went to
those checks in bench/views.py). promoter_campaigns gains the unique (id, campaign_id) it
refers to.

Revision ID: 0018_views_one_foreign_key
Revises: 0017_campaign_tracking
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018_views_one_foreign_key"
down_revision: str | None = "0017_campaign_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_unique_constraint(
        op.f("uq_promoter_campaigns_id_campaign_id"),
        "promoter_campaigns",
        ["id", "campaign_id"],
        schema="campaigns",
    )
    op.drop_constraint(
        op.f("fk_views_campaign_id_campaigns"), "views", schema="campaigns", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_views_promoter_campaign_id_promoter_campaigns"),
        "views",
        schema="campaigns",
        type_="foreignkey",
    )
    op.create_foreign_key(
        op.f("fk_views_promoter_campaign_id_promoter_campaigns"),
        "views",
        "promoter_campaigns",
        ["promoter_campaign_id", "campaign_id"],
        ["id", "campaign_id"],
        source_schema="campaigns",
        referent_schema="campaigns",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_views_promoter_campaign_id_promoter_campaigns"),
        "views",
        schema="campaigns",
        type_="foreignkey",
    )
    op.create_foreign_key(
        op.f("fk_views_promoter_campaign_id_promoter_campaigns"),
        "views",
        "promoter_campaigns",
        ["promoter_campaign_id"],
        ["id"],
        source_schema="campaigns",
        referent_schema="campaigns",
    )
    op.create_foreign_key(
        op.f("fk_views_campaign_id_campaigns"),
        "views",
        "campaigns",
        ["campaign_id"],
        ["id"],
        source_schema="campaigns",
        referent_schema="campaigns",
    )
    op.drop_constraint(
        op.f("uq_promoter_campaigns_id_campaign_id"),
        "promoter_campaigns",
        schema="campaigns",
        type_="unique",
    )
