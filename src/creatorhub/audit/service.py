"""Recording the audit trail and system logs, for every module.

* `record_change` writes an audit row in the caller's transaction, so the record exists if and
  only if the change it describes committed. `change_insert` is that row as a statement to
  send with the change; `CHANGE` / `change_bound` the same built once, for the hot paths
  (`creatorhub.db.Prepared`).
* `record_system_log` writes a system log in the caller's transaction (an error noted while work
  goes on).
* `record_blocked` writes a system log in a transaction of its own, for refusals: the request
  that was refused rolls back, but the record of the attempt must stay. Given the request's
  `Idempotency-Key`, a retry refused again is not logged twice (one attempt, one record).

Request id, client IP and user agent come from the request context; callers pass only what the
change was.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Insert, bindparam, insert, inspect, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.models import AuditLog, LogLevel, Severity, SystemLog
from creatorhub.db import Bound, Database, Prepared, table_of
from creatorhub.kit.request_context import current_request

log = structlog.get_logger(__name__)

# Never copied into the trail, whatever table they are in.
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "access_token", "refresh_token"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def snapshot(entity: Any, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The mapped columns of an ORM object as JSON-ready values, secrets left out."""
    skipped = SECRET_COLUMNS | set(exclude)
    mapper = inspect(entity).mapper
    return {
        attr.key: _jsonable(getattr(entity, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in skipped
    }


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, so the trail shows what changed, not whole rows."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


async def record_change(
    session: AsyncSession,
    *,
    action: str,
    entity_type: str,
    entity_id: str | uuid.UUID | None,
    actor_id: uuid.UUID | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    description: str | None = None,
    severity: Severity = Severity.INFO,
) -> None:
    session.add(
        AuditLog(
            **_change_row(
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                actor_id=actor_id,
                before=before,
                after=after,
                description=description,
                severity=severity,
            )
        )
    )
    await session.flush()


# A row's image: a mapping, or (for `change_insert`) a SQL expression giving its JSON.
Image = Mapping[str, Any] | ColumnElement[Any] | None


def change_insert(
    *,
    action: str,
    entity_type: str,
    entity_id: str | uuid.UUID | None,
    actor_id: uuid.UUID | None,
    before: Image = None,
    after: Image = None,
    description: str | None = None,
    severity: Severity = Severity.INFO,
) -> Insert:
    """`record_change` as a statement, for a workflow that sends its audit row in the statement
    that makes the change (as a CTE of it): the same row, without a round trip of its own, and
    still in the change's transaction. `before`/`after` may be SQL, e.g. the changed row as
    JSON (`to_jsonb`) from the change's RETURNING, when the database writes part of it."""
    return insert(AuditLog).values(
        **_change_row(
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_id=actor_id,
            before=before,
            after=after,
            description=description,
            severity=severity,
        )
    )


_AUDIT_LOGS = table_of(AuditLog)
# The columns a change row sets (the id and the time are the database's).
CHANGE_COLUMNS = (
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "description",
    "severity",
    "ip",
    "user_agent",
    "request_id",
)


def prepared_change(prefix: str = "audit_", **sql: ColumnElement[Any]) -> Insert:
    """`change_insert` to build once (`creatorhub.db.Prepared`): every value a bind parameter
    named `prefix` + its column, but those given here as SQL of the statement it goes in (the
    changed row's image from its RETURNING, say). `change_params` gives the values."""
    unknown = set(sql) - set(CHANGE_COLUMNS)
    if unknown:
        raise ValueError(f"an audit row has no columns {sorted(unknown)}")
    return insert(_AUDIT_LOGS).values(
        {
            name: sql[name]
            if name in sql
            else bindparam(prefix + name, type_=_AUDIT_LOGS.c[name].type)
            for name in CHANGE_COLUMNS
        }
    )


def change_params(
    prefix: str = "audit_",
    *,
    action: str,
    entity_type: str,
    entity_id: str | uuid.UUID | None,
    actor_id: uuid.UUID | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    description: str | None = None,
    severity: Severity = Severity.INFO,
    sql: Iterable[str] = (),
) -> dict[str, Any]:
    """The values of a `prepared_change(prefix, ...)` (the columns in `sql` are its own):
    the same row `change_insert` writes, request context included."""
    row = _change_row(
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        actor_id=actor_id,
        before=before,
        after=after,
        description=description,
        severity=severity,
    )
    skipped = set(sql)
    return {prefix + name: value for name, value in row.items() if name not in skipped}


# The audit row of a change, built once.
CHANGE = Prepared(prepared_change())


def change_bound(
    *,
    action: str,
    entity_type: str,
    entity_id: str | uuid.UUID | None,
    actor_id: uuid.UUID | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    description: str | None = None,
    severity: Severity = Severity.INFO,
) -> Bound:
    """`change_insert` built once, with this change's values (parameters `audit_…`), for
    `creatorhub.db.together_prepared`."""
    return CHANGE.bind(
        change_params(
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            actor_id=actor_id,
            before=before,
            after=after,
            description=description,
            severity=severity,
        )
    )


def _image(value: Image) -> Any:
    if value is None or isinstance(value, ColumnElement):
        return value
    return _jsonable(value)


def _change_row(
    *,
    action: str,
    entity_type: str,
    entity_id: str | uuid.UUID | None,
    actor_id: uuid.UUID | None,
    before: Image,
    after: Image,
    description: str | None,
    severity: Severity,
) -> dict[str, Any]:
    context = current_request()
    return {
        "actor_id": actor_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id) if entity_id is not None else None,
        "before": _image(before),
        "after": _image(after),
        "description": description,
        "severity": severity.value,
        "ip": context.ip if context else None,
        "user_agent": context.user_agent if context else None,
        "request_id": context.request_id if context else None,
    }


def _system_log(
    *,
    component: str,
    data: Mapping[str, Any],
    source_uid: uuid.UUID | None,
    level: LogLevel,
) -> SystemLog:
    context = current_request()
    return SystemLog(
        component=component,
        data=_jsonable(data),
        source_uid=source_uid,
        level=level.value,
        request_id=context.request_id if context else None,
    )


async def record_system_log(
    session: AsyncSession,
    *,
    component: str,
    data: Mapping[str, Any],
    source_uid: uuid.UUID | None = None,
    level: LogLevel = LogLevel.WARNING,
) -> None:
    session.add(_system_log(component=component, data=data, source_uid=source_uid, level=level))
    await session.flush()


def _retry_lock_key(component: str, source_uid: uuid.UUID | None, idempotency_key: str) -> int:
    digest = hashlib.sha256()
    for part in ("audit.system_logs", component, str(source_uid), idempotency_key):
        # Length-prefixed, so no two different triples hash the same bytes.
        digest.update(len(part.encode()).to_bytes(8, "big"))
        digest.update(part.encode())
    return int.from_bytes(digest.digest()[:8], "big", signed=True)


async def record_blocked(
    database: Database,
    *,
    component: str,
    data: Mapping[str, Any],
    source_uid: uuid.UUID | None = None,
    level: LogLevel = LogLevel.WARNING,
    idempotency_key: str | None = None,
) -> bool:
    """A refused action, kept even though the refused request's transaction rolls back.

    Written in a short transaction of its own, after the refused one ended. With the refused
    request's `idempotency_key`, a retry of that request refused the same way (same source,
    key, `action` and `uid`) is the same attempt and is not logged again: the key is kept in
    the record, and an advisory lock on (component, source, key) makes two refusals of one key
    that finish at once write one record between them (the request's own key lock is gone by
    then, released with its rollback). Returns whether a record was written.

    Failure to write it is logged and swallowed: the refusal itself must still reach the
    client as the 4xx it is.
    """
    record = dict(data)
    if idempotency_key is not None:
        record["idempotency_key"] = idempotency_key
    try:
        async with database.session_scope() as session:
            if idempotency_key is not None:
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _retry_lock_key(component, source_uid, idempotency_key)},
                )
                # A statement after the lock: its snapshot sees a record committed meanwhile.
                seen = await session.scalar(
                    select(SystemLog.uid)
                    .where(
                        SystemLog.component == component,
                        SystemLog.source_uid.is_not_distinct_from(source_uid),
                        SystemLog.data["idempotency_key"].astext == idempotency_key,
                        SystemLog.data["action"].astext.is_not_distinct_from(
                            _text_or_none(record.get("action"))
                        ),
                        SystemLog.data["uid"].astext.is_not_distinct_from(
                            _text_or_none(record.get("uid"))
                        ),
                    )
                    .limit(1)
                )
                if seen is not None:
                    return False
            session.add(
                _system_log(component=component, data=record, source_uid=source_uid, level=level)
            )
        return True
    except Exception:
        log.exception("system_log_write_failed", component=component, data=_jsonable(record))
        return False


def _text_or_none(value: Any) -> str | None:
    """A JSON value as `->>` reads it back (None for a missing key or JSON null)."""
    value = _jsonable(value)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


async def list_audit_logs(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    before: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> list[AuditLog]:
    """Newest first; `before` is the (created_at, id) cursor of the last row already seen."""
    query = select(AuditLog).order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)
    if entity_type is not None:
        query = query.where(AuditLog.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditLog.entity_id == entity_id)
    if actor_id is not None:
        query = query.where(AuditLog.actor_id == actor_id)
    if before is not None:
        query = query.where(tuple_(AuditLog.created_at, AuditLog.id) < before)
    return list((await session.scalars(query)).all())


async def list_system_logs(
    session: AsyncSession,
    *,
    component: str | None = None,
    action: str | None = None,
    source_uid: uuid.UUID | None = None,
    limit: int = 50,
) -> list[SystemLog]:
    query = select(SystemLog).order_by(SystemLog.log_time.desc(), SystemLog.uid.desc()).limit(limit)
    if component is not None:
        query = query.where(SystemLog.component == component)
    if action is not None:
        query = query.where(SystemLog.data["action"].astext == action)
    if source_uid is not None:
        query = query.where(SystemLog.source_uid == source_uid)
    return list((await session.scalars(query)).all())
