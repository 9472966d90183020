"""giveaways: comment imports from a connected account (issue 16), one page at a time.

* `comment_imports`: a draw's comments being read from the host's Instagram or Facebook
  connection, with where it stands (`next_cursor`: the platform's `after` cursor or next-page
  URL) so that a rate limit (`waiting` until `retry_at`) resumes it instead of restarting it;
  at most one import running or waiting per draw (a partial unique index).

Revision ID: 0027_comment_imports
Revises: 0026_draw_videos
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_comment_imports"
down_revision: str | None = "0026_draw_videos"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FLIGHT = "status IN ('running', 'waiting')"


def upgrade() -> None:
    op.create_table(
        "comment_imports",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("draw_id", sa.UUID(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("media_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="running", nullable=False),
        sa.Column("next_cursor", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("imported", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duplicates", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "started_at",
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
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'waiting') = (retry_at IS NOT NULL)",
            name=op.f("ck_comment_imports_retry_at_waiting"),
        ),
        sa.CheckConstraint(
            "platform IN ('instagram', 'facebook')",
            name=op.f("ck_comment_imports_platform_known"),
        ),
        sa.CheckConstraint(
            "status IN ('running', 'waiting', 'completed', 'failed')",
            name=op.f("ck_comment_imports_status_known"),
        ),
        sa.CheckConstraint(
            "pages >= 0 AND imported >= 0 AND duplicates >= 0",
            name=op.f("ck_comment_imports_counts_nonneg"),
        ),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["giveaways.draws.id"],
            name=op.f("fk_comment_imports_draw_id_draws"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_imports")),
        schema="giveaways",
    )
    op.create_index(
        "ix_comment_imports_draw_id",
        "comment_imports",
        ["draw_id", "started_at"],
        unique=False,
        schema="giveaways",
    )
    op.create_index(
        "uq_comment_imports_in_flight",
        "comment_imports",
        ["draw_id"],
        unique=True,
        schema="giveaways",
        postgresql_where=sa.text(IN_FLIGHT),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_comment_imports_in_flight",
        table_name="comment_imports",
        schema="giveaways",
        postgresql_where=sa.text(IN_FLIGHT),
    )
    op.drop_index("ix_comment_imports_draw_id", table_name="comment_imports", schema="giveaways")
    op.drop_table("comment_imports", schema="giveaways")
