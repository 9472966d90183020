"""Funding: money brought in through a provider, credited only when the provider confirms.

An intent is created (`requires_confirmation`), confirmed (`processing`), and settles as
`succeeded`, `failed` or `canceled` when the provider's webhook says so. Only `succeeded` moves
money: provider clearing → the payer's available wallet, or the escrow of the job or campaign
the intent funds. States only move forward, so a late or repeated event changes nothing.

Each step is a few statements (see "The request path" in docs/architecture.md): the intent, its
audit row and the request's stored answer go out as one statement (`creatorhub.db.together`),
and a webhook's credit, with its ledger transfer, as one more. With a provider that calls out
(Stripe), the call never runs inside a transaction: the intent is recorded and committed first
(`Responder.hold`, which keeps the request's key in flight), the provider is called holding no
connection, and the outcome is recorded in a second, short transaction. A process that dies in
between leaves a job behind (`changes.defer_recovery`) that finishes the request:
`recover_create` and `recover_confirm` below.

An intent may charge one of the payer's saved payment methods (`payment_method_id`, see
`payments.methods`): the provider charges it as it creates the intent, which is recorded
`processing` (or `failed`, declined at once) and needs no confirmation; the money still arrives
only with the provider's event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, bindparam, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.audit.service import change_bound, change_insert, snapshot
from creatorhub.db import (
    Bound,
    Database,
    Prepared,
    insert_of,
    row_insert,
    row_params,
    send,
    table_of,
    together,
    together_prepared,
)
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
from creatorhub.ledger.models import AccountKind
from creatorhub.payments import methods
from creatorhub.payments.changes import (
    Change,
    defer_recovery,
    forgotten,
    hold,
    stored,
)
from creatorhub.payments.models import FundingIntent, FundingStatus, PaymentMethod
from creatorhub.payments.providers.base import (
    IntentStatus,
    PaymentProvider,
    ProviderError,
    ProviderIntent,
)
from creatorhub.payments.providers.registry import provider_problem
from creatorhub.payments.schemas import FundingOut

STATE_RANK = {
    FundingStatus.REQUIRES_CONFIRMATION: 0,
    FundingStatus.PROCESSING: 1,
    FundingStatus.SUCCEEDED: 2,
    FundingStatus.FAILED: 2,
    FundingStatus.CANCELED: 2,
}

CREATE, CONFIRM = "funding.create", "funding.confirm"

# The hot paths' statements, built once (`creatorhub.db.Prepared`): a new intent (every
# column, `intent_…`), and for a provider's event the intent locked by its reference and its
# new state. `together_prepared` sends them with their audit row, the stored answer and the
# ledger transfer as one statement.
_INTENTS = table_of(FundingIntent)
INTENT_COLUMNS = tuple(attr.key for attr in sa_inspect(FundingIntent).column_attrs)
NEW_INTENT = Prepared(row_insert(_INTENTS, "intent_"))
INTENT_BY_REFERENCE = Prepared(
    select(*_INTENTS.c)
    .where(
        _INTENTS.c.provider == bindparam("provider", type_=Text),
        _INTENTS.c.provider_reference == bindparam("reference", type_=Text),
    )
    .with_for_update()
)
# A state change sets the four columns a change may touch (those it leaves keep the values
# read under the lock): one statement for every kind of change.
INTENT_STATE = Prepared(
    update(_INTENTS)
    .where(_INTENTS.c.id == bindparam("intent_id", type_=_INTENTS.c.id.type))
    .values(
        {
            name: bindparam(f"intent_{name}", type_=_INTENTS.c[name].type)
            for name in ("status", "updated_at", "succeeded_at", "failure_reason")
        }
    )
)
# The money of a succeeded intent: provider clearing → the payer's wallet (created by the
# statement on its first money), or → an escrow account given by its id.
_CLEARING = ledger.prepared_account_ref("debit_")
TO_WALLET = Prepared(ledger.prepared_transfer(_CLEARING, ledger.prepared_account_ref("credit_")))
TO_ACCOUNT = Prepared(ledger.prepared_transfer(_CLEARING, ledger.account_id_param("credit_id")))


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


# The answer a request creating an intent gives (its status and body), by the route's name for
# it: POST /v1/funding answers the intent (201); a module's own route may answer more (the
# marketplace's job funding: the job and the intent, 200) and registers how. The name travels
# with the recovery job, so that a request that died during its provider call is answered the
# same way by the job as it would have been by the request.
AnswerRenderer = Callable[[AsyncSession, FundingIntent], Awaitable[tuple[int, Any]]]


async def _intent_answer(session: AsyncSession, intent: FundingIntent) -> tuple[int, Any]:
    return 201, FundingOut.model_validate(intent)


INTENT_ANSWER = "funding"
ANSWERS: dict[str, AnswerRenderer] = {INTENT_ANSWER: _intent_answer}


def register_answer(name: str, render: AnswerRenderer) -> None:
    ANSWERS[name] = render


def _set(intent: FundingIntent, **values: Any) -> None:
    """Keep the in-memory intent in step with a Core UPDATE sent for it, without making it
    dirty (the session would otherwise send the same change again at its next flush)."""
    for name, value in values.items():
        set_committed_value(intent, name, value)


def _change(intent: FundingIntent, **values: Any) -> UpdateBase:
    """The UPDATE of `values` on the intent, applied to the in-memory intent as well."""
    values.setdefault("updated_at", utcnow())
    _set(intent, **values)
    return update(FundingIntent).where(FundingIntent.id == intent.id).values(**values)


def _audit(action: str, intent: FundingIntent, actor_id: uuid.UUID | None, **kw: Any) -> UpdateBase:
    return change_insert(
        action=action,
        entity_type="funding_intent",
        entity_id=intent.id,
        actor_id=actor_id,
        after=snapshot(intent),
        **kw,
    )


async def _ask_provider(
    provider: PaymentProvider, intent: FundingIntent, method: PaymentMethod | None = None
) -> ProviderIntent:
    """The provider's intent; with a saved `method`, charged at once."""
    return await provider.create_funding_intent(
        intent_id=intent.id,
        amount=intent.amount,
        currency=intent.currency,
        customer_reference=method.customer_reference if method is not None else None,
        metadata={"funding_intent_id": str(intent.id), "user_id": str(intent.user_id)},
        payment_method_reference=method.provider_reference if method is not None else None,
    )


NEEDS_THE_PAYER = "the payment needs the payer to authenticate it: pay without the saved method"


def _charged(created: ProviderIntent) -> dict[str, Any]:
    """The state of an intent a saved method paid, as the provider answered its creation: in
    progress (the money arrives with the provider's event, even when it says succeeded
    already), or failed at once (declined)."""
    if created.status in (IntentStatus.SUCCEEDED, IntentStatus.PROCESSING):
        return {"status": FundingStatus.PROCESSING.value}
    if created.status is IntentStatus.CANCELED:
        return {"status": FundingStatus.CANCELED.value, "failure_reason": "canceled"}
    reason = created.failure_reason if created.status is IntentStatus.FAILED else NEEDS_THE_PAYER
    return {"status": FundingStatus.FAILED.value, "failure_reason": (reason or "declined")[:500]}


async def _method_of(session: AsyncSession, intent: FundingIntent) -> PaymentMethod | None:
    if intent.payment_method_id is None:
        return None
    return await session.get(PaymentMethod, intent.payment_method_id)


async def _confirm_at_provider(provider: PaymentProvider, intent: FundingIntent) -> None:
    assert intent.provider_reference is not None
    await provider.confirm_funding_intent(
        intent.provider_reference, amount=intent.amount, currency=intent.currency
    )


# --- creating ---------------------------------------------------------------------------------


async def create_intent(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    user_id: uuid.UUID,
    amount: int,
    currency: str,
    target_type: str = "wallet",
    target_id: uuid.UUID | None = None,
    answer: Responder | None = None,
    answer_as: str = INTENT_ANSWER,
    confirm: bool = False,
    payment_method_id: uuid.UUID | None = None,
) -> FundingIntent:
    """A new intent; with `answer`, the request's answer is stored with it: by default 201 and
    the intent, else the one registered as `answer_as` (`register_answer`).

    `confirm` (the sandbox's auto-confirmation) confirms it at once. `payment_method_id`: one
    of the payer's active saved methods (404 another's, 409 one not active), charged at once.
    The intent returned is the caller's image of the row, in no session.
    """
    render = ANSWERS[answer_as]
    method = None
    if payment_method_id is not None:
        method = await methods.chargeable(
            session, method_id=payment_method_id, user_id=user_id, provider=provider.name
        )
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
    now = utcnow()
    intent = FundingIntent(
        id=uuid.uuid4(),
        user_id=user_id,
        amount=amount,
        currency=currency,
        target_type=target_type,
        target_id=target_id if target_type != "wallet" else None,
        provider=provider.name,
        provider_reference=None,
        status=FundingStatus.REQUIRES_CONFIRMATION.value,
        failure_reason=None,
        created_at=now,
        updated_at=now,
        succeeded_at=None,
        payment_method_id=method.id if method is not None else None,
    )
    if not provider.calls_out:
        # A local provider: its answer first, so the row is written once with its reference.
        created = await _ask_provider(provider, intent, method)
        intent.provider_reference = created.reference
        if method is not None:
            for name, value in _charged(created).items():
                setattr(intent, name, value)
        elif confirm:
            await _confirm_at_provider(provider, intent)
            intent.status = FundingStatus.PROCESSING.value
        # The intent, its audit row and the answer: statements built once, sent as one.
        row = {name: getattr(intent, name) for name in INTENT_COLUMNS}
        answered = None
        if answer is not None:
            answered = answer.stored_answer_bound(*await render(session, intent))
        await send(
            session,
            together_prepared(
                NEW_INTENT.bind(row_params("intent_", row)),
                change_bound(
                    action="funding.create",
                    entity_type="funding_intent",
                    entity_id=intent.id,
                    actor_id=user_id,
                    after=row,
                ),
                answered,
            ),
        )
        return intent

    # Over the network: the intent is recorded (without its provider reference) and committed
    # before the call, which holds no connection; the reference follows in a second
    # transaction. Should this process die in between, the recovery job asks the provider again
    # (its idempotency key is derived from the intent's id: the same provider intent).
    recovery = await defer_recovery(session, CREATE, intent.id, answer, answer_as=answer_as)
    await hold(
        session,
        answer,
        insert_of(intent),
        _audit("funding.create", intent, user_id),
        recovery=recovery,
    )
    try:
        created = await _ask_provider(provider, intent, method)
    except ProviderError as error:
        await _give_up(session, intent, str(error), answer)
        raise provider_problem(error) from None
    recorded = _record_reference(intent, created, charged=method is not None)
    outcome = stored(answer, *await render(session, intent)) if answer is not None else ()
    await session.execute(together(*recorded, *outcome))
    return intent


def _record_reference(
    intent: FundingIntent, created: ProviderIntent, *, charged: bool
) -> tuple[UpdateBase, ...]:
    """The provider's reference (and, for an intent a saved method paid, its state) recorded.
    Only if nothing recorded one yet (the recovery job and a very late request race here)."""
    values: dict[str, Any] = {"provider_reference": created.reference, "updated_at": utcnow()}
    if charged:
        values.update(_charged(created))
    _set(intent, **values)
    return (
        update(FundingIntent)
        .where(FundingIntent.id == intent.id, FundingIntent.provider_reference.is_(None))
        .values(**values),
    )


async def _give_up(
    session: AsyncSession, intent: FundingIntent, reason: str, answer: Responder | None
) -> None:
    """The provider refused the intent: it ends canceled, the key is forgotten (a retry runs
    afresh), committed before the request answers with the provider's problem."""
    before = snapshot(intent)
    status = FundingStatus.CANCELED.value
    await session.execute(
        together(
            _change(intent, status=status, failure_reason=reason[:500]),
            _audit(f"funding.{status}", intent, None, before=before),
            *forgotten(answer),
        )
    )
    await session.commit()


# --- reading ----------------------------------------------------------------------------------


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


async def own_intents(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int
) -> Sequence[FundingIntent]:
    """The payer's intents, newest first."""
    rows = await session.scalars(
        select(FundingIntent)
        .where(FundingIntent.user_id == user_id)
        .order_by(FundingIntent.created_at.desc(), FundingIntent.id.desc())
        .limit(limit)
    )
    return rows.all()


# --- confirming -------------------------------------------------------------------------------


async def confirm(
    session: AsyncSession,
    provider_for: Callable[[str], PaymentProvider],
    *,
    intent_id: uuid.UUID,
    user_id: uuid.UUID,
    answer: Responder | None = None,
) -> FundingIntent:
    """Confirm one of the payer's intents (`provider_for(name)`: the intent's provider)."""
    intent = await get_own_intent(session, intent_id, user_id, lock=True)
    return await confirm_intent(session, provider_for(intent.provider), intent, answer=answer)


async def confirm_intent(
    session: AsyncSession,
    provider: PaymentProvider,
    intent: FundingIntent,
    *,
    answer: Responder | None = None,
) -> FundingIntent:
    """Ask the provider to charge; the outcome arrives by webhook. With `answer`, the request's
    answer (200, the intent) is stored with the change."""
    if intent.status != FundingStatus.REQUIRES_CONFIRMATION:
        raise Conflict(
            f"the intent is {intent.status}, not awaiting confirmation",
            code="funding_intent_not_confirmable",
        )
    if not provider.calls_out:
        await _confirm_at_provider(provider, intent)
        processing = _change(intent, status=FundingStatus.PROCESSING.value)
        await session.execute(
            together(processing, *stored(answer, 200, FundingOut.model_validate(intent)))
        )
        return intent

    # Over the network: `processing` is recorded and committed first (no second confirmation
    # can start), the provider is asked holding no connection, the answer stored after.
    recovery = await defer_recovery(session, CONFIRM, intent.id, answer)
    processing = _change(intent, status=FundingStatus.PROCESSING.value)
    await hold(session, answer, processing, recovery=recovery)
    try:
        await _confirm_at_provider(provider, intent)
    except ProviderError as error:
        if not error.retryable:
            # Refused for good (e.g. not the amount we expect): the intent fails.
            await _fail_confirmation(session, intent, str(error), forgotten(answer))
        # Else the provider may have confirmed: the key stays in flight and the recovery job
        # asks again (confirming is idempotent there) and stores the answer.
        raise provider_problem(error) from None
    answered = stored(answer, 200, FundingOut.model_validate(intent))
    if answered:
        await session.execute(together(*answered))
    return intent


async def _fail_confirmation(
    session: AsyncSession, intent: FundingIntent, reason: str, forget: tuple[UpdateBase, ...]
) -> None:
    """The provider refused the confirmation for good: the intent fails and the key is
    forgotten, committed before the request answers with the provider's problem."""
    before = snapshot(intent)
    status = FundingStatus.FAILED.value
    await session.execute(
        together(
            _change(intent, status=status, failure_reason=reason[:500]),
            _audit(f"funding.{status}", intent, None, before=before),
            *forget,
        )
    )
    await session.commit()


# --- the provider's outcome -------------------------------------------------------------------


async def _destination(session: AsyncSession, intent: FundingIntent) -> uuid.UUID | None:
    """The escrow account a succeeded intent credits, or None for the payer's wallet."""
    if intent.target_type == "wallet":
        return None
    assert intent.target_id is not None
    handlers = TARGET_RESOLVERS[intent.target_type]
    if handlers.credited is not None:
        target = await handlers.credited(session, intent)
    else:
        target = await handlers.resolve(
            session, intent.user_id, intent.target_id, intent.currency, intent.amount
        )
    return target.escrow_account_id if target is not None else None


def _credit_values(intent: FundingIntent) -> dict[str, Any]:
    return {
        "amount": intent.amount,
        "kind": "funding",
        "idempotency_key": f"funding_intent:{intent.id}",
        "currency": intent.currency,
        "reference_type": "funding_intent",
        "reference_id": str(intent.id),
    }


async def _credit(session: AsyncSession, intent: FundingIntent) -> Select[Any]:
    """The ledger transfer crediting a succeeded intent, as SQL for the caller's statement:
    provider clearing → the target's escrow, or the payer's wallet (created by the same
    statement if it is the first money it receives)."""
    destination: ledger.AccountRef | None = await _destination(session, intent)
    if destination is None:
        destination = ledger.user_account_ref(intent.user_id, intent.currency)
    return ledger.transfer_select(
        debit_account=ledger.platform_account_ref(AccountKind.PROVIDER_CLEARING, intent.currency),
        credit_account=destination,
        **_credit_values(intent),
    )


async def _credit_bound(session: AsyncSession, intent: FundingIntent) -> Bound:
    """`_credit` as a statement built once and its values."""
    destination = await _destination(session, intent)
    params = {
        **ledger.platform_account_params("debit_", AccountKind.PROVIDER_CLEARING, intent.currency),
        **ledger.transfer_params(**_credit_values(intent)),
    }
    if destination is None:
        params.update(ledger.user_account_params("credit_", intent.user_id, intent.currency))
        return TO_WALLET.bind(params)
    params["credit_id"] = destination
    return TO_ACCOUNT.bind(params)


def _new_state(status: FundingStatus, reason: str | None) -> dict[str, Any]:
    """The columns a move to `status` changes."""
    values: dict[str, Any] = {"status": status.value}
    if status == FundingStatus.SUCCEEDED:
        values["succeeded_at"] = utcnow()
    elif status in (FundingStatus.FAILED, FundingStatus.CANCELED):
        values["failure_reason"] = reason
    values["updated_at"] = utcnow()
    return values


def _moves_forward(current: FundingStatus, status: FundingStatus) -> bool:
    # Repeated, late or out of order: never backwards.
    return STATE_RANK[status] > STATE_RANK[current]


async def funding_status_change(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    status: FundingStatus,
    reason: str | None = None,
) -> Change:
    """Move the intent forward to `status` (a provider's webhook event), as a change to send
    (`changes.send_change`): the intent's row (locked here), its audit row and, for
    `succeeded`, the ledger transfer crediting it. (A webhook sends the same change built once:
    `funding_event`.)"""
    intent = await session.scalar(
        select(FundingIntent)
        .where(FundingIntent.provider == provider, FundingIntent.provider_reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if intent is None:
        return Change("unknown_object")
    current = FundingStatus(intent.status)
    if not _moves_forward(current, status):
        return Change(f"ignored_{current}")
    before = snapshot(intent)
    moved = _change(intent, **_new_state(status, reason))
    money = await _credit(session, intent) if status == FundingStatus.SUCCEEDED else None
    audit = _audit(f"funding.{status}", intent, None, before=before)
    return Change(f"applied_{status}", (moved, audit), money)


@dataclass(frozen=True)
class PreparedChange:
    """`changes.Change` of statements built once (`creatorhub.db.Bound`): what happened, the
    writes that make it so and the ledger call moving money with them, if any."""

    outcome: str
    writes: tuple[Bound, ...] = ()
    money: Bound | None = None


async def funding_event(
    session: AsyncSession,
    *,
    provider: str,
    reference: str,
    status: FundingStatus,
    reason: str | None = None,
) -> PreparedChange:
    """`funding_status_change` for the webhook's hot path, of statements built once: the
    intent locked and read as a row, its new state, its audit row (the row before and after)
    and, for `succeeded`, the transfer crediting it; `send_prepared` sends them."""
    locked = await send(
        session, INTENT_BY_REFERENCE.bind({"provider": provider, "reference": reference})
    )
    row = locked.mappings().one_or_none()
    if row is None:
        return PreparedChange("unknown_object")
    current = FundingStatus(row["status"])
    if not _moves_forward(current, status):
        return PreparedChange(f"ignored_{current}")
    before = dict(row)
    after = {**before, **_new_state(status, reason)}
    moved = INTENT_STATE.bind(
        {
            "intent_id": after["id"],
            "intent_status": after["status"],
            "intent_updated_at": after["updated_at"],
            "intent_succeeded_at": after["succeeded_at"],
            "intent_failure_reason": after["failure_reason"],
        }
    )
    audit = change_bound(
        action=f"funding.{status}",
        entity_type="funding_intent",
        entity_id=after["id"],
        actor_id=None,
        before=before,
        after=after,
    )
    money = None
    if status == FundingStatus.SUCCEEDED:
        # The intent as it is now, in no session: where the money goes is decided from it.
        money = await _credit_bound(session, FundingIntent(**after))
    return PreparedChange(f"applied_{status}", (moved, audit), money)


async def send_prepared(session: AsyncSession, change: PreparedChange, *also: Bound) -> str:
    """Send the change and `also` as one statement (nothing when there is nothing to write);
    a refusal of the ledger's comes back as its problem. Returns the outcome."""
    if change.writes or also or change.money is not None:
        bound = together_prepared(*change.writes, *also, result=change.money)
        await ledger.send(session, bound.statement, dict(bound.params))
    return change.outcome


# --- recovering a request that died during its provider call -----------------------------------


async def recover_create(
    database: Database,
    provider: PaymentProvider,
    intent_id: uuid.UUID,
    key: tuple[str, str] | None,
    answer_as: str = INTENT_ANSWER,
) -> str:
    """Finish a create whose process died after recording the intent: ask the provider again
    (the same provider intent: its key is derived from our id), record the reference, store
    the request's answer (`answer_as`: as the request would have). Nothing to do when the
    request finished it."""
    async with database.read_scope() as session:
        intent = await session.get(FundingIntent, intent_id)
        method = await _method_of(session, intent) if intent is not None else None
    if intent is None or intent.provider_reference is not None:
        return "nothing_to_recover"
    try:
        # The same request as the first (its key is derived from our id): the same intent,
        # the same charge of a saved method, never a second.
        created = await _ask_provider(provider, intent, method)
    except ProviderError as error:
        if error.retryable:
            raise  # the job is retried
        async with database.session_scope() as session:
            before = snapshot(intent)
            await session.execute(
                together(
                    _change(
                        intent, status=FundingStatus.CANCELED.value, failure_reason=str(error)[:500]
                    ),
                    _audit("funding.canceled", intent, None, before=before),
                    *_forget(key),
                )
            )
        return "canceled"
    async with database.session_scope() as session:
        writes = _record_reference(intent, created, charged=method is not None)
        finished: tuple[UpdateBase, ...] = ()
        if key is not None:
            status_code, body = await ANSWERS[answer_as](session, intent)
            finished = (finish_in_flight(*key, status_code, answer_content(body)),)
        await session.execute(together(*writes, *finished))
    return "recovered"


async def recover_confirm(
    database: Database, provider: PaymentProvider, intent_id: uuid.UUID, key: tuple[str, str] | None
) -> str:
    """Finish a confirmation whose process died (or whose provider call failed for a passing
    reason) after recording `processing`: confirm again (idempotent at the provider) and store
    the request's answer."""
    async with database.read_scope() as session:
        intent = await session.get(FundingIntent, intent_id)
        pending = key is not None and await in_flight(session, *key) is not None
    if intent is None or not pending:
        return "nothing_to_recover"
    try:
        await _confirm_at_provider(provider, intent)
    except ProviderError as error:
        if error.retryable:
            raise
        async with database.session_scope() as session:
            await _fail_confirmation(session, intent, str(error), _forget(key))
        return "failed"
    async with database.session_scope() as session:
        await session.execute(together(*_finish(key, 200, intent)))
    return "recovered"


def _finish(
    key: tuple[str, str] | None, status_code: int, intent: FundingIntent
) -> tuple[UpdateBase, ...]:
    if key is None:
        return ()
    content = answer_content(FundingOut.model_validate(intent))
    return (finish_in_flight(*key, status_code, content),)


def _forget(key: tuple[str, str] | None) -> tuple[UpdateBase, ...]:
    return (forget_in_flight(*key),) if key is not None else ()
