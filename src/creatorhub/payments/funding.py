"""Funding: money brought in through a provider, credited only when the provider confirms.

An intent is created (`requires_confirmation`), confirmed (`processing`), and settles as
`succeeded`, `failed` or `canceled` when the provider's webhook says so. Only `succeeded` moves
money: provider clearing → the payer's available wallet, or the escrow of the job or campaign
the intent funds. States only move forward, so a late or repeated event changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind
from creatorhub.ledger.service import TransferSpec
from creatorhub.payments.models import FundingIntent, FundingStatus
from creatorhub.payments.providers.base import PaymentProvider

STATE_RANK = {
    FundingStatus.REQUIRES_CONFIRMATION: 0,
    FundingStatus.PROCESSING: 1,
    FundingStatus.SUCCEEDED: 2,
    FundingStatus.FAILED: 2,
    FundingStatus.CANCELED: 2,
}


@dataclass(frozen=True)
class FundingTarget:
    """Where confirmed money goes, once a module has checked the payer may fund it."""

    escrow_account_id: uuid.UUID


# A module that can be funded (marketplace jobs, campaigns) registers two things:
# * `resolve(session, payer id, object id, currency, amount)`, asked when an intent is created:
#   it refuses (raises a Problem) what may not be funded and says where the money would go;
# * `credited(session, intent)`, asked when the provider confirms: where the money goes now, or
#   None when the object can no longer take it (already funded another way, closed), in which
#   case it goes to the payer's wallet: confirmed money is never refused or lost.
TargetResolver = Callable[[AsyncSession, uuid.UUID, uuid.UUID, str, int], Awaitable[FundingTarget]]
CreditHandler = Callable[[AsyncSession, FundingIntent], Awaitable[FundingTarget | None]]


@dataclass(frozen=True)
class TargetHandlers:
    resolve: TargetResolver
    credited: CreditHandler | None = None


TARGET_RESOLVERS: dict[str, TargetHandlers] = {}


def register_target(
    target_type: str, resolver: TargetResolver, credited: CreditHandler | None = None
) -> None:
    TARGET_RESOLVERS[target_type] = TargetHandlers(resolver, credited)


async def create_intent(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    user_id: uuid.UUID,
    amount: int,
    currency: str,
    target_type: str = "wallet",
    target_id: uuid.UUID | None = None,
) -> FundingIntent:
    if target_type != "wallet":
        handlers = TARGET_RESOLVERS.get(target_type)
        if handlers is None or target_id is None:
            raise Unprocessable(
                f"cannot fund a {target_type!r} here",
                code="unknown_funding_target",
                field="body.target_type",
            )
        # Refuses what may not be funded.
        await handlers.resolve(session, user_id, target_id, currency, amount)
    # The provider's intent first, so the row is written once with its reference. Should this
    # transaction fail after it, the provider holds an intent nobody confirms: no money moves.
    intent_id = uuid.uuid4()
    answer = await provider.create_funding_intent(
        intent_id=intent_id,
        amount=amount,
        currency=currency,
        customer_reference=None,
        metadata={"funding_intent_id": str(intent_id), "user_id": str(user_id)},
    )
    intent = FundingIntent(
        id=intent_id,
        user_id=user_id,
        amount=amount,
        currency=currency,
        target_type=target_type,
        target_id=target_id if target_type != "wallet" else None,
        provider=provider.name,
        provider_reference=answer.reference,
    )
    session.add(intent)
    await session.flush()
    await record_change(
        session,
        action="funding.create",
        entity_type="funding_intent",
        entity_id=intent.id,
        actor_id=user_id,
        after=snapshot(intent),
    )
    return intent


async def get_own_intent(
    session: AsyncSession, intent_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> FundingIntent:
    query = select(FundingIntent).where(
        FundingIntent.id == intent_id, FundingIntent.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    intent = await session.scalar(query.execution_options(populate_existing=True))
    if intent is None:
        raise NotFound("no such funding intent", code="funding_intent_not_found")
    return intent


async def confirm_intent(
    session: AsyncSession, provider: PaymentProvider, intent: FundingIntent
) -> FundingIntent:
    """Ask the provider to charge; the outcome arrives by webhook."""
    if intent.status != FundingStatus.REQUIRES_CONFIRMATION:
        raise Conflict(
            f"the intent is {intent.status}, not awaiting confirmation",
            code="funding_intent_not_confirmable",
        )
    assert intent.provider_reference is not None
    await provider.confirm_funding_intent(
        intent.provider_reference, amount=intent.amount, currency=intent.currency
    )
    intent.status = FundingStatus.PROCESSING
    await session.flush()
    return intent


async def _credit(session: AsyncSession, intent: FundingIntent) -> None:
    clearing = await ledger.platform_account(
        session, AccountKind.PROVIDER_CLEARING, intent.currency
    )
    destination: uuid.UUID | None = None
    if intent.target_type != "wallet":
        assert intent.target_id is not None
        handlers = TARGET_RESOLVERS[intent.target_type]
        if handlers.credited is not None:
            target = await handlers.credited(session, intent)
        else:
            target = await handlers.resolve(
                session, intent.user_id, intent.target_id, intent.currency, intent.amount
            )
        destination = target.escrow_account_id if target is not None else None
    if destination is None:
        destination = await ledger.user_account(session, intent.user_id, intent.currency)
    await ledger.transfer(
        session,
        TransferSpec(
            debit_account_id=clearing,
            credit_account_id=destination,
            amount=intent.amount,
            kind="funding",
            idempotency_key=f"funding_intent:{intent.id}",
            currency=intent.currency,
            reference_type="funding_intent",
            reference_id=str(intent.id),
        ),
    )


async def apply_provider_status(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    status: FundingStatus,
    reason: str | None = None,
) -> str:
    """Move the intent forward to `status` (from a webhook). Returns what happened."""
    intent = await session.scalar(
        select(FundingIntent)
        .where(FundingIntent.provider == provider, FundingIntent.provider_reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if intent is None:
        return "unknown_object"
    current = FundingStatus(intent.status)
    if STATE_RANK[status] <= STATE_RANK[current]:
        return f"ignored_{current}"  # repeated, late or out of order: never backwards
    before = snapshot(intent)
    intent.status = status
    if status == FundingStatus.SUCCEEDED:
        intent.succeeded_at = utcnow()
        await _credit(session, intent)
    elif status in (FundingStatus.FAILED, FundingStatus.CANCELED):
        intent.failure_reason = reason
    await record_change(
        session,
        action=f"funding.{status}",
        entity_type="funding_intent",
        entity_id=intent.id,
        actor_id=None,
        before=before,
        after=snapshot(intent),
    )
    await session.flush()
    return f"applied_{status}"
