"""Marketplace workflows: create and fund a job, claim a slot, submit, approve or reject, close.

Money (seed 000's "not actually an escrow"):
* A job's budget sits in its own ledger escrow account, paid in from the brand's available
  wallet or by a provider charge confirmed by webhook. The job opens only then.
* A claim reserves the slot's share as a ledger hold, escrow → the creator's wallet. Shares of an
  uneven budget differ by one cent at most: slot n gets budget // slots, plus one cent while
  n <= budget % slots, so they always sum to the budget.
* Approval posts the hold through `payments.earnings.pay_earnings` (the platform fee for
  `escrow_release` goes to the fee accounts in the same ledger call).
* Closing voids every hold not posted and refunds what the escrow still holds: the unapproved
  slots' shares (`unfilled_refunds`, created by the seed's trigger) go back where the money came
  from, the brand's wallet at once or the provider's charge through a job.

Concurrency: every operation on a job locks its `jobs` row first (then the influencer job, then
the ledger accounts inside the ledger's own functions), so claims, approvals and closing of one job
are serialized in one order and cannot deadlock; the database's constraints and triggers (slot
numbers unique per job, claim_count within max_slots, closed rows immutable) hold even if a check
here were wrong.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
from creatorhub.config import Settings
from creatorhub.identity import service as identity
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound, Unprocessable
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind, OwnerType
from creatorhub.ledger.service import TransferSpec
from creatorhub.marketplace.errors import MarketplaceConflict, guard_refusal, translate
from creatorhub.marketplace.models import (
    Claim,
    CloseReason,
    ContentSubmission,
    EscrowStatus,
    EscrowTransaction,
    InfluencerJob,
    InfluencerPayout,
    Job,
    JobLog,
    JobStatus,
    SubmissionStatus,
    UnfilledRefund,
)
from creatorhub.payments.earnings import pay_earnings
from creatorhub.payments.funding import FundingTarget, register_target
from creatorhub.payments.models import FundingIntent, Payout
from creatorhub.payments.payouts import on_payout_paid
from creatorhub.payments.providers.base import PaymentProvider

RELEASE_KIND = "escrow_release"  # the fee rule that applies to an approved slot


@dataclass(frozen=True)
class JobDraft:
    title: str
    description: str
    budget: int
    currency: str
    influencer_slots: int
    influence_min: int
    influence_max: int | None
    location: str | None
    genre: str | None
    end_date: datetime


def slot_share(budget: int, slots: int, slot_number: int) -> int:
    """The budget share of slot `slot_number` (1-based); the shares sum to `budget` exactly."""
    base, extra = divmod(budget, slots)
    return base + (1 if slot_number <= extra else 0)


async def _flush(session: AsyncSession, *, actor: uuid.UUID | None = None) -> None:
    """Flush, turning a trigger's refusal (closed or resolved record) into its 409."""
    try:
        await session.flush()
    except DBAPIError as error:
        refusal = translate(error, actor)
        if refusal is None:
            raise
        raise refusal from error


async def _log(session: AsyncSession, job: Job, description: str, **details: object) -> None:
    session.add(JobLog(job_uid=job.uid, description=description, log=details))


# --- jobs -----------------------------------------------------------------------------------


async def create_job(
    session: AsyncSession, *, brand_id: uuid.UUID, draft: JobDraft, now: datetime
) -> Job:
    if draft.end_date <= now:
        raise Unprocessable(
            "end_date must be in the future", code="end_date_past", field="body.end_date"
        )
    if draft.budget < draft.influencer_slots:
        raise Unprocessable(
            "the budget must give every slot at least one minor unit",
            code="budget_below_slots",
            field="body.budget",
        )
    job_uid = uuid.uuid4()
    escrow = await ledger.ensure_account(
        session,
        owner_type=OwnerType.JOB,
        owner_id=job_uid,
        kind=AccountKind.ESCROW,
        currency=draft.currency,
    )
    job = Job(
        uid=job_uid,
        creator_uid=brand_id,
        title=draft.title,
        description=draft.description,
        budget=draft.budget,
        currency=draft.currency,
        influencer_slots=draft.influencer_slots,
        max_slots=draft.influencer_slots,
        influence_min=draft.influence_min,
        influence_max=draft.influence_max,
        location=draft.location,
        genre=draft.genre,
        end_date=draft.end_date,
        escrow_account_id=escrow,
    )
    session.add(job)
    await session.flush()
    await _log(
        session, job, "job created", budget=job.budget, currency=job.currency, slots=job.max_slots
    )
    await record_change(
        session,
        action="marketplace.job.create",
        entity_type="job",
        entity_id=job.uid,
        actor_id=brand_id,
        after=snapshot(job),
    )
    await session.refresh(job)
    return job


def _no_such_job() -> NotFound:
    # One answer for a job that does not exist and one the caller may not see.
    return NotFound("no such job", code="job_not_found")


async def get_job(session: AsyncSession, job_uid: uuid.UUID, *, lock: bool = False) -> Job:
    query = select(Job).where(Job.uid == job_uid).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    job = await session.scalar(query)
    if job is None:
        raise _no_such_job()
    return job


async def get_brand_job(
    session: AsyncSession, job_uid: uuid.UUID, brand_id: uuid.UUID, *, lock: bool = False
) -> Job:
    """The job, if the caller is the brand who created it. Anyone else's is 404, the answer
    for a job that does not exist: a 403 would confirm that it exists (a draft, the uid of a
    job another brand has not published)."""
    job = await get_job(session, job_uid, lock=lock)
    if job.creator_uid != brand_id:
        raise _no_such_job()
    return job


def is_published(job: Job) -> bool:
    """Whether anyone but its brand may see the job: once funded (or closed). A draft is the
    brand's business: for everyone else it answers as a job that does not exist."""
    return job.funded_at is not None or job.closed_at is not None


def _refuse_closed(job: Job, operation: str, actor: uuid.UUID | None) -> None:
    """409 `job_closed`, logged as the seed's trigger logs it (the trigger never sees it)."""
    if job.closed_at is not None:
        raise guard_refusal(
            "the job is closed",
            code="job_closed",
            table="jobs",
            action="prevent_modifications_after_closed",
            message=f"Attempted {operation} on a closed job prevented",
            uid=job.uid,
            old_data=snapshot(job),
            attempted=operation,
            actor=actor,
        )


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


def _mark_funded(job: Job, *, source: str, charge: str | None, now: datetime) -> None:
    job.status = JobStatus.OPEN
    job.funded_at = now
    job.funding_source = source
    job.stripe_charge_id = charge


async def fund_from_wallet(
    session: AsyncSession, *, job_uid: uuid.UUID, brand_id: uuid.UUID, now: datetime
) -> Job:
    """Move the budget from the brand's available wallet into the job's escrow; the job opens."""
    job = await get_brand_job(session, job_uid, brand_id, lock=True)
    _refuse_closed(job, "fund", brand_id)
    if job.funded_at is not None:
        raise MarketplaceConflict("the job is already funded", code="job_already_funded")
    wallet = await ledger.user_account(session, brand_id, job.currency)
    funded = await ledger.transfer(
        session,
        TransferSpec(
            debit_account_id=wallet,
            credit_account_id=job.escrow_account_id,
            amount=job.budget,
            kind="escrow_funding",
            idempotency_key=f"marketplace:job:{job.uid}:funding",
            currency=job.currency,
            reference_type="job",
            reference_id=str(job.uid),
        ),
    )
    _mark_funded(job, source="wallet", charge=None, now=now)
    # The funding reference: the ledger transfer (stripe_charge_id is for provider charges).
    await _log(
        session,
        job,
        "job funded",
        source="wallet",
        amount=job.budget,
        transfer_id=str(funded.transfer_id),
    )
    await _flush(session, actor=brand_id)
    return job


async def resolve_funding_target(
    session: AsyncSession, payer: uuid.UUID, job_uid: uuid.UUID, currency: str, amount: int
) -> FundingTarget:
    """Funding intents for a job (payments calls this when one is created): the job's brand
    pays exactly the budget, in the job's currency, while the job awaits funding."""
    job = await get_brand_job(session, job_uid, payer)
    _refuse_closed(job, "fund", payer)
    if job.funded_at is not None:
        raise MarketplaceConflict("the job is already funded", code="job_already_funded")
    if currency != job.currency or amount != job.budget:
        raise Unprocessable(
            f"a job is funded with its budget: {job.budget} {job.currency}",
            code="funding_amount_mismatch",
            field="body.amount",
        )
    return FundingTarget(escrow_account_id=job.escrow_account_id)


async def funding_credited(session: AsyncSession, intent: FundingIntent) -> FundingTarget | None:
    """The provider confirmed a job's funding: open the job, unless it no longer awaits money
    (funded from the wallet meanwhile, or closed): then the money goes to the brand's wallet."""
    assert intent.target_id is not None
    job = await session.scalar(
        select(Job)
        .where(Job.uid == intent.target_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if (
        job is None
        or job.funded_at is not None
        or job.closed_at is not None
        or intent.amount != job.budget
        or intent.currency != job.currency
    ):
        return None
    _mark_funded(job, source="provider", charge=intent.provider_reference, now=utcnow())
    await _log(
        session,
        job,
        "job funded",
        source="provider",
        amount=intent.amount,
        funding_intent_id=str(intent.id),
        stripe_charge_id=intent.provider_reference,
    )
    await _flush(session)
    return FundingTarget(escrow_account_id=job.escrow_account_id)


# --- claims ---------------------------------------------------------------------------------


def _wallet_kind(settings: Settings) -> AccountKind:
    return (
        AccountKind.WALLET_PENDING if settings.earnings_hold_days else AccountKind.WALLET_AVAILABLE
    )


async def claim_slot(
    session: AsyncSession,
    settings: Settings,
    *,
    job_uid: uuid.UUID,
    creator_id: uuid.UUID,
    now: datetime,
) -> InfluencerJob:
    """First come, first served: the next free slot, its share reserved as a hold."""
    job = await get_job(session, job_uid, lock=True)  # serializes the job's claims
    if not is_published(job) and job.creator_uid != creator_id:
        raise _no_such_job()  # another brand's draft: 404, as its public view
    _refuse_closed(job, "claim", creator_id)
    if job.funded_at is None:
        raise MarketplaceConflict("the job is not funded yet", code="job_not_funded")
    if job.end_date <= now:
        raise MarketplaceConflict("the job has ended", code="job_ended")
    if job.creator_uid == creator_id:
        raise MarketplaceConflict("a brand cannot claim its own job", code="own_job")
    taken = await session.scalar(
        select(Claim.id).where(Claim.job_id == job.uid, Claim.influencer_id == creator_id)
    )
    if taken is not None:
        raise MarketplaceConflict("you already claimed this job", code="already_claimed")
    if job.claim_count >= job.max_slots:
        raise MarketplaceConflict("every slot of the job is taken", code="job_full")
    followers = await identity.follower_total(session, creator_id)
    if followers is None:
        raise MarketplaceConflict(
            "declare your follower estimates in your creator profile first",
            code="follower_estimate_missing",
        )
    if followers < job.influence_min or (
        job.influence_max is not None and followers > job.influence_max
    ):
        raise MarketplaceConflict(
            f"the job is for creators with {job.influence_min} to "
            f"{job.influence_max if job.influence_max is not None else 'any'} followers;"
            f" you have {followers}",
            code="outside_follower_range",
        )

    slot_number = job.claim_count + 1
    amount = slot_share(job.budget, job.max_slots, slot_number)
    influencer_job_uid = uuid.uuid4()
    wallet = await ledger.user_account(session, creator_id, job.currency, _wallet_kind(settings))
    hold = await ledger.create_hold(
        session,
        debit_account_id=job.escrow_account_id,
        credit_account_id=wallet,
        amount=amount,
        kind=RELEASE_KIND,
        idempotency_key=f"marketplace:claim:{influencer_job_uid}",
        currency=job.currency,
        reference_type="influencer_job",
        reference_id=str(influencer_job_uid),
        metadata={"job_uid": str(job.uid), "slot_number": slot_number},
    )
    claim = Claim(job_id=job.uid, influencer_id=creator_id, slot_number=slot_number, claimed_at=now)
    session.add(claim)
    await _flush(session, actor=creator_id)
    influencer_job = InfluencerJob(
        uid=influencer_job_uid,
        user_uid=creator_id,
        job_uid=job.uid,
        claim_id=claim.id,
        slot_number=slot_number,
        amount=amount,
        currency=job.currency,
        hold_id=hold.hold_id,
        assigned_at=now,
    )
    session.add(influencer_job)
    await _flush(session, actor=creator_id)
    await record_change(
        session,
        action="marketplace.claim",
        entity_type="influencer_job",
        entity_id=influencer_job.uid,
        actor_id=creator_id,
        after=snapshot(influencer_job),
    )
    return influencer_job


async def get_influencer_job(
    session: AsyncSession, influencer_job_uid: uuid.UUID, *, lock: bool = False
) -> InfluencerJob:
    query = (
        select(InfluencerJob)
        .where(InfluencerJob.uid == influencer_job_uid)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise NotFound("no such claim", code="claim_not_found")
    return found


async def _pending_submission(
    session: AsyncSession, influencer_job: InfluencerJob, *, lock: bool = False
) -> ContentSubmission | None:
    query = select(ContentSubmission).where(
        ContentSubmission.influencer_job_uid == influencer_job.uid,
        ContentSubmission.status == SubmissionStatus.SUBMITTED,
    )
    if lock:
        query = query.with_for_update()
    return await session.scalar(query.execution_options(populate_existing=True))


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
    probe = await get_influencer_job(session, influencer_job_uid)
    if probe.user_uid != creator_id:
        raise NotFound("no such claim", code="claim_not_found")
    job = await get_job(session, probe.job_uid, lock=True)
    influencer_job = await get_influencer_job(session, influencer_job_uid, lock=True)
    _refuse_closed(job, "content submission", creator_id)
    _refuse_released(influencer_job, "content submission", creator_id)
    if await _pending_submission(session, influencer_job) is not None:
        raise MarketplaceConflict(
            "a submission of this slot awaits the brand's review", code="submission_pending"
        )
    submission = ContentSubmission(
        influencer_job_uid=influencer_job.uid,
        job_uid=job.uid,
        user_uid=creator_id,
        platform=draft.platform,
        url=draft.url,
        post_id=draft.post_id,
        note=draft.note,
        submitted_at=now,
    )
    session.add(submission)
    influencer_job.content_done_at = now
    influencer_job.rejected_at = None
    influencer_job.rejection_reason = None
    await _flush(session, actor=creator_id)
    return submission


async def _locked_for_review(
    session: AsyncSession, influencer_job_uid: uuid.UUID, brand_id: uuid.UUID, operation: str
) -> tuple[Job, InfluencerJob, ContentSubmission]:
    probe = await get_influencer_job(session, influencer_job_uid)
    job = await get_job(session, probe.job_uid, lock=True)
    if job.creator_uid != brand_id:
        # Another brand's claim: the same 404 as a claim that does not exist.
        raise NotFound("no such claim", code="claim_not_found")
    influencer_job = await get_influencer_job(session, influencer_job_uid, lock=True)
    _refuse_closed(job, operation, brand_id)
    _refuse_released(influencer_job, operation, brand_id)
    submission = await _pending_submission(session, influencer_job, lock=True)
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
) -> InfluencerJob:
    """Pay the slot: its hold posted to the creator, less the platform fee, in one ledger call."""
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
    escrow = await session.scalar(
        select(EscrowTransaction)
        .where(EscrowTransaction.influencer_job_uid == influencer_job.uid)
        .with_for_update()
    )
    assert escrow is not None  # created with the influencer job by trg_create_escrow_on_claim
    escrow.status = EscrowStatus.RELEASED
    escrow.escrow_released_time = now
    await _flush(session, actor=brand_id)  # 'released' before 'influencer_paid', as in the seed
    submission.status = SubmissionStatus.APPROVED
    submission.reviewed_at = now
    influencer_job.content_approved_at = now
    influencer_job.platform_fee = earning.quote.fee
    await _flush(session, actor=brand_id)
    await record_change(
        session,
        action="marketplace.approve",
        entity_type="influencer_job",
        entity_id=influencer_job.uid,
        actor_id=brand_id,
        after={"gross": earning.quote.gross, "fee": earning.quote.fee, "net": earning.quote.net},
    )
    return influencer_job


async def reject(
    session: AsyncSession,
    *,
    influencer_job_uid: uuid.UUID,
    brand_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> InfluencerJob:
    """Send the content back: the slot is no longer done; the creator may resubmit until close."""
    _job, influencer_job, submission = await _locked_for_review(
        session, influencer_job_uid, brand_id, "rejection"
    )
    submission.status = SubmissionStatus.REJECTED
    submission.reviewed_at = now
    submission.review_reason = reason
    influencer_job.content_done_at = None
    influencer_job.rejected_at = now
    influencer_job.rejection_reason = reason
    await _flush(session, actor=brand_id)
    return influencer_job


# --- closing and refunds --------------------------------------------------------------------


@dataclass(frozen=True)
class Closing:
    job: Job
    refund: UnfilledRefund | None
    refund_to_provider: bool  # issued later by a job (the provider is called outside the lock)


async def close_job(
    session: AsyncSession,
    job: Job,
    *,
    reason: CloseReason,
    now: datetime,
    actor: uuid.UUID | None = None,
) -> Closing:
    """Close a locked, open job: void the unpaid slots' holds, then let the seed's triggers
    close the influencer jobs, log, and create the unfilled refund, issued here when the budget
    came from the brand's wallet. `actor`: the brand closing it (None: its end date passed)."""
    _refuse_closed(job, "close", actor)
    held = (
        await session.scalars(
            select(EscrowTransaction)
            .where(
                EscrowTransaction.job_uid == job.uid,
                EscrowTransaction.status == EscrowStatus.HELD,
            )
            .order_by(EscrowTransaction.payment_time, EscrowTransaction.escrow_uid)
            .with_for_update()
        )
    ).all()
    for escrow in held:
        await ledger.void_hold(session, escrow.hold_id)
        escrow.status = EscrowStatus.REFUNDED
        escrow.escrow_released_time = now
    await _flush(session, actor=actor)
    # Pending submissions stay as they are: trg_log_unapproved_closure records them.
    job.closed_at = now
    job.close_reason = reason
    await _flush(session, actor=actor)
    await session.refresh(job)
    refund = await session.scalar(select(UnfilledRefund).where(UnfilledRefund.job_uid == job.uid))
    to_provider = False
    if refund is not None:
        if job.funding_source == "provider" and job.stripe_charge_id:
            to_provider = True
        else:
            wallet = await ledger.user_account(session, job.creator_uid, job.currency)
            await _refund_in_ledger(session, job, refund, destination=wallet)
            refund.issued_at = now
            await _flush(session, actor=actor)
    return Closing(job=job, refund=refund, refund_to_provider=to_provider)


async def _refund_in_ledger(
    session: AsyncSession, job: Job, refund: UnfilledRefund, *, destination: uuid.UUID
) -> None:
    await ledger.transfer(
        session,
        TransferSpec(
            debit_account_id=job.escrow_account_id,
            credit_account_id=destination,
            amount=refund.refunded,
            kind="refund",
            idempotency_key=f"marketplace:refund:{refund.uid}",
            currency=refund.currency,
            reference_type="unfilled_refund",
            reference_id=str(refund.uid),
        ),
    )


async def issue_provider_refund(
    session: AsyncSession, provider: PaymentProvider, refund_uid: uuid.UUID, *, now: datetime
) -> UnfilledRefund | None:
    """Refund a provider-funded job's unused budget to the brand's charge, once.

    The provider's idempotency key is the refund's id, so a retry after a failure between the
    provider's answer and our commit finds the same refund instead of paying twice.
    """
    refund = await session.scalar(
        select(UnfilledRefund)
        .where(UnfilledRefund.uid == refund_uid)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if refund is None or refund.issued_at is not None:
        return refund
    job = await get_job(session, refund.job_uid)
    assert refund.stripe_charge_id is not None
    answer = await provider.refund(
        refund_id=refund.uid, payment_reference=refund.stripe_charge_id, amount=refund.refunded
    )
    clearing = await ledger.platform_account(
        session, AccountKind.PROVIDER_CLEARING, refund.currency
    )
    await _refund_in_ledger(session, job, refund, destination=clearing)
    refund.provider_refund_id = answer.reference
    refund.issued_at = now
    await _flush(session)
    return refund


async def close_by_brand(
    session: AsyncSession, *, job_uid: uuid.UUID, brand_id: uuid.UUID, now: datetime
) -> Closing:
    job = await get_brand_job(session, job_uid, brand_id, lock=True)
    closing = await close_job(session, job, reason=CloseReason.BRAND, now=now, actor=brand_id)
    await record_change(
        session,
        action="marketplace.job.close",
        entity_type="job",
        entity_id=job.uid,
        actor_id=brand_id,
        after=snapshot(closing.job),
    )
    return closing


async def ended_job_uids(session: AsyncSession, now: datetime, *, limit: int) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Job.uid)
        .where(Job.closed_at.is_(None), Job.end_date <= now)
        .order_by(Job.end_date, Job.uid)
        .limit(limit)
    )
    return list(rows)


async def close_ended_job(
    session: AsyncSession, job_uid: uuid.UUID, now: datetime
) -> Closing | None:
    """Close one job whose end_date has passed, unless it is closed or locked meanwhile."""
    job = await session.scalar(
        select(Job)
        .where(Job.uid == job_uid, Job.closed_at.is_(None), Job.end_date <= now)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if job is None:
        return None
    return await close_job(session, job, reason=CloseReason.END_DATE, now=now)


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
register_target("job", resolve_funding_target, funding_credited)
on_payout_paid(mark_payouts_paid)
