"""Closing a job (by its brand, or at its end date) and refunding what was not paid out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Text,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.audit.service import change_insert
from creatorhub.db import together
from creatorhub.jobs import defer, job_app
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import PLATFORM_OWNER_ID, AccountKind, Hold, OwnerType
from creatorhub.marketplace.models import (
    CloseReason,
    EscrowStatus,
    EscrowTransaction,
    Job,
    UnfilledRefund,
)
from creatorhub.marketplace.service.jobs import (
    get_brand_job,
    refuse_closed,
    send_guarded,
    written_job,
)
from creatorhub.payments.providers.base import PaymentProvider

# Deferred by name: the tasks module imports this package.
REFUND_TASK = "creatorhub.marketplace.tasks.issue_refund"


@dataclass(frozen=True)
class Closing:
    job: Job
    refund: UnfilledRefund | None
    refund_to_provider: bool  # issued later by a job (the provider is called outside the lock)


async def close_job(
    session: AsyncSession,
    job: Job,
    *,
    reason: CloseReason,
    now: datetime,
    actor: uuid.UUID | None = None,
) -> Closing:
    """Close a locked, open job: void the unpaid slots' holds, then let the seed's triggers
    close the influencer jobs, log, and create the unfilled refund, issued here when the budget
    came from the brand's wallet. `actor`: the brand closing it, whose close is audited (None:
    its end date passed).

    One statement voids every held slot's hold, marks their escrow records refunded, closes
    the job and writes the audit record; a second one issues the refund its trigger created."""
    refuse_closed(job, "close", actor)
    # Voiding a hold locks the job's escrow and the creator's wallet. The holds are voided in
    # the order of those wallets, the ledger's own lock order (`ledger.lock_accounts`: by id),
    # not in claim order: two jobs sharing creators, closed at once, would otherwise lock the
    # same wallets in opposite orders and deadlock.
    held = (
        select(EscrowTransaction.escrow_uid, EscrowTransaction.hold_id)
        .join(Hold, Hold.id == EscrowTransaction.hold_id)
        .where(EscrowTransaction.job_uid == job.uid, EscrowTransaction.status == EscrowStatus.HELD)
        .order_by(Hold.credit_account_id, EscrowTransaction.escrow_uid)
        .with_for_update(of=EscrowTransaction)
        .cte("held")
    )
    voided = select(held.c.escrow_uid, ledger.void_hold_call(held.c.hold_id)).cte("voided")
    # Reading `voided` makes each hold voided before its record says so.
    refunded = (
        update(EscrowTransaction)
        .where(EscrowTransaction.escrow_uid == voided.c.escrow_uid)
        .values(status=EscrowStatus.REFUNDED, escrow_released_time=now)
    )
    # Pending submissions stay as they are: trg_log_unapproved_closure records them.
    closed = (
        update(Job)
        .where(Job.uid == job.uid)
        .values(closed_at=now, close_reason=reason)
        .returning(*Job.__table__.columns)
        .cte("closed")
    )
    writes: list[UpdateBase] = [refunded]
    if actor is not None:
        audited = change_insert(
            action="marketplace.job.close",
            entity_type="job",
            entity_id=job.uid,
            actor_id=actor,
            after=select(func.to_jsonb(closed.table_valued())).scalar_subquery(),
        )
        writes.append(audited)
    job = await written_job(session, together(*writes, result=select(closed)), actor)
    if job.funded_at is None:
        return Closing(job=job, refund=None, refund_to_provider=False)  # nothing was paid in
    if job.funding_source == "provider" and job.stripe_charge_id:
        refund = await session.scalar(
            select(UnfilledRefund).where(UnfilledRefund.job_uid == job.uid)
        )
        if refund is not None:
            # The provider is asked by a job, outside the job's lock, queued with the close:
            # whoever closes (the brand over the API or a page, the end date) gets it.
            await defer(session, job_app.configure_task(REFUND_TASK), refund_uid=str(refund.uid))
        return Closing(job=job, refund=refund, refund_to_provider=refund is not None)
    return Closing(
        job=job, refund=await _refund_to_wallet(session, job, now, actor), refund_to_provider=False
    )


async def _refund_to_wallet(
    session: AsyncSession, job: Job, now: datetime, actor: uuid.UUID | None
) -> UnfilledRefund | None:
    """Issue the closed job's refund (if its trigger created one) to the brand's wallet: the
    refund marked issued and its transfer, in one statement."""
    issued = (
        update(UnfilledRefund)
        .where(UnfilledRefund.job_uid == job.uid, UnfilledRefund.issued_at.is_(None))
        .values(issued_at=now)
        .returning(*UnfilledRefund.__table__.columns)
        .cte("issued")
    )
    refund_id = cast(issued.c.uid, Text)
    transferred = ledger.transfer_select(
        debit_account=job.escrow_account_id,
        credit_account=ledger.account_ref(
            owner_type=OwnerType.USER,
            owner_id=job.creator_uid,
            kind=AccountKind.WALLET_AVAILABLE,
            currency=job.currency,
        ),
        amount=issued.c.refunded,
        kind="refund",
        idempotency_key=literal(_REFUND_KEY, Text) + refund_id,
        currency=job.currency,
        reference_type="unfilled_refund",
        reference_id=refund_id,
        each_row_of=issued,
    )
    query = select(UnfilledRefund).from_statement(transferred.with_only_columns(*issued.c))
    refund: UnfilledRefund | None = (
        await send_guarded(session, query.execution_options(populate_existing=True), actor=actor)
    ).scalar_one_or_none()
    return refund


_REFUND_KEY = "marketplace:refund:"  # + the refund's uid: the ledger key of its transfer


async def issue_provider_refund(
    session: AsyncSession, provider: PaymentProvider, refund_uid: uuid.UUID, *, now: datetime
) -> UnfilledRefund | None:
    """Refund a provider-funded job's unused budget to the brand's charge, once (the
    `issue_refund` job).

    The provider is called outside any transaction: the refund is read and that transaction
    ended first, and the outcome recorded in a second one: the refund marked issued, if it still
    is not, with its transfer (escrow → provider clearing), as one statement. The provider's
    idempotency key is the refund's id, so two runs of the job, or a retry after a failure
    between the provider's answer and the record, ask for one refund; the first record wins.
    """
    row = (
        await session.execute(
            select(UnfilledRefund, Job.escrow_account_id)
            .join(Job, Job.uid == UnfilledRefund.job_uid)
            .where(UnfilledRefund.uid == refund_uid)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        return None
    refund, escrow_account_id = row
    if refund.issued_at is not None:
        return refund
    assert refund.stripe_charge_id is not None
    await session.commit()  # nothing is held while the provider answers
    answer = await provider.refund(
        refund_id=refund.uid, payment_reference=refund.stripe_charge_id, amount=refund.refunded
    )
    issued = (
        update(UnfilledRefund)
        .where(UnfilledRefund.uid == refund.uid, UnfilledRefund.issued_at.is_(None))
        .values(issued_at=now, provider_refund_id=answer.reference)
        .returning(*UnfilledRefund.__table__.columns)
        .cte("issued")
    )
    transferred = ledger.transfer_select(
        debit_account=escrow_account_id,
        credit_account=ledger.account_ref(
            owner_type=OwnerType.PLATFORM,
            owner_id=PLATFORM_OWNER_ID,
            kind=AccountKind.PROVIDER_CLEARING,
            currency=refund.currency,
        ),
        amount=refund.refunded,
        kind="refund",
        idempotency_key=f"{_REFUND_KEY}{refund.uid}",
        currency=refund.currency,
        reference_type="unfilled_refund",
        reference_id=str(refund.uid),
        each_row_of=issued,
    )
    query = select(UnfilledRefund).from_statement(transferred.with_only_columns(*issued.c))
    recorded: UnfilledRefund | None = (
        await send_guarded(session, query.execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if recorded is not None:
        return recorded
    # Recorded meanwhile by another run: the same refund at the provider.
    return await session.scalar(
        select(UnfilledRefund)
        .where(UnfilledRefund.uid == refund.uid)
        .execution_options(populate_existing=True)
    )


async def close_by_brand(
    session: AsyncSession, *, job_uid: uuid.UUID, brand_id: uuid.UUID, now: datetime
) -> Closing:
    job = await get_brand_job(session, job_uid, brand_id, lock=True)
    return await close_job(session, job, reason=CloseReason.BRAND, now=now, actor=brand_id)


async def ended_job_uids(session: AsyncSession, now: datetime, *, limit: int) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Job.uid)
        .where(Job.closed_at.is_(None), Job.end_date <= now)
        .order_by(Job.end_date, Job.uid)
        .limit(limit)
    )
    return list(rows)


async def close_ended_job(
    session: AsyncSession, job_uid: uuid.UUID, now: datetime
) -> Closing | None:
    """Close one job whose end_date has passed, unless it is closed or locked meanwhile."""
    job = await session.scalar(
        select(Job)
        .where(Job.uid == job_uid, Job.closed_at.is_(None), Job.end_date <= now)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if job is None:
        return None
    return await close_job(session, job, reason=CloseReason.END_DATE, now=now)
