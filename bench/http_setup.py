"""The people and jobs the HTTP section's requests act as and on, and its round-trip counts.

Everything here goes through the product's own API, in this process (the app built on the
scratch database and called through httpx's ASGI transport, with cheap password hashing), so
that the setup is quick and never runs on the app process being measured:

* `creators` creators, each registered, verified through the code of the verification mail (read
  from the outbox: money needs a verified address), logged in, and with follower estimates (a
  claim needs them). They are also the users of `POST /v1/funding`, one after another, so no one
  user's rows are the hot spot;
* one brand, verified, its wallet funded through the sandbox provider (intent, confirmation, the
  provider's signed webhook), that creates and funds (from its wallet) the jobs the creators
  claim: jobs of `creators` slots, set up a window of `window` jobs at a time, as the claims of
  the run need them (see wrk_load.lua for the order claims take).

Round trips per request: one request of each operation through this app with the suite's
counter (tests/round_trips.py: statements at psycopg's cursor, BEGIN, COMMIT/ROLLBACK, the pool's
pre-ping), the same count the suite's budget tests pin.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import re
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from sqlalchemy import text

from creatorhub.app import create_app
from creatorhub.config import Settings
from creatorhub.db import libpq_url
from creatorhub.observability import configure_logging
from creatorhub.payments.providers.sandbox import SIGNATURE_HEADER, make_event, sign

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench passphrase 2026"
FUNDING_PATH = "/v1/funding"
FUNDING_BODY = '{"amount":2500,"currency":"USD"}'
SLOT_SHARE = 100  # cents a claim reserves
BRAND_FUNDS = 5_000_000_00  # the brand's wallet, topped up when the jobs use it up
# Tokens must outlive the run (the product's default is 15 minutes).
TOKEN_TTL_SECONDS = 86_400
# The environment of the served app (`creatorhub serve`) and the settings of this process's.
SERVER_ENVIRONMENT = {
    "CREATORHUB_LOG_LEVEL": "WARNING",
    "CREATORHUB_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS),
}


def local_settings(database_url: str) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "run_worker_in_process": False,
            "smtp_host": None,
            "log_level": "WARNING",
            "argon2_time_cost": 1,
            "argon2_memory_kib": 1024,
            "register_max_per_ip": 1_000_000,
            "login_max_attempts_per_ip": 1_000_000,
            "access_token_ttl_seconds": TOKEN_TTL_SECONDS,
        }
    )


@dataclass
class LocalApp:
    app: FastAPI
    client: httpx.AsyncClient
    database_url: str


@asynccontextmanager
async def local_app(database_url: str) -> AsyncIterator[LocalApp]:
    """The product's app in this process, started (lifespan) on `database_url`."""
    settings = local_settings(database_url)
    configure_logging(settings.log_level, json_logs=False)  # the run's output stays readable
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench.internal", timeout=60
        ) as client:
            yield LocalApp(app, client, database_url)


def _checked(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


_serial = itertools.count(1)


async def _verification_code(database_url: str, email: str) -> str:
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as conn:
        cursor = await conn.execute(
            "SELECT body_text FROM mail.outbox WHERE to_address = %s"
            " AND template = 'verify_email' ORDER BY created_at DESC LIMIT 1",
            (email,),
        )
        row = await cursor.fetchone()
    match = re.search(r"\b(che_[A-Za-z0-9_\-]+)", row[0] if row else "")
    if match is None:
        raise RuntimeError(f"no verification code was mailed to {email}")
    return match.group(1)


async def _user(local: LocalApp, role: str) -> dict[str, str]:
    """A verified, logged-in user of `role`; returns its Authorization header."""
    client = local.client
    email = f"bench-{role}{next(_serial)}-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": "Bench", "roles": [role]}
    _checked(await client.post("/v1/auth/register", json=body), 202, "register")
    code = await _verification_code(local.database_url, email)
    _checked(await client.post("/v1/auth/verify-email", json={"token": code}), 200, "verify e-mail")
    tokens = _checked(
        await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}),
        200,
        "login",
    )
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    if role == "creator":
        profile = {
            "slug": f"bench-creator-{next(_serial)}-{uuid.uuid4().hex[:6]}",
            "follower_estimates": {"instagram": 5_000, "tiktok": 5_000},
        }
        _checked(
            await client.put("/v1/me/creator-profile", json=profile, headers=headers),
            200,
            "creator profile",
        )
    return headers


async def fund_wallet(local: LocalApp, headers: dict[str, str], amount: int) -> None:
    """Money in through the real path: intent, confirmation, the provider's signed webhook."""
    client = local.client
    intent = _checked(
        await client.post(
            FUNDING_PATH,
            json={"amount": amount, "currency": "USD"},
            headers={**headers, **_key()},
        ),
        201,
        "funding intent",
    )
    _checked(
        await client.post(f"{FUNDING_PATH}/{intent['id']}/confirm", headers={**headers, **_key()}),
        200,
        "confirm funding",
    )
    event = make_event(
        "funding.succeeded",
        {"id": intent["provider_reference"], "amount": amount, "currency": "usd"},
        now=datetime.now(UTC),
    )
    body = json.dumps(event).encode()
    secret = local.app.state.settings.sandbox_webhook_secret
    signature = sign(secret, body, int(datetime.now(UTC).timestamp()))
    _checked(
        await client.post(
            "/v1/webhooks/sandbox",
            content=body,
            headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        ),
        200,
        "sandbox webhook",
    )


@dataclass
class Population:
    creators: list[dict[str, str]]  # Authorization headers
    brand: dict[str, str]
    window: int
    jobs: list[str] = field(default_factory=list)  # funded, open, in creation order
    codes: list[str] = field(default_factory=list)  # tracking codes (`tracking_links`)
    # Salesman campaigns (`sales_campaigns`): id, webhook secret and a promoter's coupon each.
    sales: list[dict[str, str]] = field(default_factory=list)
    brand_balance: int = 0  # what the brand's wallet still holds, as this process counts it

    @property
    def tokens(self) -> list[str]:
        return [headers["Authorization"] for headers in self.creators]

    @property
    def claims_per_window(self) -> int:
        return self.window * len(self.creators)

    @property
    def job_budget(self) -> int:
        return SLOT_SHARE * len(self.creators)


async def populate(local: LocalApp, creators: int, window: int) -> Population:
    gate = asyncio.Semaphore(4)  # the setup's requests overlap their waits on PostgreSQL

    async def creator() -> dict[str, str]:
        async with gate:
            return await _user(local, "creator")

    people = await asyncio.gather(*(creator() for _ in range(creators)))
    brand = await _user(local, "brand")
    population = Population(creators=list(people), brand=brand, window=window)
    await fund_wallet(local, brand, BRAND_FUNDS)
    population.brand_balance = BRAND_FUNDS
    return population


async def open_job(local: LocalApp, population: Population, *, slots: int | None = None) -> str:
    """A job of the brand's, funded from its wallet; its uid."""
    client = local.client
    slots = slots or len(population.creators)
    budget = SLOT_SHARE * slots
    if population.brand_balance < budget:
        await fund_wallet(local, population.brand, BRAND_FUNDS)
        population.brand_balance += BRAND_FUNDS
    job = _checked(
        await client.post(
            "/v1/marketplace/jobs",
            json={
                "title": "Bench reel",
                "description": "",
                "budget": budget,
                "currency": "USD",
                "influencer_slots": slots,
                "influence_min": 0,
                "end_date": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            },
            headers=population.brand,
        ),
        201,
        "create job",
    )
    _checked(
        await client.post(
            f"/v1/marketplace/jobs/{job['uid']}/fund",
            json={"source": "wallet"},
            headers={**population.brand, **_key()},
        ),
        200,
        "fund job",
    )
    population.brand_balance -= budget
    return str(job["uid"])


async def ensure_claims(local: LocalApp, population: Population, claims: int) -> None:
    """Enough jobs for request numbers 0 .. claims-1 (whole windows)."""
    windows = -(-claims // population.claims_per_window)
    while len(population.jobs) < windows * population.window:
        population.jobs.append(await open_job(local, population))


# Tracking links: campaigns x promoters each, so that concurrent clicks spread over campaigns
# (a counted click locks its campaign's row) as a campaign's promoters would.
TRACKING_CAMPAIGNS, TRACKING_PROMOTERS = 16, 8
TRACKING_MAX_VIEWS = 1_000_000_000  # never reached: every click of a new visitor is counted


async def tracking_links(local: LocalApp) -> list[str]:
    """Active visibility campaigns with promoters, written as rows (what the tracking reads:
    a funded campaign and its participations; no money moves on a click); their codes."""
    from creatorhub.campaigns.models import Campaign, PromoterCampaign

    database = local.app.state.db
    now = datetime.now(UTC)
    async with database.session_scope() as session:
        users = (
            await session.execute(
                text("SELECT id FROM identity.users ORDER BY created_at LIMIT :n"),
                {"n": TRACKING_PROMOTERS},
            )
        ).scalars()
        promoters = list(users)
        advertiser = promoters[0]
        by_campaign: list[list[str]] = []
        for _ in range(TRACKING_CAMPAIGNS):
            campaign = Campaign(
                advertiser_id=advertiser,
                type="visibility",
                title="Bench visibility",
                status="active",
                currency="USD",
                budget=TRACKING_MAX_VIEWS // 100,
                starts_at=now,
                ends_at=now + timedelta(days=7),
                cpv=1,
                max_views=TRACKING_MAX_VIEWS,
                destination_url="https://shop.example.com/bench",
                escrow_account_id=uuid.uuid4(),
                funded_at=now,
            )
            session.add(campaign)
            await session.flush()
            codes = [uuid.uuid4().hex[:16] for _ in promoters]
            session.add_all(
                PromoterCampaign(campaign_id=campaign.id, promoter_id=promoter, tracking_code=code)
                for promoter, code in zip(promoters, codes, strict=True)
            )
            by_campaign.append(codes)
    # Interleaved: requests in flight together (consecutive numbers) go to different campaigns,
    # as clicks of many running campaigns would; a campaign's counted clicks take its row's
    # lock one after another.
    return [codes[p] for p in range(len(promoters)) for codes in by_campaign]


# Salesman campaigns whose shops report sales (issue 15): as many campaigns as tracking's, so
# that sales in flight together go to different campaigns (a sale locks its campaign's row).
SALES_CAMPAIGNS = 16
SALES_BUDGET = 10**12  # never exhausted: every sale's commission is held on the escrow


async def sales_campaigns(local: LocalApp) -> list[dict[str, str]]:
    """Active salesman campaigns, each with a funded escrow (through the ledger, from the
    provider clearing account, so the invariants hold), its webhook secret (sealed by the
    service, as a brand asking for it would) and a promoter's coupon code."""
    from creatorhub.campaigns.models import Campaign, PromoterCampaign
    from creatorhub.campaigns.sales import service as sales
    from creatorhub.campaigns.sales.models import CouponCode

    database = local.app.state.db
    settings = local.app.state.settings
    now = datetime.now(UTC)
    built: list[dict[str, str]] = []
    async with database.session_scope() as session:
        people = list(
            (
                await session.execute(
                    text("SELECT id FROM identity.users ORDER BY created_at LIMIT 2")
                )
            ).scalars()
        )
        advertiser, promoter = people[0], people[-1]
        clearing = (
            await session.execute(
                text(
                    "SELECT ledger.ensure_account('platform',"
                    " '00000000-0000-0000-0000-000000000000', 'provider_clearing', 'USD',"
                    " 0::smallint, true)"
                )
            )
        ).scalar_one()
        for number in range(SALES_CAMPAIGNS):
            campaign_id = uuid.uuid4()
            escrow = (
                await session.execute(
                    text(
                        "SELECT ledger.ensure_account('campaign', :id, 'escrow', 'USD',"
                        " 0::smallint, false)"
                    ),
                    {"id": campaign_id},
                )
            ).scalar_one()
            await session.execute(
                text(
                    "SELECT * FROM ledger.transfer(:debit, :credit, :amount, 'escrow_funding',"
                    " :key)"
                ),
                {
                    "debit": clearing,
                    "credit": escrow,
                    "amount": SALES_BUDGET,
                    "key": f"bench:campaign:{campaign_id}:funding",
                },
            )
            session.add(
                Campaign(
                    id=campaign_id,
                    advertiser_id=advertiser,
                    type="salesman",
                    title="Bench sales",
                    status="active",
                    currency="USD",
                    budget=SALES_BUDGET,
                    starts_at=now,
                    ends_at=now + timedelta(days=7),
                    commission_per_sale=1_000,
                    tracking_method="coupon",
                    destination_url="https://shop.example.com/bench",
                    escrow_account_id=escrow,
                    funded_at=now,
                )
            )
            await session.flush()
            participation = PromoterCampaign(
                campaign_id=campaign_id,
                promoter_id=promoter,
                tracking_code=uuid.uuid4().hex[:16],
            )
            session.add(participation)
            await session.flush()
            coupon = f"BENCH{number:02d}"
            session.add(
                CouponCode(
                    promoter_campaign_id=participation.id, campaign_id=campaign_id, code=coupon
                )
            )
            secret = await sales.webhook_secret(
                session, settings, campaign_id=campaign_id, advertiser_id=advertiser, rotate=False
            )
            built.append({"id": str(campaign_id), "secret": secret, "coupon": coupon})
    return built


def sale_request(campaign: dict[str, str], order: str) -> tuple[str, bytes, dict[str, str]]:
    """The path, body and headers of one signed sale (what wrk_load.lua's `sales` mode sends)."""
    from creatorhub.campaigns.sales.service import SIGNATURE_HEADER as SALES_SIGNATURE

    body = json.dumps(
        {
            "type": "sale",
            "order_id": order,
            "amount": 4_990,
            "currency": "USD",
            "coupon": campaign["coupon"],
        },
        separators=(",", ":"),
    ).encode()
    signature = sign(campaign["secret"], body, int(datetime.now(UTC).timestamp()))
    headers = {SALES_SIGNATURE: signature, "Content-Type": "application/json"}
    return f"/v1/campaigns/{campaign['id']}/sales-events", body, headers


def _round_trips_module() -> ModuleType:
    """tests/round_trips.py, the suite's counter, loaded from its file (tests/ is no package)."""
    path = ROOT / "tests" / "round_trips.py"
    spec = importlib.util.spec_from_file_location("bench_round_trips", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


async def count_round_trips(local: LocalApp, population: Population) -> dict[str, Any]:
    """One request of each money operation, counted; the reference endpoint's one statement is
    counted by construction (autocommit, no pre-ping)."""
    counter = _round_trips_module().RoundTripCounter.install(local.app.state.db.engine)
    client = local.client
    user = population.creators[0]
    # Warm first: the first request of a process loads and caches more than later ones send.
    _checked(
        await client.post(FUNDING_PATH, content=FUNDING_BODY, headers={**user, **_key(), **_JSON}),
        201,
        "funding (warm-up)",
    )
    with counter.counting() as funding:
        _checked(
            await client.post(
                FUNDING_PATH, content=FUNDING_BODY, headers={**user, **_key(), **_JSON}
            ),
            201,
            "funding",
        )
    job = await open_job(local, population, slots=2)
    other = await open_job(local, population, slots=2)
    _checked(
        await client.post(f"/v1/marketplace/jobs/{other}/claims", headers={**user, **_key()}),
        201,
        "claim (warm-up)",
    )
    with counter.counting() as claim:
        _checked(
            await client.post(f"/v1/marketplace/jobs/{job}/claims", headers={**user, **_key()}),
            201,
            "claim",
        )
    sales = None
    if population.sales:
        campaign = population.sales[0]
        for order in ("bench-warm-up", "bench-counted"):
            path, body, headers = sale_request(campaign, order)
            if order == "bench-counted":
                with counter.counting() as sales:
                    _checked(await client.post(path, content=body, headers=headers), 200, "sale")
            else:
                _checked(await client.post(path, content=body, headers=headers), 200, "sale")
    tracking = None
    if population.codes:
        link = f"/t/{population.codes[0]}"
        agent = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0"}
        _checked(await client.get(link, headers={"User-Agent": "warm-up visitor"}), 302, "click")
        with counter.counting() as tracking:
            _checked(await client.get(link, headers=agent), 302, "click")
    return {
        "reference": {"count": 1, "statements": ["SELECT ... FROM ledger.transfer(...)"]},
        "funding": {"count": funding.count, "statements": funding.statements},
        "claim": {"count": claim.count, "statements": claim.statements},
        **(
            {"tracking": {"count": tracking.count, "statements": tracking.statements}}
            if tracking is not None
            else {}
        ),
        **(
            {"sales": {"count": sales.count, "statements": sales.statements}}
            if sales is not None
            else {}
        ),
    }


_JSON = {"Content-Type": "application/json"}
