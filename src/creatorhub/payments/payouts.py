"""Payouts: from a payee's available balance to their payout account at the provider.

    pending ──submit──▶ in_transit ──▶ paid
       │                    └────────▶ failed
       └──▶ canceled

Requesting a payout moves the money at once from the available wallet to the platform's
"payouts in transit" account, so it cannot be spent twice. `paid` sends it on to the provider
clearing account (it has left the platform); `failed` and `canceled` return it to the available
wallet at once, without a new holding period. The provider's idempotency key is derived from the
payout id, so a retried submission never pays twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.models import Severity
from creatorhub.audit.service import record_change, snapshot
from creatorhub.config import Settings
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.ledger.models import AccountKind
from creatorhub.ledger.service import TransferSpec
from creatorhub.payments.models import Payout, PayoutAccount, PayoutStatus
from creatorhub.payments.providers.base import PaymentProvider, ProviderError

STATE_RANK = {
    PayoutStatus.PENDING: 0,
    PayoutStatus.IN_TRANSIT: 1,
    PayoutStatus.PAID: 2,
    PayoutStatus.FAILED: 2,
    PayoutStatus.CANCELED: 2,
}

# Products that keep their own record of what a payee earned (marketplace `influencer_payouts`)
# register here to learn, in the same transaction, that a payout has carried money out.
PaidListener = Callable[[AsyncSession, Payout], Awaitable[object]]
PAID_LISTENERS: list[PaidListener] = []


def on_payout_paid(listener: PaidListener) -> None:
    if listener not in PAID_LISTENERS:
        PAID_LISTENERS.append(listener)


# --- payout accounts -----------------------------------------------------------------------


async def create_payout_account(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    user_id: uuid.UUID,
    email: str,
    country: str,
) -> PayoutAccount:
    existing = await session.scalar(
        select(PayoutAccount).where(
            PayoutAccount.user_id == user_id, PayoutAccount.provider == provider.name
        )
    )
    if existing is not None:
        raise Conflict(
            "you already have a payout account with this provider",
            code="payout_account_exists",
        )
    answer = await provider.create_payee_account(user_id=user_id, email=email, country=country)
    account = PayoutAccount(
        user_id=user_id,
        provider=provider.name,
        provider_reference=answer.reference,
        country=country,
    )
    _apply_status(
        account, answer.payouts_enabled, answer.details_submitted, dict(answer.capabilities)
    )
    session.add(account)
    await session.flush()
    await record_change(
        session,
        action="payout_account.create",
        entity_type="payout_account",
        entity_id=account.id,
        actor_id=user_id,
        after=snapshot(account),
    )
    return account


def _apply_status(
    account: PayoutAccount,
    payouts_enabled: bool,
    details_submitted: bool,
    capabilities: dict[str, str],
) -> None:
    account.payouts_enabled = payouts_enabled
    account.details_submitted = details_submitted
    account.capabilities = capabilities
    if payouts_enabled:
        account.status = "active"
    elif details_submitted:
        account.status = "restricted"
    else:
        account.status = "onboarding"


async def refresh_payout_account(
    session: AsyncSession, provider: PaymentProvider, account: PayoutAccount
) -> PayoutAccount:
    answer = await provider.payee_account_status(account.provider_reference)
    _apply_status(
        account, answer.payouts_enabled, answer.details_submitted, dict(answer.capabilities)
    )
    await session.flush()
    return account


async def apply_payee_account_update(
    session: AsyncSession, *, provider: str, reference: str, payload: dict[str, object]
) -> str:
    account = await session.scalar(
        select(PayoutAccount)
        .where(PayoutAccount.provider == provider, PayoutAccount.provider_reference == reference)
        .with_for_update()
    )
    if account is None:
        return "unknown_object"
    capabilities = payload.get("capabilities")
    _apply_status(
        account,
        bool(payload.get("payouts_enabled")),
        bool(payload.get("details_submitted")),
        {str(k): str(v) for k, v in capabilities.items()} if isinstance(capabilities, dict) else {},
    )
    await session.flush()
    return "applied_account_update"


async def own_payout_accounts(session: AsyncSession, user_id: uuid.UUID) -> list[PayoutAccount]:
    return list(
        (
            await session.scalars(
                select(PayoutAccount)
                .where(PayoutAccount.user_id == user_id)
                .order_by(PayoutAccount.created_at)
            )
        ).all()
    )


# --- payouts --------------------------------------------------------------------------------


async def available_balance(session: AsyncSession, user_id: uuid.UUID, currency: str) -> int:
    wallet = await ledger.user_account(session, user_id, currency)
    account = await ledger.get_account(session, wallet)
    assert account is not None
    return account.balance - account.pending_debits


async def request_payout(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    amount: int | None,
    currency: str,
    trigger: str = "on_demand",
    released_below_minimum_by: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
) -> Payout:
    """Take `amount` (default: everything available) out of the wallet into a new payout."""
    account = await session.scalar(
        select(PayoutAccount).where(
            PayoutAccount.user_id == user_id, PayoutAccount.provider == _provider(settings)
        )
    )
    if account is None:
        raise Conflict(
            "add a payout account before requesting a payout", code="payout_account_required"
        )
    if not account.payouts_enabled:
        raise Conflict(
            "the payout account cannot receive payouts yet (finish onboarding)",
            code="payout_account_not_ready",
        )
    wallet = await ledger.user_account(session, user_id, currency)
    if amount is None:
        amount = await available_balance(session, user_id, currency)
        if amount <= 0:
            raise InsufficientFunds("nothing is available to pay out")
    minimum = settings.payout_minimum_amount
    if amount < minimum and released_below_minimum_by is None:
        raise Unprocessable(
            f"payouts start at {minimum} minor units of {currency}; {amount} is below",
            code="payout_below_minimum",
            field="body.amount",
        )
    payout = Payout(
        id=uuid.uuid4(),
        user_id=user_id,
        payout_account_id=account.id,
        amount=amount,
        currency=currency,
        minimum_amount=minimum,
        released_below_minimum_by=released_below_minimum_by,
        trigger=trigger,
        provider=account.provider,
    )
    session.add(payout)
    await session.flush()
    in_transit = await ledger.platform_account(session, AccountKind.PAYOUTS_IN_TRANSIT, currency)
    # Refused whole (409 insufficient_funds) when the wallet holds less than `amount`.
    await ledger.transfer(
        session,
        TransferSpec(
            debit_account_id=wallet,
            credit_account_id=in_transit,
            amount=amount,
            kind="payout",
            idempotency_key=f"payout:{payout.id}",
            currency=currency,
            reference_type="payout",
            reference_id=str(payout.id),
        ),
    )
    await record_change(
        session,
        action="payout.request"
        if released_below_minimum_by is None
        else "payout.release_below_minimum",
        entity_type="payout",
        entity_id=payout.id,
        actor_id=actor_id or user_id,
        after=snapshot(payout),
        severity=Severity.WARNING if released_below_minimum_by else Severity.INFO,
    )
    return payout


def _provider(settings: Settings) -> str:
    return settings.payments_provider


async def get_payout(
    session: AsyncSession,
    payout_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    lock: bool = False,
) -> Payout:
    query = select(Payout).where(Payout.id == payout_id)
    if user_id is not None:
        query = query.where(Payout.user_id == user_id)
    if lock:
        query = query.with_for_update()
    payout = await session.scalar(query.execution_options(populate_existing=True))
    if payout is None:
        raise NotFound("no such payout", code="payout_not_found")
    return payout


async def _settle(session: AsyncSession, payout: Payout, status: PayoutStatus) -> None:
    in_transit = await ledger.platform_account(
        session, AccountKind.PAYOUTS_IN_TRANSIT, payout.currency
    )
    if status == PayoutStatus.PAID:
        destination = await ledger.platform_account(
            session, AccountKind.PROVIDER_CLEARING, payout.currency
        )
        kind = "payout_paid"
    else:
        destination = await ledger.user_account(session, payout.user_id, payout.currency)
        kind = "payout_returned"
    await ledger.transfer(
        session,
        TransferSpec(
            debit_account_id=in_transit,
            credit_account_id=destination,
            amount=payout.amount,
            kind=kind,
            idempotency_key=f"payout:{payout.id}:{kind}",
            currency=payout.currency,
            reference_type="payout",
            reference_id=str(payout.id),
        ),
    )


async def move_payout(
    session: AsyncSession,
    payout: Payout,
    status: PayoutStatus,
    *,
    reason: str | None = None,
    provider_reference: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> str:
    """Move a (locked) payout forward; settles the money on a final state."""
    current = PayoutStatus(payout.status)
    if STATE_RANK[status] <= STATE_RANK[current]:
        return f"ignored_{current}"
    before = snapshot(payout)
    payout.status = status
    if provider_reference:
        payout.provider_reference = provider_reference
    if STATE_RANK[status] == 2:
        payout.settled_at = utcnow()
        await _settle(session, payout, status)
    if status in (PayoutStatus.FAILED, PayoutStatus.CANCELED):
        payout.failure_reason = reason
    if status == PayoutStatus.PAID:
        for listener in PAID_LISTENERS:
            await listener(session, payout)
    await record_change(
        session,
        action=f"payout.{status}",
        entity_type="payout",
        entity_id=payout.id,
        actor_id=actor_id,
        before=before,
        after=snapshot(payout),
    )
    await session.flush()
    return f"applied_{status}"


async def cancel_payout(session: AsyncSession, payout_id: uuid.UUID, user_id: uuid.UUID) -> Payout:
    payout = await get_payout(session, payout_id, user_id=user_id, lock=True)
    if payout.status != PayoutStatus.PENDING:
        raise Conflict(
            f"the payout is {payout.status}; only a pending payout can be canceled",
            code="payout_not_cancelable",
        )
    await move_payout(
        session, payout, PayoutStatus.CANCELED, reason="canceled by the payee", actor_id=user_id
    )
    return payout


async def submit_payout(
    session: AsyncSession, provider: PaymentProvider, payout_id: uuid.UUID
) -> str:
    """Hand a pending payout to the provider (a job; retried on transient provider errors)."""
    payout = await get_payout(session, payout_id, lock=True)
    if payout.status != PayoutStatus.PENDING:
        return f"skipped_{payout.status}"
    account = await session.get(PayoutAccount, payout.payout_account_id)
    assert account is not None
    try:
        answer = await provider.create_payout_transfer(
            payout_id=payout.id,
            account_reference=account.provider_reference,
            amount=payout.amount,
            currency=payout.currency,
        )
    except ProviderError as error:
        if error.retryable:
            raise
        return await move_payout(session, payout, PayoutStatus.FAILED, reason=str(error))
    return await move_payout(
        session, payout, PayoutStatus.IN_TRANSIT, provider_reference=answer.reference
    )


async def apply_provider_status(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    status: PayoutStatus,
    reason: str | None = None,
) -> str:
    payout = await session.scalar(
        select(Payout)
        .where(Payout.provider == provider, Payout.provider_reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payout is None:
        return "unknown_object"
    return await move_payout(session, payout, status, reason=reason)


async def payees_due_for_cycle(
    session: AsyncSession, settings: Settings, currency: str, month_start: datetime
) -> list[uuid.UUID]:
    """Payees with a ready payout account and no monthly payout yet this month."""
    already = select(Payout.user_id).where(
        Payout.trigger == "monthly_cycle",
        Payout.created_at >= month_start,
        Payout.currency == currency,
    )
    rows = await session.scalars(
        select(PayoutAccount.user_id).where(
            PayoutAccount.provider == settings.payments_provider,
            PayoutAccount.payouts_enabled.is_(True),
            PayoutAccount.user_id.not_in(already),
        )
    )
    return list(rows.all())


async def open_payouts_total(session: AsyncSession, user_id: uuid.UUID, currency: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Payout.amount), 0)).where(
            Payout.user_id == user_id,
            Payout.currency == currency,
            Payout.status.in_([PayoutStatus.PENDING, PayoutStatus.IN_TRANSIT]),
        )
    )
    return int(total or 0)
