"""Saved payment methods (seed 002 `payment_methods`, issue 15): a payer's card or bank account,
kept by the provider, charged later without the payer's client.

    pending ──setup succeeded──▶ active ──remove──▶ detached
       ├──setup failed──▶ failed
       └──remove──▶ detached

Saving one:

1. `start_setup` (`POST /v1/me/payment-methods`): the payer's customer at the provider (made
   for their first method, then read from their rows), a setup intent and a `pending` row. The
   answer carries the setup intent's client secret, for the provider's script in the payer's
   browser (Stripe.js): the number goes from there to the provider and never touches the
   platform. The sandbox's stand-in for that script is `confirm_sandbox_setup`.
2. The provider's event (`setup_event_change`, from the webhook, exactly once with it):
   `setup.succeeded` activates the row with the method's display fields when the event carries
   them (the sandbox's do), or, when it names the method only (Stripe's), records the method
   and queues `complete_activation`, a job that asks the provider for them outside any
   transaction. `setup.failed` (a declined card) fails the row. The first active method is the
   default; `set_default` moves it.

Charging one is a funding intent's (`funding.create_intent(..., payment_method_id=...)`), which
asks `chargeable` first: another payer's method is 404, one that is not active 409.

Provider calls never run inside a transaction: with a provider that calls out, `start_setup`
records the row and commits first (`Responder.hold`; a recovery job marks a row the request
never finished `failed` and forgets its key), and `detach` asks the provider between its read
and its write, holding nothing. The sandbox calls nothing over the network and is called
inside the request's transaction, as everywhere in payments.

Removing a method the provider is still saving (`pending`) only marks it detached here: should
the provider still report it saved, the event is ignored and it is never charged.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.audit.service import change_insert, snapshot
from creatorhub.db import Database, insert_of, together
from creatorhub.jobs import defer, job_app
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, NotFound
from creatorhub.kit.idempotency import Responder, forget_in_flight
from creatorhub.payments.changes import Change, defer_recovery, forgotten, hold, send_change, stored
from creatorhub.payments.models import PaymentMethod, PaymentMethodStatus
from creatorhub.payments.providers.base import (
    EventKind,
    PaymentMethodKind,
    PaymentProvider,
    ProviderError,
    ProviderPaymentMethod,
)
from creatorhub.payments.providers.registry import provider_problem
from creatorhub.payments.providers.sandbox import SandboxProvider
from creatorhub.payments.schemas import PaymentMethodOut, PaymentMethodSetupOut

CREATE = "payment_method.create"
# The job asking the provider for a method's details (`creatorhub.payments.tasks`), by name:
# the tasks module imports this one.
DETAILS_TASK = "creatorhub.payments.tasks.fetch_payment_method_details"
# Codes of a provider refusing to detach a method that is no longer attached (detached by the
# payer at the provider, or by an earlier request that died before it recorded it).
GONE_AT_PROVIDER = frozenset({"resource_missing", "payment_method_unexpected_state"})
_LAST4 = re.compile(r"^[0-9]{4}$")
ABANDONED = "the request saving it ended before the provider answered"


class PaymentMethodNotFound(NotFound):
    code = "payment_method_not_found"


class PaymentMethodNotActive(Conflict):
    code = "payment_method_not_active"


class PaymentMethodNotPending(Conflict):
    code = "payment_method_not_pending"


class ConfirmedAtProvider(Conflict):
    """Only the sandbox's setup intents are confirmed through the platform."""

    code = "payment_method_confirmed_at_provider"


def _set(method: PaymentMethod, **values: Any) -> None:
    """Keep the in-memory row in step with a Core UPDATE sent for it, without making it dirty."""
    for name, value in values.items():
        set_committed_value(method, name, value)


def _change(method: PaymentMethod, **values: Any) -> UpdateBase:
    values.setdefault("updated_at", utcnow())
    _set(method, **values)
    return update(PaymentMethod).where(PaymentMethod.id == method.id).values(**values)


def _audit(
    action: str,
    method: PaymentMethod,
    actor_id: uuid.UUID | None,
    before: dict[str, Any] | None = None,
) -> UpdateBase:
    return change_insert(
        action=action,
        entity_type="payment_method",
        entity_id=method.id,
        actor_id=actor_id,
        before=before,
        after=snapshot(method),
    )


def setup_answer(method: PaymentMethod, client_secret: str | None) -> PaymentMethodSetupOut:
    shown = PaymentMethodOut.model_validate(method).model_dump()
    return PaymentMethodSetupOut(**shown, client_secret=client_secret)


# --- saving ------------------------------------------------------------------------------------


async def _customer_of(session: AsyncSession, user_id: uuid.UUID, provider: str) -> str | None:
    """The payer's customer at the provider, from the rows of their earlier methods."""
    return await session.scalar(
        select(PaymentMethod.customer_reference)
        .where(
            PaymentMethod.user_id == user_id,
            PaymentMethod.provider == provider,
            PaymentMethod.customer_reference.is_not(None),
        )
        .limit(1)
    )


async def start_setup(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    user_id: uuid.UUID,
    email: str,
    kind: PaymentMethodKind,
    answer: Responder | None = None,
) -> tuple[PaymentMethod, str | None]:
    """A `pending` method and its setup intent's client secret; with `answer`, the request's
    answer (201, the method and the secret) is stored with it."""
    now = utcnow()
    method = PaymentMethod(
        id=uuid.uuid4(),
        user_id=user_id,
        provider=provider.name,
        customer_reference=None,
        setup_reference=None,
        provider_reference=None,
        kind=kind.value,
        brand=None,
        last4=None,
        exp_month=None,
        exp_year=None,
        status=PaymentMethodStatus.PENDING.value,
        failure_reason=None,
        is_default=False,
        created_at=now,
        updated_at=now,
        detached_at=None,
    )
    metadata = {"payment_method_id": str(method.id), "user_id": str(user_id)}
    if not provider.calls_out:
        customer = (await provider.create_customer(user_id=user_id, email=email)).reference
        setup = await provider.create_setup_intent(
            setup_id=method.id, customer_reference=customer, kind=kind, metadata=metadata
        )
        method.customer_reference, method.setup_reference = customer, setup.reference
        answered = stored(answer, 201, setup_answer(method, setup.client_secret))
        await session.execute(
            together(insert_of(method), _audit("payment_method.create", method, user_id), *answered)
        )
        return method, setup.client_secret

    # Over the network: the row is recorded and committed before the calls, which hold no
    # connection; the setup intent follows in a second transaction.
    customer_reference = await _customer_of(session, user_id, provider.name)
    method.customer_reference = customer_reference
    recovery = await defer_recovery(session, CREATE, method.id, answer)
    await hold(
        session,
        answer,
        insert_of(method),
        _audit("payment_method.create", method, user_id),
        recovery=recovery,
    )
    try:
        if customer_reference is None:
            made = await provider.create_customer(user_id=user_id, email=email)
            customer_reference = made.reference
        setup = await provider.create_setup_intent(
            setup_id=method.id, customer_reference=customer_reference, kind=kind, metadata=metadata
        )
    except ProviderError as error:
        before = snapshot(method)
        failed = _change(
            method, status=PaymentMethodStatus.FAILED.value, failure_reason=str(error)[:500]
        )
        await session.execute(
            together(
                failed, _audit("payment_method.failed", method, None, before), *forgotten(answer)
            )
        )
        await session.commit()
        raise provider_problem(error) from None
    values = {
        "customer_reference": customer_reference,
        "setup_reference": setup.reference,
        "updated_at": utcnow(),
    }
    _set(method, **values)
    recorded = (
        update(PaymentMethod)
        .where(PaymentMethod.id == method.id, PaymentMethod.setup_reference.is_(None))
        .values(**values)
    )
    answered = stored(answer, 201, setup_answer(method, setup.client_secret))
    await session.execute(together(recorded, *answered))
    return method, setup.client_secret


async def recover_create(
    database: Database, method_id: uuid.UUID, key: tuple[str, str] | None
) -> str:
    """A request that died between recording its method and the provider's setup intent: the
    method fails (nobody got its client secret, so nobody can confirm it) and the request's key
    is forgotten, so that its retry saves afresh. Nothing to do when the request finished."""
    async with database.read_scope() as session:
        method = await session.get(PaymentMethod, method_id)
    if (
        method is None
        or method.setup_reference is not None
        or method.status != PaymentMethodStatus.PENDING
    ):
        return "nothing_to_recover"
    before = snapshot(method)
    values = {
        "status": PaymentMethodStatus.FAILED.value,
        "failure_reason": ABANDONED,
        "updated_at": utcnow(),
    }
    _set(method, **values)
    failed = (
        update(PaymentMethod)
        .where(
            PaymentMethod.id == method_id,
            PaymentMethod.setup_reference.is_(None),
            PaymentMethod.status == PaymentMethodStatus.PENDING.value,
        )
        .values(**values)
    )
    forget = (forget_in_flight(*key),) if key is not None else ()
    async with database.session_scope() as session:
        await session.execute(
            together(failed, _audit("payment_method.failed", method, None, before), *forget)
        )
    return "abandoned"


async def confirm_sandbox_setup(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    method_id: uuid.UUID,
    user_id: uuid.UUID,
    last4: str,
) -> PaymentMethod:
    """The sandbox's stand-in for the provider's script in the payer's browser: give the setup
    intent a test method. The outcome arrives as the sandbox's event (a job in this
    transaction), which activates the method or fails it."""
    method = await get_own_method(session, method_id, user_id, lock=True)
    if not isinstance(provider, SandboxProvider) or method.provider != provider.name:
        raise ConfirmedAtProvider(
            "this method is being saved at the provider: the payer's client confirms it there "
            "with the client secret (Stripe.js)"
        )
    if method.status != PaymentMethodStatus.PENDING or method.setup_reference is None:
        raise PaymentMethodNotPending(f"the payment method is {method.status}, not being saved")
    try:
        await provider.confirm_setup_intent(method.setup_reference, last4=last4)
    except ProviderError as error:
        raise provider_problem(error) from None
    return method


# --- the provider's events ---------------------------------------------------------------------


def _failure_reason(obj: Mapping[str, Any]) -> str | None:
    for key in ("failure_message", "last_setup_error", "cancellation_reason"):
        value = obj.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("code")
        if value:
            return str(value)[:500]
    return None


def _details_in_event(method: Mapping[str, Any]) -> ProviderPaymentMethod | None:
    """The display fields the sandbox's event carries with the method (Stripe's names the
    method only: None)."""
    try:
        kind = PaymentMethodKind(str(method.get("type")))
    except ValueError:
        return None
    if "last4" not in method:
        return None
    return ProviderPaymentMethod(
        reference=str(method["id"]),
        kind=kind,
        brand=method.get("brand"),
        last4=method.get("last4"),
        exp_month=method.get("exp_month"),
        exp_year=method.get("exp_year"),
    )


async def _lock_by(session: AsyncSession, provider: str, **where: str) -> PaymentMethod | None:
    [(column, value)] = where.items()
    return await session.scalar(
        select(PaymentMethod)
        .where(PaymentMethod.provider == provider, getattr(PaymentMethod, column) == value)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _saved_elsewhere(session: AsyncSession, method: PaymentMethod, reference: str) -> bool:
    """Whether another row already holds the provider's method (a setup confirmed with a
    method saved before)."""
    return bool(
        await session.scalar(
            select(
                exists().where(
                    PaymentMethod.provider == method.provider,
                    PaymentMethod.provider_reference == reference,
                    PaymentMethod.id != method.id,
                )
            )
        )
    )


def _fail(method: PaymentMethod, reason: str, before: dict[str, Any]) -> Change:
    failed = _change(method, status=PaymentMethodStatus.FAILED.value, failure_reason=reason[:500])
    return Change("applied_failed", (failed, _audit("payment_method.failed", method, None, before)))


def _in_range(value: Any, low: int, high: int) -> int | None:
    return value if isinstance(value, int) and low <= value <= high else None


async def _activation(
    session: AsyncSession,
    method: PaymentMethod,
    details: ProviderPaymentMethod,
    before: dict[str, Any],
) -> Change:
    """The method active with its display fields (the payer's default if they have none)."""
    if not _LAST4.fullmatch(details.last4 or ""):
        return _fail(method, "the provider gave no last four digits for it", before)
    if await _saved_elsewhere(session, method, details.reference):
        return _fail(method, "this payment method is saved already", before)
    has_default = await session.scalar(
        select(
            exists().where(
                PaymentMethod.user_id == method.user_id, PaymentMethod.is_default.is_(True)
            )
        )
    )
    card = details.kind is PaymentMethodKind.CARD
    activated = _change(
        method,
        status=PaymentMethodStatus.ACTIVE.value,
        provider_reference=details.reference,
        kind=details.kind.value,
        brand=(details.brand or None) and str(details.brand)[:60],
        last4=details.last4,
        exp_month=_in_range(details.exp_month, 1, 12) if card else None,
        exp_year=_in_range(details.exp_year, 2000, 2999) if card else None,
        is_default=not has_default,
        failure_reason=None,
    )
    return Change(
        "applied_active", (activated, _audit("payment_method.activate", method, None, before))
    )


async def setup_event_change(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    kind: EventKind,
    obj: Mapping[str, Any],
) -> Change:
    """What a setup intent's event changes (the row locked here), for the webhook to send with
    its own outcome. Only a `pending` method moves: a repeated or late event changes nothing."""
    method = await _lock_by(session, provider, setup_reference=reference)
    if method is None:
        return Change("unknown_object")
    if method.status != PaymentMethodStatus.PENDING:
        return Change(f"ignored_{method.status}")
    before = snapshot(method)
    if kind == EventKind.SETUP_FAILED:
        return _fail(method, _failure_reason(obj) or "the provider did not save it", before)
    given = obj.get("payment_method")
    if isinstance(given, dict):
        details = _details_in_event(given)
        if details is not None:
            return await _activation(session, method, details, before)
        given = given.get("id")
    if not isinstance(given, str) or not given:
        return Change("ignored_no_payment_method")
    if method.provider_reference == given:
        return Change("ignored_awaiting_details")
    if await _saved_elsewhere(session, method, given):
        return _fail(method, "this payment method is saved already", before)
    # The event names the method only: its details are asked of the provider by a job, outside
    # any transaction (`complete_activation`); it stays pending until then.
    recorded = _change(method, provider_reference=given)
    await defer(session, job_app.configure_task(DETAILS_TASK), method_id=str(method.id))
    return Change("applied_awaiting_details", (recorded,))


async def complete_activation(
    database: Database, provider: PaymentProvider, method_id: uuid.UUID
) -> str:
    """Ask the provider for the display fields of a method whose setup succeeded, then
    activate it. A passing provider failure raises (the job is retried); a refusal fails it."""
    async with database.read_scope() as session:
        method = await session.get(PaymentMethod, method_id)
    if (
        method is None
        or method.status != PaymentMethodStatus.PENDING
        or method.provider_reference is None
    ):
        return "nothing_to_do"
    try:
        details: ProviderPaymentMethod | None = await provider.payment_method_details(
            method.provider_reference
        )
        reason = ""
    except ProviderError as error:
        if error.retryable:
            raise
        details, reason = None, str(error)
    async with database.session_scope() as session:
        locked = await _lock_by(
            session, method.provider, setup_reference=str(method.setup_reference)
        )
        if locked is None or locked.status != PaymentMethodStatus.PENDING:
            return "nothing_to_do"
        before = snapshot(locked)
        if details is None:
            change = _fail(locked, reason, before)
        else:
            change = await _activation(session, locked, details, before)
        return await send_change(session, change)


async def detached_event_change(session: AsyncSession, *, provider: str, reference: str) -> Change:
    """The provider says the method was detached (by the payer at the provider, say): it is
    detached here too."""
    method = await _lock_by(session, provider, provider_reference=reference)
    if method is None:
        return Change("unknown_object")
    if method.status == PaymentMethodStatus.DETACHED:
        return Change("ignored_detached")
    return Change("applied_detached", _detached(method, None))


# --- reading -----------------------------------------------------------------------------------


async def get_own_method(
    session: AsyncSession, method_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> PaymentMethod:
    query = select(PaymentMethod).where(
        PaymentMethod.id == method_id, PaymentMethod.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    method = await session.scalar(query.execution_options(populate_existing=True))
    if method is None:
        raise PaymentMethodNotFound("no such payment method")
    return method


async def own_methods(session: AsyncSession, user_id: uuid.UUID) -> Sequence[PaymentMethod]:
    """The payer's methods but the detached ones, newest first."""
    rows = await session.scalars(
        select(PaymentMethod)
        .where(
            PaymentMethod.user_id == user_id,
            PaymentMethod.status != PaymentMethodStatus.DETACHED.value,
        )
        .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
    )
    return rows.all()


async def chargeable(
    session: AsyncSession, *, method_id: uuid.UUID, user_id: uuid.UUID, provider: str
) -> PaymentMethod:
    """The payer's active method, saved with `provider`, for a funding intent to charge."""
    method = await get_own_method(session, method_id, user_id)
    if method.status != PaymentMethodStatus.ACTIVE:
        raise PaymentMethodNotActive(
            f"the payment method is {method.status}: only an active one is charged"
        )
    if method.provider != provider:
        raise PaymentMethodNotActive(
            f"the payment method was saved with the {method.provider} provider, not this one"
        )
    return method


# --- the default, removing ---------------------------------------------------------------------


async def set_default(
    session: AsyncSession, *, method_id: uuid.UUID, user_id: uuid.UUID
) -> PaymentMethod:
    """Make one of the payer's active methods their default (the previous one no longer is).

    The payer's methods are locked first, in one order, so two requests moving the default
    take turns; the old default is cleared before the new one is set (the unique index on the
    default is checked row by row)."""
    rows = (
        await session.scalars(
            select(PaymentMethod)
            .where(
                PaymentMethod.user_id == user_id,
                PaymentMethod.status == PaymentMethodStatus.ACTIVE.value,
            )
            .order_by(PaymentMethod.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    method = next((row for row in rows if row.id == method_id), None)
    if method is None:
        other = await get_own_method(session, method_id, user_id)  # 404 when not theirs
        raise PaymentMethodNotActive(
            f"the payment method is {other.status}: only an active one is the default"
        )
    if method.is_default:
        return method
    for previous in rows:
        if previous.is_default:
            before = snapshot(previous)
            await session.execute(
                together(
                    _change(previous, is_default=False),
                    _audit("payment_method.undefault", previous, user_id, before),
                )
            )
    before = snapshot(method)
    await session.execute(
        together(
            _change(method, is_default=True),
            _audit("payment_method.default", method, user_id, before),
        )
    )
    return method


def _detached(method: PaymentMethod, actor_id: uuid.UUID | None) -> tuple[UpdateBase, ...]:
    before = snapshot(method)
    moved = _change(
        method, status=PaymentMethodStatus.DETACHED.value, is_default=False, detached_at=utcnow()
    )
    return moved, _audit("payment_method.detach", method, actor_id, before)


async def detach(
    session: AsyncSession,
    provider_for: Callable[[str], PaymentProvider],
    *,
    method_id: uuid.UUID,
    user_id: uuid.UUID,
) -> PaymentMethod:
    """Remove one of the payer's methods: detached at the provider (an active one), then
    here. Removing a removed one answers it as it is."""
    method = await get_own_method(session, method_id, user_id, lock=True)
    if method.status == PaymentMethodStatus.DETACHED:
        return method
    if method.status == PaymentMethodStatus.ACTIVE and method.provider_reference is not None:
        provider = provider_for(method.provider)
        if provider.calls_out:
            # The read is done: end the transaction, so a slow provider holds nothing. Should
            # this process die after the provider detached it, the provider's
            # `payment_method.detached` event detaches it here.
            await session.commit()
        try:
            await provider.detach_payment_method(method.provider_reference)
        except ProviderError as error:
            if error.retryable or error.code not in GONE_AT_PROVIDER:
                raise provider_problem(error) from None
        if provider.calls_out:
            method = await get_own_method(session, method_id, user_id, lock=True)
            if method.status == PaymentMethodStatus.DETACHED:
                return method
    await session.execute(together(*_detached(method, user_id)))
    return method
