"""Reads of the marketplace: job listings (keyset pages), a brand's jobs with their escrow, slots
and refund, a creator's claims, one claim.

Each view is one statement, however many slots it shows: what hangs off a job or a slot (the
refund, each slot's payout record and submissions) is read in the same statement as JSON
(`to_jsonb` of the rows, which the API's models read like the ORM objects), not by a query per
job or per slot.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.identity import service as identity
from creatorhub.ledger import service as ledger
from creatorhub.marketplace.models import (
    ContentSubmission,
    InfluencerJob,
    InfluencerPayout,
    Job,
    JobStatus,
    UnfilledRefund,
)

# Rows as JSON: a slot (`influencer_jobs`) with its payout record and submissions, a refund.
Record = dict[str, Any]

_slots = InfluencerJob.__table__.alias("slot")
_payouts = InfluencerPayout.__table__.alias("payout")
_submissions = ContentSubmission.__table__.alias("submission")
_refunds = UnfilledRefund.__table__.alias("refund")
_EMPTY = literal([], JSONB)


def _slot_record(slot: Any, *, with_creator: bool = False) -> ColumnElement[Record]:
    """One slot as {"slot": row, "payout": row or null, "submissions": [rows, oldest first]},
    and `with_creator` (the brand's view) "creator": the claiming creator's public name."""
    payout = (
        select(func.to_jsonb(_payouts.table_valued()))
        .where(_payouts.c.influencer_job_uid == slot.c.uid)
        .scalar_subquery()
    )
    submissions = (
        select(
            func.coalesce(
                func.jsonb_agg(
                    aggregate_order_by(
                        func.to_jsonb(_submissions.table_valued()),
                        _submissions.c.submitted_at,
                        _submissions.c.uid,
                    )
                ),
                _EMPTY,
            )
        )
        .where(_submissions.c.influencer_job_uid == slot.c.uid)
        .scalar_subquery()
    )
    fields: list[Any] = [
        "slot",
        func.to_jsonb(slot.table_valued()),
        "payout",
        payout,
        "submissions",
        submissions,
    ]
    if with_creator:
        fields += ["creator", identity.public_name_of(slot.c.user_uid)]
    return func.jsonb_build_object(*fields)


# --- public listings --------------------------------------------------------------------------


def open_jobs_query(
    *,
    genre: str | None = None,
    location: str | None = None,
    followers: int | ColumnElement[int | None] | None = None,
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


def matching_jobs_query(
    creator_id: uuid.UUID, *, genre: str | None, location: str | None, now: datetime
) -> Select[Job]:
    """Open jobs whose follower range holds the creator's total, read in the same statement
    (a creator without estimates counts as 0 followers)."""
    followers = func.coalesce(identity.follower_total_of(creator_id), 0)
    return open_jobs_query(genre=genre, location=location, followers=followers, now=now)


_Row = TypeVarTuple("_Row")


def _keyset(
    query: Select[*_Row], *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> Select[*_Row]:
    """Newest first, keyset-paginated on (created_at, uid)."""
    if after is not None:
        created_at, uid = after
        query = query.where(
            or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.uid < uid))
        )
    return query.order_by(Job.created_at.desc(), Job.uid.desc()).limit(limit)


async def page(
    session: AsyncSession,
    query: Select[Job],
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Job]:
    return list(await session.scalars(_keyset(query, limit=limit, after=after)))


# --- a brand's jobs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BrandJobView:
    """A job as its brand sees it: the row, what its escrow holds, its refund and its slots."""

    job: Job
    escrow_balance: int
    refund: Record | None
    slots: list[Record]  # `_slot_record`s, by slot number


def _brand_jobs() -> Select[Job, int, Any, Any]:
    refund = (
        select(func.to_jsonb(_refunds.table_valued()))
        .where(_refunds.c.job_uid == Job.uid)
        .scalar_subquery()
    )
    slots = (
        select(
            func.coalesce(
                func.jsonb_agg(
                    aggregate_order_by(
                        _slot_record(_slots, with_creator=True), _slots.c.slot_number
                    )
                ),
                _EMPTY,
            )
        )
        .where(_slots.c.job_uid == Job.uid)
        .scalar_subquery()
    )
    return select(
        Job, ledger.balance_of(Job.__table__.c.escrow_account_id), refund, slots
    ).execution_options(populate_existing=True)


def _views(rows: Sequence[Any]) -> list[BrandJobView]:
    return [
        BrandJobView(job=job, escrow_balance=balance or 0, refund=refund, slots=slots)
        for job, balance, refund, slots in rows
    ]


async def brand_job(session: AsyncSession, job_uid: uuid.UUID) -> BrandJobView | None:
    """The job with everything its brand sees, in one statement (None: no such job; the caller
    checks whose it is)."""
    rows = (await session.execute(_brand_jobs().where(Job.uid == job_uid))).all()
    views = _views(rows)
    return views[0] if views else None


async def brand_jobs_page(
    session: AsyncSession,
    brand_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[BrandJobView]:
    """A page of the brand's jobs, newest first, each with all it shows: one statement."""
    query = _keyset(_brand_jobs().where(Job.creator_uid == brand_id), limit=limit, after=after)
    return _views((await session.execute(query)).all())


# --- claims -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimView:
    """One slot (a `_slot_record`) with who may see it: its creator and the job's brand."""

    record: Record
    creator_id: uuid.UUID
    brand_id: uuid.UUID


async def claim(session: AsyncSession, claim_uid: uuid.UUID) -> ClaimView | None:
    row = (
        await session.execute(
            select(_slot_record(_slots), _slots.c.user_uid, Job.creator_uid)
            .select_from(_slots.join(Job, Job.uid == _slots.c.job_uid))
            .where(_slots.c.uid == claim_uid)
        )
    ).one_or_none()
    if row is None:
        return None
    record, creator_id, brand_id = row
    return ClaimView(record=record, creator_id=creator_id, brand_id=brand_id)


async def creator_claims(
    session: AsyncSession, creator_id: uuid.UUID, *, limit: int
) -> list[tuple[Record, Job]]:
    """The creator's latest claims, each with its job: one statement."""
    rows = await session.execute(
        select(_slot_record(_slots), Job)
        .select_from(_slots.join(Job, Job.uid == _slots.c.job_uid))
        .where(_slots.c.user_uid == creator_id)
        .order_by(_slots.c.assigned_at.desc(), _slots.c.uid.desc())
        .limit(limit)
    )
    return [(record, job) for record, job in rows]


@dataclass(frozen=True)
class Earned:
    currency: str
    gross: int
    platform_fee: int
    net: int
    paid_out: int


async def creator_earnings(session: AsyncSession, creator_id: uuid.UUID) -> list[Earned]:
    """The creator's approved slots' earnings, per currency."""
    rows = await session.execute(
        select(
            InfluencerPayout.currency,
            func.sum(InfluencerPayout.amount),
            func.sum(InfluencerPayout.platform_fee),
            func.sum(InfluencerPayout.net_amount),
            func.coalesce(
                func.sum(InfluencerPayout.net_amount).filter(
                    InfluencerPayout.payed_at.is_not(None)
                ),
                0,
            ),
        )
        .where(InfluencerPayout.user_uid == creator_id)
        .group_by(InfluencerPayout.currency)
        .order_by(InfluencerPayout.currency)
    )
    return [Earned(*row) for row in rows]


async def slot_record(session: AsyncSession, claim_uid: uuid.UUID) -> Record:
    """A slot just written, as its answer shows it (with the payout record its approval's
    trigger wrote, which only a statement after it can read)."""
    record: Record | None = await session.scalar(
        select(_slot_record(_slots)).where(_slots.c.uid == claim_uid)
    )
    assert record is not None  # the caller has just written it, under its job's lock
    return record
