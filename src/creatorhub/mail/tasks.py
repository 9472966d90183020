"""Delivering the outbox: SMTP when configured, the dev log otherwise."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from email.message import EmailMessage

import procrastinate
import structlog
from sqlalchemy import select

from creatorhub.config import Settings
from creatorhub.jobs import job_app, task_database, task_settings
from creatorhub.kit.clock import utcnow
from creatorhub.mail.models import OutboxMessage

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8


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
    """Send one outbox message. Row-locked, so two workers never send it at once.

    A failed attempt is recorded (attempts, last_error) and committed before the error is
    raised again for procrastinate to retry with backoff; the last attempt marks it failed.
    """
    settings = task_settings()
    failure: Exception | None = None
    async with task_database().session_scope() as session:
        message = await session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.id == uuid.UUID(message_id))
            .with_for_update(skip_locked=True)
        )
        if message is None or message.status != "pending":
            return "skipped"
        message.attempts += 1
        if settings.smtp_host is None:
            log.info(
                "mail_dev_log",
                to=message.to_address,
                subject=message.subject,
                body=message.body_text,
            )
            message.status, message.sent_at = "logged", utcnow()
            return "logged"
        try:
            await asyncio.to_thread(_send_smtp, settings, _email(settings, message))
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
                log.error("mail_failed", message_id=message_id, error=message.last_error)
                return "failed"
            failure = exc
        else:
            message.status, message.sent_at = "sent", utcnow()
            log.info("mail_sent", message_id=message_id, to=message.to_address)
            return "sent"
    raise failure


def _email(settings: Settings, message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = f"<{message.id}@creatorhub>"
    email.set_content(message.body_text)
    return email
