"""The creator's marketplace pages: the open jobs that match them, a job with its claim button,
their claims with what each earned, and one claim with its submission form.

Every handler calls the marketplace services the API calls (never the API over HTTP), as the
signed-in creator. A form that fails comes back with what was typed and the message next to
its field; a service refusal (a full job, a follower count outside the job's range, a closed
job) raises its Problem, which `web.errors` answers as an error page with the problem's
message, and the request's transaction rolls back, so nothing changed.

Double submission: the API's claim asks for an `Idempotency-Key`; the page has none and needs
none, because the claim service refuses a second claim of the same job by the same creator
(409 `already_claimed`, by the claims' unique constraint in the claim's own statement, so two
clicks racing each other are refused the same way). The second click of "Claim a slot" lands
on the creator's claims with a note that nothing more was claimed. A second "Submit" is
refused by the slot's state under the job's lock (409 `submission_pending`: a submission
awaits the brand's review) and lands on the claim with the same kind of note.

The wallet and payout pages are in `web.wallet_pages`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound, Problem
from creatorhub.kit.pagination import decode_cursor, encode_cursor
from creatorhub.kit.state import AppSettings
from creatorhub.marketplace import queries, service
from creatorhub.marketplace.models import CONTENT_PLATFORMS, Job, JobStatus
from creatorhub.marketplace.schemas import (
    CreatorClaimOut,
    EarnedOut,
    SlotOut,
    SubmissionCreate,
    public_job,
    slot_out,
)
from creatorhub.web.acting import field_errors, may_act, money, refusals_as_pages
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, navigation, render
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

Creator = Annotated[SignedIn, Depends(page_role(Role.CREATOR))]
# Jobs per page of "Open jobs for you" (the next page through a cursor, as the API pages).
JOBS_PER_PAGE = 20
# "My claims" lists this many, newest first (the API's default page).
CLAIMS_LISTED = 50

navigation(Role.CREATOR, "/creator", "Find jobs")
navigation(Role.CREATOR, "/creator/claims", "My claims")

# The outcomes a creator page's redirect can announce (codes only: `web.session` says why).
FLASHES.update(
    {
        "slot_claimed": (
            "ok",
            "The slot is yours and its pay is reserved for you. Submit your content here once "
            "it is live.",
        ),
        "slot_already_claimed": (
            "ok",
            "You hold a slot of this job already; nothing more was claimed.",
        ),
        "content_submitted": ("ok", "Your content is sent to the brand for review."),
        "content_already_submitted": (
            "ok",
            "Your content awaits the brand's review already; nothing more was sent.",
        ),
    }
)

PLATFORM_LABELS = {
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "facebook": "Facebook",
    "x": "X",
    "twitch": "Twitch",
    "other": "Another platform",
}


def next_share(job: Job) -> int:
    """What the next claim of the job is paid: its slot's share of the budget (shares differ by
    one cent at most: `service.slot_share`)."""
    return service.slot_share(job.budget, job.max_slots, min(job.claim_count + 1, job.max_slots))


# --- open jobs --------------------------------------------------------------------------------


@router.get("/creator", response_class=HTMLResponse)
async def open_jobs(
    request: Request,
    me: Creator,
    session: DbSession,
    genre: Annotated[str, Query(max_length=120)] = "",
    location: Annotated[str, Query(max_length=120)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The open jobs whose follower range holds the creator's total: the query of
    `GET /v1/marketplace/jobs/matching`, a page at a time."""
    after = decode_cursor(cursor) if cursor else None
    query = queries.matching_jobs_query(
        me.principal.id,
        genre=genre.strip() or None,
        location=location.strip() or None,
        now=utcnow(),
    )
    rows = await queries.page(session, query, limit=JOBS_PER_PAGE + 1, after=after)
    jobs = rows[:JOBS_PER_PAGE]
    more = None
    if len(rows) > JOBS_PER_PAGE:
        more = encode_cursor(jobs[-1].created_at, jobs[-1].uid)
    return render(
        request,
        "creator_jobs.html",
        jobs=[(public_job(job), next_share(job)) for job in jobs],
        filters={"genre": genre, "location": location},
        more=more,
        first_page=cursor is None,
        money=money,
    )


# --- one job ----------------------------------------------------------------------------------


@router.get("/creator/jobs/{job_uid}", response_class=HTMLResponse)
async def job_page(
    request: Request, job_uid: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    """The job's public view (`GET /v1/marketplace/jobs/{uid}`): a draft is 404, as there."""
    job = await service.get_job(session, job_uid)
    if not service.is_published(job):
        raise NotFound("no such job", code="job_not_found")
    shown = public_job(job)
    claimable = job.status == JobStatus.OPEN and shown.slots_left > 0 and job.end_date > utcnow()
    return render(
        request,
        "creator_job.html",
        job=shown,
        share=next_share(job),
        claimable=claimable,
        money=money,
    )


@router.post("/creator/jobs/{job_uid}/claim")
async def claim_slot(
    request: Request,
    _: FormChecked,
    job_uid: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    """The claim service as `POST /v1/marketplace/jobs/{uid}/claims` calls it (without a stored
    answer: the page has no key; a second claim is refused by the service, see above)."""
    may_act(me, moves_money=True)
    try:
        async with refusals_as_pages(request):
            slot = await service.claim_slot(
                session, settings, job_uid=job_uid, creator_id=me.principal.id, now=utcnow()
            )
    except Problem as problem:
        if problem.code != "already_claimed":
            raise
        # The second click of a double submission: nothing was written (rolled back).
        raise PageError(
            redirect("/creator/claims", flash="slot_already_claimed", request=request)
        ) from None
    return redirect(f"/creator/claims/{slot.uid}", flash="slot_claimed", request=request)


# --- claims -----------------------------------------------------------------------------------


def claim_state(slot: SlotOut, job_status: str) -> tuple[str, str]:
    """(key, words) of where a claim stands, for the creator."""
    if slot.content_approved_at is not None:
        return "approved", "approved and paid"
    if slot.closed_at is not None or job_status == JobStatus.CLOSED:
        return "released", "released (the job closed before approval)"
    if slot.content_done_at is not None:
        return "submitted", "content submitted, awaiting the brand's review"
    if slot.rejected_at is not None:
        return "sent_back", "sent back by the brand"
    return "claimed", "claimed, no content yet"


def can_submit(slot: SlotOut, job_status: str) -> bool:
    return claim_state(slot, job_status)[0] in ("claimed", "sent_back")


@router.get("/creator/claims", response_class=HTMLResponse)
async def my_claims(request: Request, me: Creator, session: DbSession) -> HTMLResponse:
    """What `GET /v1/marketplace/claims` answers: the latest claims with their jobs, and the
    approved slots' earnings per currency."""
    claims = await queries.creator_claims(session, me.principal.id, limit=CLAIMS_LISTED)
    items = [
        CreatorClaimOut(**slot_out(record).model_dump(), job=public_job(job))
        for record, job in claims
    ]
    earned = [
        EarnedOut.model_validate(earning, from_attributes=True)
        for earning in await queries.creator_earnings(session, me.principal.id)
    ]
    return render(
        request,
        "creator_claims.html",
        claims=items,
        earned=earned,
        more=len(items) == CLAIMS_LISTED,
        claim_state=claim_state,
        money=money,
    )


SUBMISSION_FIELDS = ("platform", "url", "note")


async def _claim_and_job(
    session: AsyncSession, claim_uid: uuid.UUID, me: SignedIn
) -> tuple[SlotOut, Job]:
    """The creator's own claim (`GET /v1/marketplace/claims/{uid}`) with its job; another's
    claim, the job's brand's view included, is 404 on the creator's page."""
    record = await service.claim_view(session, claim_uid, me.principal.id)
    slot = slot_out(record)
    if slot.user_uid != me.principal.id:
        raise NotFound("no such claim", code="claim_not_found")
    return slot, await service.get_job(session, slot.job_uid)


def _claim_page(
    request: Request,
    slot: SlotOut,
    job: Job,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    state, words = claim_state(slot, job.status)
    return render(
        request,
        "creator_claim.html",
        status_code,
        slot=slot,
        job=public_job(job),
        state=state,
        state_words=words,
        submittable=can_submit(slot, job.status),
        platforms=[(name, PLATFORM_LABELS.get(name, name)) for name in CONTENT_PLATFORMS],
        values={**dict.fromkeys(SUBMISSION_FIELDS, ""), **(values or {})},
        errors=errors or {},
        money=money,
    )


@router.get("/creator/claims/{claim_uid}", response_class=HTMLResponse)
async def claim_page(
    request: Request, claim_uid: uuid.UUID, me: Creator, session: DbSession
) -> HTMLResponse:
    slot, job = await _claim_and_job(session, claim_uid, me)
    return _claim_page(request, slot, job)


def _submission(values: dict[str, str]) -> tuple[SubmissionCreate | None, dict[str, str]]:
    """The form as the API's request model, or a message per field at fault."""
    if values["platform"] not in CONTENT_PLATFORMS:
        return None, {"platform": "Choose where the content is published."}
    if not values["url"].strip():
        return None, {"url": "Give the address of your content, e.g. https://…"}
    try:
        draft = SubmissionCreate.model_validate(
            {
                "platform": values["platform"],
                "url": values["url"].strip(),
                "note": values["note"].strip() or None,
            }
        )
    except ValidationError as error:
        errors: dict[str, str] = {}
        for field, message in field_errors(error).items():
            if field == "url":
                message = "Give the full address of the content, starting with https://."
            errors.setdefault(field if field in SUBMISSION_FIELDS else "form", message)
        return None, errors
    return draft, {}


@router.post("/creator/claims/{claim_uid}/submit")
async def submit_content(
    request: Request,
    _: FormChecked,
    claim_uid: uuid.UUID,
    me: Creator,
    session: DbSession,
    platform: Annotated[str, Form(max_length=40)] = "",
    url: Annotated[str, Form(max_length=4000)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The submit service as `POST /v1/marketplace/claims/{uid}/submissions` calls it."""
    may_act(me, moves_money=False)
    values = {"platform": platform, "url": url, "note": note}
    draft, errors = _submission(values)
    if draft is None:
        slot, job = await _claim_and_job(session, claim_uid, me)
        raise PageError(
            _claim_page(request, slot, job, values=values, errors=errors, status_code=422)
        )
    try:
        async with refusals_as_pages(request):
            await service.submit_content(
                session,
                influencer_job_uid=claim_uid,
                creator_id=me.principal.id,
                draft=service.ContentDraft(
                    platform=draft.platform, url=draft.url, post_id=None, note=draft.note
                ),
                now=utcnow(),
            )
    except Problem as problem:
        if problem.code != "submission_pending":
            raise
        raise PageError(
            redirect(
                f"/creator/claims/{claim_uid}", flash="content_already_submitted", request=request
            )
        ) from None
    return redirect(f"/creator/claims/{claim_uid}", flash="content_submitted", request=request)
