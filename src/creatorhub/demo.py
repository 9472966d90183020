"""Demo data: one account per role, so a fresh install has someone to log in as, and money in
their wallets (the brand and the fan funded through the sandbox, a tip paid to the creator).

Idempotent: accounts that exist are left as they are, so `make run` can load it every time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
import typer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.identity import passwords
from creatorhub.identity.models import BrandProfile, CreatorProfile, FollowerEstimate, User
from creatorhub.kit.clock import utcnow
from creatorhub.ledger import service as ledger
from creatorhub.payments import earnings, funding, payouts
from creatorhub.payments.models import FundingStatus
from creatorhub.payments.providers.registry import get_provider

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


async def _load_demo_money(
    session: AsyncSession, settings: Settings, new_users: dict[str, uuid.UUID]
) -> None:
    """Wallets with money in them, through the same services the API uses (sandbox provider)."""
    sandbox = get_provider(settings, "sandbox")
    funded = (("brand@creatorhub.example", 5_000_00), ("fan@creatorhub.example", 100_00))
    for email, amount in funded:
        user_id = new_users.get(email)
        if user_id is None:
            continue
        intent = await funding.create_intent(
            session, sandbox, user_id=user_id, amount=amount, currency="USD"
        )
        assert intent.provider_reference is not None
        await funding.apply_provider_status(
            session, provider="sandbox", reference=intent.provider_reference,
            status=FundingStatus.SUCCEEDED,
        )
    creator = new_users.get("sarah@creatorhub.example")
    fan = new_users.get("fan@creatorhub.example")
    if creator is None or fan is None:
        return
    await payouts.create_payout_account(
        session, sandbox, user_id=creator, email="sarah@creatorhub.example", country="US"
    )
    await earnings.pay_earnings(
        session, payee_id=creator, gross=25_00, currency="USD", kind="tip",
        key=f"demo-tip-{fan}",
        reason="tip from Fran Fan", now=utcnow(), hold_days=settings.earnings_hold_days,
        fee_shards=settings.fee_shards,
        payer_account_id=await ledger.user_account(session, fan, "USD"),
        reference_type="tip", reference_id="demo",
    )


async def load_demo(url: str, settings: Settings) -> list[str]:
    """Create the demo accounts that are missing; returns the e-mails created."""
    database = Database.connect(url, settings)
    created: list[str] = []
    new_users: dict[str, uuid.UUID] = {}
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
                new_users[account.email] = user.id
            await _load_demo_money(session, settings, new_users)
    finally:
        await database.dispose()
    log.info("demo_loaded", created=created)
    typer.echo("\nDemo accounts (password for all: " + DEMO_PASSWORD + ")")
    for account in DEMO_ACCOUNTS:
        typer.echo(f"  {account.email:<32} {', '.join(account.roles)}")
    return created
