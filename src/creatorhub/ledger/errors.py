"""Ledger refusals as API problems, recognized by the SQLSTATEs the ledger functions raise.

The PL/pgSQL functions raise class `CH` codes (see sql/ledger_001_functions.sql); `translate`
turns a database error carrying one into the matching `Problem`, so a refused transfer reaches
the client as a 4xx with a stable code and never as a 500.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import DBAPIError

from creatorhub.kit.errors import Conflict, NotFound, Problem, Unprocessable


class LedgerProblem(Problem):
    """Base of every refusal raised by the ledger."""


class InsufficientFunds(LedgerProblem, Conflict):
    code = "insufficient_funds"

    def __init__(self, detail: str | None = None, *, record: dict[str, Any] | None = None) -> None:
        super().__init__(detail or "the account does not hold enough available funds")
        # The seed-000 shaped `prevent_negative_wallet` record, for audit.system_logs.
        self.record = record or {}


class InvalidAmount(LedgerProblem, Unprocessable):
    code = "invalid_amount"


class CurrencyMismatch(LedgerProblem, Unprocessable):
    code = "currency_mismatch"


class UnknownAccount(LedgerProblem, NotFound):
    code = "account_not_found"


class HoldNotPending(LedgerProblem, Conflict):
    code = "hold_already_resolved"


class SameAccount(LedgerProblem, Unprocessable):
    code = "same_account"


class IdempotencyMismatch(LedgerProblem, Unprocessable):
    code = "idempotency_key_reused"


class PostExceedsHold(LedgerProblem, Unprocessable):
    code = "amount_exceeds_hold"


class InvalidLedgerRequest(LedgerProblem, Unprocessable):
    code = "invalid_ledger_request"


_BY_SQLSTATE: dict[str, type[LedgerProblem]] = {
    "CH002": InvalidAmount,
    "CH003": CurrencyMismatch,
    "CH004": UnknownAccount,
    "CH005": HoldNotPending,
    "CH006": SameAccount,
    "CH007": IdempotencyMismatch,
    "CH008": PostExceedsHold,
    "CH009": InvalidLedgerRequest,
}


def sqlstate_of(error: BaseException) -> str | None:
    original = getattr(error, "orig", error)
    state = getattr(original, "sqlstate", None)
    return state if isinstance(state, str) else None


def translate(error: DBAPIError) -> LedgerProblem | None:
    """The ledger problem a database error stands for, or None if it is not one of ours."""
    state = sqlstate_of(error)
    if state is None or not state.startswith("CH"):
        return None
    diag = getattr(error.orig, "diag", None)
    message = getattr(diag, "message_primary", None) or str(error.orig)
    if state == "CH001":
        raw_detail = getattr(diag, "message_detail", None)
        record: dict[str, Any] = {}
        if raw_detail:
            try:
                record = json.loads(raw_detail)
            except ValueError:
                record = {"detail": raw_detail}
        return InsufficientFunds(record=record)
    problem_type = _BY_SQLSTATE.get(state, InvalidLedgerRequest)
    return problem_type(message)
