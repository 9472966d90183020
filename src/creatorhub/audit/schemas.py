"""API shapes of the audit module (read by administrators)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, IPvAnyAddress


class AuditLogOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    description: str | None
    severity: str
    ip: IPvAnyAddress | None
    user_agent: str | None
    request_id: str | None


class AuditLogPage(BaseModel):
    items: list[AuditLogOut]
    next_cursor: str | None


class SystemLogOut(BaseModel):
    uid: uuid.UUID
    log_time: datetime
    source_uid: uuid.UUID | None
    level: str
    component: str
    data: dict[str, Any]
    request_id: str | None
