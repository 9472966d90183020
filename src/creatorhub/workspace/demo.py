"""Demo workspace: the demo creator's portfolio, shoots, uploads, blocked dates and client
reviews, for `creatorhub demo`.

Everything goes through the workspace's own services, as the API and the pages do: a shoot is
created and completed, its review link made (`reviews.create_review_link`), the client's form
checked and submitted as `POST /review/{token}` does it (`check_review_form`, then
`reviews.submit_review`), and the review published by the creator (`reviews.set_published`). So
the rows, the audit trail and the link's hash are the real ones.

One transaction per unit (the portfolio, a shoot with its link and review, an upload, a blocked
range): a unit is there whole or not at all. A unit that exists is left as it is, so loading the
demo twice creates each once. Units are found by what does not move with the calendar (brand
and campaign, platform and campaign, reason), never by date: the dates are relative to the day
the demo is loaded.

No calendar feed: its URL is a secret shown once, and a demo has no one to show it to. The one
live review link is printed once, when it is made, so the review form can be tried.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.identity import service as identity
from creatorhub.identity.schemas import CreatorProfileIn, UserUpdate
from creatorhub.kit.clock import utcnow
from creatorhub.workspace import calendar, reviews, service
from creatorhub.workspace.models import BlockedDates, Shoot, Upload
from creatorhub.workspace.reviews_schemas import check_review_form

CREATOR = "sarah@creatorhub.example"

# The portfolio's fields, filled only where the profile has none (the demo accounts have a
# bio, categories and a budget already; the photo is new). The photo ships with the package
# and the platform serves it (no internet needed); its URL is absolute, like any photo a
# creator gives, so it is re-based when the demo loads on another address. The first demo
# pointed at a host that never resolves: such a profile gets the shipped photo instead.
PHOTO_PATH = "/static/demo/sarah.svg"
UNREACHABLE_DEMO_PHOTO = "https://images.creatorhub.example/sarah.jpg"
BIO = "Fashion and travel photographer, 120k on Instagram."
CATEGORIES = ("Fashion", "Lifestyle")
BUDGET = (50_000, 500_000, "USD")

# The demo acts as the creator herself, without a login session (services only read the user).
NO_LOGIN_SESSION = uuid.UUID(int=0)


@dataclass(frozen=True)
class DemoReview:
    """What the client types into the review form; `publish`: the creator shows it."""

    phone: str
    email: str
    rating: int
    text: str
    publish: bool


@dataclass(frozen=True)
class DemoShoot:
    brand_name: str  # with the campaign, the shoot's identity in the demo
    campaign_name: str
    days: int  # from the day the demo is loaded; completed shoots are in the past
    time: time | None
    location: str | None
    amount: int | None  # minor units, with its currency
    currency: str | None
    notes: str | None = None
    completed: bool = False
    review: DemoReview | None = None
    live_link: bool = False  # completed, with a review link the client has not used yet


@dataclass(frozen=True)
class DemoUpload:
    platform: str  # with the campaign, the upload's identity in the demo
    campaign_name: str
    days: int
    time: time | None
    content_type: str
    brand_name: str | None
    notes: str | None = None
    completed: bool = False


@dataclass(frozen=True)
class DemoBlock:
    reason: str  # the range's identity in the demo
    days: int
    length: int  # days, both ends counted
    reason_public: bool


DEMO_SHOOTS = (
    DemoShoot(
        "Bright Brand Co",
        "Spring lookbook",
        days=-40,
        time=time(10, 0),
        location="Paris, Jardin du Luxembourg",
        amount=1_200_00,
        currency="USD",
        notes="Three looks, natural light; deliver 20 edited photos.",
        completed=True,
        review=DemoReview(
            "+1 (212) 555-0148",
            "lena.ortiz@brand.example",
            5,
            "Sarah had a shot list ready before we did, kept the whole day on schedule and "
            "delivered the edits two days early. The lookbook is our best-performing yet.",
            publish=True,
        ),
    ),
    DemoShoot(
        "Maison Lune",
        "Autumn knitwear",
        days=-25,
        time=time(14, 30),
        location="Lyon",
        amount=850_00,
        currency="EUR",
        completed=True,
        review=DemoReview(
            "+33 4 72 10 30 30",
            "claire@maisonlune.example",
            4,
            "Beautiful, warm images and easy to work with. One outfit change ran long, but "
            "the result was worth it.",
            publish=True,
        ),
    ),
    DemoShoot(
        "Northwind Outdoors",
        "Trail gear stills",
        days=-18,
        time=time(8, 0),
        location="Chamonix",
        amount=1_500_00,
        currency="USD",
        notes="Early start for the light on the ridge.",
        completed=True,
        review=DemoReview(
            "+1 303 555 0199",
            "marketing@northwind.example",
            3,
            "Good photos, but we had to ask twice for the raw files.",
            publish=False,  # hidden: the creator has not published it (yet)
        ),
    ),
    DemoShoot(
        "Café Aurora",
        "Brunch menu launch",
        days=-6,
        time=time(11, 0),
        location="Lisbon",
        amount=400_00,
        currency="EUR",
        completed=True,
        live_link=True,
    ),
    DemoShoot(
        "Bright Brand Co",
        "Summer collection try-on",
        days=5,
        time=time(9, 30),
        location="Berlin",
        amount=1_800_00,
        currency="USD",
        notes="Bring the steamer; the brand sends four sizes.",
    ),
    DemoShoot(
        "Lumen Skincare",
        "Morning routine reel",
        days=12,
        time=None,  # an all-day shoot
        location=None,
        amount=600_00,
        currency="GBP",
        notes="At home; products arrive the week before.",
    ),
    DemoShoot(
        "Northwind Outdoors",
        "Rain shell lookbook",
        days=33,
        time=time(16, 0),
        location="Bergen",
        amount=None,  # the fee is still being agreed
        currency=None,
        notes="Fee to be agreed once the brief is final.",
    ),
)

DEMO_UPLOADS = (
    DemoUpload(
        "instagram", "Spring lookbook", -35, time(18, 0), "Reel", "Bright Brand Co", completed=True
    ),
    DemoUpload(
        "tiktok", "Autumn knitwear", -20, time(19, 30), "Video", "Maison Lune", completed=True
    ),
    DemoUpload(
        "youtube",
        "Trail gear stills",
        -10,
        None,
        "Video",
        "Northwind Outdoors",
        notes="Behind the scenes of the ridge shoot.",
        completed=True,
    ),
    DemoUpload("instagram", "Brunch menu launch", 2, time(12, 0), "Post", "Café Aurora"),
    DemoUpload("facebook", "Brunch menu launch", 3, time(12, 0), "Post", "Café Aurora"),
    DemoUpload("tiktok", "Summer collection try-on", 8, time(20, 0), "Reel", "Bright Brand Co"),
    DemoUpload("instagram", "Travel diary", 15, None, "Post", None, notes="Personal content."),
)

DEMO_BLOCKS = (
    DemoBlock("Travelling: Lisbon workshop week", days=20, length=8, reason_public=True),
    DemoBlock("Family wedding", days=45, length=2, reason_public=False),
)


@dataclass
class WorkspaceDemo:
    """What a run created, and the URL of the live review link when it was made in this run
    (only its hash is stored: it is never shown again)."""

    created: list[str] = field(default_factory=list)
    review_url: str | None = None


async def load_demo_workspace(
    database: Database, settings: Settings, users: dict[str, uuid.UUID]
) -> WorkspaceDemo:
    """Create the demo creator's missing workspace (`users`: the demo accounts' ids by e-mail)."""
    result = WorkspaceDemo()
    user_id = users[CREATOR]
    today = utcnow().date()
    async with database.session_scope() as session:
        if await _complete_portfolio(session, settings, user_id):
            result.created.append("portfolio")
    for spec in DEMO_SHOOTS:
        async with database.session_scope() as session:
            exists = await session.scalar(
                select(Shoot.id).where(
                    Shoot.user_id == user_id,
                    Shoot.brand_name == spec.brand_name,
                    Shoot.campaign_name == spec.campaign_name,
                )
            )
            if exists is not None:
                continue
            token = await _build_shoot(session, settings, spec, user_id, today)
        if token is not None:
            result.review_url = reviews.review_url(settings.link_base_url, token)
        result.created.append(f"shoot {spec.brand_name}: {spec.campaign_name}")
    for upload in DEMO_UPLOADS:
        async with database.session_scope() as session:
            exists = await session.scalar(
                select(Upload.id).where(
                    Upload.user_id == user_id,
                    Upload.platform == upload.platform,
                    Upload.campaign_name == upload.campaign_name,
                )
            )
            if exists is not None:
                continue
            await _build_upload(session, upload, user_id, today)
        result.created.append(f"upload {upload.platform}: {upload.campaign_name}")
    for block in DEMO_BLOCKS:
        async with database.session_scope() as session:
            exists = await session.scalar(
                select(BlockedDates.id).where(
                    BlockedDates.user_id == user_id, BlockedDates.reason == block.reason
                )
            )
            if exists is not None:
                continue
            start = today + timedelta(days=block.days)
            await calendar.create_block(
                session,
                user_id,
                start_date=start,
                end_date=start + timedelta(days=block.length - 1),
                reason=block.reason,
                reason_public=block.reason_public,
            )
        result.created.append(f"blocked: {block.reason}")
    return result


async def _principal(session: AsyncSession, user_id: uuid.UUID) -> identity.Principal:
    return identity.Principal(
        user=await identity.get_user(session, user_id), session_id=NO_LOGIN_SESSION
    )


def _is_demo_photo(url: str | None) -> bool:
    return url is None or url == UNREACHABLE_DEMO_PHOTO or url.endswith(PHOTO_PATH)


async def _complete_portfolio(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> bool:
    """Give the portfolio a bio, categories, a photo and a budget where it has none, through
    the profile services (their validation and audit trail); False when nothing was missing."""
    principal = await _principal(session, user_id)
    photo_url = settings.link_base_url + PHOTO_PATH
    found = await identity.get_creator_profile(session, user_id)
    assert found is not None, "the demo creator has a creator profile"
    profile, followers = found
    changed = False
    if not principal.user.bio:
        await identity.update_user(session, principal, principal.user, UserUpdate(bio=BIO))
        changed = True
    has_budget = profile.min_budget_minor is not None or profile.max_budget_minor is not None
    stale_photo = _is_demo_photo(profile.photo_url) and profile.photo_url != photo_url
    if stale_photo or not profile.categories or not has_budget:
        lo, hi, currency = BUDGET
        data = CreatorProfileIn(
            slug=profile.slug,
            categories=list(profile.categories) or list(CATEGORIES),
            photo_url=photo_url if stale_photo else profile.photo_url,
            min_budget_minor=profile.min_budget_minor if has_budget else lo,
            max_budget_minor=profile.max_budget_minor if has_budget else hi,
            budget_currency=profile.budget_currency if has_budget else currency,
            languages=list(profile.languages),
            skills=list(profile.skills),
            follower_estimates=followers,  # the service replaces them: keep them as they are
        )
        await identity.put_creator_profile(session, principal, data)
        changed = True
    return changed


async def _build_shoot(
    session: AsyncSession, settings: Settings, spec: DemoShoot, user_id: uuid.UUID, today: date
) -> str | None:
    """The shoot, completed, linked and reviewed as `spec` says; returns the token of a live
    link made for it (None for the others)."""
    shoot = await service.create_shoot(
        session,
        user_id,
        {
            "date": today + timedelta(days=spec.days),
            "time": spec.time,
            "location": spec.location,
            "brand_name": spec.brand_name,
            "campaign_name": spec.campaign_name,
            "notes": spec.notes,
            "amount": spec.amount,
            "currency": spec.currency,
        },
    )
    if not spec.completed:
        return None
    await service.complete(session, shoot, utcnow())
    if spec.review is None and not spec.live_link:
        return None
    _, token = await reviews.create_review_link(
        session,
        shoot_id=shoot.id,
        user_id=user_id,
        ttl=timedelta(days=settings.review_link_ttl_days),
    )
    if spec.review is None:
        return token
    # As the client's POST /review/{token} does: the form's fields checked, then recorded.
    given = spec.review
    form, errors = check_review_form(given.phone, given.email, str(given.rating), given.text)
    assert form is not None, errors
    await reviews.submit_review(session, token, form)
    if given.publish:
        (review_id,) = [
            review.id
            for review, reviewed in await reviews.list_reviews(session, user_id, limit=100)
            if reviewed.id == shoot.id
        ]
        await reviews.set_published(session, await _principal(session, user_id), review_id, True)
    return None


async def _build_upload(
    session: AsyncSession, spec: DemoUpload, user_id: uuid.UUID, today: date
) -> None:
    upload = await service.create_upload(
        session,
        user_id,
        {
            "date": today + timedelta(days=spec.days),
            "time": spec.time,
            "platform": spec.platform,
            "content_type": spec.content_type,
            "brand_name": spec.brand_name,
            "campaign_name": spec.campaign_name,
            "notes": spec.notes,
        },
    )
    if spec.completed:
        await service.complete(session, upload, utcnow())
