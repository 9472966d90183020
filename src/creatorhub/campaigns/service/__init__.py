"""Campaign workflows (issue 14, part A): the lifecycle (create, fund, pause, resume, end),
participation (browse, join, leave) and the advertiser and promoter details.

Part C (settlement) calls `lock_campaign`, `lock_allocation`, `pause_for_budget` and
`end_campaign`; part B (tracking) reads the rows only.
"""

from creatorhub.campaigns.service.common import (
    CampaignConflict,
    CampaignView,
    lock_allocation,
    lock_campaign,
    no_such_campaign,
)
from creatorhub.campaigns.service.ending import (
    Ending,
    RefundStage,
    end_campaign,
    end_if_due,
    ended_campaign_ids,
    issue_provider_refund,
    refund_key,
    refund_rest,
    waiting_views,
)
from creatorhub.campaigns.service.lifecycle import (
    FUND_CAMPAIGN_ANSWER,
    CampaignDraft,
    advertiser_campaigns,
    campaign_view,
    create_campaign,
    fund_campaign_answer,
    fund_from_wallet,
    fund_through_provider,
    funding_credited,
    own_view,
    pause,
    pause_for_budget,
    resolve_funding_target,
    resume,
    unreserved_escrow,
    visibility_budget,
    visible_campaign,
)
from creatorhub.campaigns.service.participation import browse, join, leave, participations
from creatorhub.payments.funding import register_answer, register_target

__all__ = [
    "FUND_CAMPAIGN_ANSWER",
    "CampaignConflict",
    "CampaignDraft",
    "CampaignView",
    "Ending",
    "RefundStage",
    "advertiser_campaigns",
    "browse",
    "campaign_view",
    "create_campaign",
    "end_campaign",
    "end_if_due",
    "ended_campaign_ids",
    "fund_campaign_answer",
    "fund_from_wallet",
    "fund_through_provider",
    "funding_credited",
    "issue_provider_refund",
    "join",
    "leave",
    "lock_allocation",
    "lock_campaign",
    "no_such_campaign",
    "own_view",
    "participations",
    "pause",
    "pause_for_budget",
    "refund_key",
    "refund_rest",
    "resolve_funding_target",
    "resume",
    "unreserved_escrow",
    "visibility_budget",
    "visible_campaign",
    "waiting_views",
]

# Registered on import: this package is imported by both the API and the worker's task modules.
register_target("campaign", resolve_funding_target, funding_credited)
register_answer(FUND_CAMPAIGN_ANSWER, fund_campaign_answer)
