"""Demo data: one account per role, so a fresh install has someone to log in as.

Idempotent: accounts that exist are left as they are, so `make run` can load it every time.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
import typer
from sqlalchemy import func, select

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.identity import passwords
from creatorhub.identity.models import BrandProfile, CreatorProfile, FollowerEstimate, User
from creatorhub.kit.clock import utcnow

log = structlog.get_logger(__name__)

# Published in the README: demo accounts are for trying the platform, never for production.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - published demo credential


@dataclass(frozen=True)
class DemoAccount:
    email: str
    display_name: str
    roles: tuple[str, ...]


DEMO_ACCOUNTS = (
    DemoAccount("admin@creatorhub.example", "Ada Admin", ("admin",)),
    DemoAccount("moderator@creatorhub.example", "Mo Moderator", ("moderator",)),
    DemoAccount("sarah@creatorhub.example", "Sarah Creator", ("creator", "fan")),
    DemoAccount("brand@creatorhub.example", "Bright Brand Co", ("brand",)),
    DemoAccount("fan@creatorhub.example", "Fran Fan", ("fan",)),
)


async def load_demo(url: str, settings: Settings) -> list[str]:
    """Create the demo accounts that are missing; returns the e-mails created."""
    database = Database.connect(url, settings)
    created: list[str] = []
    try:
        async with database.session_scope() as session:
            password_hash = await passwords.hash_password(DEMO_PASSWORD)
            for account in DEMO_ACCOUNTS:
                exists = await session.scalar(
                    select(User.id).where(func.lower(User.email) == account.email)
                )
                if exists is not None:
                    continue
                user = User(
                    email=account.email,
                    password_hash=password_hash,
                    display_name=account.display_name,
                    roles=list(account.roles),
                    socials={},
                    email_verified_at=utcnow(),
                )
                session.add(user)
                await session.flush()
                if "creator" in account.roles:
                    user.bio = "Fashion and travel photographer, 120k on Instagram."
                    user.socials = {"instagram": "https://instagram.com/sarah.demo"}
                    session.add(
                        CreatorProfile(
                            user_id=user.id,
                            slug="sarah",
                            categories=["Fashion", "Lifestyle"],
                            min_budget_minor=50_000,
                            max_budget_minor=500_000,
                            budget_currency="USD",
                            languages=["en", "fr"],
                            skills=["photography", "reels"],
                        )
                    )
                    await session.flush()
                    session.add_all(
                        [
                            FollowerEstimate(
                                user_id=user.id, platform="instagram", followers=120_000
                            ),
                            FollowerEstimate(user_id=user.id, platform="tiktok", followers=45_000),
                        ]
                    )
                if "brand" in account.roles:
                    session.add(
                        BrandProfile(
                            user_id=user.id,
                            company_name="Bright Brand Co",
                            website="https://brand.example",
                            verification_status="verified",
                            business_categories=["Fashion"],
                        )
                    )
                created.append(account.email)
    finally:
        await database.dispose()
    log.info("demo_loaded", created=created)
    typer.echo("\nDemo accounts (password for all: " + DEMO_PASSWORD + ")")
    for account in DEMO_ACCOUNTS:
        typer.echo(f"  {account.email:<32} {', '.join(account.roles)}")
    return created
