"""Provider webhooks, applied exactly once.

The event is verified (signature, timestamp) and stored unique by (provider, event id) in the
transaction that applies its effects: a duplicate delivery finds the row (waiting for a
concurrent first delivery to commit) and changes nothing; a failure rolls back both, so the
provider's retry applies it later. Effects only move states forward, so events arriving out of
order never undo a later state.

One crediting delivery is five round trips: BEGIN, the event's INSERT, the intent's row locked,
one statement with the intent's new state, its audit row, the ledger transfer (its accounts
created there if new) and the event's outcome, and COMMIT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.payments import funding, payouts
from creatorhub.payments.changes import Change, send_change
from creatorhub.payments.models import FundingStatus, PayoutStatus, WebhookEvent
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
    """What the event changes, worked out (rows locked) but not sent."""
    obj: Mapping[str, Any] = event.payload.get("data", {}).get("object", {})
    reference = event.object_reference
    if reference is None:
        return Change("ignored_no_object")
    if event.kind in FUNDING_STATES:
        return await funding.funding_status_change(
            session,
            provider=provider,
            reference=reference,
            status=FUNDING_STATES[event.kind],
            reason=_failure_reason(obj),
        )
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
    return Change("ignored_type")


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
    inserted = await session.scalar(
        insert(WebhookEvent)
        .values(
            provider=provider.name,
            event_id=event.event_id,
            event_type=event.event_type,
            object_reference=event.object_reference,
            raw_body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
            payload=dict(event.payload),
            outcome="received",
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(WebhookEvent.id)
    )
    if inserted is None:
        return Receipt(event.event_id, duplicate=True, outcome="duplicate")
    change = await event_change(session, provider.name, event)
    recorded = (
        update(WebhookEvent).where(WebhookEvent.id == inserted).values(outcome=change.outcome)
    )
    # The change and the event's outcome in one statement: a refusal (of the ledger, say)
    # rolls both back with the event's row, and the provider's retry applies it afresh.
    outcome = await send_change(session, change, recorded)
    return Receipt(event.event_id, duplicate=False, outcome=outcome)
