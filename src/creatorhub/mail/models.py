"""Table of the `mail` schema: the outbox every e-mail passes through.

A message is `pending` until a `deliver_mail` job claims it: `sending`, with `claimed_until`
the deadline of that attempt (the SMTP conversation happens outside any transaction, see
`mail.tasks`). The attempt ends `sent`, back to `pending` (to be retried) or `failed`; a claim
past its deadline is an attempt whose worker died, put back by `requeue_stalled_mail`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from creatorhub.db import Base, inserted_at

SCHEMA = "mail"


class OutboxMessage(Base):
    """An e-mail to send. Written in the transaction of its cause; sent by a job."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'logged', 'failed')", name="status_known"
        ),
        CheckConstraint("attempts >= 0", name="attempts_nonneg"),
        CheckConstraint(
            "(status IN ('sent', 'logged')) = (sent_at IS NOT NULL)", name="sent_at_iff_sent"
        ),
        CheckConstraint(
            "(status = 'sending') = (claimed_until IS NOT NULL)", name="claimed_iff_sending"
        ),
        Index("ix_outbox_pending", "created_at", postgresql_where=text("status = 'pending'")),
        # The sweep's queue: attempts in flight, by deadline.
        Index("ix_outbox_sending", "claimed_until", postgresql_where=text("status = 'sending'")),
        Index("ix_outbox_user_id", "user_id"),
        {"schema": SCHEMA},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    # The account the mail concerns (no FK: the outbox is kept apart from identity's tables).
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    to_address: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body_text: Mapped[str] = mapped_column(Text, nullable=False)
    template: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = inserted_at()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # While `sending`: when this attempt's claim ends (its worker is presumed dead after that).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
