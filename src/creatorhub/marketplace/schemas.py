"""Request and response bodies of the marketplace endpoints.

Three views of a job: public (anyone: what a creator needs to decide, no funding details or
claimants), the brand's (its own jobs, with every slot, submission, payout and the refund), and
the creator's (their own claims and what each earned).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from creatorhub.identity.schemas import RequestModel
from creatorhub.marketplace.models import CONTENT_PLATFORMS, InfluencerJob, Job
from creatorhub.marketplace.queries import BrandJobView, Record
from creatorhub.payments.schemas import Amount, CurrencyModel, FundingOut

Followers = Annotated[int, Field(strict=True, ge=0, le=10**11)]
ShortText = Annotated[str, Field(min_length=1, max_length=120)]


class JobCreate(CurrencyModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    budget: Amount
    influencer_slots: Annotated[int, Field(strict=True, ge=1, le=1000)]
    influence_min: Followers = 0
    influence_max: Followers | None = None
    location: ShortText | None = None
    genre: ShortText | None = None
    end_date: AwareDatetime = Field(description="ISO 8601 with a time zone; must be in the future")

    @model_validator(mode="after")
    def _range(self) -> JobCreate:
        if self.influence_max is not None and self.influence_min > self.influence_max:
            raise ValueError("influence_min must not be above influence_max")
        return self


class JobFund(RequestModel):
    source: Literal["wallet", "provider"] = Field(
        default="wallet",
        description="wallet: from your available balance, at once; provider: a charge (the job "
        "opens when the provider confirms it)",
    )


class SubmissionCreate(RequestModel):
    platform: Literal[CONTENT_PLATFORMS]  # type: ignore[valid-type]
    url: Annotated[str, Field(max_length=2000, pattern=r"^https?://\S+$")] | None = None
    post_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _where(self) -> SubmissionCreate:
        if self.url is None and self.post_id is None:
            raise ValueError("give the content's url or its post_id")
        return self


class RejectBody(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class PublicJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uid: uuid.UUID
    title: str
    description: str
    budget: int
    currency: str
    max_slots: int
    slots_left: int
    influence_min: int
    influence_max: int | None
    location: str | None
    genre: str | None
    status: str
    end_date: datetime
    created_at: datetime


class JobsPage(BaseModel):
    items: list[PublicJobOut]
    next_cursor: str | None


class SubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uid: uuid.UUID
    platform: str
    url: str | None
    post_id: str | None
    note: str | None
    status: str
    submitted_at: datetime
    reviewed_at: datetime | None
    review_reason: str | None


class PayoutRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uid: uuid.UUID
    amount: int = Field(description="gross: the slot's share")
    platform_fee: int
    net_amount: int
    currency: str
    issued_at: datetime
    payed_at: datetime | None = Field(description="when a payout took it out of the platform")


class CreatorNameOut(BaseModel):
    """Who claimed a slot, as others see them."""

    display_name: str
    slug: str | None = Field(description="the creator's public portfolio address, if any")


class SlotOut(BaseModel):
    """One claimed slot (seed 000 `influencer_jobs`)."""

    model_config = ConfigDict(from_attributes=True)

    uid: uuid.UUID
    job_uid: uuid.UUID
    user_uid: uuid.UUID
    slot_number: int
    amount: int
    currency: str
    assigned_at: datetime
    content_done_at: datetime | None
    content_approved_at: datetime | None
    rejected_at: datetime | None
    rejection_reason: str | None
    closed_at: datetime | None
    submissions: list[SubmissionOut] = []
    payout: PayoutRecordOut | None = None
    creator: CreatorNameOut | None = Field(
        default=None, description="who claimed the slot: in the brand's view of its job"
    )


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uid: uuid.UUID
    max_slots: int
    claimed_slots: int
    budget: int
    refunded: int
    currency: str
    stripe_charge_id: str | None
    provider_refund_id: str | None
    issued_at: datetime | None
    created_at: datetime


class BrandJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uid: uuid.UUID
    title: str
    description: str
    budget: int
    currency: str
    influencer_slots: int
    max_slots: int
    influence_min: int
    influence_max: int | None
    location: str | None
    genre: str | None
    status: str
    created_at: datetime
    end_date: datetime
    closed_at: datetime | None
    close_reason: str | None
    claim_count: int
    influencers_done: int
    approved: int
    all_content_ready: bool
    funded_at: datetime | None
    funding_source: str | None
    stripe_charge_id: str | None
    escrow_balance: int = Field(description="what the job's escrow holds now, held slots included")
    slots: list[SlotOut] = []
    refund: RefundOut | None = None


class BrandJobsPage(BaseModel):
    items: list[BrandJobOut]
    next_cursor: str | None


class FundJobOut(BaseModel):
    job: BrandJobOut
    funding_intent: FundingOut | None = Field(
        description="the provider charge, when funding through the provider"
    )


class CreatorClaimOut(SlotOut):
    job: PublicJobOut


class EarnedOut(BaseModel):
    currency: str
    gross: int
    platform_fee: int
    net: int
    paid_out: int = Field(description="net already carried out of the platform by payouts")


class CreatorClaimsOut(BaseModel):
    items: list[CreatorClaimOut]
    earned: list[EarnedOut] = Field(description="approved slots' earnings, per currency")


# --- from rows to answers ---------------------------------------------------------------------


def public_job(job: Job) -> PublicJobOut:
    """A job as anyone sees it: no funding details, no claimants."""
    return PublicJobOut.model_validate(
        {
            **{k: getattr(job, k) for k in PublicJobOut.model_fields if k != "slots_left"},
            "slots_left": job.max_slots - job.claim_count,
        }
    )


def slot_out(record: Record) -> SlotOut:
    """A slot as `queries` reads it (its row, payout record and submissions, as JSON)."""
    out = SlotOut.model_validate(record["slot"])
    out.submissions = [SubmissionOut.model_validate(s) for s in record["submissions"]]
    payout = record["payout"]
    out.payout = PayoutRecordOut.model_validate(payout) if payout is not None else None
    creator = record.get("creator")
    out.creator = CreatorNameOut.model_validate(creator) if creator is not None else None
    return out


def new_slot(slot: InfluencerJob) -> SlotOut:
    """A slot just claimed, from what the claim wrote: no submission and no payout yet."""
    return SlotOut.model_validate(slot)


def brand_job(view: BrandJobView) -> BrandJobOut:
    """A job as its brand sees it, from `queries.BrandJobView`."""
    job = view.job
    return BrandJobOut.model_validate(
        {
            **{
                k: getattr(job, k)
                for k in BrandJobOut.model_fields
                if k not in ("escrow_balance", "slots", "refund")
            },
            "escrow_balance": view.escrow_balance,
            "slots": [slot_out(record) for record in view.slots],
            "refund": RefundOut.model_validate(view.refund) if view.refund is not None else None,
        }
    )
