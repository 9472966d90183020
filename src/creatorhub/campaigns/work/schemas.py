"""Request and response bodies of consultant and seller work (issue 15). Amounts are integer
minor units of the campaign's currency; a range refusal has its own code (the service's), so
the amounts are only bounded here against absurd sizes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from creatorhub.campaigns.work.models import DisputeResolution
from creatorhub.identity.schemas import RequestModel, Url

Amount = Annotated[int, Field(strict=True, ge=1, le=10**15)]
Note = Annotated[str, Field(max_length=5000)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class ApplicationIn(RequestModel):
    proposed_rate: Amount = Field(
        description="what you ask for the whole work; consultant: min_budget to max_budget, "
        "seller: up to max_budget"
    )
    note: Note = ""


class OfferIn(RequestModel):
    amount: Amount
    note: Note = ""


class ReasonIn(RequestModel):
    reason: Reason


class DeliverableIn(RequestModel):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    due_date: date | None = None
    amount: Amount = Field(description="within what the application's agreed amount has left")


class WorkIn(RequestModel):
    links: list[Url] = Field(min_length=1, max_length=10, description="http(s) links to the work")
    note: Note = ""


class ResolutionIn(RequestModel):
    decision: DisputeResolution = Field(
        description="pay: all of it; partial: `amount` of it, the rest back to the campaign; "
        "refund: nothing paid, all back to the campaign"
    )
    amount: Amount | None = None
    note: Reason


class OfferOut(BaseModel):
    id: uuid.UUID
    party: Literal["promoter", "advertiser"]
    amount: int
    note: str
    status: str
    created_at: datetime
    decided_at: datetime | None


class WorkOut(BaseModel):
    id: uuid.UUID
    revision: int
    links: list[str]
    note: str
    status: str
    review_note: str | None
    submitted_at: datetime
    reviewed_at: datetime | None


class DeliverableOut(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    application_id: uuid.UUID
    promoter_id: uuid.UUID
    title: str
    description: str
    due_date: date | None
    amount: int
    status: str
    paid_amount: int | None = Field(description="gross paid (approved); the fee is `fee`")
    fee: int | None
    dispute_reason: str | None
    disputed_at: datetime | None
    resolution: str | None
    resolution_note: str | None
    resolved_at: datetime | None
    agreed_at: datetime | None
    approved_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    works: list[WorkOut]


class DisputedDeliverableOut(DeliverableOut):
    campaign_title: str
    currency: str
    advertiser_id: uuid.UUID


class ApplicationOut(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_type: Literal["consultant", "seller"]
    campaign_title: str
    campaign_status: str
    currency: str
    min_budget: int
    max_budget: int
    advertiser_id: uuid.UUID
    promoter_id: uuid.UUID
    promoter_name: str
    status: str
    proposed_rate: int
    note: str
    agreed_amount: int | None
    committed_amount: int = Field(description="in deliverables proposed, agreed or paid")
    paid_amount: int
    reject_reason: str | None
    close_agreed_at: datetime | None
    decided_at: datetime | None
    created_at: datetime
    offers: list[OfferOut]
    deliverables: list[DeliverableOut]


class ApplicationsOut(BaseModel):
    items: list[ApplicationOut]


class DisputesOut(BaseModel):
    items: list[DisputedDeliverableOut]
