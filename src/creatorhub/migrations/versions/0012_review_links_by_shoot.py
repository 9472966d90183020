"""workspace: review links indexed by shoot, for a shoot's review state.

Revision ID: 0012_review_links_by_shoot
Revises: 0011_idempotency_exact_replay
Create Date: 2026-12-08

A shoot's review state (`workspace.review_status`) reads the shoot's newest review link in the
statement that lists shoots, one lateral lookup per shoot: (shoot_id, created_at) serves it as
an index scan. It also serves the cascade of a shoot's deletion, which had only the partial
index of live links to go by.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_review_links_by_shoot"
down_revision: str | None = "0011_idempotency_exact_replay"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "idx_review_links_shoot",
        "review_links",
        ["shoot_id", "created_at"],
        schema="workspace",
    )


def downgrade() -> None:
    op.drop_index("idx_review_links_shoot", table_name="review_links", schema="workspace")
