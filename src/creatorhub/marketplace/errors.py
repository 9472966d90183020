"""Marketplace refusals as API problems.

The workflow checks in `service` give most of them (a full job, a second claim, a closed job);
the database triggers are the last word when two requests race past those checks, and refuse
with SQLSTATEs of class `CM` (see sql/marketplace_001_triggers.sql). `translate` turns those
into the same problems, carrying the seed's system_logs record, which `record_refusal` writes in
a transaction of its own (the refused one rolls back).
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
from creatorhub.kit.errors import Conflict, problem_response
from creatorhub.ledger.errors import sqlstate_of


class MarketplaceConflict(Conflict):
    """A request the job's state refuses."""


class GuardedRecord(MarketplaceConflict):
    """A trigger refused to change a closed or resolved record; `record` is its system log."""

    def __init__(self, detail: str, *, code: str, record: dict[str, Any]) -> None:
        super().__init__(detail, code=code)
        self.record = record


_CODES = {
    "CM001": "job_closed",
    "CM002": "escrow_already_resolved",
    "CM003": "refund_already_issued",
    "CM004": "influencers_done_limit",
    "CM005": "claim_permanent",
}


def translate(error: DBAPIError) -> GuardedRecord | None:
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
    return GuardedRecord(message, code=_CODES[state], record=record)


async def record_refusal(
    database: Database, refusal: GuardedRecord, actor: uuid.UUID | None
) -> None:
    """Keep the seed's system_logs record of a refused change (prevent_* functions)."""
    await record_blocked(
        database,
        component="marketplace",
        data={**refusal.record, "code": refusal.code},
        source_uid=actor,
        level=LogLevel.WARNING,
    )


def install_marketplace_handlers(app: FastAPI) -> None:
    async def guarded(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GuardedRecord)
        actor = getattr(request.state, "principal_id", None)
        await record_refusal(request.app.state.db, exc, actor)
        return problem_response(exc.status, exc.code, detail=exc.detail)

    app.add_exception_handler(GuardedRecord, guarded)
