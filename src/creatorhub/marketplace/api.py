"""Marketplace endpoints: public job listing, brands' jobs, creators' claims.

Brands create, fund, review and close their jobs; creators browse, claim, submit and follow
their earnings. Requests that move money (fund, claim, approve, close) take an
`Idempotency-Key`; those that put money in or reserve it (fund, claim, approve) also need a
verified e-mail address. Another brand's job and another party's claim answer 404, the same as
one that does not exist (only an open job's public view is anyone's).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import DbSession
from creatorhub.identity.deps import (
    CurrentPrincipal,
    Idempotency,
    MoneyMove,
    OptionalIdempotency,
    money_move,
    require_roles,
)
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound, problem_responses
from creatorhub.kit.idempotency import OPTIONAL_IDEMPOTENCY_RESPONSES
from creatorhub.kit.pagination import decode_cursor, encode_cursor
from creatorhub.kit.state import AppSettings
from creatorhub.marketplace import queries, service
from creatorhub.marketplace.models import Job
from creatorhub.marketplace.queries import BrandJobView
from creatorhub.marketplace.schemas import (
    BrandJobOut,
    BrandJobsPage,
    CreatorClaimOut,
    CreatorClaimsOut,
    EarnedOut,
    FundJobOut,
    JobCreate,
    JobFund,
    JobsPage,
    PublicJobOut,
    RejectBody,
    SlotOut,
    SubmissionCreate,
    SubmissionOut,
    brand_job,
    public_job,
    slot_out,
)
from creatorhub.payments.tasks import provider_in

responses = problem_responses(400, 401, 403, 404, 409, 422)
router = APIRouter(prefix="/v1/marketplace", tags=["marketplace"], responses=responses)

BrandPrincipal = Annotated[Principal, Depends(require_roles(Role.BRAND))]
CreatorPrincipal = Annotated[Principal, Depends(require_roles(Role.CREATOR))]
# For the requests that move or reserve money (403 `email_not_verified` otherwise).
VerifiedBrand = Annotated[Principal, Depends(require_roles(Role.BRAND, verified_email=True))]
# A claim's one dependency: `require_roles(Role.CREATOR, verified_email=True)` and
# `Idempotency` together (the same checks, in the same order).
CreatorMoneyMove = Annotated[MoneyMove, Depends(money_move(Role.CREATOR))]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]


# --- public ---------------------------------------------------------------------------------


@router.get("/jobs", response_model=JobsPage, summary="Open jobs, newest first")
async def list_open_jobs(
    session: DbSession,
    genre: Annotated[str | None, Query(max_length=120)] = None,
    location: Annotated[str | None, Query(max_length=120)] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> JobsPage:
    """Jobs a creator can still claim, without private fields. Creators: see `/jobs/matching`."""
    query = queries.open_jobs_query(genre=genre, location=location, now=utcnow())
    return await _jobs_page(session, query, limit, cursor)


@router.get("/jobs/matching", response_model=JobsPage, summary="Open jobs for your follower count")
async def list_matching_jobs(
    principal: CreatorPrincipal,
    session: DbSession,
    genre: Annotated[str | None, Query(max_length=120)] = None,
    location: Annotated[str | None, Query(max_length=120)] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> JobsPage:
    """Open jobs whose follower range contains your total follower estimate (all platforms)."""
    query = queries.matching_jobs_query(principal.id, genre=genre, location=location, now=utcnow())
    return await _jobs_page(session, query, limit, cursor)


async def _jobs_page(
    session: AsyncSession, query: Select[Job], limit: int, cursor: str | None
) -> JobsPage:
    after = decode_cursor(cursor) if cursor else None
    rows = await queries.page(session, query, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    return JobsPage(
        items=[public_job(job) for job in rows],
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].uid) if more else None,
    )


@router.get("/jobs/{job_uid}", response_model=PublicJobOut, summary="A job's public view")
async def get_public_job(job_uid: uuid.UUID, session: DbSession) -> PublicJobOut:
    job = await service.get_job(session, job_uid)
    if not service.is_published(job):
        raise NotFound("no such job", code="job_not_found")
    return public_job(job)


# --- brands ---------------------------------------------------------------------------------


@router.post(
    "/jobs",
    status_code=201,
    response_model=BrandJobOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Create a job",
)
async def create_job(
    body: JobCreate, principal: BrandPrincipal, session: DbSession, idem: OptionalIdempotency
) -> JSONResponse:
    """The job opens once funded (`POST /jobs/{uid}/fund`)."""
    job = await service.create_job(
        session,
        brand_id=principal.id,
        draft=service.JobDraft(**body.model_dump()),
        now=utcnow(),
    )
    # A new job: its escrow holds nothing yet, no slot is claimed, nothing is refunded.
    view = BrandJobView(job=job, escrow_balance=0, refund=None, slots=[])
    return await idem.respond(session, 201, brand_job(view))


@router.get("/brand/jobs", response_model=BrandJobsPage, summary="Your jobs, newest first")
async def list_brand_jobs(
    principal: BrandPrincipal, session: DbSession, limit: Limit = 20, cursor: Cursor = None
) -> BrandJobsPage:
    """Each with its escrow, slots and refund, as `GET /brand/jobs/{uid}` shows it."""
    after = decode_cursor(cursor) if cursor else None
    views = await queries.brand_jobs_page(session, principal.id, limit=limit + 1, after=after)
    more = len(views) > limit
    views = views[:limit]
    last = views[-1].job if views else None
    return BrandJobsPage(
        items=[brand_job(view) for view in views],
        next_cursor=encode_cursor(last.created_at, last.uid) if more and last else None,
    )


@router.get("/brand/jobs/{job_uid}", response_model=BrandJobOut, summary="One of your jobs")
async def get_brand_job(
    job_uid: uuid.UUID, principal: BrandPrincipal, session: DbSession
) -> BrandJobOut:
    """With every claimed slot, its submissions and payout record, and the refund."""
    return brand_job(await service.brand_job_view(session, job_uid, principal.id))


@router.post("/jobs/{job_uid}/fund", response_model=FundJobOut, summary="Fund a job")
async def fund_job(
    job_uid: uuid.UUID,
    body: JobFund,
    principal: VerifiedBrand,
    session: DbSession,
    settings: AppSettings,
    idem: Idempotency,
) -> JSONResponse:
    """Move the budget into the job's escrow: from your wallet now, or through a provider
    charge (the job opens when the provider confirms it)."""
    if body.source == "wallet":
        await service.fund_from_wallet(
            session, job_uid=job_uid, brand_id=principal.id, now=utcnow(), answer=idem
        )
        return idem.response
    provider = provider_in(session)
    await service.fund_through_provider(
        session,
        provider,
        job_uid=job_uid,
        brand_id=principal.id,
        auto_confirm=settings.sandbox_auto_confirm and provider.name == "sandbox",
        answer=idem,
    )
    return idem.response


@router.post(
    "/claims/{claim_uid}/approve", response_model=SlotOut, summary="Approve a slot's content"
)
async def approve_claim(
    claim_uid: uuid.UUID,
    principal: VerifiedBrand,
    session: DbSession,
    settings: AppSettings,
    idem: Idempotency,
) -> JSONResponse:
    """Pays the slot's share to the creator, less the platform fee."""
    record = await service.approve(
        session, settings, influencer_job_uid=claim_uid, brand_id=principal.id, now=utcnow()
    )
    return await idem.respond(session, 200, slot_out(record))


@router.post(
    "/claims/{claim_uid}/reject", response_model=SlotOut, summary="Send a slot's content back"
)
async def reject_claim(
    claim_uid: uuid.UUID, body: RejectBody, principal: BrandPrincipal, session: DbSession
) -> SlotOut:
    """The creator may submit again until the job closes."""
    record = await service.reject(
        session,
        influencer_job_uid=claim_uid,
        brand_id=principal.id,
        reason=body.reason,
        now=utcnow(),
    )
    return slot_out(record)


@router.post("/jobs/{job_uid}/close", response_model=BrandJobOut, summary="Close a job")
async def close_job(
    job_uid: uuid.UUID, principal: BrandPrincipal, session: DbSession, idem: Idempotency
) -> JSONResponse:
    """Unapproved slots are released and their shares refunded to where the budget came from."""
    # A refund to a provider is queued with the close, by the service.
    await service.close_by_brand(session, job_uid=job_uid, brand_id=principal.id, now=utcnow())
    view = await service.brand_job_view(session, job_uid, principal.id)
    return await idem.respond(session, 200, brand_job(view))


# --- creators -------------------------------------------------------------------------------


@router.post(
    "/jobs/{job_uid}/claims", status_code=201, response_model=SlotOut, summary="Claim a slot"
)
async def claim_job(job_uid: uuid.UUID, move: CreatorMoneyMove) -> JSONResponse:
    """First come, first served; reserves the slot's share of the budget for you."""
    await service.claim_slot(
        move.session,
        move.settings,
        job_uid=job_uid,
        creator_id=move.principal.id,
        now=utcnow(),
        answer=move.idem,
    )
    return move.idem.response


@router.post(
    "/claims/{claim_uid}/submissions",
    status_code=201,
    response_model=SubmissionOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Submit your content (marks it done)",
)
async def submit_content(
    claim_uid: uuid.UUID,
    body: SubmissionCreate,
    principal: CreatorPrincipal,
    session: DbSession,
    idem: OptionalIdempotency,
) -> JSONResponse:
    submission = await service.submit_content(
        session,
        influencer_job_uid=claim_uid,
        creator_id=principal.id,
        draft=service.ContentDraft(**body.model_dump()),
        now=utcnow(),
    )
    return await idem.respond(session, 201, SubmissionOut.model_validate(submission))


@router.get("/claims", response_model=CreatorClaimsOut, summary="Your claims and earnings")
async def list_my_claims(
    principal: CreatorPrincipal, session: DbSession, limit: Limit = 50
) -> CreatorClaimsOut:
    claims = await queries.creator_claims(session, principal.id, limit=limit)
    items = [
        CreatorClaimOut(**slot_out(record).model_dump(), job=public_job(job))
        for record, job in claims
    ]
    earned = [
        EarnedOut.model_validate(earning, from_attributes=True)
        for earning in await queries.creator_earnings(session, principal.id)
    ]
    return CreatorClaimsOut(items=items, earned=earned)


@router.get("/claims/{claim_uid}", response_model=SlotOut, summary="One claim")
async def get_claim(
    claim_uid: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> SlotOut:
    """For the creator who claimed it and the job's brand; 404 for anyone else."""
    return slot_out(await service.claim_view(session, claim_uid, principal.id))
