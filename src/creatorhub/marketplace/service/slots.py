"""Slots: claim one (its share reserved as a hold), submit content, approve (pay) or reject it,
show it; and mark the earnings a payout carried out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Result,
    Text,
    and_,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import change_insert, change_params, prepared_change, snapshot
from creatorhub.config import Settings
from creatorhub.db import (
    Bound,
    Prepared,
    is_unique_violation,
    send,
    table_of,
    together,
    together_prepared,
)
from creatorhub.identity import service as identity
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound
from creatorhub.kit.idempotency import Responder
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import translate as ledger_refusal
from creatorhub.ledger.models import AccountKind
from creatorhub.marketplace import queries
from creatorhub.marketplace.errors import MarketplaceConflict, guard_refusal, translate
from creatorhub.marketplace.models import (
    Claim,
    ContentSubmission,
    EscrowStatus,
    EscrowTransaction,
    InfluencerJob,
    InfluencerPayout,
    Job,
    SubmissionStatus,
)
from creatorhub.marketplace.schemas import new_slot
from creatorhub.marketplace.service.jobs import (
    RELEASE_KIND,
    is_published,
    no_such_job,
    refuse_closed,
    send_guarded,
    slot_share,
)
from creatorhub.payments.earnings import pay_earnings
from creatorhub.payments.models import Payout

# --- claims ---------------------------------------------------------------------------------


def _wallet_kind(settings: Settings) -> AccountKind:
    return (
        AccountKind.WALLET_PENDING if settings.earnings_hold_days else AccountKind.WALLET_AVAILABLE
    )


# A claim's two statements, built once (`creatorhub.db.Prepared`): building them per request
# (the hold's ledger call, four CTEs, the audit row's image of the slot) cost more app CPU
# than sending them.
_JOBS, _CLAIMS, _SLOTS = table_of(Job), table_of(Claim), table_of(InfluencerJob)
_UUID = PG_UUID(as_uuid=True)
_JOB_COLUMNS = tuple(column.name for column in _JOBS.columns)

# The job, locked (which serializes its claims), with the creator's follower total.
CLAIMED_JOB = Prepared(
    select(
        *_JOBS.c,
        identity.follower_total_of(
            # The creator's id is this statement's parameter, not a value known at import.
            cast(uuid.UUID, bindparam("creator_id", type_=_UUID))
        ).label("followers"),
    )
    .where(_JOBS.c.uid == bindparam("job_uid", type_=_UUID))
    .with_for_update(of=_JOBS)
)


def _claim_write() -> tuple[Prepared, Prepared]:
    """The claim's writes, sent with its stored answer as one statement (`together_prepared`):
    the audit row, whose image of the slot reads the slot's CTE, and the slot as the result.
    The slot's CTE reads the claim's (its id) and the hold's, the ledger call from the job's
    escrow to the creator's wallet (created by the statement on its first money); the slot's
    triggers add the escrow record and its 'claimed' event."""
    hold = ledger.prepared_hold(
        ledger.account_id_param("escrow_account_id"), ledger.prepared_account_ref("wallet_")
    ).cte("hold")
    claim = (
        insert(_CLAIMS)
        .values(
            job_id=bindparam("claim_job_id", type_=_UUID),
            influencer_id=bindparam("claim_influencer_id", type_=_UUID),
            slot_number=bindparam("claim_slot_number", type_=Integer),
            claimed_at=bindparam("claim_claimed_at", type_=DateTime(timezone=True)),
        )
        .returning(_CLAIMS.c.id)
        .cte("claim")
    )
    values = {
        "uid": bindparam("slot_uid", type_=_UUID),
        "user_uid": bindparam("slot_user_uid", type_=_UUID),
        "job_uid": bindparam("slot_job_uid", type_=_UUID),
        "claim_id": claim.c.id,
        "slot_number": bindparam("slot_slot_number", type_=Integer),
        "amount": bindparam("slot_amount", type_=BigInteger),
        "currency": bindparam("slot_currency", type_=Text),
        "hold_id": hold.c.hold_id,
        "assigned_at": bindparam("slot_assigned_at", type_=DateTime(timezone=True)),
    }
    inserted = (
        insert(_SLOTS)
        .from_select(list(values), select(*values.values()).select_from(claim.join(hold, true())))
        .returning(*_SLOTS.c)
        .cte("slot")
    )
    audit = prepared_change(after=select(func.to_jsonb(inserted.table_valued())).scalar_subquery())
    return Prepared(audit), Prepared(select(inserted))


CLAIM_AUDIT, CLAIMED_SLOT = _claim_write()


async def claim_slot(
    session: AsyncSession,
    settings: Settings,
    *,
    job_uid: uuid.UUID,
    creator_id: uuid.UUID,
    now: datetime,
    answer: Responder | None = None,
) -> InfluencerJob:
    """First come, first served: the next free slot, its share reserved as a hold.

    Two statements: the job, locked (which serializes its claims), read with the creator's
    follower total; then one that writes the hold, the claim, the slot (whose triggers add the
    escrow record and its 'claimed' event), the audit row and the request's `answer` (the new
    slot, which has no submission or payout yet). A second claim by the same creator is refused
    by the claims' unique constraint in that statement, not by a read before it.
    """
    locked = await send(session, CLAIMED_JOB.bind({"job_uid": job_uid, "creator_id": creator_id}))
    row = locked.mappings().one_or_none()
    if row is None:
        raise no_such_job()
    followers: int | None = row["followers"]
    # The job as it is under the lock, in no session (the claim reads it; nothing changes it).
    job = Job(**{name: row[name] for name in _JOB_COLUMNS})
    if not is_published(job) and job.creator_uid != creator_id:
        raise no_such_job()  # another brand's draft: 404, as its public view
    refuse_closed(job, "claim", creator_id)
    if job.funded_at is None:
        raise MarketplaceConflict("the job is not funded yet", code="job_not_funded")
    if job.end_date <= now:
        raise MarketplaceConflict("the job has ended", code="job_ended")
    if job.creator_uid == creator_id:
        raise MarketplaceConflict("a brand cannot claim its own job", code="own_job")
    refusal = _refuse_claim(job, followers)
    if refusal is not None:
        # A creator who holds a slot already is told so first, whatever else stands in the way.
        # Only a refused claim pays for this read: a successful one is checked by the insert.
        if await session.scalar(
            select(Claim.id).where(Claim.job_id == job.uid, Claim.influencer_id == creator_id)
        ):
            raise _already_claimed()
        raise refusal
    slot_number = job.claim_count + 1
    # The slot as the claim writes it (the ledger gives its hold's id, the claim its own).
    slot = InfluencerJob(
        uid=uuid.uuid4(),
        user_uid=creator_id,
        job_uid=job.uid,
        slot_number=slot_number,
        amount=slot_share(job.budget, job.max_slots, slot_number),
        currency=job.currency,
        assigned_at=now,
        closed_at=None,
        content_done_at=None,
        content_approved_at=None,
        platform_fee=None,
        rejected_at=None,
        rejection_reason=None,
    )
    stored = answer.stored_answer_bound(201, new_slot(slot)) if answer is not None else None
    return await _write_claim(session, job, slot, _wallet_kind(settings), stored)


def _refuse_claim(job: Job, followers: int | None) -> MarketplaceConflict | None:
    if job.claim_count >= job.max_slots:
        return MarketplaceConflict("every slot of the job is taken", code="job_full")
    if followers is None:
        return MarketplaceConflict(
            "declare your follower estimates in your creator profile first",
            code="follower_estimate_missing",
        )
    if followers < job.influence_min or (
        job.influence_max is not None and followers > job.influence_max
    ):
        return MarketplaceConflict(
            f"the job is for creators with {job.influence_min} to "
            f"{job.influence_max if job.influence_max is not None else 'any'} followers;"
            f" you have {followers}",
            code="outside_follower_range",
        )
    return None


def _already_claimed() -> MarketplaceConflict:
    return MarketplaceConflict("you already claimed this job", code="already_claimed")


async def _write_claim(
    session: AsyncSession,
    job: Job,
    slot: InfluencerJob,
    wallet_kind: AccountKind,
    stored: Bound | None,
) -> InfluencerJob:
    """The hold, the claim, the slot, the audit row and the stored answer, as one statement
    (built once: `_claim_write`). The creator's wallet is created by it when this is their
    first money in the currency."""
    creator_id, slot_number, amount = slot.user_uid, slot.slot_number, slot.amount
    slot_uid, now = slot.uid, slot.assigned_at
    slot_params: dict[str, Any] = {
        "escrow_account_id": job.escrow_account_id,
        **ledger.user_account_params("wallet_", creator_id, job.currency, wallet_kind),
        **ledger.hold_params(
            amount=amount,
            kind=RELEASE_KIND,
            idempotency_key=f"marketplace:claim:{slot_uid}",
            currency=job.currency,
            reference_type="influencer_job",
            reference_id=str(slot_uid),
            metadata={"job_uid": str(job.uid), "slot_number": slot_number},
        ),
        "claim_job_id": job.uid,
        "claim_influencer_id": creator_id,
        "claim_slot_number": slot_number,
        "claim_claimed_at": now,
        "slot_uid": slot_uid,
        "slot_user_uid": creator_id,
        "slot_job_uid": job.uid,
        "slot_slot_number": slot_number,
        "slot_amount": amount,
        "slot_currency": job.currency,
        "slot_assigned_at": now,
    }
    audit = change_params(
        action="marketplace.claim",
        entity_type="influencer_job",
        entity_id=slot_uid,
        actor_id=creator_id,
        sql=("after",),
    )
    statement = together_prepared(
        CLAIM_AUDIT.bind(audit), stored, result=CLAIMED_SLOT.bind(slot_params)
    )
    try:
        written = (await _send_guarded(session, statement, creator_id)).one()
    except IntegrityError as error:
        if is_unique_violation(error, "uq_claims_job_influencer", "uq_influencer_jobs_job_user"):
            raise _already_claimed() from error
        if is_unique_violation(error, "uq_claims_job_slot"):
            # The job's lock gives each claim the next number, so this means a claim_count
            # that disagrees with the claims: refused like a lost race, not a 500.
            raise MarketplaceConflict(
                "the slot was taken by another claim; try again", code="slot_taken"
            ) from error
        raise
    slot.claim_id, slot.hold_id = written.claim_id, written.hold_id
    return slot


async def _send_guarded(session: AsyncSession, bound: Bound, actor: uuid.UUID) -> Result[Any]:
    """`jobs.send_guarded` for a statement built once, with its values: a trigger's refusal
    becomes its 409, a ledger function's its ledger problem."""
    try:
        result: Result[Any] = await send(session, bound)
    except DBAPIError as error:
        refusal: Exception | None = translate(error, actor) or ledger_refusal(error)
        if refusal is None:
            raise
        raise refusal from error
    return result


# --- content --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentDraft:
    platform: str
    url: str | None
    post_id: str | None
    note: str | None


async def submit_content(
    session: AsyncSession,
    *,
    influencer_job_uid: uuid.UUID,
    creator_id: uuid.UUID,
    draft: ContentDraft,
    now: datetime,
) -> ContentSubmission:
    """The creator's content for their slot; submitting marks it done (content_done_at)."""
    job, influencer_job, pending = await _lock_slot(session, influencer_job_uid)
    if influencer_job.user_uid != creator_id:
        raise NotFound("no such claim", code="claim_not_found")
    refuse_closed(job, "content submission", creator_id)
    _refuse_released(influencer_job, "content submission", creator_id)
    if pending is not None:
        raise MarketplaceConflict(
            "a submission of this slot awaits the brand's review", code="submission_pending"
        )
    done = (
        update(InfluencerJob)
        .where(InfluencerJob.uid == influencer_job.uid)
        .values(content_done_at=now, rejected_at=None, rejection_reason=None)
    )
    submitted = (
        insert(ContentSubmission)
        .values(
            influencer_job_uid=influencer_job.uid,
            job_uid=job.uid,
            user_uid=creator_id,
            platform=draft.platform,
            url=draft.url,
            post_id=draft.post_id,
            note=draft.note,
            submitted_at=now,
        )
        .returning(*ContentSubmission.__table__.columns)
        .cte("submitted")
    )
    statement = together(done, result=select(submitted))
    query = select(ContentSubmission).from_statement(statement)
    submission: ContentSubmission = (
        await send_guarded(session, query, actor=creator_id)
    ).scalar_one()
    return submission


async def _lock_slot(
    session: AsyncSession, influencer_job_uid: uuid.UUID
) -> tuple[Job, InfluencerJob, ContentSubmission | None]:
    """The slot's job, locked (every operation on a job locks it first, so this serializes
    them), then the slot and its submission awaiting review, read by a statement after the
    lock: its snapshot sees what the lock's previous holder committed. Submissions change only
    under their job's lock, so that one needs no lock of its own. 404 for no such slot."""
    job = await session.scalar(
        select(Job)
        .where(
            Job.uid
            == select(InfluencerJob.job_uid)
            .where(InfluencerJob.uid == influencer_job_uid)
            .scalar_subquery()
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if job is None:
        raise NotFound("no such claim", code="claim_not_found")
    influencer_job, pending = (
        await session.execute(
            select(InfluencerJob, ContentSubmission)
            .outerjoin(
                ContentSubmission,
                and_(
                    ContentSubmission.influencer_job_uid == InfluencerJob.uid,
                    ContentSubmission.status == SubmissionStatus.SUBMITTED,
                ),
            )
            .where(InfluencerJob.uid == influencer_job_uid)
            .with_for_update(of=InfluencerJob)
            .execution_options(populate_existing=True)
        )
    ).one()
    return job, influencer_job, pending


def _refuse_released(influencer_job: InfluencerJob, operation: str, actor: uuid.UUID) -> None:
    """409 `already_approved`: the slot's escrow was released, logged as trg_approval_is_final
    logs a change to it."""
    if influencer_job.content_approved_at is not None:
        raise guard_refusal(
            "this slot's content is already approved",
            code="already_approved",
            table="influencer_jobs",
            action="prevent_modifications_after_released",
            message=f"Attempted {operation} after release prevented",
            uid=influencer_job.uid,
            old_data=snapshot(influencer_job),
            attempted=operation,
            actor=actor,
        )


async def _locked_for_review(
    session: AsyncSession, influencer_job_uid: uuid.UUID, brand_id: uuid.UUID, operation: str
) -> tuple[Job, InfluencerJob, ContentSubmission]:
    job, influencer_job, submission = await _lock_slot(session, influencer_job_uid)
    if job.creator_uid != brand_id:
        # Another brand's claim: the same 404 as a claim that does not exist.
        raise NotFound("no such claim", code="claim_not_found")
    refuse_closed(job, operation, brand_id)
    _refuse_released(influencer_job, operation, brand_id)
    if submission is None:
        raise MarketplaceConflict(
            "the creator has not submitted content for review", code="no_content_submitted"
        )
    return job, influencer_job, submission


async def approve(
    session: AsyncSession,
    settings: Settings,
    *,
    influencer_job_uid: uuid.UUID,
    brand_id: uuid.UUID,
    now: datetime,
) -> queries.Record:
    """Pay the slot: its hold posted to the creator, less the platform fee, in one ledger call;
    then the marketplace's records of it in one statement. Returns the slot as approved."""
    job, influencer_job, submission = await _locked_for_review(
        session, influencer_job_uid, brand_id, "approval"
    )
    earning = await pay_earnings(
        session,
        payee_id=influencer_job.user_uid,
        gross=influencer_job.amount,
        currency=influencer_job.currency,
        kind=RELEASE_KIND,
        key=f"marketplace:release:{influencer_job.uid}",
        reason=f"Job approved: {job.title}",
        now=now,
        hold_days=settings.earnings_hold_days,
        fee_shards=settings.fee_shards,
        hold_id=influencer_job.hold_id,
        reference_type="influencer_job",
        reference_id=str(influencer_job.uid),
    )
    # The escrow record is released first: the slot's update reads its RETURNING, so it runs
    # after it, and its trigger's payout record ('influencer_paid') follows 'released', as in
    # the seed. The escrow record was created with the slot (trg_create_escrow_on_claim).
    released = (
        update(EscrowTransaction)
        .where(EscrowTransaction.influencer_job_uid == influencer_job.uid)
        .values(status=EscrowStatus.RELEASED, escrow_released_time=now)
        .returning(EscrowTransaction.influencer_job_uid)
        .cte("released")
    )
    approved = (
        update(InfluencerJob)
        .where(InfluencerJob.uid == released.c.influencer_job_uid)
        .values(content_approved_at=now, platform_fee=earning.quote.fee)
        .returning(InfluencerJob.uid)
        .cte("approved")
    )
    reviewed = (
        update(ContentSubmission)
        .where(ContentSubmission.uid == submission.uid)
        .values(status=SubmissionStatus.APPROVED, reviewed_at=now)
    )
    audited = change_insert(
        action="marketplace.approve",
        entity_type="influencer_job",
        entity_id=influencer_job.uid,
        actor_id=brand_id,
        after={"gross": earning.quote.gross, "fee": earning.quote.fee, "net": earning.quote.net},
    )
    await send_guarded(
        session,
        together(reviewed, audited, result=select(approved.c.uid)),
        actor=brand_id,
    )
    return await queries.slot_record(session, influencer_job.uid)


async def reject(
    session: AsyncSession,
    *,
    influencer_job_uid: uuid.UUID,
    brand_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> queries.Record:
    """Send the content back: the slot is no longer done; the creator may resubmit until close.
    Returns the slot as rejected."""
    _job, influencer_job, submission = await _locked_for_review(
        session, influencer_job_uid, brand_id, "rejection"
    )
    reviewed = (
        update(ContentSubmission)
        .where(ContentSubmission.uid == submission.uid)
        .values(status=SubmissionStatus.REJECTED, reviewed_at=now, review_reason=reason)
    )
    undone = (
        update(InfluencerJob)
        .where(InfluencerJob.uid == influencer_job.uid)
        .values(content_done_at=None, rejected_at=now, rejection_reason=reason)
    )
    await send_guarded(
        session,
        together(reviewed, undone),
        actor=brand_id,
    )
    return await queries.slot_record(session, influencer_job.uid)


async def claim_view(
    session: AsyncSession, claim_uid: uuid.UUID, viewer: uuid.UUID
) -> queries.Record:
    """A slot, for the creator who claimed it and the job's brand: 404 for anyone else."""
    view = await queries.claim(session, claim_uid)
    if view is None or viewer not in (view.creator_id, view.brand_id):
        raise NotFound("no such claim", code="claim_not_found")
    return view.record


# --- payouts --------------------------------------------------------------------------------


async def mark_payouts_paid(session: AsyncSession, payout: Payout) -> int:
    """A payout reached the creator: set `payed_at` on the slot earnings it carried out.

    Earnings are taken oldest first while the payout's amount covers them whole; the rest of a
    payout (tips, other products' money, part of a later earning) marks nothing.
    """
    unpaid = (
        await session.scalars(
            select(InfluencerPayout)
            .where(
                InfluencerPayout.user_uid == payout.user_id,
                InfluencerPayout.currency == payout.currency,
                InfluencerPayout.payed_at.is_(None),
            )
            .order_by(InfluencerPayout.issued_at, InfluencerPayout.uid)
            .with_for_update()
        )
    ).all()
    left = payout.amount
    marked = 0
    for earning in unpaid:
        if earning.net_amount > left:
            break
        left -= earning.net_amount
        earning.payed_at = payout.settled_at or utcnow()
        earning.payout_id = payout.id
        marked += 1
    await session.flush()
    return marked


# Registered on import: this module is imported by both the API and the worker's task modules.
