"""audit: the append-only audit trail and system logs, partitioned by month.

Revision ID: 0002_audit
Revises: 0001_identity
Create Date: 2026-11-21

Each table gets a `<table>_default` partition (rows outside every monthly partition land there
instead of failing the insert they are part of) and the partitions of the current month and the
next two; a periodic job must keep creating the months ahead with
`audit.ensure_monthly_partitions`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from creatorhub.migrate import execute_script, load_sql

revision: str = "0002_audit"
down_revision: str | None = "0001_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "audit"
TABLES = ("audit_logs", "system_logs")


def upgrade() -> None:
    op.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))

    op.create_table(
        "audit_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.UUID()),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=False),
        sa.Column("entity_id", sa.String(200)),
        sa.Column("before", postgresql.JSONB()),
        sa.Column("after", postgresql.JSONB()),
        sa.Column("description", sa.Text()),
        sa.Column("severity", sa.Text(), server_default="info", nullable=False),
        sa.Column("ip", postgresql.INET()),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("request_id", sa.String(128)),
        # The partition key must be part of every unique constraint of a partitioned table.
        sa.PrimaryKeyConstraint("id", "created_at", name=op.f("pk_audit_logs")),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical')", name=op.f("ck_audit_logs_severity_known")
        ),
        schema=SCHEMA,
        postgresql_partition_by="RANGE (created_at)",
    )
    op.create_index(
        "ix_audit_logs_entity",
        "audit_logs",
        ["entity_type", "entity_id", "created_at"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_audit_logs_actor_id", "audit_logs", ["actor_id", "created_at"], schema=SCHEMA
    )
    op.create_index("ix_audit_logs_created_at", "audit_logs", ["created_at"], schema=SCHEMA)

    op.create_table(
        "system_logs",
        sa.Column("uid", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "log_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("source_uid", sa.UUID()),
        sa.Column("level", sa.Text(), server_default="warning", nullable=False),
        sa.Column("component", sa.String(100), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.PrimaryKeyConstraint("uid", "log_time", name=op.f("pk_system_logs")),
        sa.CheckConstraint(
            "level IN ('debug', 'info', 'warning', 'error', 'critical')",
            name=op.f("ck_system_logs_level_known"),
        ),
        schema=SCHEMA,
        postgresql_partition_by="RANGE (log_time)",
    )
    op.create_index(
        "ix_system_logs_source_uid", "system_logs", ["source_uid", "log_time"], schema=SCHEMA
    )
    op.create_index("ix_system_logs_log_time", "system_logs", ["log_time"], schema=SCHEMA)
    op.create_index(
        "ix_system_logs_component_level",
        "system_logs",
        ["component", "level", "log_time"],
        schema=SCHEMA,
    )

    execute_script(op.get_bind(), load_sql("creatorhub.audit", "audit_001_functions.sql"))
    for table in TABLES:
        # A row trigger on the partitioned table is cloned onto every partition, present and
        # future, so no partition can be written around it.
        op.execute(
            sa.text(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.{table}"
                f" FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.forbid_row_change()"
            )
        )
        op.execute(
            sa.text(f"CREATE TABLE {SCHEMA}.{table}_default PARTITION OF {SCHEMA}.{table} DEFAULT")
        )
        op.execute(
            sa.text(
                f"SELECT {SCHEMA}.ensure_monthly_partitions('{SCHEMA}.{table}'::regclass,"
                " (now() AT TIME ZONE 'UTC')::date, 3)"
            )
        )


def downgrade() -> None:
    # Dropping a partitioned table drops its partitions, whatever months were created since.
    for table in reversed(TABLES):
        op.drop_table(table, schema=SCHEMA)
    op.execute(
        sa.text(f"DROP FUNCTION {SCHEMA}.ensure_monthly_partitions(regclass, date, integer)")
    )
    op.execute(sa.text(f"DROP FUNCTION {SCHEMA}.forbid_row_change()"))
    op.execute(sa.text(f"DROP SCHEMA {SCHEMA}"))
