"""The brand's job pages: the dashboard of wallet and jobs, a new job, one job with its slots,
and the buttons that fund, approve, reject and close.

Every handler calls the marketplace and payments services the API calls (never the API over
HTTP), as the signed-in brand. A form that fails comes back with what was typed and the
message next to its field; a service refusal (insufficient funds, a closed job, ...) raises
its Problem, which `web.errors` answers as an error page with the problem's message, and the
request's transaction rolls back, so nothing changed.

Double submission of a money form: the API asks for an `Idempotency-Key`, the pages do not
issue one-time form tokens. Each button's effect is guarded by the service's own state check
under the job's (or slot's) row lock instead: funding a funded job is 409
`job_already_funded` (and the ledger transfer has a per-job idempotency key besides),
approving an approved slot 409 `already_approved`, rejecting a slot with nothing pending
`no_content_submitted`, closing a closed job `job_closed`. A second click therefore moves no
money twice; it lands on the error page, or, for funding, back on the job with a note that it
is funded already. A one-time token would only turn that second answer into another message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Problem, Unprocessable
from creatorhub.kit.state import AppSettings
from creatorhub.marketplace import queries, service
from creatorhub.marketplace.models import JobStatus
from creatorhub.marketplace.schemas import BrandJobOut, JobCreate, SlotOut, brand_job
from creatorhub.payments import wallet
from creatorhub.payments.schemas import check_currency
from creatorhub.web.account import problem_field
from creatorhub.web.acting import field_errors, may_act, minor_units, money, refusals_as_pages
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, navigation, render
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

Brand = Annotated[SignedIn, Depends(page_role(Role.BRAND))]
Text = Annotated[str, Form(max_length=10_000)]
# The dashboard lists this many jobs, newest first (the API pages through all of them).
DASHBOARD_JOBS = 100

navigation(Role.BRAND, "/brand", "Jobs")

# The outcomes a brand page's redirect can announce (codes only: `web.session` says why).
FLASHES.update(
    {
        "job_created": ("ok", "The job is saved. Fund it to open it to creators."),
        "job_funded": ("ok", "The job is funded from your wallet and open to creators."),
        "job_already_funded": ("ok", "The job was funded already; nothing more was taken."),
        "claim_approved": ("ok", "The content is approved and the creator is paid their share."),
        "claim_rejected": ("ok", "The content is sent back; the creator may submit again."),
        "job_closed": ("ok", "The job is closed; what no approved slot used is refunded."),
    }
)


# --- the dashboard ---------------------------------------------------------------------------


@router.get("/brand", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    me: Brand,
    session: DbSession,
    currency: Annotated[str | None, Query(max_length=3)] = None,
) -> HTMLResponse:
    views = await queries.brand_jobs_page(
        session, me.principal.id, limit=DASHBOARD_JOBS + 1, after=None
    )
    jobs = [brand_job(view) for view in views[:DASHBOARD_JOBS]]
    # The wallet in the asked currency, else the newest job's (what the brand last spent in).
    shown = currency.upper() if currency else (jobs[0].currency if jobs else "USD")
    try:
        check_currency(shown)
    except ValueError as error:
        raise Unprocessable(str(error), field="currency") from None
    summary = await wallet.summary(session, me.principal.id, shown)
    groups = [
        ("draft", "Awaiting funding", [j for j in jobs if j.status == JobStatus.AWAITING_FUNDING]),
        ("open", "Open", [j for j in jobs if j.status == JobStatus.OPEN]),
        ("closed", "Closed", [j for j in jobs if j.status == JobStatus.CLOSED]),
    ]
    return render(
        request,
        "brand_dashboard.html",
        wallet=summary,
        groups=groups,
        more=len(views) > DASHBOARD_JOBS,
        money=money,
    )


# --- a new job -------------------------------------------------------------------------------

FIELDS = (
    "title",
    "description",
    "budget",
    "currency",
    "influencer_slots",
    "influence_min",
    "influence_max",
    "location",
    "genre",
    "end_date",
)


def _new_job_form(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    defaults = {"currency": "USD", "influencer_slots": "1", "influence_min": "0"}
    return render(
        request,
        "brand_job_new.html",
        status_code,
        values={**dict.fromkeys(FIELDS, ""), **defaults, **(values or {})},
        errors=errors or {},
    )


def _whole(text: str, label: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"Enter {label} as a whole number.") from None


def _job_create(values: dict[str, str]) -> tuple[JobCreate | None, dict[str, str]]:
    """The form's values as the API's request model, or a message per field at fault."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "title": values["title"].strip(),
        "description": values["description"].strip(),
        "currency": values["currency"].strip().upper(),
        "location": values["location"].strip() or None,
        "genre": values["genre"].strip() or None,
    }
    try:
        body["currency"] = check_currency(body["currency"])
    except ValueError as error:
        errors["currency"] = str(error)[:1].upper() + str(error)[1:] + "."
    numbers = {
        "influencer_slots": "the number of slots",
        "influence_min": "the minimum follower count",
        "influence_max": "the maximum follower count",
    }
    for name, label in numbers.items():
        if name == "influence_max" and not values[name].strip():
            body[name] = None
            continue
        try:
            body[name] = _whole(values[name], label)
        except ValueError as error:
            errors[name] = str(error)
    if "currency" not in errors:
        try:
            body["budget"] = minor_units(values["budget"], body["currency"], noun="budget")
        except ValueError as error:
            errors["budget"] = str(error)
    try:
        # The job runs to the end of the chosen day, in UTC.
        body["end_date"] = datetime.combine(
            datetime.strptime(values["end_date"].strip(), "%Y-%m-%d").date(),  # noqa: DTZ007
            time(23, 59, 59),
            tzinfo=UTC,
        )
    except ValueError:
        errors["end_date"] = "Choose the last day of the job."
    try:
        draft = JobCreate.model_validate(body)
    except ValidationError as error:
        for field, message in field_errors(error).items():
            errors.setdefault(field if field in FIELDS else "form", message)
        return None, errors
    return (None, errors) if errors else (draft, errors)


@router.get("/brand/jobs/new", response_class=HTMLResponse)
async def new_job_form(request: Request, me: Brand) -> HTMLResponse:
    return _new_job_form(request)


@router.post("/brand/jobs/new")
async def create_job(
    request: Request,
    _: FormChecked,
    me: Brand,
    session: DbSession,
    title: Annotated[str, Form(max_length=1000)] = "",
    description: Text = "",
    budget: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=10)] = "",
    influencer_slots: Annotated[str, Form(max_length=20)] = "",
    influence_min: Annotated[str, Form(max_length=20)] = "",
    influence_max: Annotated[str, Form(max_length=20)] = "",
    location: Annotated[str, Form(max_length=1000)] = "",
    genre: Annotated[str, Form(max_length=1000)] = "",
    end_date: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    may_act(me, moves_money=False)
    values = {
        "title": title,
        "description": description,
        "budget": budget,
        "currency": currency,
        "influencer_slots": influencer_slots,
        "influence_min": influence_min,
        "influence_max": influence_max,
        "location": location,
        "genre": genre,
        "end_date": end_date,
    }
    draft, errors = _job_create(values)
    if draft is None:
        raise PageError(_new_job_form(request, values=values, errors=errors, status_code=422))
    try:
        job = await service.create_job(
            session,
            brand_id=me.principal.id,
            draft=service.JobDraft(**draft.model_dump()),
            now=utcnow(),
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        errors = {problem_field(problem, "form"): problem.detail or "This job cannot be saved."}
        raise PageError(
            _new_job_form(request, values=values, errors=errors, status_code=problem.status)
        ) from None
    return redirect(f"/brand/jobs/{job.uid}", flash="job_created", request=request)


# --- one job ---------------------------------------------------------------------------------


def slot_state(slot: SlotOut) -> str:
    if slot.content_approved_at is not None:
        return "approved"
    if slot.closed_at is not None:
        return "released"
    if slot.content_done_at is not None:
        return "awaiting your review"
    if slot.rejected_at is not None:
        return "sent back"
    return "claimed, no content yet"


def awaits_review(job: BrandJobOut, slot: SlotOut) -> bool:
    return (
        job.status == JobStatus.OPEN
        and slot.content_done_at is not None
        and slot.content_approved_at is None
        and slot.closed_at is None
    )


@dataclass(frozen=True)
class JobFigures:
    """What a job did with its money and its slots, from the brand's view of it (no query)."""

    claimed: int
    awaiting_review: int
    approved: int
    paid_to_creators: int  # net of the platform's fee
    platform_fees: int
    refunded: int
    in_escrow: int
    approval_rate: int | None  # percent of the submitted slots that were approved
    hours_to_approval: float | None  # the mean, from a claim to its approval

    @classmethod
    def of(cls, job: BrandJobOut) -> JobFigures:
        payouts = [slot.payout for slot in job.slots if slot.payout is not None]
        submitted = [slot for slot in job.slots if slot.submissions]
        approved = [slot for slot in job.slots if slot.content_approved_at is not None]
        waits = [
            (slot.content_approved_at - slot.assigned_at).total_seconds() / 3600
            for slot in approved
            if slot.content_approved_at is not None
        ]
        return cls(
            claimed=len(job.slots),
            awaiting_review=sum(awaits_review(job, slot) for slot in job.slots),
            approved=len(approved),
            paid_to_creators=sum(p.net_amount for p in payouts),
            platform_fees=sum(p.platform_fee for p in payouts),
            refunded=job.refund.refunded if job.refund is not None else 0,
            in_escrow=job.escrow_balance,
            approval_rate=round(100 * len(approved) / len(submitted)) if submitted else None,
            hours_to_approval=round(sum(waits) / len(waits), 1) if waits else None,
        )


@router.get("/brand/jobs/{job_uid}", response_class=HTMLResponse)
async def job_page(request: Request, job_uid: uuid.UUID, me: Brand, session: DbSession) -> Response:
    job = brand_job(await service.brand_job_view(session, job_uid, me.principal.id))
    return render(
        request,
        "brand_job.html",
        job=job,
        money=money,
        slot_state=slot_state,
        awaits_review=awaits_review,
        unclaimed=max(job.max_slots - len(job.slots), 0),
        figures=JobFigures.of(job),
    )


@router.post("/brand/jobs/{job_uid}/fund")
async def fund_job(
    request: Request, _: FormChecked, job_uid: uuid.UUID, me: Brand, session: DbSession
) -> Response:
    may_act(me, moves_money=True)
    try:
        async with refusals_as_pages(request):
            await service.fund_from_wallet(
                session, job_uid=job_uid, brand_id=me.principal.id, now=utcnow()
            )
    except Problem as problem:
        # The second click of a double submission: nothing moved, the job is as wanted.
        if problem.code != "job_already_funded":
            raise
        return redirect(f"/brand/jobs/{job_uid}", flash="job_already_funded", request=request)
    return redirect(f"/brand/jobs/{job_uid}", flash="job_funded", request=request)


@router.post("/brand/claims/{claim_uid}/approve")
async def approve_claim(
    request: Request,
    _: FormChecked,
    claim_uid: uuid.UUID,
    me: Brand,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    may_act(me, moves_money=True)
    async with refusals_as_pages(request):
        record = await service.approve(
            session, settings, influencer_job_uid=claim_uid, brand_id=me.principal.id, now=utcnow()
        )
    job_uid = record["slot"]["job_uid"]
    return redirect(f"/brand/jobs/{job_uid}", flash="claim_approved", request=request)


@router.post("/brand/claims/{claim_uid}/reject")
async def reject_claim(
    request: Request,
    _: FormChecked,
    claim_uid: uuid.UUID,
    me: Brand,
    session: DbSession,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    may_act(me, moves_money=False)
    if not reason.strip():
        raise Unprocessable("write the creator why the content goes back", field="reason")
    async with refusals_as_pages(request):
        record = await service.reject(
            session,
            influencer_job_uid=claim_uid,
            brand_id=me.principal.id,
            reason=reason.strip(),
            now=utcnow(),
        )
    job_uid = record["slot"]["job_uid"]
    return redirect(f"/brand/jobs/{job_uid}", flash="claim_rejected", request=request)


@router.post("/brand/jobs/{job_uid}/close")
async def close_job(
    request: Request, _: FormChecked, job_uid: uuid.UUID, me: Brand, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    async with refusals_as_pages(request):
        # A refund to a provider is queued with the close, by the service.
        await service.close_by_brand(
            session, job_uid=job_uid, brand_id=me.principal.id, now=utcnow()
        )
    return redirect(f"/brand/jobs/{job_uid}", flash="job_closed", request=request)
