"""Request and response bodies of the workspace endpoints: shoots, uploads, the calendar.

Dates are ISO `YYYY-MM-DD` and times `HH:MM` or `HH:MM:SS`, nothing else: pydantic on its own
would also take a Unix timestamp for a date, `20240101`, or a time with a zone (`10:00Z`), and a
planning row read back differently from what was typed is worse than a 422 naming the field.
Times are wall-clock times at the shoot's place, without a zone (see calendar.py).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from creatorhub.identity.schemas import RequestModel
from creatorhub.payments.schemas import MAX_AMOUNT, check_currency
from creatorhub.workspace.models import UPLOAD_PLATFORMS, Shoot
from creatorhub.workspace.review_status import ReviewState, ReviewStatus

# Dates outside these years are typos; bounding them also keeps `end_date + 1 day` (the
# exclusive end of an all-day iCalendar event) and window arithmetic far from date.max.
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)
# The longest window of the combined view, and the longest blocked range (inclusive days; the
# table's check says end_date - start_date < 366).
MAX_RANGE_DAYS = 366

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"\d{2}:\d{2}(:\d{2})?")
# What the API documents for a time, in requests and answers alike. A shoot's or an upload's time
# is a wall-clock time at its place (calendar.py), stored without a zone: 14:30 is 14:30 wherever
# the client reads it. JSON Schema's `format: time` is RFC 3339's full-time, which requires an
# offset ("14:30:00Z"): the server does not know one and inventing UTC would move every shoot by
# the creator's offset, so a client that validates formats would reject every answer. Times are
# therefore plain strings with a pattern: HH:MM or HH:MM:SS in, always HH:MM:SS out.
_TIME_DESCRIPTION = "a local wall-clock time at the place of the event, without a time zone"
TIME_IN_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"
TIME_OUT_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # already parsed (a default, or a model built in code)
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    parsed = date.fromisoformat(value)  # ValueError for 2025-02-30
    if not MIN_DATE <= parsed <= MAX_DATE:
        raise ValueError(f"must be between {MIN_DATE} and {MAX_DATE}")
    return parsed


def _iso_time(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise ValueError("must be a time as HH:MM or HH:MM:SS, without a time zone")
    return time.fromisoformat(value)  # ValueError for 25:00 or 10:61


# The documented schemas say what is accepted (generic `format: time` would promise zones).
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2025-06-30"]}),
]
IsoTime = Annotated[
    time,
    BeforeValidator(_iso_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": TIME_IN_PATTERN,
            "description": f"HH:MM or HH:MM:SS, {_TIME_DESCRIPTION}",
            "examples": ["14:30"],
        }
    ),
]
# The same time in an answer: always with seconds, never with a zone or fractions.
WallClockTime = Annotated[
    time,
    PlainSerializer(lambda value: value.strftime("%H:%M:%S"), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": TIME_OUT_PATTERN,
            "description": f"HH:MM:SS, {_TIME_DESCRIPTION}",
            "examples": ["14:30:00"],
        }
    ),
]
BrandName = Annotated[str, Field(min_length=1, max_length=100)]
CampaignName = Annotated[str, Field(min_length=1, max_length=200)]
Location = Annotated[str, Field(min_length=1, max_length=255)]
Notes = Annotated[str, Field(max_length=5000)]
ContentType = Annotated[str, Field(min_length=1, max_length=50, examples=["Reel"])]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
# Zero is allowed (the table's check too): an unpaid or barter shoot, with its currency.
ShootAmount = Annotated[
    int, Field(strict=True, ge=0, le=MAX_AMOUNT, description="integer minor units, e.g. cents")
]
Platform = Literal[UPLOAD_PLATFORMS]  # type: ignore[valid-type]
Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["EUR"])]


class _CurrencyChecked(RequestModel):
    @field_validator("currency", check_fields=False)
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        return None if value is None else check_currency(value)


# --- shoots ----------------------------------------------------------------------------------


class ShootCreate(_CurrencyChecked):
    date: IsoDate
    time: IsoTime | None = None
    location: Location | None = None
    brand_name: BrandName
    campaign_name: CampaignName | None = None
    notes: Notes | None = None
    amount: ShootAmount | None = Field(default=None, description="with `currency`, or neither")
    currency: Currency | None = None


class ShootUpdate(_CurrencyChecked):
    """Only the fields sent change; `null` clears an optional one. Amount and currency must
    still go together afterwards."""

    # Absent = unchanged; null on a required field gets 422 `field_required` (service).
    date: IsoDate | None = None
    time: IsoTime | None = None
    location: Location | None = None
    brand_name: BrandName | None = None
    campaign_name: CampaignName | None = None
    notes: Notes | None = None
    amount: ShootAmount | None = None
    currency: Currency | None = None


class ShootReviewOut(BaseModel):
    """What became of the shoot's client review (seed 001: "the influencer sees the review
    status on Completed Shoots")."""

    model_config = ConfigDict(from_attributes=True)

    state: ReviewState = Field(
        description="`none`: no review link yet; `link_open`: the client can review until "
        "`link_expires_at`; `reviewed`: the review is recorded (`published` says whether your "
        "portfolio shows it); `link_expired`: the link outlived its lifetime unused; "
        "`link_revoked`: the link was withdrawn. A new link opens the review again, except "
        "once reviewed."
    )
    link_expires_at: datetime | None = Field(
        description="`link_open`: until when the link works; `link_expired`: when it stopped"
    )
    review_id: uuid.UUID | None = Field(description="`reviewed`: the review")
    published: bool | None = Field(description="`reviewed`: whether it shows on your portfolio")


class ShootOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    date: date
    time: WallClockTime | None
    location: str | None
    brand_name: str
    campaign_name: str | None
    notes: str | None
    amount: int | None
    currency: str | None
    completed: bool
    completed_at: datetime | None
    review_link_generated_at: datetime | None = Field(
        description="when the newest review link was made (seed 001; cleared when it is "
        "revoked); `review` says what became of it"
    )
    created_at: datetime
    review: ShootReviewOut

    @classmethod
    def of(cls, shoot: Shoot, status: ReviewStatus) -> ShootOut:
        fields = {name: getattr(shoot, name) for name in cls.model_fields if name != "review"}
        return cls(**fields, review=ShootReviewOut.model_validate(status))


class ShootsPage(BaseModel):
    items: list[ShootOut]
    next_cursor: str | None


# --- uploads ---------------------------------------------------------------------------------


class UploadCreate(RequestModel):
    date: IsoDate
    time: IsoTime | None = None
    platform: Platform
    content_type: ContentType | None = None
    brand_name: BrandName | None = None
    campaign_name: CampaignName | None = None
    notes: Notes | None = None


class UploadUpdate(RequestModel):
    date: IsoDate | None = None
    time: IsoTime | None = None
    platform: Platform | None = None
    content_type: ContentType | None = None
    brand_name: BrandName | None = None
    campaign_name: CampaignName | None = None
    notes: Notes | None = None


class UploadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    date: date
    time: WallClockTime | None
    platform: str
    content_type: str | None
    brand_name: str | None
    campaign_name: str | None
    notes: str | None
    completed: bool
    completed_at: datetime | None
    created_at: datetime


class UploadsPage(BaseModel):
    items: list[UploadOut]
    next_cursor: str | None


# --- calendar --------------------------------------------------------------------------------


class BlockCreate(RequestModel):
    start_date: IsoDate
    end_date: IsoDate | None = Field(
        default=None, description="inclusive; absent = the start date (one day)"
    )
    reason: Reason | None = None
    reason_public: bool = Field(
        default=False, description="whether the reason may be shown to others"
    )


class BlockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    start_date: date
    end_date: date = Field(description="inclusive")
    reason: str | None
    reason_public: bool
    created_at: datetime


class BlocksPage(BaseModel):
    items: list[BlockOut]
    next_cursor: str | None


class CalendarView(BaseModel):
    """Everything on a creator's calendar between two dates (both inclusive)."""

    from_date: date = Field(serialization_alias="from")
    to_date: date = Field(serialization_alias="to")
    shoots: list[ShootOut]
    uploads: list[UploadOut]
    blocked: list[BlockOut] = Field(description="blocked ranges overlapping the window")
    truncated: bool = Field(description="a list was cut at its limit: ask for a smaller window")


class FeedCreated(BaseModel):
    url: str = Field(description="the secret iCalendar URL: shown once, store it now")
    created_at: datetime


class FeedStatus(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    created_at: datetime
    last_fetched_at: datetime | None
