"""What the campaign workflows share: refusals, the campaign's lock, its views as read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import Select, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.campaigns.models import (
    Campaign,
    CampaignBudgetAllocation,
    CampaignStatus,
    PromoterCampaign,
)
from creatorhub.campaigns.work.models import CampaignApplication
from creatorhub.kit.errors import Conflict, NotFound
from creatorhub.ledger.models import Account

ENDED = (CampaignStatus.COMPLETED.value, CampaignStatus.CANCELLED.value)


class CampaignConflict(Conflict):
    """A request the campaign's state refuses (409)."""


def no_such_campaign() -> NotFound:
    # One answer for a campaign that does not exist and one the caller may not see.
    return NotFound("no such campaign", code="campaign_not_found")


async def lock_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    """The campaign row, locked FOR UPDATE: the first lock of every money path (then its
    allocation, then promoter campaigns by id, then the ledger)."""
    campaign = await session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if campaign is None:
        raise no_such_campaign()
    return campaign


async def lock_own_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, advertiser_id: uuid.UUID
) -> Campaign:
    """The advertiser's campaign, locked; anyone else's answers 404 like a missing one."""
    campaign = await lock_campaign(session, campaign_id)
    if campaign.advertiser_id != advertiser_id:
        raise no_such_campaign()
    return campaign


async def lock_allocation(
    session: AsyncSession, campaign_id: uuid.UUID
) -> CampaignBudgetAllocation | None:
    allocation: CampaignBudgetAllocation | None = await session.scalar(
        select(CampaignBudgetAllocation)
        .where(CampaignBudgetAllocation.campaign_id == campaign_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return allocation


@dataclass(frozen=True)
class CampaignView:
    """A campaign with what its advertiser sees of it (one statement reads it all)."""

    campaign: Campaign
    allocation: CampaignBudgetAllocation | None
    escrow_balance: int
    escrow_reserved: int
    promoters: list[dict[str, Any]]
    caller_joined: bool


def view_query(caller: uuid.UUID | None, *, with_promoters: bool) -> Select[Any]:
    """Campaigns with their allocation, escrow figures, promoters (when asked) and whether
    `caller` joined: one statement."""
    balance = (
        select(Account.balance).where(Account.id == Campaign.escrow_account_id).scalar_subquery()
    )
    reserved = (
        select(Account.pending_debits)
        .where(Account.id == Campaign.escrow_account_id)
        .scalar_subquery()
    )
    ordered = (
        select(
            PromoterCampaign.id,
            PromoterCampaign.promoter_id,
            PromoterCampaign.status,
            PromoterCampaign.views_generated,
            PromoterCampaign.budget_held,
            PromoterCampaign.spent_budget,
            PromoterCampaign.joined_at,
            PromoterCampaign.left_at,
        )
        .where(PromoterCampaign.campaign_id == Campaign.id)
        .order_by(PromoterCampaign.joined_at, PromoterCampaign.id)
        .correlate(Campaign)
        .subquery()
    )
    promoters = (
        select(
            func.coalesce(
                func.jsonb_agg(
                    func.jsonb_build_object(
                        "participation_id",
                        ordered.c.id,
                        "promoter_id",
                        ordered.c.promoter_id,
                        "status",
                        ordered.c.status,
                        "views_generated",
                        ordered.c.views_generated,
                        "budget_held",
                        ordered.c.budget_held,
                        "spent_budget",
                        ordered.c.spent_budget,
                        "joined_at",
                        ordered.c.joined_at,
                        "left_at",
                        ordered.c.left_at,
                    )
                ),
                func.jsonb_build_array(),
            )
        )
        .select_from(ordered)
        .scalar_subquery()
        if with_promoters
        else func.jsonb_build_array()
    )
    # Joined (visibility, salesman) or applied (consultant, seller): the caller keeps seeing
    # the campaign once it is no longer active.
    joined = (
        or_(
            select(PromoterCampaign.id)
            .where(
                PromoterCampaign.campaign_id == Campaign.id,
                PromoterCampaign.promoter_id == caller,
            )
            .exists(),
            select(CampaignApplication.id)
            .where(
                CampaignApplication.campaign_id == Campaign.id,
                CampaignApplication.promoter_id == caller,
            )
            .exists(),
        )
        if caller is not None
        else literal(False)
    )
    return (
        select(
            Campaign,
            CampaignBudgetAllocation,
            func.coalesce(balance, 0),
            func.coalesce(reserved, 0),
            promoters,
            joined,
        )
        .outerjoin(CampaignBudgetAllocation, CampaignBudgetAllocation.campaign_id == Campaign.id)
        .execution_options(populate_existing=True)
    )


def views_of(rows: Any) -> list[CampaignView]:
    return [
        CampaignView(
            campaign=row[0],
            allocation=row[1],
            escrow_balance=int(row[2]),
            escrow_reserved=int(row[3]),
            promoters=list(row[4] or []),
            caller_joined=bool(row[5]),
        )
        for row in rows
    ]


_Row = TypeVarTuple("_Row")


def keyset(
    query: Select[*_Row], created: Any, row_id: Any, after: tuple[Any, uuid.UUID] | None
) -> Select[*_Row]:
    """Newest first on (created, id); the rows strictly after the cursor's position."""
    if after is not None:
        at, last = after
        query = query.where(or_(created < at, and_(created == at, row_id < last)))
    return query.order_by(created.desc(), row_id.desc())
