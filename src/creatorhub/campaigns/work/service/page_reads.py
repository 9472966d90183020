"""What the promoter's campaign page reads of consultant and seller work: their own
application to one campaign (the same document as `reads`, one statement), or None when they
have not applied."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_OWN = text(
    "SELECT body FROM campaigns.application_documents"
    " WHERE campaign_id = :campaign_id AND promoter_id = :promoter_id"
)


async def promoter_application(
    session: AsyncSession, campaign_id: uuid.UUID, promoter_id: uuid.UUID
) -> dict[str, Any] | None:
    """The promoter's application to the campaign (one at most: a unique constraint)."""
    body: dict[str, Any] | None = await session.scalar(
        _OWN, {"campaign_id": campaign_id, "promoter_id": promoter_id}
    )
    return body
