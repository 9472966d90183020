"""Delivering the outbox: SMTP when configured, the dev log otherwise.

No transaction is open while the SMTP server is talked to (issue 12). An attempt:

1. claims the message in a short transaction of its own: `pending` becomes `sending`,
   `attempts` + 1, `claimed_until` the attempt's deadline (`claim_seconds`); committed, so the
   intent is recorded before anything goes out;
2. sends it, holding no lock and no connection;
3. records the outcome in a second short transaction, only if its claim still stands: `sent`;
   or the error, back to `pending` for procrastinate's retry with backoff (`failed` at the
   last attempt).

Another job for the same message meanwhile finds it `sending` and skips it: it neither waits
nor sends it a second time. A worker that dies between 1 and 3 leaves its claim to run out;
`requeue_stalled_mail` (every minute) puts such a message back to `pending` with a new job, or
marks it `failed` when that was its last attempt. The server may have received it already:
delivery is at least once, and the Message-ID, the same at every attempt, lets the receiving
side recognise the copy.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage

import procrastinate
import structlog
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.jobs import defer, job_app, task_database, task_settings
from creatorhub.kit.clock import utcnow
from creatorhub.mail.models import OutboxMessage

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
# An SMTP conversation is at most this many exchanges (connect, EHLO, STARTTLS, EHLO, AUTH,
# MAIL, RCPT, DATA, the message, QUIT), each waiting at most `smtp_timeout_seconds`.
SMTP_EXCHANGES = 10
# Added to the claim so that a worker that is merely slow (a busy thread pool, a paused VM)
# still finishes inside it.
CLAIM_MARGIN_SECONDS = 60.0
# How many stalled messages one sweep puts back; the next minute's takes the rest.
MAX_REQUEUED_PER_RUN = 500
STALLED_ERROR = "the attempt did not finish: its worker stopped before recording the outcome"


def claim_seconds(settings: Settings) -> float:
    """How long an attempt's claim lasts: longer than its SMTP conversation can take."""
    return SMTP_EXCHANGES * settings.smtp_timeout_seconds + CLAIM_MARGIN_SECONDS


def _send_smtp(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)


@job_app.task(
    queue="mail",
    retry=procrastinate.RetryStrategy(
        max_attempts=MAX_ATTEMPTS,
        exponential_wait=2,
        retry_exceptions={OSError, smtplib.SMTPException},
    ),
)
async def deliver_mail(message_id: str) -> str:
    """Send one outbox message: claimed, sent with no transaction open, its outcome recorded.

    A failed attempt is recorded (attempts, last_error) and committed before the error is
    raised again for procrastinate to retry with backoff; the last attempt marks it failed.
    """
    settings, database = task_settings(), task_database()
    target = uuid.UUID(message_id)
    if settings.smtp_host is None:
        return await _log_instead(database, target)
    message = await claim(database, target, timedelta(seconds=claim_seconds(settings)))
    if message is None:
        return "skipped"
    claimed_until = message.claimed_until
    try:
        await asyncio.to_thread(_send_smtp, settings, _email(settings, message))
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        final = message.attempts >= MAX_ATTEMPTS
        status = "failed" if final else "pending"
        if not await finish_attempt(
            database, target, claimed_until, status=status, last_error=error
        ):
            return "claim_lost"
        if final:
            log.error("mail_failed", message_id=message_id, error=error)
            return "failed"
        raise
    if not await finish_attempt(database, target, claimed_until, status="sent"):
        # Sent, but the claim ran out first and another attempt may send it again.
        return "sent_claim_lost"
    log.info("mail_sent", message_id=message_id, to=message.to_address)
    return "sent"


async def claim(
    database: Database, message_id: uuid.UUID, length: timedelta
) -> OutboxMessage | None:
    """Take a pending message for one attempt (committed); None when it is not pending (sent,
    failed, or another attempt's claim stands)."""
    async with database.session_scope() as session:
        message: OutboxMessage | None = await session.scalar(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(
                status="sending",
                attempts=OutboxMessage.attempts + 1,
                claimed_until=func.now() + length,
            )
            .returning(OutboxMessage)
        )
    return message


async def finish_attempt(
    database: Database,
    message_id: uuid.UUID,
    claimed_until: datetime | None,
    *,
    status: str,
    last_error: str | None = None,
) -> bool:
    """Record the attempt's outcome if its claim still stands; whether it did."""
    values: dict[str, object] = {"status": status, "claimed_until": None}
    if status == "sent":
        values["sent_at"] = utcnow()
    if last_error is not None:
        values["last_error"] = last_error
    async with database.session_scope() as session:
        recorded = await session.scalar(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_until == claimed_until,
            )
            .values(**values)
            .returning(OutboxMessage.id)
        )
    if recorded is None:
        log.warning("mail_claim_lost", message_id=str(message_id), outcome=status)
    return recorded is not None


async def _log_instead(database: Database, message_id: uuid.UUID) -> str:
    """No SMTP host (development): the message goes to the log, in one transaction."""
    async with database.session_scope() as session:
        message = await session.scalar(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(status="logged", sent_at=utcnow(), attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage)
        )
        if message is None:
            return "skipped"
        log.info(
            "mail_dev_log", to=message.to_address, subject=message.subject, body=message.body_text
        )
    return "logged"


async def requeue_stalled(session: AsyncSession, *, limit: int = MAX_REQUEUED_PER_RUN) -> int:
    """Messages whose claim ran out (their worker died mid-attempt) go back to `pending` with a
    new delivery job, or become `failed` if that was their last attempt; returns how many."""
    stalled = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_until < func.now())
        .order_by(OutboxMessage.claimed_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(stalled))
            .values(
                status=case((OutboxMessage.attempts >= MAX_ATTEMPTS, "failed"), else_="pending"),
                claimed_until=None,
                last_error=STALLED_ERROR,
            )
            .returning(OutboxMessage.id, OutboxMessage.status)
        )
    ).all()
    for message_id, status in rows:
        if status == "pending":
            await defer(session, deliver_mail, message_id=str(message_id))
        log.warning("mail_attempt_stalled", message_id=str(message_id), now=status)
    return len(rows)


@job_app.periodic(cron="* * * * *", periodic_id="requeue_stalled_mail")
@job_app.task(queue="mail", queueing_lock="requeue_stalled_mail")
async def requeue_stalled_mail(timestamp: int) -> int:
    async with task_database().session_scope() as session:
        return await requeue_stalled(session)


def _email(settings: Settings, message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = f"<{message.id}@creatorhub>"
    email.set_content(message.body_text)
    return email
