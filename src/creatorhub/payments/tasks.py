"""Jobs of the payments module: webhook delivery (sandbox), payout submission, periodic upkeep."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import procrastinate
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.jobs import defer, job_app, task_database, task_settings
from creatorhub.kit.clock import utcnow
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds, LedgerProblem
from creatorhub.payments import earnings, funding, methods, payouts
from creatorhub.payments.changes import RECOVERY_TASK
from creatorhub.payments.providers.base import PaymentProvider
from creatorhub.payments.providers.registry import get_provider
from creatorhub.payments.providers.sandbox import SIGNATURE_HEADER, sign

log = structlog.get_logger(__name__)

# When the app runs in this process, sandbox events are posted to it in memory (still through
# the webhook endpoint, its signature check and its transaction); otherwise over HTTP to
# `public_base_url`.
_local_app: Any = None


def deliver_in_process(app: Any) -> None:
    global _local_app
    _local_app = app


def provider_in(session: AsyncSession, name: str | None = None) -> PaymentProvider:
    """The configured provider, its sandbox events deferred in `session`'s transaction."""

    async def emit(event: dict[str, Any]) -> None:
        await defer(session, deliver_sandbox_event, event=event)

    return get_provider(task_settings(), name, emit=emit)


class DeliveryFailed(Exception):
    pass


@job_app.task(
    queue="webhooks",
    retry=procrastinate.RetryStrategy(
        max_attempts=10, exponential_wait=2, retry_exceptions={DeliveryFailed, httpx.HTTPError}
    ),
)
async def deliver_sandbox_event(event: dict[str, Any]) -> int:
    """POST one signed sandbox event to the webhook endpoint, as a provider would."""
    settings = task_settings()
    body = json.dumps(event, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(
            settings.sandbox_webhook_secret, body, int(datetime.now(UTC).timestamp())
        ),
    }
    if _local_app is not None:
        transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=_local_app)
        base_url = "http://sandbox.internal"
    else:
        transport = httpx.AsyncHTTPTransport(retries=1)
        base_url = settings.link_base_url
    async with httpx.AsyncClient(transport=transport, base_url=base_url, timeout=10) as http:
        response = await http.post("/v1/webhooks/sandbox", content=body, headers=headers)
    if response.status_code >= 300:
        raise DeliveryFailed(f"webhook answered {response.status_code}: {response.text[:200]}")
    return response.status_code


@job_app.task(
    queue="payouts",
    retry=procrastinate.RetryStrategy(max_attempts=8, exponential_wait=2),
)
async def submit_payout(payout_id: str) -> str:
    async with task_database().session_scope() as session:
        outcome = await payouts.submit_payout(session, provider_in(session), uuid.UUID(payout_id))
    log.info("payout_submitted", payout_id=payout_id, outcome=outcome)
    return outcome


@job_app.task(
    name=RECOVERY_TASK,
    queue="payments",
    retry=procrastinate.RetryStrategy(max_attempts=10, exponential_wait=2),
)
async def recover_call_out(
    operation: str,
    target_id: str,
    scope: str | None,
    key: str | None,
    answer_as: str = funding.INTENT_ANSWER,
) -> str:
    """Finish a request that called the provider and died before it recorded the outcome.

    Deferred with the request's intent (`changes.defer_recovery`), to run once any live
    request has given up; it finds nothing to do when the request finished. A passing provider
    failure raises, and the job is retried.
    """
    database = task_database()
    provider = get_provider(task_settings())
    idempotency_key = (scope, key) if scope is not None and key is not None else None
    target = uuid.UUID(target_id)
    if operation == funding.CREATE:
        outcome = await funding.recover_create(
            database, provider, target, idempotency_key, answer_as
        )
    elif operation == funding.CONFIRM:
        outcome = await funding.recover_confirm(database, provider, target, idempotency_key)
    elif operation == payouts.CREATE_ACCOUNT and idempotency_key is not None:
        outcome = await payouts.recover_payout_account(database, provider, target, idempotency_key)
    elif operation == methods.CREATE:
        outcome = await methods.recover_create(database, target, idempotency_key)
    else:
        outcome = "unknown_operation"
    log.info("call_out_recovered", operation=operation, target_id=target_id, outcome=outcome)
    return outcome


@job_app.task(
    name=methods.DETAILS_TASK,
    queue="payments",
    retry=procrastinate.RetryStrategy(max_attempts=10, exponential_wait=2),
)
async def fetch_payment_method_details(method_id: str) -> str:
    """A saved method whose setup succeeded, named only by the provider's event: its display
    fields asked of the provider (outside any transaction), then the method activated."""
    outcome = await methods.complete_activation(
        task_database(), get_provider(task_settings()), uuid.UUID(method_id)
    )
    log.info("payment_method_details", method_id=method_id, outcome=outcome)
    return outcome


@job_app.periodic(cron="*/15 * * * *", periodic_id="resubmit_stalled_payouts")
@job_app.task(queue="maintenance", queueing_lock="resubmit_stalled_payouts")
async def resubmit_stalled_payouts(timestamp: int) -> int:
    """Payouts whose submission job gave up are submitted again (`payouts.resubmit_stalled`)."""
    async with task_database().session_scope() as session:
        resubmitted = await payouts.resubmit_stalled(session, utcnow())
    for payout_id in resubmitted:
        log.warning("payout_resubmitted", payout_id=str(payout_id))
    return len(resubmitted)


@job_app.periodic(cron="*/5 * * * *", periodic_id="release_due_earnings")
@job_app.task(queue="maintenance", queueing_lock="release_due_earnings")
async def release_due_earnings(timestamp: int) -> int:
    async with task_database().session_scope() as session:
        released = await earnings.release_due_earnings(session, utcnow())
    log.info("earnings_released", count=released)
    return released


@job_app.periodic(cron="* * * * *", periodic_id="expire_holds")
@job_app.task(queue="maintenance", queueing_lock="expire_holds")
async def expire_holds(timestamp: int) -> int:
    async with task_database().session_scope() as session:
        expired = await ledger.expire_holds(session, utcnow())
    if expired:
        log.info("holds_expired", count=expired)
    return expired


async def run_payout_cycle(now: datetime) -> dict[str, int]:
    """Pay out every ready payee's whole available balance once per month (if ≥ the minimum)."""
    settings = task_settings()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    counts = {"requested": 0, "below_minimum": 0, "failed": 0}
    database = task_database()
    async with database.session_scope() as session:
        due = await payouts.payees_due_for_cycle(
            session, settings, settings.payout_currency, month_start
        )
    for user_id in due:
        # One payee per transaction: one refusal must not undo the others' payouts.
        try:
            async with database.session_scope() as session:
                available = await payouts.available_balance(
                    session, user_id, settings.payout_currency
                )
                if available < max(settings.payout_minimum_amount, 1):
                    counts["below_minimum"] += 1
                    continue
                # Its submission is deferred with it, in this transaction.
                await payouts.request_payout(
                    session,
                    settings,
                    user_id=user_id,
                    amount=available,
                    currency=settings.payout_currency,
                    trigger="monthly_cycle",
                )
                counts["requested"] += 1
        except InsufficientFunds as refusal:
            await ledger.record_insufficient_funds(database, refusal)
            counts["failed"] += 1
        except LedgerProblem:
            log.exception("payout_cycle_refused", user_id=str(user_id))
            counts["failed"] += 1
    log.info("payout_cycle_done", **counts)
    return counts


@job_app.periodic(cron="0 6 1 * *", periodic_id="monthly_payout_cycle")
@job_app.task(queue="payouts", queueing_lock="monthly_payout_cycle")
async def monthly_payout_cycle(timestamp: int) -> dict[str, int]:
    return await run_payout_cycle(utcnow())
