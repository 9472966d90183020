"""one advertiser verification: identity.brand_profiles loses its verification_status.

The platform verifies an advertiser in `campaigns.advertiser_details` (seed 002's table, with
the workflow: unverified → pending → verified or rejected by an administrator). The brand
profile's own column was never written by any workflow, so it said `unverified` of brands
the campaigns' status called verified: one status, kept where it is decided.

Revision ID: 0019_one_advertiser_verification
Revises: 0018_views_one_foreign_key
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_one_advertiser_verification"
down_revision: str | None = "0018_views_one_foreign_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(
        op.f("ck_brand_profiles_verification_known"),
        "brand_profiles",
        schema="identity",
        type_="check",
    )
    op.drop_column("brand_profiles", "verification_status", schema="identity")


def downgrade() -> None:
    op.add_column(
        "brand_profiles",
        sa.Column("verification_status", sa.Text(), server_default="unverified", nullable=False),
        schema="identity",
    )
    op.create_check_constraint(
        op.f("ck_brand_profiles_verification_known"),
        "brand_profiles",
        "verification_status IN ('unverified', 'pending', 'verified', 'rejected')",
        schema="identity",
    )
