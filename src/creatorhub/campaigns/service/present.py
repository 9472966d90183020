"""Campaigns and participations as the API answers them."""

from __future__ import annotations

from creatorhub.campaigns.models import PromoterCampaign
from creatorhub.campaigns.schemas import (
    AllocationOut,
    CampaignOut,
    ParticipationOut,
    PromoterTotalsOut,
)
from creatorhub.campaigns.service.common import CampaignView

_FIELDS = (
    "id",
    "advertiser_id",
    "type",
    "title",
    "description",
    "status",
    "pause_reason",
    "currency",
    "budget",
    "starts_at",
    "ends_at",
    "categories",
    "languages",
    "min_followers",
    "cpv",
    "max_views",
    "max_views_per_promoter",
    "destination_url",
    "min_budget",
    "max_budget",
    "commission_per_sale",
    "tracking_method",
    "funded_at",
    "ended_at",
    "created_at",
)


def campaign_out(view: CampaignView, *, advertiser: bool) -> CampaignOut:
    campaign = view.campaign
    fields = {name: getattr(campaign, name) for name in _FIELDS}
    if not advertiser:
        return CampaignOut(view="public", **fields)
    return CampaignOut(
        view="advertiser",
        **fields,
        allocation=(
            AllocationOut.model_validate(view.allocation) if view.allocation is not None else None
        ),
        escrow_balance=view.escrow_balance,
        escrow_reserved=view.escrow_reserved,
        promoters=[PromoterTotalsOut.model_validate(row) for row in view.promoters],
    )


def tracking_link(base_url: str, code: str) -> str:
    return f"{base_url}/t/{code}"


def participation_out(
    participation: PromoterCampaign, base_url: str, campaign: CampaignOut | None = None
) -> ParticipationOut:
    return ParticipationOut(
        id=participation.id,
        campaign_id=participation.campaign_id,
        promoter_id=participation.promoter_id,
        status=participation.status,
        tracking_code=participation.tracking_code,
        tracking_link=tracking_link(base_url, participation.tracking_code),
        views_generated=participation.views_generated,
        budget_held=participation.budget_held,
        spent_budget=participation.spent_budget,
        joined_at=participation.joined_at,
        left_at=participation.left_at,
        campaign=campaign,
    )
