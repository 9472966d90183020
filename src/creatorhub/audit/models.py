"""Tables of the `audit` schema: who changed what, and what the system blocked or failed at.

Both tables are partitioned by month (retention drops whole partitions) and append-only: a
trigger refuses UPDATE and DELETE on rows (see `sql/audit_001_functions.sql`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import INET, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base

SCHEMA = "audit"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


def _sql_list(values: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in values)


class AuditLog(Base):
    """One change to one entity, with the row before and after (seed 004 `audit_logs`)."""

    __tablename__ = "audit_logs"
    __table_args__ = (
        CheckConstraint(f"severity IN ({_sql_list(Severity)})", name="severity_known"),
        Index("ix_audit_logs_entity", "entity_type", "entity_id", "created_at"),
        Index("ix_audit_logs_actor_id", "actor_id", "created_at"),
        Index("ix_audit_logs_created_at", "created_at"),
        {"schema": SCHEMA, "postgresql_partition_by": "RANGE (created_at)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )
    # No foreign key: the trail outlives the accounts it names (erasure pseudonymizes, see GDPR).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(100), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text, nullable=False, server_default=Severity.INFO.value)
    ip: Mapped[str | None] = mapped_column(INET)  # read back as ipaddress objects
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(128))


class SystemLog(Base):
    """Blocked actions and errors, in seed 000's shape (uid, source_uid, log_time, data)
    plus seed 004's level and component."""

    __tablename__ = "system_logs"
    __table_args__ = (
        CheckConstraint(f"level IN ({_sql_list(LogLevel)})", name="level_known"),
        Index("ix_system_logs_source_uid", "source_uid", "log_time"),
        Index("ix_system_logs_log_time", "log_time"),
        Index("ix_system_logs_component_level", "component", "level", "log_time"),
        {"schema": SCHEMA, "postgresql_partition_by": "RANGE (log_time)"},
    )

    uid: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    log_time: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )
    source_uid: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    level: Mapped[str] = mapped_column(Text, nullable=False, server_default=LogLevel.WARNING.value)
    component: Mapped[str] = mapped_column(String(100), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(128))
