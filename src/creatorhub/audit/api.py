"""Routes of the audit module: administrators read the trail and the system logs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from creatorhub.audit import service
from creatorhub.audit.schemas import AuditLogOut, AuditLogPage, SystemLogOut
from creatorhub.db import DbSession
from creatorhub.identity.deps import AdminPrincipal
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.pagination import decode_cursor, encode_cursor

router = APIRouter(
    prefix="/v1/admin", tags=["admin"], responses=problem_responses(400, 401, 403, 422)
)

Name = Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")]


@router.get("/audit-logs", summary="The audit trail, newest first (cursor pagination)")
async def list_audit_logs(
    principal: AdminPrincipal,
    session: DbSession,
    entity_type: Name = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    actor_id: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditLogPage:
    rows = await service.list_audit_logs(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        actor_id=actor_id,
        before=decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    page, more = rows[:limit], len(rows) > limit
    return AuditLogPage(
        items=[AuditLogOut.model_validate(row, from_attributes=True) for row in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


@router.get("/system-logs", summary="Blocked actions and errors, newest first")
async def list_system_logs(
    principal: AdminPrincipal,
    session: DbSession,
    component: Name = None,
    action: Name = None,
    source_uid: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SystemLogOut]:
    rows = await service.list_system_logs(
        session, component=component, action=action, source_uid=source_uid, limit=limit
    )
    return [SystemLogOut.model_validate(row, from_attributes=True) for row in rows]
