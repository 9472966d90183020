"""A change of state a payments service has worked out but not sent: its caller sends it with
its own writes, as one statement (`creatorhub.db.together`).

A webhook, for instance, sends the funding intent's new state, its audit row, the ledger transfer
crediting the money and the event's recorded outcome in one round trip: the service that knows
the intent prepares the first three (`funding.funding_status_change`), the webhook adds the
fourth (`send_change(session, change, outcome)`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.db import together
from creatorhub.jobs import defer, job_app
from creatorhub.kit.idempotency import Responder
from creatorhub.ledger import service as ledger

# The job finishing a request that called a provider and died before it recorded the outcome
# (`creatorhub.payments.tasks.recover_call_out`). Named here, not imported: the tasks module
# imports the services.
RECOVERY_TASK = "creatorhub.payments.tasks.recover_call_out"
# Long after any live request has given up on the provider (the Stripe client: 30 s per try,
# three tries), so the job finds the request's own outcome recorded and has nothing to do.
RECOVERY_DELAY_SECONDS = 300


@dataclass(frozen=True)
class Change:
    """What happened (`outcome`, e.g. "applied_succeeded" or "ignored_failed") and the writes
    that make it so. `money` is the ledger call moving money with it, if any."""

    outcome: str
    writes: tuple[UpdateBase, ...] = ()
    money: Select[Any] | None = None


async def send_change(session: AsyncSession, change: Change, *also: UpdateBase) -> str:
    """Send the change and `also` as one statement (nothing when there is nothing to write);
    a refusal of the ledger's comes back as its problem. Returns the outcome."""
    if change.writes or also or change.money is not None:
        await ledger.send(session, together(*change.writes, *also, result=change.money))
    return change.outcome


async def defer_recovery(
    session: AsyncSession,
    operation: str,
    target_id: uuid.UUID,
    answer: Responder | None,
    *,
    answer_as: str | None = None,
) -> dict[str, str]:
    """Queue, with the intent it recovers, the job that finishes `operation` should the
    request die between its provider call and the outcome; returns the recovery record the
    request's key carries while it is in flight (`Responder.hold`). `answer_as` names the
    answer the job stores for the request, when the operation's answer depends on the route
    (`funding.register_answer`)."""
    key = answer.recovery_key if answer is not None else None
    extra = {"answer_as": answer_as} if answer_as is not None else {}
    await defer(
        session,
        job_app.configure_task(RECOVERY_TASK, schedule_in={"seconds": RECOVERY_DELAY_SECONDS}),
        operation=operation,
        target_id=str(target_id),
        scope=key[0] if key else None,
        key=key[1] if key else None,
        **extra,
    )
    return {"operation": operation, "target_id": str(target_id)}


async def hold(
    session: AsyncSession,
    answer: Responder | None,
    *writes: UpdateBase,
    recovery: dict[str, str],
) -> None:
    """`answer.hold(...)`, or for a caller without a Responder the same writes and commit."""
    if answer is not None:
        await answer.hold(session, *writes, recovery=recovery)
        return
    if writes:
        await session.execute(together(*writes))
    await session.commit()


def stored(answer: Responder | None, status_code: int, body: Any) -> tuple[UpdateBase, ...]:
    """The statement storing the answer, as a tuple to splice into `together(...)`."""
    if answer is None:
        return ()
    statement = answer.stored_answer(status_code, body)
    return (statement,) if statement is not None else ()


def forgotten(answer: Responder | None) -> tuple[UpdateBase, ...]:
    """The statement forgetting a held key, as a tuple to splice into `together(...)`."""
    statement = answer.forget_statement() if answer is not None else None
    return (statement,) if statement is not None else ()
