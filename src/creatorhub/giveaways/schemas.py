"""Request and response bodies of the giveaways API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from creatorhub.identity.schemas import RequestModel

DrawPlatformIn = Literal["instagram", "facebook", "tiktok", "twitter", "file"]
BlacklistPlatformIn = Literal["instagram", "facebook", "tiktok", "twitter", "all"]


class CreditPackOut(BaseModel):
    code: str
    credits: int
    price: int = Field(description="minor units of `currency`")
    currency: str


class CreditsOut(BaseModel):
    balance: int
    reserved: int = Field(description="held by your draws not finished yet")
    available: int
    draw_cost: int = Field(description="credits a new draw reserves")
    packs: list[CreditPackOut]


class CreditRowOut(BaseModel):
    """Seed 003 `Credit`: one movement with the balance after it."""

    id: uuid.UUID
    amount: int
    balance: int
    transaction_type: Literal["purchase", "usage", "refund", "bonus"]
    metadata: dict[str, Any]
    created_at: datetime


class CreditRowsOut(BaseModel):
    items: list[CreditRowOut]


class PurchaseIn(RequestModel):
    pack: str = Field(min_length=1, max_length=32, description="a pack's `code`")


class PurchaseOut(BaseModel):
    pack: CreditPackOut
    credits: CreditsOut


class GrantIn(RequestModel):
    user_id: uuid.UUID
    amount: int = Field(ge=1, le=10_000)
    reason: str = Field(min_length=1, max_length=500)


class BlacklistIn(RequestModel):
    platform: BlacklistPlatformIn
    username: str = Field(min_length=1, max_length=101)
    reason: str | None = Field(default=None, max_length=500)


class BlacklistOut(BaseModel):
    id: uuid.UUID
    platform: str
    username: str
    reason: str | None
    is_active: bool
    created_at: datetime


class BlacklistListOut(BaseModel):
    items: list[BlacklistOut]


class DrawIn(RequestModel):
    title: str = Field(min_length=1, max_length=200)
    platform: DrawPlatformIn
    post_url: str | None = Field(default=None, max_length=2000)
    is_test: bool = Field(
        default=False, description="a rehearsal: still on your public history, marked as a test"
    )
    config: dict[str, Any] = Field(
        description="seed 003's config: `winners_count`, `filters`, `rules`, plus"
        " `alternates_count`, `entries_per_user`; see the draw rules in the README"
    )


class CancelIn(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class RerollIn(RequestModel):
    rank: int = Field(ge=1, le=1000, description="the winner's rank to replace")
    reason: str = Field(min_length=1, max_length=500)


class HistoryOut(BaseModel):
    action: str
    details: dict[str, Any]
    created_at: datetime


class WinnerOut(BaseModel):
    rank: int
    username: str
    user_id: str
    comment_id: str
    comment: str
    selected_at: datetime


class DrawOut(BaseModel):
    """A draw as everyone may see it; the host also sees its history."""

    id: uuid.UUID
    host_id: uuid.UUID
    title: str
    platform: str
    post_url: str | None
    status: str
    is_test: bool
    config: dict[str, Any]
    winners_count: int
    alternates_count: int
    entries_count: int
    credits_used: int
    seed_sha256: str = Field(description="SHA-256 of the secret seed, public from creation")
    commitment: dict[str, Any] | None
    commitment_hash: str | None
    committed_at: datetime | None
    beacon_round: int | None
    beacon_due_at: datetime | None
    winners: list[WinnerOut] | None
    certificate_hash: str | None
    video_url: str | None
    failure_reason: str | None
    created_at: datetime
    executed_at: datetime | None
    cancelled_at: datetime | None
    history: list[HistoryOut] | None = None


class DrawListOut(BaseModel):
    items: list[DrawOut]


class ImportOut(BaseModel):
    added: int
    duplicates: int = Field(description="comments already in the draw: kept once")
    entries_count: int
    format: str


class InclusionOut(BaseModel):
    """An entrant's own entries, each with its Merkle proof against the committed root and
    what became of it (eligible, excluded with a reason, winner, alternate)."""

    username: str
    entries_root: str
    entries_count: int
    entries: list[dict[str, Any]]


class SigningKeyOut(BaseModel):
    key_id: str
    public_key: str = Field(description="Ed25519, hex")
    created_at: datetime
    retired_at: datetime | None


class SigningKeysOut(BaseModel):
    items: list[SigningKeyOut]


class MetricOut(BaseModel):
    metric_type: str
    day: str
    currency: str
    value: int
    metadata: dict[str, Any]


class MetricsOut(BaseModel):
    items: list[MetricOut]
