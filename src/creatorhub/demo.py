"""Demo data: accounts for every role, so a fresh install has someone to log in as, money in
their wallets (the brands and the fan funded through the sandbox, a tip paid to a creator),
marketplace jobs in every state (`creatorhub.marketplace.demo`), and the demo creator's
workspace: portfolio, shoots, uploads, blocked dates and client reviews
(`creatorhub.workspace.demo`).

Idempotent: accounts that exist are left as they are, and so are demo jobs and workspace rows
that exist, so `make run` can load it every time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import structlog
import typer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.campaigns.demo import DEMO_CAMPAIGNS, load_demo_campaigns
from creatorhub.campaigns.sales.demo import DEMO_SALES_CAMPAIGNS, load_demo_sales
from creatorhub.campaigns.work.demo import DEMO_WORK_CAMPAIGNS, load_demo_work
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.giveaways.demo import DEMO_DRAWS, load_demo_giveaways
from creatorhub.identity import passwords
from creatorhub.identity.models import BrandProfile, CreatorProfile, FollowerEstimate, User
from creatorhub.kit.clock import utcnow
from creatorhub.ledger import service as ledger
from creatorhub.marketplace.demo import DEMO_JOBS, load_demo_marketplace
from creatorhub.payments import earnings, funding, payouts
from creatorhub.payments.changes import send_change
from creatorhub.payments.models import FundingStatus
from creatorhub.payments.providers.registry import get_provider
from creatorhub.workspace.demo import DEMO_SHOOTS, load_demo_workspace

log = structlog.get_logger(__name__)

# Published in the README: demo accounts are for trying the platform, never for production.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - published demo credential


@dataclass(frozen=True)
class DemoCreator:
    """A creator profile; the follower estimates (per platform) decide which jobs they may claim."""

    slug: str
    bio: str
    followers: dict[str, int]
    categories: tuple[str, ...]
    languages: tuple[str, ...] = ("en",)
    skills: tuple[str, ...] = ()
    budget: tuple[int, int] | None = None  # min and max, USD minor units


@dataclass(frozen=True)
class DemoBrand:
    company_name: str
    website: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class DemoAccount:
    email: str
    display_name: str
    roles: tuple[str, ...]
    creator: DemoCreator | None = None
    brand: DemoBrand | None = None
    funds: int = 0  # paid into the available wallet through the sandbox provider, minor units
    socials: dict[str, str] = field(default_factory=dict)


DEMO_ACCOUNTS = (
    DemoAccount("admin@creatorhub.example", "Ada Admin", ("admin",)),
    DemoAccount("moderator@creatorhub.example", "Mo Moderator", ("moderator",)),
    DemoAccount(
        "sarah@creatorhub.example",
        "Sarah Creator",
        ("creator", "fan"),
        creator=DemoCreator(
            slug="sarah",
            bio="Fashion and travel photographer, 120k on Instagram.",
            followers={"instagram": 120_000, "tiktok": 45_000},
            categories=("Fashion", "Lifestyle"),
            languages=("en", "fr"),
            skills=("photography", "reels"),
            budget=(50_000, 500_000),
        ),
        socials={"instagram": "https://instagram.com/sarah.demo"},
    ),
    DemoAccount(
        "brand@creatorhub.example",
        "Bright Brand Co",
        ("brand",),
        brand=DemoBrand("Bright Brand Co", "https://brand.example", ("Fashion",)),
        funds=5_000_00,
    ),
    DemoAccount("fan@creatorhub.example", "Fran Fan", ("fan",), funds=100_00),
    DemoAccount(
        "northwind@creatorhub.example",
        "Northwind Outdoors",
        ("brand",),
        brand=DemoBrand("Northwind Outdoors", "https://northwind.example", ("Outdoors", "Sport")),
        funds=3_000_00,
    ),
    DemoAccount(
        "leo@creatorhub.example",
        "Leo Park",
        ("creator",),
        creator=DemoCreator(
            slug="leo",
            bio="Street style on a student budget.",
            followers={"instagram": 1_800, "tiktok": 600},
            categories=("Fashion",),
            skills=("stories",),
        ),
    ),
    DemoAccount(
        "mia@creatorhub.example",
        "Mia Santos",
        ("creator",),
        creator=DemoCreator(
            slug="mia",
            bio="Dance and try-on videos.",
            followers={"tiktok": 18_000, "instagram": 6_500},
            categories=("Fashion", "Dance"),
            languages=("en", "pt"),
            skills=("short video",),
            budget=(10_000, 100_000),
        ),
    ),
    DemoAccount(
        "kai@creatorhub.example",
        "Kai Nakamura",
        ("creator",),
        creator=DemoCreator(
            slug="kai",
            bio="Climbing, trail running and the gear that survives it.",
            followers={"youtube": 60_000, "instagram": 15_000},
            categories=("Outdoors", "Sport"),
            languages=("en", "ja"),
            skills=("long-form video", "reviews"),
            budget=(30_000, 300_000),
        ),
    ),
    DemoAccount(
        "nora@creatorhub.example",
        "Nora Lindqvist",
        ("creator",),
        creator=DemoCreator(
            slug="nora",
            bio="Arctic expeditions and winter camping, 1.6M across platforms.",
            followers={"instagram": 950_000, "tiktok": 400_000, "youtube": 250_000},
            categories=("Outdoors", "Travel"),
            languages=("en", "sv"),
            skills=("photography", "documentary"),
            budget=(500_000, 5_000_000),
        ),
    ),
)


async def _add_profiles(session: AsyncSession, account: DemoAccount, user: User) -> None:
    if account.creator is not None:
        creator = account.creator
        user.bio = creator.bio
        budget = creator.budget
        session.add(
            CreatorProfile(
                user_id=user.id,
                slug=creator.slug,
                categories=list(creator.categories),
                min_budget_minor=budget[0] if budget else None,
                max_budget_minor=budget[1] if budget else None,
                budget_currency="USD" if budget else None,
                languages=list(creator.languages),
                skills=list(creator.skills),
            )
        )
        await session.flush()
        session.add_all(
            FollowerEstimate(user_id=user.id, platform=platform, followers=followers)
            for platform, followers in creator.followers.items()
        )
    if account.brand is not None:
        session.add(
            BrandProfile(
                user_id=user.id,
                company_name=account.brand.company_name,
                website=account.brand.website,
                business_categories=list(account.brand.categories),
            )
        )


async def _load_demo_money(
    session: AsyncSession, settings: Settings, new_users: dict[str, uuid.UUID]
) -> None:
    """Wallets with money in them, through the same services the API uses (sandbox provider)."""
    sandbox = get_provider(settings, "sandbox")
    for account in DEMO_ACCOUNTS:
        user_id = new_users.get(account.email)
        if user_id is None or not account.funds:
            continue
        intent = await funding.create_intent(
            session, sandbox, user_id=user_id, amount=account.funds, currency="USD"
        )
        assert intent.provider_reference is not None
        change = await funding.funding_status_change(
            session,
            provider="sandbox",
            reference=intent.provider_reference,
            status=FundingStatus.SUCCEEDED,
        )
        await send_change(session, change)
    creator = new_users.get("sarah@creatorhub.example")
    fan = new_users.get("fan@creatorhub.example")
    if creator is None or fan is None:
        return
    await payouts.create_payout_account(
        session, sandbox, user_id=creator, email="sarah@creatorhub.example", country="US"
    )
    await earnings.pay_earnings(
        session,
        payee_id=creator,
        gross=25_00,
        currency="USD",
        kind="tip",
        key=f"demo-tip-{fan}",
        reason="tip from Fran Fan",
        now=utcnow(),
        hold_days=settings.earnings_hold_days,
        fee_shards=settings.fee_shards,
        payer_account_id=await ledger.user_account(session, fan, "USD"),
        reference_type="tip",
        reference_id="demo",
    )


async def load_demo(url: str, settings: Settings) -> list[str]:
    """Create the demo accounts and marketplace jobs that are missing; returns the e-mails
    created."""
    database = Database.connect(url, settings)
    created: list[str] = []
    users: dict[str, uuid.UUID] = {}
    new_users: dict[str, uuid.UUID] = {}
    try:
        async with database.session_scope() as session:
            password_hash = await passwords.hash_password(DEMO_PASSWORD)
            for account in DEMO_ACCOUNTS:
                exists = await session.scalar(
                    select(User.id).where(func.lower(User.email) == account.email)
                )
                if exists is not None:
                    users[account.email] = exists
                    continue
                user = User(
                    email=account.email,
                    password_hash=password_hash,
                    display_name=account.display_name,
                    roles=list(account.roles),
                    socials=dict(account.socials),
                    email_verified_at=utcnow(),
                )
                session.add(user)
                await session.flush()
                await _add_profiles(session, account, user)
                created.append(account.email)
                users[account.email] = new_users[account.email] = user.id
            await _load_demo_money(session, settings, new_users)
        log.info("demo_loaded", created=created)
        jobs = await load_demo_marketplace(database, settings, users)
        log.info("demo_marketplace_loaded", created=jobs)
        workspace = await load_demo_workspace(database, settings, users)
        log.info("demo_workspace_loaded", created=workspace.created)
        log.info(
            "demo_campaigns_loaded", titles=await load_demo_campaigns(database, settings, users)
        )
        log.info("demo_work_loaded", titles=await load_demo_work(database, settings, users))
        log.info("demo_sales_loaded", titles=await load_demo_sales(database, settings, users))
        log.info(
            "demo_giveaways_loaded", titles=await load_demo_giveaways(database, settings, users)
        )
    finally:
        await database.dispose()
    typer.echo("\nDemo accounts (password for all: " + DEMO_PASSWORD + ")")
    for account in DEMO_ACCOUNTS:
        typer.echo(f"  {account.email:<32} {', '.join(account.roles)}")
    typer.echo("\nDemo marketplace jobs")
    for job in DEMO_JOBS:
        typer.echo(f"  {job.title:<34} {job.brand:<32} {job.shows}")
    typer.echo("\nDemo workspace of sarah@creatorhub.example (portfolio: /portfolio/sarah)")
    for shoot in DEMO_SHOOTS:
        state = "completed" if shoot.completed else "upcoming"
        if shoot.review is not None:
            state += ", reviewed" + (" (published)" if shoot.review.publish else " (hidden)")
        elif shoot.live_link:
            state += ", review link not used yet"
        typer.echo(f"  {shoot.campaign_name:<34} {shoot.brand_name:<32} {state}")
    typer.echo("\nDemo campaigns")
    for campaign in DEMO_CAMPAIGNS:
        typer.echo(f"  {campaign.title:<34} {campaign.brand:<32} {campaign.shows}")
    for work in DEMO_WORK_CAMPAIGNS:
        typer.echo(f"  {work.title:<34} {work.brand:<32} {work.shows}")
    for selling in DEMO_SALES_CAMPAIGNS:
        typer.echo(f"  {selling.title:<34} {selling.brand:<32} {selling.shows}")
    typer.echo("\nDemo giveaways of sarah@creatorhub.example (public history: /giveaways/hosts/…)")
    for title, shows in DEMO_DRAWS:
        typer.echo(f"  {title:<34} {shows}")
    if workspace.review_url is not None:
        typer.echo(f"\nA client review link, shown only now: {workspace.review_url}")
    return created
