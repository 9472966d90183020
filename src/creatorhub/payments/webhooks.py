"""Provider webhooks, applied exactly once.

The event is verified (signature, timestamp) and stored unique by (provider, event id) in the
transaction that applies its effects: a duplicate delivery finds the row (waiting for a
concurrent first delivery to commit) and changes nothing; a failure rolls back both, so the
provider's retry applies it later. Effects only move states forward, so events arriving out of
order never undo a later state.

One crediting delivery is five round trips: BEGIN, the event's INSERT, the intent's row locked,
one statement with the intent's new state, its audit row, the ledger transfer (its accounts
created there if new) and the event's outcome, and COMMIT. A funding event's statements are
built once (`creatorhub.db.Prepared`, `funding.funding_event`); the rarer payout, account and
payment method events build theirs per event.

An intent that charges a saved payment method is paid while the provider creates it, so with a
provider that calls out its event can arrive before the request has recorded the intent's
provider reference: such an event (unknown reference, but its metadata names an intent of ours
still without one) is refused 409 `webhook_too_early` and nothing is stored, so the provider
delivers it again later, when the reference is there.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import Prepared, row_params, row_values, send, table_of
from creatorhub.kit.errors import Conflict
from creatorhub.payments import funding, methods, payouts
from creatorhub.payments.changes import Change, send_change
from creatorhub.payments.models import FundingIntent, FundingStatus, PayoutStatus, WebhookEvent
from creatorhub.payments.providers.base import EventKind, PaymentProvider, ProviderEvent

FUNDING_STATES = {
    EventKind.FUNDING_PROCESSING: FundingStatus.PROCESSING,
    EventKind.FUNDING_SUCCEEDED: FundingStatus.SUCCEEDED,
    EventKind.FUNDING_FAILED: FundingStatus.FAILED,
    EventKind.FUNDING_CANCELED: FundingStatus.CANCELED,
}
PAYOUT_STATES = {
    EventKind.PAYOUT_IN_TRANSIT: PayoutStatus.IN_TRANSIT,
    EventKind.PAYOUT_PAID: PayoutStatus.PAID,
    EventKind.PAYOUT_FAILED: PayoutStatus.FAILED,
    EventKind.PAYOUT_CANCELED: PayoutStatus.CANCELED,
}


_EVENTS = table_of(WebhookEvent)
# The event stored once by (provider, event id), and its outcome: built once.
NEW_EVENT = Prepared(
    insert(_EVENTS)
    .values(row_values(_EVENTS, "event_", skip={"id", "received_at"}))
    .on_conflict_do_nothing(index_elements=["provider", "event_id"])
    .returning(_EVENTS.c.id)
)
EVENT_OUTCOME = Prepared(
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("event_row_id", type_=_EVENTS.c.id.type))
    .values(outcome=bindparam("event_row_outcome", type_=Text))
)


SETUP_KINDS = frozenset({EventKind.SETUP_SUCCEEDED, EventKind.SETUP_FAILED})


class WebhookTooEarly(Conflict):
    code = "webhook_too_early"


@dataclass(frozen=True)
class Receipt:
    event_id: str
    duplicate: bool
    outcome: str


def _failure_reason(obj: Mapping[str, Any]) -> str | None:
    for key in ("failure_message", "last_payment_error", "failure_code"):
        value = obj.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if value:
            return str(value)[:500]
    return None


async def event_change(session: AsyncSession, provider: str, event: ProviderEvent) -> Change:
    """What a payout or account event changes, worked out (rows locked) but not sent. (A
    funding event's change is `funding.funding_event`'s.)"""
    obj: Mapping[str, Any] = event.payload.get("data", {}).get("object", {})
    reference = event.object_reference
    if reference is None:
        return Change("ignored_no_object")
    if event.kind in PAYOUT_STATES:
        return await payouts.payout_status_change(
            session,
            provider=provider,
            reference=reference,
            status=PAYOUT_STATES[event.kind],
            reason=_failure_reason(obj),
        )
    if event.kind == EventKind.PAYEE_ACCOUNT_UPDATED:
        return Change(
            await payouts.apply_payee_account_update(
                session, provider=provider, reference=reference, payload=dict(obj)
            )
        )
    if event.kind in SETUP_KINDS:
        return await methods.setup_event_change(
            session, provider=provider, reference=reference, kind=event.kind, obj=obj
        )
    if event.kind == EventKind.PAYMENT_METHOD_DETACHED:
        return await methods.detached_event_change(session, provider=provider, reference=reference)
    return Change("ignored_type")


async def _reference_not_recorded_yet(
    session: AsyncSession, provider: str, obj: Mapping[str, Any]
) -> bool:
    """Whether the event's object names (in its metadata) one of our intents whose provider
    reference its request has not recorded yet."""
    metadata = obj.get("metadata")
    named = metadata.get("intent_id") if isinstance(metadata, dict) else None
    try:
        intent_id = uuid.UUID(str(named)) if named else None
    except ValueError:
        return False
    if intent_id is None:
        return False
    return bool(
        await session.scalar(
            select(
                exists().where(
                    FundingIntent.id == intent_id,
                    FundingIntent.provider == provider,
                    FundingIntent.provider_reference.is_(None),
                    FundingIntent.status == FundingStatus.REQUIRES_CONFIRMATION.value,
                )
            )
        )
    )


async def receive(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
) -> Receipt:
    """Verify, store and apply one delivery. Signature problems raise (the API answers 400)."""
    event = provider.verify_webhook(body, headers, now=now)
    stored = await send(
        session,
        NEW_EVENT.bind(
            row_params(
                "event_",
                {
                    "provider": provider.name,
                    "event_id": event.event_id,
                    "event_type": event.event_type,
                    "object_reference": event.object_reference,
                    "raw_body": body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
                    "payload": dict(event.payload),
                    "outcome": "received",
                },
            )
        ),
    )
    inserted = stored.scalar()
    if inserted is None:
        return Receipt(event.event_id, duplicate=True, outcome="duplicate")
    # The change and the event's outcome in one statement: a refusal (of the ledger, say)
    # rolls both back with the event's row, and the provider's retry applies it afresh.
    reference = event.object_reference
    if event.kind in FUNDING_STATES and reference is not None:
        obj: Mapping[str, Any] = event.payload.get("data", {}).get("object", {})
        prepared = await funding.funding_event(
            session,
            provider=provider.name,
            reference=reference,
            status=FUNDING_STATES[event.kind],
            reason=_failure_reason(obj),
        )
        if prepared.outcome == "unknown_object" and await _reference_not_recorded_yet(
            session, provider.name, obj
        ):
            raise WebhookTooEarly(
                "the intent this event is about is still being recorded: deliver it again later",
                headers={"Retry-After": "5"},
            )
        recorded = EVENT_OUTCOME.bind(
            {"event_row_id": inserted, "event_row_outcome": prepared.outcome}
        )
        outcome = await funding.send_prepared(session, prepared, recorded)
        return Receipt(event.event_id, duplicate=False, outcome=outcome)
    change = await event_change(session, provider.name, event)
    outcome = await send_change(
        session,
        change,
        update(WebhookEvent).where(WebhookEvent.id == inserted).values(outcome=change.outcome),
    )
    return Receipt(event.event_id, duplicate=False, outcome=outcome)
