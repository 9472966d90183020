"""Table of the `mail` schema: the outbox every e-mail passes through."""

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
        CheckConstraint("status IN ('pending', 'sent', 'logged', 'failed')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_nonneg"),
        CheckConstraint(
            "(status IN ('sent', 'logged')) = (sent_at IS NOT NULL)", name="sent_at_iff_sent"
        ),
        Index("ix_outbox_pending", "created_at", postgresql_where=text("status = 'pending'")),
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
