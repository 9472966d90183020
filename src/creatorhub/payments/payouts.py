"""Payouts: from a payee's available balance to their payout account at the provider.

    pending ──submit──▶ in_transit ──▶ paid
       │                    └────────▶ failed
       └──▶ canceled

Requesting a payout moves the money at once from the available wallet to the platform's
"payouts in transit" account, so it cannot be spent twice. `paid` sends it on to the provider
clearing account (it has left the platform); `failed` and `canceled` return it to the available
wallet at once, without a new holding period. The provider's idempotency key is derived from the
payout id, so a retried submission never pays twice.

Requesting one is a few statements: the payout account read, the submission job deferred, and
one statement writing the payout, its audit row, the request's stored answer and the ledger
transfer (wallet → in transit; the accounts created there if new). No provider call runs
inside a transaction: `submit_payout` hands the payout over (`in_transit`: it can no longer be
canceled) and commits before it calls, and records the provider's answer after; a crash in
between is recovered by the job's own retry (same payout, same provider idempotency key).
Creating a payout account with a provider that calls out records the request's key in flight
first (`Responder.hold`) and leaves a recovery job (`recover_payout_account`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ScalarSelect,
    Text,
    cast,
    column,
    exists,
    func,
    literal,
    select,
    table,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.audit.models import Severity
from creatorhub.audit.service import change_insert, snapshot
from creatorhub.config import Settings
from creatorhub.db import Database, insert_of, is_unique_violation, together
from creatorhub.jobs import defer, job_app
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable
from creatorhub.kit.idempotency import (
    Responder,
    answer_content,
    finish_in_flight,
    forget_in_flight,
    in_flight,
)
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.ledger.models import AccountKind, OwnerType
from creatorhub.payments.changes import (
    Change,
    defer_recovery,
    forgotten,
    hold,
    send_change,
    stored,
)
from creatorhub.payments.models import Payout, PayoutAccount, PayoutStatus
from creatorhub.payments.providers.base import (
    PaymentProvider,
    ProviderError,
    ProviderPayeeAccount,
)
from creatorhub.payments.providers.registry import provider_problem
from creatorhub.payments.schemas import PayoutAccountOut, PayoutOut

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


# Deferred by name: the tasks module imports this one.
SUBMIT_TASK = "creatorhub.payments.tasks.submit_payout"
CREATE_ACCOUNT = "payout_account.create"


# --- payout accounts -----------------------------------------------------------------------


def _apply_status(
    account: PayoutAccount,
    payouts_enabled: bool,
    details_submitted: bool,
    capabilities: dict[str, str],
) -> dict[str, Any]:
    """Set the provider's view of the account on it; returns the values set."""
    values: dict[str, Any] = {
        "payouts_enabled": payouts_enabled,
        "details_submitted": details_submitted,
        "capabilities": capabilities,
        "status": "active"
        if payouts_enabled
        else ("restricted" if details_submitted else "onboarding"),
    }
    for name, value in values.items():
        set_committed_value(account, name, value)
    return values


def _new_account(
    user_id: uuid.UUID, provider: str, country: str, payee: ProviderPayeeAccount
) -> PayoutAccount:
    now = utcnow()
    account = PayoutAccount(
        id=uuid.uuid4(),
        user_id=user_id,
        provider=provider,
        provider_reference=payee.reference,
        country=country,
        created_at=now,
        updated_at=now,
    )
    _apply_status(account, payee.payouts_enabled, payee.details_submitted, dict(payee.capabilities))
    return account


def _account_exists() -> Conflict:
    return Conflict(
        "you already have a payout account with this provider", code="payout_account_exists"
    )


async def _write_account(session: AsyncSession, account: PayoutAccount, *also: UpdateBase) -> None:
    """The account, its audit row and `also` (the request's answer) as one statement."""
    audit = change_insert(
        action="payout_account.create",
        entity_type="payout_account",
        entity_id=account.id,
        actor_id=account.user_id,
        after=snapshot(account),
    )
    try:
        await session.execute(together(insert_of(account), audit, *also))
    except IntegrityError as error:
        # A concurrent creation for the same payee committed first.
        if is_unique_violation(error, "uq_payout_accounts_user_id_provider"):
            raise _account_exists() from None
        raise


async def create_payout_account(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    user_id: uuid.UUID,
    email: str,
    country: str,
    answer: Responder | None = None,
) -> PayoutAccount:
    """The payee's account at the provider; with `answer`, the request's answer (201) is
    stored with it."""
    existing = await session.scalar(
        select(PayoutAccount.id).where(
            PayoutAccount.user_id == user_id, PayoutAccount.provider == provider.name
        )
    )
    if existing is not None:
        raise _account_exists()
    if provider.calls_out:
        # The key is held in flight and committed before the call (a retry answers 409, a
        # recovery job finishes the request should this process die); the provider's
        # idempotency key is derived from the payee, so asking again names the same account.
        key = answer.recovery_key if answer is not None else None
        recovery = {"country": country, "email": email}
        if key is not None:
            recovery |= await defer_recovery(session, CREATE_ACCOUNT, user_id, answer)
        await hold(session, answer, recovery=recovery)
        try:
            payee = await provider.create_payee_account(
                user_id=user_id, email=email, country=country
            )
        except ProviderError as error:
            forget = forgotten(answer)
            if forget:
                await session.execute(together(*forget))
                await session.commit()
            raise provider_problem(error) from None
    else:
        payee = await provider.create_payee_account(user_id=user_id, email=email, country=country)
    account = _new_account(user_id, provider.name, country, payee)
    await _write_account(
        session, account, *stored(answer, 201, PayoutAccountOut.model_validate(account))
    )
    return account


async def recover_payout_account(
    database: Database, provider: PaymentProvider, user_id: uuid.UUID, key: tuple[str, str]
) -> str:
    """Finish a payout account creation whose process died during the provider call: ask
    again (the same account at the provider) and record it with the request's answer."""
    async with database.read_scope() as session:
        record = await in_flight(session, *key)
        existing = await session.scalar(
            select(PayoutAccount).where(
                PayoutAccount.user_id == user_id, PayoutAccount.provider == provider.name
            )
        )
    if record is None:
        return "nothing_to_recover"
    if existing is not None:
        # The payee has one (made by another request): that is this request's answer too.
        content = answer_content(PayoutAccountOut.model_validate(existing))
        async with database.session_scope() as session:
            await session.execute(finish_in_flight(*key, 201, content))
        return "recovered"
    try:
        payee = await provider.create_payee_account(
            user_id=user_id, email=str(record["email"]), country=str(record["country"])
        )
    except ProviderError as error:
        if error.retryable:
            raise  # the job is retried
        async with database.session_scope() as session:
            await session.execute(forget_in_flight(*key))
        return "forgotten"
    account = _new_account(user_id, provider.name, str(record["country"]), payee)
    content = answer_content(PayoutAccountOut.model_validate(account))
    async with database.session_scope() as session:
        await _write_account(session, account, finish_in_flight(*key, 201, content))
    return "recovered"


async def get_own_payout_account(
    session: AsyncSession, account_id: uuid.UUID, user_id: uuid.UUID
) -> PayoutAccount:
    account = await session.get(PayoutAccount, account_id)
    if account is None or account.user_id != user_id:
        raise NotFound("no such payout account", code="payout_account_not_found")
    return account


async def _leave_transaction(session: AsyncSession, provider: PaymentProvider) -> None:
    """Before a call over the network: end the transaction (the reads are done) and give its
    connection back, so a slow provider holds nothing."""
    if provider.calls_out:
        await session.commit()


async def onboarding_link(
    session: AsyncSession,
    provider_for: Callable[[str], PaymentProvider],
    *,
    account_id: uuid.UUID,
    user_id: uuid.UUID,
    base_url: str,
    return_path: str | None = None,
) -> str:
    """Where the payee finishes onboarding at the provider. They come back to `return_path`
    (a page of this site: the payouts page) or, by default, to the account's API address."""
    account = await get_own_payout_account(session, account_id, user_id)
    provider = provider_for(account.provider)
    await _leave_transaction(session, provider)
    api = f"{base_url}/v1/payout-accounts/{account.id}"
    return await provider.payee_onboarding_link(
        account_reference=account.provider_reference,
        return_url=f"{base_url}{return_path}" if return_path else api,
        refresh_url=f"{base_url}{return_path}" if return_path else f"{api}/onboarding-link",
    )


async def refresh_payout_account(
    session: AsyncSession,
    provider_for: Callable[[str], PaymentProvider],
    *,
    account_id: uuid.UUID,
    user_id: uuid.UUID,
) -> PayoutAccount:
    """The account as the provider sees it now (asked outside any transaction)."""
    account = await get_own_payout_account(session, account_id, user_id)
    provider = provider_for(account.provider)
    await _leave_transaction(session, provider)
    payee = await provider.payee_account_status(account.provider_reference)
    values = _apply_status(
        account, payee.payouts_enabled, payee.details_submitted, dict(payee.capabilities)
    )
    values["updated_at"] = utcnow()
    set_committed_value(account, "updated_at", values["updated_at"])
    await session.execute(
        update(PayoutAccount).where(PayoutAccount.id == account.id).values(**values)
    )
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
    values = _apply_status(
        account,
        bool(payload.get("payouts_enabled")),
        bool(payload.get("details_submitted")),
        {str(k): str(v) for k, v in capabilities.items()} if isinstance(capabilities, dict) else {},
    )
    await session.execute(
        update(PayoutAccount).where(PayoutAccount.id == account.id).values(**values)
    )
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
    """What the payee can take out now (0 without a wallet yet: reading creates nothing)."""
    account = await ledger.find_account(
        session,
        owner_type=OwnerType.USER,
        owner_id=user_id,
        kind=AccountKind.WALLET_AVAILABLE,
        currency=currency,
    )
    return 0 if account is None else account.balance - account.pending_debits


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
    reason: str | None = None,
    answer: Responder | None = None,
) -> Payout:
    """Take `amount` (default: everything available) out of the wallet into a new payout, and
    queue its submission. With `answer`, the request's answer (201) is stored with it; an
    administrator's release below the minimum gives its `reason`."""
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
    now = utcnow()
    payout = Payout(
        id=uuid.uuid4(),
        user_id=user_id,
        payout_account_id=account.id,
        amount=amount,
        currency=currency,
        minimum_amount=minimum,
        released_below_minimum_by=released_below_minimum_by,
        trigger=trigger,
        status=PayoutStatus.PENDING.value,
        provider=account.provider,
        provider_reference=None,
        failure_reason=None,
        created_at=now,
        updated_at=now,
        settled_at=None,
    )
    writes = [
        insert_of(payout),
        change_insert(
            action="payout.request"
            if released_below_minimum_by is None
            else "payout.release_below_minimum",
            entity_type="payout",
            entity_id=payout.id,
            actor_id=actor_id or user_id,
            after=snapshot(payout),
            severity=Severity.WARNING if released_below_minimum_by else Severity.INFO,
        ),
    ]
    if reason is not None:
        writes.append(
            change_insert(
                action="payout.admin_override",
                entity_type="payout",
                entity_id=payout.id,
                actor_id=actor_id,
                after={"reason": reason, "amount": amount},
            )
        )
    # In this transaction: the submission exists if and only if the payout does.
    await defer(session, job_app.configure_task(SUBMIT_TASK), payout_id=str(payout.id))
    # Refused whole (409 insufficient_funds) when the wallet holds less than `amount`.
    money = ledger.transfer_select(
        debit_account=ledger.user_account_ref(user_id, currency),
        credit_account=ledger.platform_account_ref(AccountKind.PAYOUTS_IN_TRANSIT, currency),
        amount=amount,
        kind="payout",
        idempotency_key=f"payout:{payout.id}",
        currency=currency,
        reference_type="payout",
        reference_id=str(payout.id),
    )
    answered = stored(answer, 201, PayoutOut.model_validate(payout))
    await ledger.send(session, together(*writes, *answered, result=money))
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


async def own_payouts(session: AsyncSession, user_id: uuid.UUID, *, limit: int) -> Sequence[Payout]:
    """The payee's payouts, newest first."""
    rows = await session.scalars(
        select(Payout)
        .where(Payout.user_id == user_id)
        .order_by(Payout.created_at.desc(), Payout.id.desc())
        .limit(limit)
    )
    return rows.all()


def _settlement(payout: Payout, status: PayoutStatus) -> Any:
    """The ledger transfer settling a payout in a final state, as SQL for the change."""
    in_transit = ledger.platform_account_ref(AccountKind.PAYOUTS_IN_TRANSIT, payout.currency)
    if status == PayoutStatus.PAID:
        destination = ledger.platform_account_ref(AccountKind.PROVIDER_CLEARING, payout.currency)
        kind = "payout_paid"
    else:
        destination = ledger.user_account_ref(payout.user_id, payout.currency)
        kind = "payout_returned"
    return ledger.transfer_select(
        debit_account=in_transit,
        credit_account=destination,
        amount=payout.amount,
        kind=kind,
        idempotency_key=f"payout:{payout.id}:{kind}",
        currency=payout.currency,
        reference_type="payout",
        reference_id=str(payout.id),
    )


async def move_payout(
    session: AsyncSession,
    payout: Payout,
    status: PayoutStatus,
    *,
    reason: str | None = None,
    provider_reference: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> Change:
    """Move a (locked) payout forward, as a change to send: its row, its audit row and, in a
    final state, the ledger transfer settling the money."""
    current = PayoutStatus(payout.status)
    if STATE_RANK[status] <= STATE_RANK[current]:
        return Change(f"ignored_{current}")
    before = snapshot(payout)
    values: dict[str, Any] = {"status": status.value, "updated_at": utcnow()}
    if provider_reference:
        values["provider_reference"] = provider_reference
    if STATE_RANK[status] == 2:
        values["settled_at"] = values["updated_at"]
    if status in (PayoutStatus.FAILED, PayoutStatus.CANCELED):
        values["failure_reason"] = reason
    for name, value in values.items():
        set_committed_value(payout, name, value)
    if status == PayoutStatus.PAID:
        for listener in PAID_LISTENERS:
            await listener(session, payout)
    writes = (
        update(Payout).where(Payout.id == payout.id).values(**values),
        change_insert(
            action=f"payout.{status}",
            entity_type="payout",
            entity_id=payout.id,
            actor_id=actor_id,
            before=before,
            after=snapshot(payout),
        ),
    )
    money = _settlement(payout, status) if STATE_RANK[status] == 2 else None
    return Change(f"applied_{status}", writes, money)


async def cancel_payout(
    session: AsyncSession,
    payout_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    answer: Responder | None = None,
) -> Payout:
    """Cancel a pending payout: the money is available again at once. With `answer`, the
    request's answer (200) is stored with the change."""
    payout = await get_payout(session, payout_id, user_id=user_id, lock=True)
    if payout.status != PayoutStatus.PENDING:
        raise Conflict(
            f"the payout is {payout.status}; only a pending payout can be canceled",
            code="payout_not_cancelable",
        )
    change = await move_payout(
        session, payout, PayoutStatus.CANCELED, reason="canceled by the payee", actor_id=user_id
    )
    await send_change(session, change, *stored(answer, 200, PayoutOut.model_validate(payout)))
    return payout


async def submit_payout(
    session: AsyncSession, provider: PaymentProvider, payout_id: uuid.UUID
) -> str:
    """Hand a pending payout to the provider (a job; retried on transient provider errors).

    The hand-over (`in_transit`) is committed before the call: from then on the payout cannot
    be canceled (its money may be on its way), and no lock or connection is held while the
    provider answers. A payout `in_transit` without a provider reference is one whose call did
    not finish (the job died or the provider failed for a passing reason): the job's retry asks
    again, under the same idempotency key, so it is paid once.
    """
    payout = await get_payout(session, payout_id, lock=True)
    if payout.status == PayoutStatus.PENDING:
        await send_change(session, await move_payout(session, payout, PayoutStatus.IN_TRANSIT))
    elif payout.status != PayoutStatus.IN_TRANSIT or payout.provider_reference is not None:
        return f"skipped_{payout.status}"
    account = await session.get(PayoutAccount, payout.payout_account_id)
    assert account is not None
    await _leave_transaction(session, provider)
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
        payout = await get_payout(session, payout_id, lock=True)
        change = await move_payout(session, payout, PayoutStatus.FAILED, reason=str(error))
        return await send_change(session, change)
    await session.execute(
        update(Payout)
        .where(Payout.id == payout.id, Payout.provider_reference.is_(None))
        .values(provider_reference=answer.reference, updated_at=utcnow())
    )
    return f"applied_{PayoutStatus.IN_TRANSIT}"


# A payout handed over whose submission job gave up (every retry failed: the provider was down
# for longer than the job's backoff) would stay `in_transit` without a provider reference for
# ever, its money in transit. `resubmit_stalled` queues a new submission for each one, which
# asks the provider again under the payout's own idempotency key: paid once, however often asked.
STALLED_AFTER = timedelta(minutes=30)
_jobs = table(
    "procrastinate_jobs", column("task_name", Text), column("status", Text), column("args", JSONB)
)


async def resubmit_stalled(
    session: AsyncSession, now: datetime, *, stalled_after: timedelta = STALLED_AFTER
) -> list[uuid.UUID]:
    """Queue a submission for every payout `in_transit` without a provider reference, unchanged
    for `stalled_after`, whose submission job is neither queued nor running. The payouts are
    locked (SKIP LOCKED: one a submission holds is not stalled) until the caller commits."""
    submission_alive = exists(
        select(literal(1))
        .select_from(_jobs)
        .where(
            _jobs.c.task_name == SUBMIT_TASK,
            # The status is procrastinate's own enum type: compared as text.
            cast(_jobs.c.status, Text).in_(["todo", "doing"]),
            _jobs.c.args["payout_id"].astext == cast(Payout.id, Text),
        )
    )
    stalled = (
        await session.scalars(
            select(Payout.id)
            .where(
                Payout.status == PayoutStatus.IN_TRANSIT,
                Payout.provider_reference.is_(None),
                Payout.updated_at < now - stalled_after,
                ~submission_alive,
            )
            .order_by(Payout.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for payout_id in stalled:
        await defer(session, job_app.configure_task(SUBMIT_TASK), payout_id=str(payout_id))
    return list(stalled)


async def payout_status_change(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    status: PayoutStatus,
    reason: str | None = None,
) -> Change:
    """Move the payout the provider's event names forward (a webhook), as a change to send."""
    payout = await session.scalar(
        select(Payout)
        .where(Payout.provider == provider, Payout.provider_reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payout is None:
        return Change("unknown_object")
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


def open_payouts_total_of(user_id: uuid.UUID, currency: str) -> ScalarSelect[int]:
    """What the payee's requested payouts not yet settled add up to, as SQL for a read."""
    return (
        select(func.coalesce(func.sum(Payout.amount), 0))
        .where(
            Payout.user_id == user_id,
            Payout.currency == currency,
            Payout.status.in_([PayoutStatus.PENDING, PayoutStatus.IN_TRANSIT]),
        )
        .scalar_subquery()
    )
