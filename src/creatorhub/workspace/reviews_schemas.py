"""Shapes of client reviews: the review form's fields, the creator's API, the public portfolio.

The review form is an HTML form, not JSON: its fields are checked here, field by field, so the
page can show each problem next to its input (`check_review_form`) instead of a problem+json.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field

MIN_RATING, MAX_RATING = 1, 5
RATINGS = frozenset(str(stars) for stars in range(MIN_RATING, MAX_RATING + 1))
MAX_REVIEW_TEXT = 5000
MAX_EMAIL = 254
# E.164-ish: what people type for a phone number. 7-20 characters of digits, spaces, dashes and
# parentheses, an optional leading +, and 7-15 digits (E.164's maximum).
PHONE_SHAPE = re.compile(r"^\+?[0-9 ()\-]{7,20}$")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15


@dataclass(frozen=True)
class ReviewForm:
    """A review as the client typed it, checked and normalised."""

    client_number: str
    client_email: str
    rating: int
    review_text: str


def _phone_problem(phone: str) -> str | None:
    if not phone:
        return "Enter your phone number."
    digits = sum(ch.isdigit() for ch in phone)
    if (
        not 7 <= len(phone) <= 20
        or not PHONE_SHAPE.match(phone)
        or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS
    ):
        return (
            "Enter a phone number of 7 to 15 digits, for example +44 20 7946 0958 (spaces, "
            "dashes, parentheses and a leading + are fine)."
        )
    return None


def check_review_form(
    phone: str, email: str, rating: str, text: str
) -> tuple[ReviewForm | None, dict[str, str]]:
    """The review, or the problem of each field at fault (keys: phone, email, rating, text)."""
    errors: dict[str, str] = {}
    fields = {"phone": phone, "email": email, "rating": rating, "text": text}
    for name, value in fields.items():
        if "\x00" in value:
            errors[name] = "This field must not contain NUL characters."
    phone = phone.strip()
    email = email.strip()
    # Browsers send a textarea's line breaks as CRLF but count them as one character.
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()

    if "phone" not in errors and (problem := _phone_problem(phone)):
        errors["phone"] = problem

    normalized_email = ""
    if "email" not in errors:
        if not email:
            errors["email"] = "Enter your e-mail address."
        elif len(email) > MAX_EMAIL:
            errors["email"] = f"An e-mail address has at most {MAX_EMAIL} characters."
        else:
            try:
                normalized_email = validate_email(email, check_deliverability=False).normalized
            except EmailNotValidError:
                errors["email"] = "Enter a valid e-mail address, like name@example.com."

    stars = 0
    if "rating" not in errors:
        stars = int(rating) if rating.strip() in RATINGS else 0
        if not stars:
            errors["rating"] = f"Choose a rating from {MIN_RATING} to {MAX_RATING} stars."

    if "text" not in errors:
        if not text:
            errors["text"] = "Write a few words about the shoot."
        elif len(text) > MAX_REVIEW_TEXT:
            errors["text"] = (
                f"The review has {len(text)} characters; at most {MAX_REVIEW_TEXT} fit."
            )

    if errors:
        return None, errors
    return ReviewForm(phone, normalized_email, stars, text), {}


# --- the creator's API ----------------------------------------------------------------------


class ReviewLinkOut(BaseModel):
    shoot_id: uuid.UUID
    url: str = Field(
        description="The link to send to the client. Shown only now: the platform keeps only a "
        "hash of its token. Opening it shows the form; only the form's submission records."
    )
    expires_at: datetime
    created_at: datetime


class ReviewShootOut(BaseModel):
    id: uuid.UUID
    date: date
    brand_name: str
    campaign_name: str | None


class ReviewOut(BaseModel):
    """A review as the reviewed creator (or an administrator) sees it, client contact included."""

    id: uuid.UUID
    shoot: ReviewShootOut
    client_number: str
    client_email: str
    rating: int
    review_text: str
    is_published: bool
    published_at: datetime | None
    submitted_at: datetime


class ReviewsPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end")


# --- the public portfolio -------------------------------------------------------------------


class PublicReviewOut(BaseModel):
    """A published review as anyone sees it: never the client's phone or e-mail."""

    rating: int
    review_text: str
    submitted_at: datetime


class RatingSummary(BaseModel):
    count: int = Field(description="Published reviews")
    average_rating: Decimal | None = Field(
        description="Mean rating of the published reviews, to one decimal (a decimal string, "
        "never a float); null without any"
    )


class ConnectedPlatformOut(BaseModel):
    platform: str
    username: str | None
    follower_count: int | None
    follower_count_at: datetime | None = Field(description="When the platform reported the count")


class BudgetOut(BaseModel):
    min_minor: int | None
    max_minor: int | None
    currency: str


class UnavailableOut(BaseModel):
    """A blocked date range; the reason only when the creator made it public."""

    start_date: date
    end_date: date = Field(description="inclusive")
    reason: str | None


class ContactOut(BaseModel):
    kind: str = Field(
        description="email: the address the creator published (socials.email); website: their "
        "published site (socials.website); sign_in: neither, use the platform to reach them"
    )
    href: str
    label: str


# How far ahead the portfolio shows blocked dates.
UPCOMING_DAYS = 180


class PortfolioOut(BaseModel):
    slug: str
    display_name: str
    bio: str | None
    photo_url: str | None
    categories: list[str]
    budget: BudgetOut | None
    platforms: list[ConnectedPlatformOut] = Field(
        description="Accounts connected through the platforms' OAuth, with the follower counts "
        "the platforms reported"
    )
    declared_audience: dict[str, int] = Field(
        description="Followers per platform as the creator states them (not checked)"
    )
    rating: RatingSummary
    reviews: list[PublicReviewOut] = Field(description="The latest published reviews")
    unavailable: list[UnavailableOut] = Field(
        description=f"Blocked dates of the next {UPCOMING_DAYS} days (reasons only if public)"
    )
    contact: ContactOut
