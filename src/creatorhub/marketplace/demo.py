"""Demo marketplace: two brands' jobs in every state, for `creatorhub demo`.

Every job is built through the marketplace's own workflows (create, fund from the brand's wallet,
claim, submit, approve or reject, close), so its ledger movements, triggers, logs and events are
the real ones. One transaction per job: a job is there whole or not at all, and a job that exists
(same brand, same title) is left as it is, so loading the demo twice creates each job once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.kit.clock import utcnow
from creatorhub.marketplace import service
from creatorhub.marketplace.models import CloseReason, Job

BRIGHT = "brand@creatorhub.example"
NORTHWIND = "northwind@creatorhub.example"
REJECTION = "The jacket is not visible: show the logo in the first three seconds, please."


@dataclass(frozen=True)
class DemoClaim:
    """A creator's slot, taken as far as `step`: claimed only, content submitted (awaiting
    review), submitted then rejected, or submitted then approved (paid)."""

    creator: str  # e-mail of a demo account with follower estimates
    step: Literal["claimed", "submitted", "rejected", "approved"]
    platform: str = "instagram"


@dataclass(frozen=True)
class DemoJob:
    brand: str  # e-mail of a demo brand account, funded enough for its jobs
    title: str  # with the brand, the job's identity: a job that exists is not created again
    shows: str  # the state it demonstrates, printed by `creatorhub demo`
    description: str
    budget: int
    slots: int
    influence_min: int
    influence_max: int | None
    genre: str
    location: str | None
    ends_in_days: int
    funded: bool = True
    claims: tuple[DemoClaim, ...] = ()
    close: CloseReason | None = None


DEMO_JOBS = (
    DemoJob(
        BRIGHT,
        "Spring lookbook reel",
        "awaiting funding (draft)",
        "One reel styling three pieces of the spring lookbook.",
        budget=400_00,
        slots=2,
        influence_min=1_000,
        influence_max=None,
        genre="fashion",
        location="Paris",
        ends_in_days=30,
        funded=False,
    ),
    DemoJob(
        BRIGHT,
        "Summer collection try-on",
        "open, 4 free slots, no claims",
        "A try-on video of the summer collection, at least 30 seconds.",
        budget=800_00,
        slots=4,
        influence_min=5_000,
        influence_max=200_000,
        genre="fashion",
        location="Berlin",
        ends_in_days=21,
    ),
    DemoJob(
        BRIGHT,
        "Fall campaign stories",
        "open: submitted, rejected, approved, 1 free slot",
        "Three stories wearing the fall jacket outdoors; tag @brightbrand.",
        budget=1_200_00,
        slots=4,
        influence_min=1_000,
        influence_max=None,
        genre="lifestyle",
        location=None,
        ends_in_days=14,
        claims=(
            DemoClaim("leo@creatorhub.example", "submitted"),
            DemoClaim("mia@creatorhub.example", "rejected", "tiktok"),
            DemoClaim("kai@creatorhub.example", "approved", "youtube"),
        ),
    ),
    DemoJob(
        BRIGHT,
        "Holiday gift guide",
        "full, all content ready for review",
        "A gift guide post featuring two of our holiday sets.",
        budget=600_00,
        slots=2,
        influence_min=10_000,
        influence_max=200_000,
        genre="lifestyle",
        location="New York",
        ends_in_days=10,
        claims=(
            DemoClaim("sarah@creatorhub.example", "submitted"),
            DemoClaim("mia@creatorhub.example", "submitted", "tiktok"),
        ),
    ),
    DemoJob(
        NORTHWIND,
        "Trail shoe launch",
        "closed by the brand, unfilled slots refunded",
        "A trail run in the new shoe, with a short honest review.",
        budget=900_00,
        slots=3,
        influence_min=1_000,
        influence_max=None,
        genre="outdoors",
        location="Denver",
        ends_in_days=20,
        claims=(
            DemoClaim("kai@creatorhub.example", "approved", "youtube"),
            DemoClaim("leo@creatorhub.example", "claimed"),
        ),
        close=CloseReason.BRAND,
    ),
    DemoJob(
        NORTHWIND,
        "Winter camping series",
        "closed at its end date, content never approved",
        "A night in the snow with the four-season tent.",
        budget=500_00,
        slots=2,
        influence_min=50_000,
        influence_max=None,
        genre="outdoors",
        location="Kiruna",
        ends_in_days=7,
        claims=(DemoClaim("nora@creatorhub.example", "submitted"),),
        close=CloseReason.END_DATE,
    ),
    DemoJob(
        NORTHWIND,
        "Rain jacket teaser",
        "odd budget: $100.01 over 3 slots, full",
        "A ten-second teaser in the rain; the budget splits 33.34 + 33.34 + 33.33.",
        budget=100_01,
        slots=3,
        influence_min=1_000,
        influence_max=None,
        genre="outdoors",
        location=None,
        ends_in_days=14,
        claims=(
            DemoClaim("leo@creatorhub.example", "approved"),
            DemoClaim("mia@creatorhub.example", "submitted", "tiktok"),
            DemoClaim("sarah@creatorhub.example", "claimed"),
        ),
    ),
)


async def load_demo_marketplace(
    database: Database, settings: Settings, users: dict[str, uuid.UUID]
) -> list[str]:
    """Create the demo jobs that are missing (`users`: the demo accounts' ids by e-mail);
    returns the titles created."""
    created: list[str] = []
    for spec in DEMO_JOBS:
        async with database.session_scope() as session:
            brand_id = users[spec.brand]
            exists = await session.scalar(
                select(Job.uid).where(Job.creator_uid == brand_id, Job.title == spec.title)
            )
            if exists is not None:
                continue
            await _build(session, settings, spec, brand_id, users)
        created.append(spec.title)
    return created


async def _build(
    session: AsyncSession,
    settings: Settings,
    spec: DemoJob,
    brand_id: uuid.UUID,
    users: dict[str, uuid.UUID],
) -> None:
    draft = service.JobDraft(
        title=spec.title,
        description=spec.description,
        budget=spec.budget,
        currency="USD",
        influencer_slots=spec.slots,
        influence_min=spec.influence_min,
        influence_max=spec.influence_max,
        location=spec.location,
        genre=spec.genre,
        end_date=utcnow() + timedelta(days=spec.ends_in_days),
    )
    job = await service.create_job(session, brand_id=brand_id, draft=draft, now=utcnow())
    if not spec.funded:
        return
    await service.fund_from_wallet(session, job_uid=job.uid, brand_id=brand_id, now=utcnow())
    for claim in spec.claims:
        await _claim(session, settings, spec, job.uid, brand_id, claim, users[claim.creator])
    if spec.close is CloseReason.BRAND:
        await service.close_by_brand(session, job_uid=job.uid, brand_id=brand_id, now=utcnow())
    elif spec.close is CloseReason.END_DATE:
        # Claims need a future end date; the end date passes now, and the job closes as the
        # worker's periodic task would close it (in this transaction, so the worker cannot).
        await session.execute(update(Job).where(Job.uid == job.uid).values(end_date=utcnow()))
        closing = await service.close_ended_job(session, job.uid, utcnow())
        assert closing is not None


async def _claim(
    session: AsyncSession,
    settings: Settings,
    spec: DemoJob,
    job_uid: uuid.UUID,
    brand_id: uuid.UUID,
    claim: DemoClaim,
    creator_id: uuid.UUID,
) -> None:
    slot = await service.claim_slot(
        session, settings, job_uid=job_uid, creator_id=creator_id, now=utcnow()
    )
    if claim.step == "claimed":
        return
    handle = claim.creator.split("@")[0]
    path = re.sub(r"[^a-z0-9]+", "-", spec.title.lower())
    content = service.ContentDraft(
        platform=claim.platform,
        url=f"https://{claim.platform}.example/{handle}/{path}",
        post_id=None,
        note=f"{spec.title}, as briefed.",
    )
    await service.submit_content(
        session, influencer_job_uid=slot.uid, creator_id=creator_id, draft=content, now=utcnow()
    )
    if claim.step == "approved":
        await service.approve(
            session, settings, influencer_job_uid=slot.uid, brand_id=brand_id, now=utcnow()
        )
    elif claim.step == "rejected":
        await service.reject(
            session, influencer_job_uid=slot.uid, brand_id=brand_id, reason=REJECTION, now=utcnow()
        )
