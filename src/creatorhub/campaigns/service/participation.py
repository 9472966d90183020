"""Promoters and campaigns: the matching listing, joining (with a tracking code of one's own),
leaving, and one's participations.

Matching (`browse`): an active campaign matches a promoter when the promoter's follower total
(all platforms, `identity.follower_total_of`) reaches its `min_followers`, and, when the
campaign names categories or languages, the promoter's creator profile shares at least one of
each. Joining requires the follower minimum only (a campaign's categories and languages say
whom it is for; they are the listing's filter, not a gate).

Locks: joining and leaving take the campaign row FOR SHARE (ending and funding take it FOR
UPDATE, so a join never lands in a campaign ending at the same moment), then the promoter
campaign row.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
from creatorhub.campaigns.models import (
    Campaign,
    CampaignStatus,
    ParticipationStatus,
    PromoterCampaign,
)
from creatorhub.campaigns.service.common import (
    ENDED,
    CampaignConflict,
    keyset,
    no_such_campaign,
)
from creatorhub.campaigns.work.models import WORK_TYPES
from creatorhub.identity.models import CreatorProfile
from creatorhub.identity.service import follower_total_of
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Forbidden, NotFound


def _profile_array(column: Any, promoter_id: uuid.UUID) -> Any:
    return func.coalesce(
        select(column).where(CreatorProfile.user_id == promoter_id).scalar_subquery(),
        literal_column("'{}'::text[]"),
    )


def browse_query(
    promoter_id: uuid.UUID,
    *,
    type_: str | None,
    category: str | None,
    language: str | None,
    now: datetime,
) -> Select[Any]:
    """Active campaigns matching the promoter, with the listing's filters; one whose end date
    has passed is left out before the end-date job ends it."""
    followers = func.coalesce(follower_total_of(promoter_id), 0)
    categories = _profile_array(CreatorProfile.categories, promoter_id)
    languages = _profile_array(CreatorProfile.languages, promoter_id)
    query = select(Campaign).where(
        Campaign.status == CampaignStatus.ACTIVE.value,
        or_(Campaign.ends_at.is_(None), Campaign.ends_at > now),
        Campaign.min_followers <= followers,
        or_(func.cardinality(Campaign.categories) == 0, Campaign.categories.overlap(categories)),
        or_(func.cardinality(Campaign.languages) == 0, Campaign.languages.overlap(languages)),
    )
    if type_ is not None:
        query = query.where(Campaign.type == type_)
    if category is not None:
        query = query.where(Campaign.categories.contains([category]))
    if language is not None:
        query = query.where(Campaign.languages.contains([language]))
    return query


async def browse(
    session: AsyncSession,
    promoter_id: uuid.UUID,
    *,
    type_: str | None,
    category: str | None,
    language: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    now: datetime | None = None,
) -> list[Campaign]:
    matching = browse_query(
        promoter_id, type_=type_, category=category, language=language, now=now or utcnow()
    )
    query = keyset(
        matching,
        Campaign.created_at,
        Campaign.id,
        after,
    ).limit(limit)
    return list(await session.scalars(query))


def no_such_participation() -> NotFound:
    return NotFound("you have not joined this campaign", code="participation_not_found")


async def campaign_for_promoter(
    session: AsyncSession, campaign_id: uuid.UUID, promoter_id: uuid.UUID
) -> tuple[Campaign, int]:
    """The campaign, locked FOR SHARE, with the promoter's follower total (one statement); a
    draft answers 404 like a missing campaign (it is its advertiser's business)."""
    row = (
        await session.execute(
            select(Campaign, func.coalesce(follower_total_of(promoter_id), 0))
            .where(Campaign.id == campaign_id)
            .with_for_update(read=True, of=Campaign)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None or row[0].status == CampaignStatus.DRAFT:
        raise no_such_campaign()
    campaign: Campaign = row[0]
    return campaign, int(row[1] or 0)


async def join(
    session: AsyncSession, *, campaign_id: uuid.UUID, promoter_id: uuid.UUID, now: datetime
) -> PromoterCampaign:
    """Join an active campaign: a participation with a tracking code of one's own
    (`secrets.token_urlsafe(12)`: 16 characters, 96 random bits). Refusals: a paused (409
    `campaign_paused`) or ended (409 `campaign_ended`) campaign, one's own campaign (403
    `own_campaign`: paying oneself for one's views), a consultant or seller campaign (409
    `application_required`: it selects its promoters from applications), too few followers (403
    `not_enough_followers`), joined already (409 `already_joined`); one who left joins again
    with the same code.

    The participation is inserted first (ON CONFLICT DO NOTHING: a join racing this one waits
    for it and inserts nothing); only when there is one already is it read, to join again."""
    campaign, followers = await campaign_for_promoter(session, campaign_id, promoter_id)
    if campaign.type in WORK_TYPES:
        raise CampaignConflict(
            f"a {campaign.type} campaign selects its promoters: apply to it",
            code="application_required",
        )
    if campaign.status == CampaignStatus.PAUSED:
        raise CampaignConflict("the campaign is paused", code="campaign_paused")
    if campaign.status in ENDED or (campaign.ends_at is not None and campaign.ends_at <= now):
        raise CampaignConflict("the campaign has ended", code="campaign_ended")
    if campaign.advertiser_id == promoter_id:
        raise Forbidden("an advertiser cannot promote their own campaign", code="own_campaign")
    if followers < campaign.min_followers:
        raise Forbidden(
            f"the campaign is for promoters with at least {campaign.min_followers} followers",
            code="not_enough_followers",
        )
    inserted = (
        insert(PromoterCampaign)
        .values(
            campaign_id=campaign.id,
            promoter_id=promoter_id,
            tracking_code=secrets.token_urlsafe(12),
        )
        .on_conflict_do_nothing(constraint="uq_promoter_campaigns_promoter")
        .returning(*PromoterCampaign.__table__.columns)
    )
    query = select(PromoterCampaign).from_statement(inserted)
    participation: PromoterCampaign | None = await session.scalar(
        query.execution_options(populate_existing=True)
    )
    if participation is not None:
        await record_change(
            session,
            action="campaigns.participation.join",
            entity_type="promoter_campaign",
            entity_id=participation.id,
            actor_id=promoter_id,
            after=snapshot(participation),
        )
        return participation
    existing = await session.scalar(
        select(PromoterCampaign)
        .where(
            PromoterCampaign.campaign_id == campaign.id,
            PromoterCampaign.promoter_id == promoter_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if existing is None or existing.status != ParticipationStatus.LEFT:
        raise CampaignConflict("you joined this campaign already", code="already_joined")
    before = snapshot(existing)
    existing.status = ParticipationStatus.ACTIVE.value
    existing.left_at = None
    await session.flush()
    await record_change(
        session,
        action="campaigns.participation.rejoin",
        entity_type="promoter_campaign",
        entity_id=existing.id,
        actor_id=promoter_id,
        before=before,
        after=snapshot(existing),
    )
    return existing


async def leave(
    session: AsyncSession, *, campaign_id: uuid.UUID, promoter_id: uuid.UUID, now: datetime
) -> PromoterCampaign:
    """Leave a campaign: the tracking link stops counting views (part B reads the status);
    what was earned stays earned. 409 `not_joined` when one left already."""
    await session.execute(
        select(Campaign.id).where(Campaign.id == campaign_id).with_for_update(read=True)
    )
    participation = await session.scalar(
        select(PromoterCampaign)
        .where(
            PromoterCampaign.campaign_id == campaign_id,
            PromoterCampaign.promoter_id == promoter_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if participation is None:
        raise no_such_participation()
    if participation.status != ParticipationStatus.ACTIVE:
        raise CampaignConflict("you are not in this campaign", code="not_joined")
    before = snapshot(participation)
    participation.status = ParticipationStatus.LEFT.value
    participation.left_at = now
    await session.flush()
    await record_change(
        session,
        action="campaigns.participation.leave",
        entity_type="promoter_campaign",
        entity_id=participation.id,
        actor_id=promoter_id,
        before=before,
        after=snapshot(participation),
    )
    return participation


async def participations(
    session: AsyncSession,
    promoter_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[tuple[PromoterCampaign, Campaign]]:
    """The promoter's own participations, newest first, each with its campaign."""
    query = (
        select(PromoterCampaign, Campaign)
        .join(Campaign, Campaign.id == PromoterCampaign.campaign_id)
        .where(PromoterCampaign.promoter_id == promoter_id)
    )
    query = keyset(query, PromoterCampaign.joined_at, PromoterCampaign.id, after).limit(limit)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]
