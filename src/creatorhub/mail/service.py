"""Sending e-mail: put a message in the outbox and queue its delivery, in one transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.jobs import defer
from creatorhub.mail import tasks
from creatorhub.mail.models import OutboxMessage


async def enqueue(
    session: AsyncSession,
    *,
    to_address: str,
    subject: str,
    body_text: str,
    template: str,
    user_id: uuid.UUID | None = None,
) -> uuid.UUID:
    message = OutboxMessage(
        user_id=user_id,
        to_address=to_address,
        subject=subject,
        body_text=body_text,
        template=template,
    )
    session.add(message)
    await session.flush()
    await defer(session, tasks.deliver_mail, message_id=str(message.id))
    return message.id
