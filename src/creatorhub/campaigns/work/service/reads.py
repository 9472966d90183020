"""What the parties read of consultant and seller work: an application with its negotiation,
deliverables and works, built by the database as one JSON document per application, so that
any of the reads below is one statement whatever the number of offers and revisions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.campaigns.service.common import no_such_campaign
from creatorhub.campaigns.work.service.applications import no_such_application
from creatorhub.kit.errors import NotFound

# The documents are built by two views of migration 0021 (`campaigns.application_documents`,
# `campaigns.deliverable_documents`): one definition of each, read by id, campaign or person.
_ONE = text(
    "SELECT body FROM campaigns.application_documents"
    " WHERE id = :application_id AND :viewer IN (promoter_id, advertiser_id)"
)
_OF_CAMPAIGN = text(
    "SELECT c.advertiser_id = :viewer AS own,"
    " (SELECT coalesce(jsonb_agg(d.body ORDER BY d.created_at, d.id), '[]'::jsonb)"
    "  FROM campaigns.application_documents AS d WHERE d.campaign_id = c.id) AS applications"
    " FROM campaigns.campaigns AS c WHERE c.id = :campaign_id"
)
_OF_PROMOTER = text(
    "SELECT body FROM campaigns.application_documents WHERE promoter_id = :promoter_id"
    " ORDER BY created_at DESC, id DESC LIMIT :limit"
)
_DISPUTED = text(
    "SELECT body FROM campaigns.deliverable_documents WHERE status = 'disputed'"
    " ORDER BY disputed_at, id LIMIT :limit"
)
_ONE_DELIVERABLE = text(
    "SELECT body FROM campaigns.deliverable_documents WHERE id = :deliverable_id"
)


async def application(
    session: AsyncSession, application_id: uuid.UUID, viewer: uuid.UUID
) -> dict[str, Any]:
    """The application as its promoter or the campaign's advertiser sees it (404 otherwise)."""
    body = await session.scalar(_ONE, {"application_id": application_id, "viewer": viewer})
    if body is None:
        raise no_such_application()
    found: dict[str, Any] = body
    return found


async def campaign_applications(
    session: AsyncSession, campaign_id: uuid.UUID, advertiser_id: uuid.UUID
) -> list[dict[str, Any]]:
    """A campaign's applications, oldest first, for its advertiser (404 for anyone else)."""
    row = (
        await session.execute(_OF_CAMPAIGN, {"campaign_id": campaign_id, "viewer": advertiser_id})
    ).one_or_none()
    if row is None or not row.own:
        raise no_such_campaign()
    return list(row.applications)


async def promoter_applications(
    session: AsyncSession, promoter_id: uuid.UUID, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The promoter's applications, newest first."""
    rows = await session.scalars(_OF_PROMOTER, {"promoter_id": promoter_id, "limit": limit})
    return list(rows)


async def disputed_deliverables(session: AsyncSession, *, limit: int = 100) -> list[dict[str, Any]]:
    """Deliverables waiting for an admin's decision, oldest dispute first."""
    return list(await session.scalars(_DISPUTED, {"limit": limit}))


async def deliverable_for_admin(session: AsyncSession, deliverable_id: uuid.UUID) -> dict[str, Any]:
    body = await session.scalar(_ONE_DELIVERABLE, {"deliverable_id": deliverable_id})
    if body is None:
        raise NotFound("no such deliverable", code="deliverable_not_found")
    found: dict[str, Any] = body
    return found
