"""Reads of the marketplace: job listings (keyset pages) and jobs' and creators' slots with their
submissions and payout records, loaded in one query per kind of row (no query per slot)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.marketplace.models import (
    ContentSubmission,
    InfluencerJob,
    InfluencerPayout,
    Job,
    JobStatus,
    UnfilledRefund,
)


def open_jobs_query(
    *,
    genre: str | None = None,
    location: str | None = None,
    followers: int | None = None,
    now: datetime,
) -> Select[Job]:
    query = select(Job).where(
        Job.status == JobStatus.OPEN, Job.end_date > now, Job.claim_count < Job.max_slots
    )
    if genre:
        query = query.where(func.lower(Job.genre) == genre.lower())
    if location:
        query = query.where(func.lower(Job.location) == location.lower())
    if followers is not None:
        query = query.where(
            Job.influence_min <= followers,
            or_(Job.influence_max.is_(None), Job.influence_max >= followers),
        )
    return query


async def page(
    session: AsyncSession,
    query: Select[Job],
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Job]:
    """Newest first, keyset-paginated on (created_at, uid)."""
    if after is not None:
        created_at, uid = after
        query = query.where(
            or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.uid < uid))
        )
    rows = await session.scalars(query.order_by(Job.created_at.desc(), Job.uid.desc()).limit(limit))
    return list(rows)


async def job_slots(
    session: AsyncSession, job_uid: uuid.UUID
) -> list[tuple[InfluencerJob, list[ContentSubmission], InfluencerPayout | None]]:
    """Each claimed slot of a job with its submissions (oldest first) and payout record."""
    slots = (
        await session.scalars(
            select(InfluencerJob)
            .where(InfluencerJob.job_uid == job_uid)
            .order_by(InfluencerJob.slot_number)
        )
    ).all()
    return await slots_with_details(session, slots)


async def slots_with_details(
    session: AsyncSession, slots: Sequence[InfluencerJob]
) -> list[tuple[InfluencerJob, list[ContentSubmission], InfluencerPayout | None]]:
    ids = [slot.uid for slot in slots]
    submissions: dict[uuid.UUID, list[ContentSubmission]] = {uid: [] for uid in ids}
    payouts: dict[uuid.UUID, InfluencerPayout] = {}
    if ids:
        for submission in await session.scalars(
            select(ContentSubmission)
            .where(ContentSubmission.influencer_job_uid.in_(ids))
            .order_by(ContentSubmission.submitted_at, ContentSubmission.uid)
        ):
            submissions[submission.influencer_job_uid].append(submission)
        for payout in await session.scalars(
            select(InfluencerPayout).where(InfluencerPayout.influencer_job_uid.in_(ids))
        ):
            payouts[payout.influencer_job_uid] = payout
    return [(slot, submissions[slot.uid], payouts.get(slot.uid)) for slot in slots]


async def creator_claims(
    session: AsyncSession, creator_id: uuid.UUID, *, limit: int
) -> list[tuple[InfluencerJob, Job, list[ContentSubmission], InfluencerPayout | None]]:
    rows = (
        await session.execute(
            select(InfluencerJob, Job)
            .join(Job, Job.uid == InfluencerJob.job_uid)
            .where(InfluencerJob.user_uid == creator_id)
            .order_by(InfluencerJob.assigned_at.desc(), InfluencerJob.uid.desc())
            .limit(limit)
        )
    ).all()
    details = await slots_with_details(session, [row[0] for row in rows])
    return [
        (slot, row[1], submissions, payout)
        for row, (slot, submissions, payout) in zip(rows, details, strict=True)
    ]


async def job_refund(session: AsyncSession, job_uid: uuid.UUID) -> UnfilledRefund | None:
    return await session.scalar(select(UnfilledRefund).where(UnfilledRefund.job_uid == job_uid))
