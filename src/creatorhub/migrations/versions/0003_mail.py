"""mail: the outbox every e-mail passes through.

Revision ID: 0003_mail
Revises: 0002_audit
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_mail"
down_revision: str | None = "0002_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "mail"


def upgrade() -> None:
    op.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    op.create_table(
        "outbox",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID()),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'logged', 'failed')", name=op.f("ck_outbox_status_known")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_nonneg")),
        sa.CheckConstraint(
            "(status IN ('sent', 'logged')) = (sent_at IS NOT NULL)",
            name=op.f("ck_outbox_sent_at_iff_sent"),
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_outbox_user_id", "outbox", ["user_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("outbox", schema=SCHEMA)
    op.execute(sa.text(f"DROP SCHEMA {SCHEMA}"))
