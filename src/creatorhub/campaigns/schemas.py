"""Request and response bodies of the campaign endpoints (issue 14, part A).

A campaign is created with its type's parameters flat in the body (the table's columns); the
type decides which are required (`service.lifecycle.check_draft` gives each refusal its own
code, so the bad-input table of the issue answers with codes, not a generic validation error).
Two views of a campaign: the advertiser's (everything: allocation, escrow, per-promoter
totals) and the public one (what a promoter needs to decide: no money figures but the rate and
budget, no promoters); `view` says which.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from creatorhub.campaigns.models import CampaignType, TrackingMethod
from creatorhub.identity.schemas import RequestModel, Tag, Url
from creatorhub.payments.schemas import CurrencyModel, FundingOut

BigInt = Annotated[int, Field(strict=True, ge=-(10**15), le=10**15)]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]


class CampaignCreate(CurrencyModel):
    type: CampaignType
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    budget: BigInt | None = Field(
        default=None,
        description="minor units; visibility: defaults to ceil(cpv * max_views / 100) and must "
        "cover it; consultant and seller: defaults to max_budget and must cover it",
    )
    starts_at: AwareDatetime | None = Field(default=None, description="default: now; not past")
    ends_at: AwareDatetime | None = Field(default=None, description="after starts_at")
    categories: list[Tag] = Field(default_factory=list, max_length=20)
    languages: list[Language] = Field(default_factory=list, max_length=20)
    min_followers: Annotated[int, Field(strict=True, ge=0, le=10**11)] = 0
    # Visibility.
    cpv: BigInt | None = Field(default=None, description="price per 100 views, minor units")
    max_views: BigInt | None = None
    max_views_per_promoter: BigInt | None = None
    destination_url: Annotated[str, Field(max_length=2048)] | None = Field(
        default=None, description="http(s)"
    )
    # Consultant and seller.
    min_budget: BigInt | None = None
    max_budget: BigInt | None = None
    # Salesman.
    commission_per_sale: BigInt | None = Field(default=None, description="basis points")
    tracking_method: TrackingMethod | None = None


class CampaignFund(RequestModel):
    source: Literal["wallet", "provider"] = Field(
        default="wallet",
        description="wallet: from your available balance, at once; provider: a charge (the "
        "campaign goes active when the provider confirms it)",
    )
    payment_method_id: uuid.UUID | None = Field(
        default=None,
        description="one of your active saved payment methods (`/v1/me/payment-methods`), "
        "charged at once: a provider charge (`source` may be omitted)",
    )

    @model_validator(mode="after")
    def _saved_method_is_a_charge(self) -> CampaignFund:
        if self.payment_method_id is not None:
            if "source" in self.model_fields_set and self.source == "wallet":
                raise ValueError("a saved payment method is charged: source is provider")
            self.source = "provider"
        return self


class AllocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    allocated_amount: int
    spent_amount: int
    refunded_amount: int
    currency: str
    funding_source: str
    funding_intent_id: uuid.UUID | None
    rate_per_100_views: int | None
    commission_rate: int | None


class PromoterTotalsOut(BaseModel):
    participation_id: uuid.UUID
    promoter_id: uuid.UUID
    status: str
    views_generated: int
    budget_held: int
    spent_budget: int
    joined_at: datetime
    left_at: datetime | None


class CampaignOut(BaseModel):
    """A campaign. `view` "advertiser": every field; "public": the money figures (allocation,
    escrow) and the promoters are null."""

    view: Literal["advertiser", "public"]
    id: uuid.UUID
    advertiser_id: uuid.UUID
    type: str
    title: str
    description: str
    status: str
    pause_reason: str | None
    currency: str
    budget: int
    starts_at: datetime
    ends_at: datetime | None
    categories: list[str]
    languages: list[str]
    min_followers: int
    cpv: int | None
    max_views: int | None
    max_views_per_promoter: int | None
    destination_url: str | None
    min_budget: int | None
    max_budget: int | None
    commission_per_sale: int | None
    tracking_method: str | None
    funded_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    allocation: AllocationOut | None = None
    escrow_balance: int | None = Field(default=None, description="what the escrow holds")
    escrow_reserved: int | None = Field(default=None, description="of it, held for payments")
    promoters: list[PromoterTotalsOut] | None = None


class CampaignsPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None


class FundCampaignOut(BaseModel):
    campaign: CampaignOut
    funding_intent: FundingOut | None


class ParticipationOut(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    promoter_id: uuid.UUID
    status: str
    tracking_code: str
    tracking_link: str
    views_generated: int
    budget_held: int
    spent_budget: int
    joined_at: datetime
    left_at: datetime | None
    campaign: CampaignOut | None = None


class ParticipationsPage(BaseModel):
    items: list[ParticipationOut]
    next_cursor: str | None


# --- profiles -------------------------------------------------------------------------------


class AdvertiserDetailsIn(RequestModel):
    company_name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]
    website: Url | None = None
    business_categories: list[Tag] = Field(default_factory=list, max_length=20)


class AdvertiserDetailsOut(BaseModel):
    user_id: uuid.UUID
    company_name: str | None
    website: str | None
    business_categories: list[str]
    verification_status: str = Field(description="read-only: set by an administrator")
    verified_at: datetime | None


class PromoterDetailsIn(RequestModel):
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    city: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    birth_year: Annotated[int, Field(strict=True, ge=1900, le=2100)] | None = None
    gender: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    audience_countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(
        default_factory=list, max_length=50
    )


class PromoterDetailsOut(BaseModel):
    """The demographics (this resource) with what the creator profile says campaigns match on
    (edited at `PUT /v1/me/creator-profile`): categories, languages, skills, followers."""

    user_id: uuid.UUID
    country: str | None
    city: str | None
    birth_year: int | None
    gender: str | None
    audience_countries: list[str]
    categories: list[str]
    languages: list[str]
    skills: list[str]
    follower_estimates: dict[str, int]
    follower_total: int


class VerificationIn(RequestModel):
    status: Literal["verified", "rejected"]
