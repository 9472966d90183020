"""A creator's public portfolio (seed 001 `profiles`): one view for the page and the JSON.

It gathers what other modules own through their services: the profile and account
(`identity`), the accounts connected through OAuth with the follower counts the platforms
reported (`social`), and the published client reviews (this module).

The contact button is honest about what exists, without a booking table: the address the
creator chose to publish (`socials.email`, public already through `/v1/creators/{slug}`) as a
`mailto:`; else their published website (`socials.website`); else a link to sign in to the
platform, where brands reach creators through marketplace jobs. The account's login e-mail and
phone are never shown.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.identity import service as identity
from creatorhub.identity.models import User
from creatorhub.kit.clock import utcnow
from creatorhub.social.service import active_platforms_of
from creatorhub.workspace import calendar, reviews
from creatorhub.workspace.reviews_schemas import (
    UPCOMING_DAYS,
    BudgetOut,
    ConnectedPlatformOut,
    ContactOut,
    PortfolioOut,
    PublicReviewOut,
    RatingSummary,
    UnavailableOut,
)

PORTFOLIO_REVIEWS = 20
UPCOMING_BLOCKS = 20
SIGN_IN_HREF = "/docs"
# ISO 4217 minor-unit exponents other than 2, for showing a budget.
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENTS = {
    **dict.fromkeys(_ZERO_DECIMALS.split(), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(), 3),
}


def minor_exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (2 unless listed above)."""
    return _EXPONENTS.get(currency, 2)


def format_minor(amount: int, currency: str) -> str:
    """`1250000, "USD"` → `12,500`; whole amounts without decimals (no float involved)."""
    exponent = minor_exponent(currency)
    value = Decimal(amount).scaleb(-exponent)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.{exponent}f}"


def budget_text(budget: BudgetOut | None) -> str | None:
    if budget is None:
        return None
    lo = format_minor(budget.min_minor, budget.currency) if budget.min_minor is not None else None
    hi = format_minor(budget.max_minor, budget.currency) if budget.max_minor is not None else None
    if lo is not None and hi is not None:
        return f"{budget.currency} {lo} – {hi}" if lo != hi else f"{budget.currency} {lo}"
    if lo is not None:
        return f"from {budget.currency} {lo}"
    if hi is not None:
        return f"up to {budget.currency} {hi}"
    return None


def _contact(display_name: str, socials: dict[str, Any]) -> ContactOut:
    email = socials.get("email")
    if isinstance(email, str):
        try:
            address = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            address = None
        if address is not None:
            subject = quote(f"Collaboration enquiry for {display_name}")
            return ContactOut(
                kind="email",
                href=f"mailto:{quote(address, safe='@.+')}?subject={subject}",
                label=f"E-mail {display_name}",
            )
    website = socials.get("website")
    if isinstance(website, str) and website.startswith(("https://", "http://")):
        return ContactOut(kind="website", href=website, label=f"Visit {display_name}'s website")
    return ContactOut(
        kind="sign_in",
        href=SIGN_IN_HREF,
        label=f"Sign in to the platform to contact {display_name}",
    )


async def get_portfolio(session: AsyncSession, slug: str) -> PortfolioOut:
    """The public view of the creator at `slug`; 404 `creator_not_found` (also for accounts
    that are not active). One statement: the account and profile with what the other modules
    show of them (connected platforms, published reviews and their rating, coming blocked
    dates), each as SQL of the module that owns it."""
    today, creator = utcnow().date(), User.id.expression
    row = (
        await session.execute(
            identity.creator_by_slug(
                slug,
                active_platforms_of(creator).label("platforms"),
                reviews.published_rating_of(creator).label("rating"),
                reviews.published_reviews_of(creator, limit=PORTFOLIO_REVIEWS).label("latest"),
                calendar.blocks_of(
                    creator,
                    from_date=today,
                    to_date=today + timedelta(days=UPCOMING_DAYS),
                    limit=UPCOMING_BLOCKS,
                ).label("blocks"),
            )
        )
    ).one_or_none()
    if row is None:
        raise identity.no_creator_here()
    user, profile = row.User, row.CreatorProfile
    count, average = reviews.mean_rating(row.rating["count"], row.rating["total"])
    budget = (
        BudgetOut(
            min_minor=profile.min_budget_minor,
            max_minor=profile.max_budget_minor,
            currency=profile.budget_currency,
        )
        if profile.budget_currency is not None
        and (profile.min_budget_minor is not None or profile.max_budget_minor is not None)
        else None
    )
    return PortfolioOut(
        slug=profile.slug,
        display_name=user.display_name,
        bio=user.bio,
        photo_url=profile.photo_url,
        categories=list(profile.categories),
        budget=budget,
        platforms=[ConnectedPlatformOut.model_validate(p) for p in row.platforms],
        declared_audience=dict(row.estimates),
        rating=RatingSummary(count=count, average_rating=average),
        reviews=[PublicReviewOut.model_validate(review) for review in row.latest],
        unavailable=[
            UnavailableOut(
                start_date=block["start_date"],
                end_date=block["end_date"],
                reason=block["reason"] if block["reason_public"] else None,
            )
            for block in row.blocks
        ],
        contact=_contact(user.display_name, user.socials or {}),
    )
