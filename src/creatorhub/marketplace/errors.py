"""Marketplace refusals as API problems.

The workflow checks in `service` give most of them (a full job, a second claim, a closed job);
the database triggers are the last word when two requests race past those checks, and refuse
with SQLSTATEs of class `CM` (see sql/marketplace_001_triggers.sql).

Seed 000 logs every attempt to change a closed job, a released escrow or an issued refund in
`system_logs`, whichever layer refuses it. Both layers raise a `GuardedRecord` carrying the
seed's record: `translate` reads it from a trigger's DETAIL, `guard_refusal` builds the same
shape for a refusal decided in Python before any statement reached a trigger. Whoever ends the
refused unit of work writes it once, after the rollback, with `record_refusal`: the API's
exception handler below (with the request's `Idempotency-Key`, so a retried request refused
again is not logged twice) and the worker's task.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from creatorhub.audit.models import LogLevel
from creatorhub.audit.service import record_blocked
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, problem_response
from creatorhub.kit.idempotency import HEADER as IDEMPOTENCY_HEADER
from creatorhub.kit.idempotency import MAX_KEY_LENGTH
from creatorhub.ledger.errors import sqlstate_of


class MarketplaceConflict(Conflict):
    """A request the job's state refuses."""


class GuardedRecord(MarketplaceConflict):
    """A refused change to a closed or resolved record; `record` is its system log, `actor`
    who asked (None when unknown: a job, or a statement outside the API)."""

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        record: dict[str, Any],
        actor: uuid.UUID | None = None,
    ) -> None:
        super().__init__(detail, code=code)
        self.record = record
        self.actor = actor


def guard_refusal(
    detail: str,
    *,
    code: str,
    table: str,
    action: str,
    message: str,
    uid: uuid.UUID,
    old_data: dict[str, Any],
    attempted: str,
    actor: uuid.UUID | None,
) -> GuardedRecord:
    """A refusal decided in Python, with the record `marketplace.refusal()` gives a trigger's:
    the same keys, `attempted_data` naming the refused operation instead of a new row."""
    record = {
        "table": f"marketplace.{table}",
        "action": action,
        "message": message,
        "uid": str(uid),
        "attempted_at": utcnow().isoformat(),
        "old_data": old_data,
        "attempted_data": {"operation": attempted},
    }
    return GuardedRecord(detail, code=code, record=record, actor=actor)


_CODES = {
    "CM001": "job_closed",
    "CM002": "escrow_already_resolved",
    "CM003": "refund_already_issued",
    "CM004": "influencers_done_limit",
    "CM005": "claim_permanent",
}


def translate(error: DBAPIError, actor: uuid.UUID | None = None) -> GuardedRecord | None:
    state = sqlstate_of(error)
    if state not in _CODES:
        return None
    diag = getattr(error.orig, "diag", None)
    message = getattr(diag, "message_primary", None) or str(error.orig)
    raw = getattr(diag, "message_detail", None)
    try:
        record = json.loads(raw) if raw else {}
    except ValueError:
        record = {"detail": raw}
    return GuardedRecord(message, code=_CODES[state], record=record, actor=actor)


async def record_refusal(
    database: Database,
    refusal: GuardedRecord,
    actor: uuid.UUID | None,
    *,
    idempotency_key: str | None = None,
) -> bool:
    """Keep the seed's system_logs record of a refused change (prevent_* functions), in a
    transaction of its own; once per `idempotency_key` (see `audit.service.record_blocked`)."""
    return await record_blocked(
        database,
        component="marketplace",
        data={**refusal.record, "code": refusal.code},
        source_uid=actor,
        level=LogLevel.WARNING,
        idempotency_key=idempotency_key,
    )


def _idempotency_key(request: Request) -> str | None:
    """The request's key, if it is one (routes that take keys refused others before running)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or not 1 <= len(key) <= MAX_KEY_LENGTH:
        return None
    return key if all(" " <= char <= "~" for char in key) else None


def install_marketplace_handlers(app: FastAPI) -> None:
    # The one place an API refusal of a guarded record is logged: the route's transaction has
    # rolled back by the time an exception handler runs (DbSession ends with the route).
    async def guarded(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GuardedRecord)
        await record_refusal(
            request.app.state.db, exc, exc.actor, idempotency_key=_idempotency_key(request)
        )
        return problem_response(exc.status, exc.code, detail=exc.detail)

    app.add_exception_handler(GuardedRecord, guarded)
