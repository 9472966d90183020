"""Recurring billing: plans, subscriptions, and the periodic renewal that charges them.

The primitive under fan subscriptions and giveaway plans. Every charge is `pay_earnings` from
the subscriber's available wallet to the plan owner (gross in, platform fee for the plan's
`transaction_kind` out), with the ledger key ``subscription:<id>:period:<n>``: period n of a
subscription can be charged once, however often or concurrently a renewal runs.

The billing calendar
    A subscription's periods are anchored on its start (`created_at`, which `subscribe` sets to
    its `now`): period n runs from anchor + (n-1) intervals to anchor + n intervals. A month is a
    calendar month, the anchor's day clamped to the month's last day, always counted from the
    anchor: a subscription started on Jan 31 renews on Feb 28 (29), then Mar 31, Apr 30...
    A renewal continues from the previous period's end, never from the time the job ran; a
    lifetime plan is charged once and has no period end.

Lifecycle
    active ──renewal fails──▶ past_due ──renewal succeeds──▶ active
    past_due for `grace` (default 7 days) and still failing ──▶ canceled
    cancel (at period end) ──▶ canceled by the first renewal at or after the period end,
    without a charge; cancel (now) ──▶ canceled at once. Nothing is refunded either way: the
    period already paid was bought whole.
"""

from __future__ import annotations

import calendar
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import is_unique_violation
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, NotFound, Unprocessable
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds, LedgerProblem
from creatorhub.ledger.models import Transfer
from creatorhub.payments.earnings import pay_earnings
from creatorhub.payments.models import Plan, PlanInterval, Subscription, SubscriptionStatus

log = structlog.get_logger(__name__)

# How long a subscription may stay past due (its renewal failing) before it is canceled.
GRACE_PERIOD = timedelta(days=7)
# Largest plan price, in minor units: far beyond any real price, far below bigint.
MAX_PLAN_AMOUNT = 10**12
MAX_PLAN_NAME_LENGTH = 200
DEFAULT_TRANSACTION_KIND = "subscription"
REFERENCE_TYPE = "subscription"

_CURRENCY = re.compile(r"^(?:[A-Z]{3}|CREDIT)$")
# Subscription ids derived from (subscriber, plan, key): the same key gives the same one.
_SUBSCRIPTION_NAMESPACE = uuid.UUID("5c1b8f0e-6a57-4c8e-9d3e-2f1a0b7c4d21")


# --- refusals -------------------------------------------------------------------------------


class PlanNotFound(NotFound):
    code = "plan_not_found"


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class PlanInactive(Conflict):
    code = "plan_inactive"


class AlreadySubscribed(Conflict):
    code = "already_subscribed"


class OwnPlan(Unprocessable):
    code = "own_plan"


class NoPeriodEnd(Conflict):
    code = "no_period_end"


class InvalidPlan(Unprocessable):
    code = "validation_error"


# --- the calendar ---------------------------------------------------------------------------


def add_months(anchor: datetime, months: int) -> datetime:
    """`anchor` moved by whole calendar months, its day clamped to the target month's length."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_end(anchor: datetime, interval: str, period: int) -> datetime | None:
    """The end of period `period` (1-based) of a subscription anchored on `anchor`."""
    if interval == PlanInterval.MONTH:
        return add_months(anchor, period)
    if interval == PlanInterval.YEAR:
        return add_months(anchor, 12 * period)
    if interval == PlanInterval.LIFETIME:
        return None
    raise ValueError(f"unknown plan interval {interval!r}")


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("billing needs an aware datetime")
    return now.astimezone(UTC)


def period_key(subscription_id: uuid.UUID, period: int) -> str:
    """The ledger idempotency key of the charge for `period` of a subscription."""
    return f"subscription:{subscription_id}:period:{period}"


def subscription_id_for(subscriber_id: uuid.UUID, plan_id: uuid.UUID, key: str) -> uuid.UUID:
    return uuid.uuid5(_SUBSCRIPTION_NAMESPACE, f"{subscriber_id}:{plan_id}:{key}")


# --- plans ----------------------------------------------------------------------------------


async def create_plan(
    session: AsyncSession,
    owner_id: uuid.UUID,
    name: str,
    amount: int,
    currency: str,
    interval: PlanInterval | str,
    transaction_kind: str = DEFAULT_TRANSACTION_KIND,
) -> Plan:
    """A plan charging `amount` (minor units of `currency`) every `interval` to its owner."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_PLAN_NAME_LENGTH:
        raise InvalidPlan(f"name must be 1 to {MAX_PLAN_NAME_LENGTH} characters", field="name")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_PLAN_AMOUNT:
        raise InvalidPlan(
            f"amount must be an integer from 1 to {MAX_PLAN_AMOUNT} minor units", field="amount"
        )
    if not _CURRENCY.match(currency):
        raise InvalidPlan("currency must be 3 upper-case letters", field="currency")
    if interval not in set(PlanInterval):
        raise InvalidPlan("interval must be month, year or lifetime", field="interval")
    if not transaction_kind:
        raise InvalidPlan("transaction_kind must not be empty", field="transaction_kind")
    plan = Plan(
        owner_id=owner_id,
        name=name,
        amount=amount,
        currency=currency,
        interval=str(interval),
        transaction_kind=transaction_kind,
    )
    session.add(plan)
    await session.flush()
    await session.refresh(plan)
    return plan


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise PlanNotFound("no such plan")
    return plan


# --- charging -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Charge:
    """One period's charge: `gross` left the subscriber, `net` reached the owner."""

    period: int
    gross: int
    fee: int
    currency: str
    transfer_id: uuid.UUID

    @property
    def net(self) -> int:
        return self.gross - self.fee


async def _charge(
    session: AsyncSession,
    settings: Settings,
    plan: Plan,
    subscription_id: uuid.UUID,
    subscriber_id: uuid.UUID,
    period: int,
    now: datetime,
) -> Charge:
    wallet = await ledger.user_account(session, subscriber_id, plan.currency)
    earning = await pay_earnings(
        session,
        payee_id=plan.owner_id,
        gross=plan.amount,
        currency=plan.currency,
        kind=plan.transaction_kind,
        key=period_key(subscription_id, period),
        reason=f"subscription {plan.name}",
        now=now,
        hold_days=settings.earnings_hold_days,
        fee_shards=settings.fee_shards,
        payer_account_id=wallet,
        reference_type=REFERENCE_TYPE,
        reference_id=str(subscription_id),
    )
    return Charge(
        period=period,
        gross=earning.quote.gross,
        fee=earning.quote.fee,
        currency=plan.currency,
        transfer_id=earning.transfers[0].transfer_id,
    )


async def recorded_charge(
    session: AsyncSession, subscription_id: uuid.UUID, period: int
) -> Charge | None:
    """The charge for `period` as the ledger recorded it, or None if there was none."""
    key = period_key(subscription_id, period)
    rows = {
        transfer.idempotency_key: transfer
        for transfer in await session.scalars(
            select(Transfer).where(Transfer.idempotency_key.in_([key, f"{key}:fee"]))
        )
    }
    gross = rows.get(key)
    if gross is None:
        return None
    fee = rows.get(f"{key}:fee")
    return Charge(
        period=period,
        gross=gross.amount,
        fee=fee.amount if fee is not None else 0,
        currency=gross.currency,
        transfer_id=gross.id,
    )


# --- subscribing and canceling --------------------------------------------------------------


@dataclass(frozen=True)
class Subscribed:
    subscription: Subscription
    plan: Plan
    charge: Charge
    created: bool  # False: the same key subscribed before; this is that subscription


async def subscribe(
    session: AsyncSession,
    settings: Settings,
    plan_id: uuid.UUID,
    subscriber_id: uuid.UUID,
    now: datetime,
    key: str,
) -> Subscribed:
    """Subscribe to a plan, charging the first period at once from the subscriber's wallet.

    `key` identifies the operation (the request's `Idempotency-Key`): the subscription's id is
    derived from it, so calling again with the same key returns the first subscription and its
    charge instead of a second one. Refusals (`insufficient_funds`, `already_subscribed`,
    `plan_inactive`, `own_plan`) leave nothing behind and the caller's transaction usable.
    """
    now = _utc(now)
    plan = await get_plan(session, plan_id)
    subscription_id = subscription_id_for(subscriber_id, plan.id, key)
    replay = await _replay(session, plan, subscription_id)
    if replay is not None:
        return replay
    if plan.owner_id == subscriber_id:
        raise OwnPlan("you cannot subscribe to your own plan", field="plan_id")
    if not plan.active:
        raise PlanInactive("this plan no longer takes subscribers")
    if await _live_subscription(session, plan.id, subscriber_id) is not None:
        raise AlreadySubscribed("you already have a subscription to this plan")

    subscription = Subscription(
        id=subscription_id,
        plan_id=plan.id,
        subscriber_id=subscriber_id,
        status=SubscriptionStatus.ACTIVE.value,
        current_period_start=now,
        current_period_end=period_end(now, plan.interval, 1),
        cancel_at_period_end=False,
        periods_paid=1,
        created_at=now,  # the anchor of the billing calendar
    )
    try:
        async with session.begin_nested():
            session.add(subscription)
            await session.flush()
            charge = await _charge(session, settings, plan, subscription_id, subscriber_id, 1, now)
    except IntegrityError as error:
        # A concurrent subscribe committed first: the same key (a replay: the id derived from
        # it) or another one (one live subscription per subscriber and plan).
        if not is_unique_violation(error, "pk_subscriptions", "uq_subscriptions_live"):
            raise
        replay = await _replay(session, plan, subscription_id)
        if replay is not None:
            return replay
        raise AlreadySubscribed("you already have a subscription to this plan") from error
    await session.refresh(subscription)
    log.info(
        "subscription_created",
        subscription_id=str(subscription_id),
        plan_id=str(plan.id),
        gross=charge.gross,
        fee=charge.fee,
    )
    return Subscribed(subscription=subscription, plan=plan, charge=charge, created=True)


async def _replay(
    session: AsyncSession, plan: Plan, subscription_id: uuid.UUID
) -> Subscribed | None:
    existing = await session.get(Subscription, subscription_id, populate_existing=True)
    if existing is None:
        return None
    charge = await recorded_charge(session, existing.id, 1)
    if charge is None:  # pragma: no cover - the row and its first charge commit together
        raise RuntimeError(f"subscription {existing.id} has no first charge")
    return Subscribed(subscription=existing, plan=plan, charge=charge, created=False)


async def _live_subscription(
    session: AsyncSession, plan_id: uuid.UUID, subscriber_id: uuid.UUID
) -> Subscription | None:
    return await session.scalar(
        select(Subscription).where(
            Subscription.plan_id == plan_id,
            Subscription.subscriber_id == subscriber_id,
            Subscription.status != SubscriptionStatus.CANCELED.value,
        )
    )


async def cancel(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    subscriber: uuid.UUID,
    at_period_end: bool = True,
    *,
    now: datetime | None = None,
) -> Subscription:
    """Stop a subscription: at the end of the paid period (the default) or now.

    At period end, access continues until then and the renewal that would have charged the
    next period cancels it instead. Now, it is canceled at once. No refund in either case.
    Canceling again is harmless: the subscription is returned as it is (a cancel at period end
    after a cancel now changes nothing). Only the subscriber may cancel: for anyone else the
    subscription does not exist (404). A lifetime subscription has no period end: only a cancel
    now applies to it (409 `no_period_end` otherwise).
    """
    now = _utc(now or utcnow())
    subscription = await session.scalar(
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if subscription is None or subscription.subscriber_id != subscriber:
        raise SubscriptionNotFound("no such subscription")
    if subscription.status == SubscriptionStatus.CANCELED:
        return subscription
    if at_period_end:
        if subscription.current_period_end is None:
            raise NoPeriodEnd(
                "a lifetime subscription has no period end; cancel it now instead",
                field="at_period_end",
            )
        subscription.cancel_at_period_end = True
    else:
        subscription.status = SubscriptionStatus.CANCELED.value
        subscription.canceled_at = now
    await session.flush()
    await session.refresh(subscription)
    log.info(
        "subscription_canceled",
        subscription_id=str(subscription.id),
        at_period_end=at_period_end,
    )
    return subscription


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, subscriber: uuid.UUID
) -> Subscription:
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None or subscription.subscriber_id != subscriber:
        raise SubscriptionNotFound("no such subscription")
    return subscription


async def list_subscriptions(
    session: AsyncSession, subscriber: uuid.UUID, *, limit: int = 100, offset: int = 0
) -> list[tuple[Subscription, Plan]]:
    """The subscriber's subscriptions with their plans, newest first."""
    rows = await session.execute(
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.subscriber_id == subscriber)
        .order_by(Subscription.created_at.desc(), Subscription.id)
        .limit(limit)
        .offset(offset)
    )
    return [(subscription, plan) for subscription, plan in rows]


# --- renewal --------------------------------------------------------------------------------


@dataclass
class RenewalReport:
    renewed: int = 0  # charged for the next period
    past_due: int = 0  # the charge failed; retried on the next run
    canceled: int = 0  # canceled at period end, as the subscriber asked
    expired: int = 0  # past due for longer than the grace period: canceled
    # The batch was full of active subscriptions: more may be due (run again).
    more_due: bool = False

    @property
    def total(self) -> int:
        return self.renewed + self.past_due + self.canceled + self.expired

    def as_dict(self) -> dict[str, int]:
        return {
            "renewed": self.renewed,
            "past_due": self.past_due,
            "canceled": self.canceled,
            "expired": self.expired,
        }


async def renew_due(
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    limit: int = 500,
    *,
    grace: timedelta = GRACE_PERIOD,
) -> RenewalReport:
    """Renew, cancel or mark past due the subscriptions whose period ended by `now`.

    Active subscriptions come first, oldest period end first, then past-due ones (retried on
    every run until they pay or their grace is over). Rows are taken FOR UPDATE SKIP LOCKED,
    so concurrent runs share the work instead of both doing it; the ledger key of each
    period's charge makes a repeated charge impossible anyway. A failed charge is rolled back
    to a savepoint; the rest of the batch goes on. One run charges at most one period per
    subscription: one that is several periods behind catches up on the following runs.
    """
    now = _utc(now)
    active = await _due(session, now, SubscriptionStatus.ACTIVE, limit)
    past_due = await _due(session, now, SubscriptionStatus.PAST_DUE, limit - len(active))
    report = RenewalReport(more_due=len(active) == limit)
    batch = [*active, *past_due]
    plan_ids = {subscription.plan_id for subscription in batch}
    plans: dict[uuid.UUID, Plan] = {}
    if plan_ids:
        found = await session.scalars(select(Plan).where(Plan.id.in_(plan_ids)))
        plans = {plan.id: plan for plan in found}
    for subscription in batch:
        plan = plans[subscription.plan_id]
        await _renew_one(session, settings, plan, subscription, now, grace, report)
    await session.flush()
    if report.total:
        log.info("subscriptions_renewed", **report.as_dict())
    return report


async def _due(
    session: AsyncSession, now: datetime, status: SubscriptionStatus, limit: int
) -> list[Subscription]:
    if limit <= 0:
        return []
    rows = await session.scalars(
        select(Subscription)
        .where(
            Subscription.status == status.value,
            Subscription.current_period_end.is_not(None),
            Subscription.current_period_end <= now,
        )
        .order_by(Subscription.current_period_end, Subscription.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def _renew_one(
    session: AsyncSession,
    settings: Settings,
    plan: Plan,
    subscription: Subscription,
    now: datetime,
    grace: timedelta,
    report: RenewalReport,
) -> None:
    if subscription.cancel_at_period_end:
        subscription.status = SubscriptionStatus.CANCELED.value
        subscription.canceled_at = now
        report.canceled += 1
        return
    previous_end = subscription.current_period_end
    if previous_end is None:  # lifetime: never due (not selected)
        return
    # Read before the savepoint: a rolled-back savepoint may expire what it touched.
    subscription_id = subscription.id
    anchor = subscription.created_at
    period = subscription.periods_paid + 1
    past_due_since = subscription.past_due_since
    try:
        async with session.begin_nested():
            await _charge(
                session, settings, plan, subscription_id, subscription.subscriber_id, period, now
            )
    except LedgerProblem as refusal:
        if not isinstance(refusal, InsufficientFunds):
            log.error(
                "subscription_renewal_refused",
                subscription_id=str(subscription_id),
                code=refusal.code,
                detail=refusal.detail,
            )
        since = past_due_since or now
        if now - since >= grace:
            subscription.status = SubscriptionStatus.CANCELED.value
            subscription.canceled_at = now
            subscription.past_due_since = since
            report.expired += 1
        else:
            subscription.status = SubscriptionStatus.PAST_DUE.value
            subscription.past_due_since = since
            report.past_due += 1
        return
    subscription.current_period_start = previous_end
    subscription.current_period_end = period_end(anchor, plan.interval, period)
    subscription.periods_paid = period
    subscription.status = SubscriptionStatus.ACTIVE.value
    subscription.past_due_since = None
    report.renewed += 1
