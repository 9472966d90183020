"""Jobs: create, fund (from the wallet, or the hooks through which payments funds one), the
brand's view; and what every workflow of the package shares: the job's lock and its guards,
sending a workflow's writes with the refusals of triggers and the ledger translated."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Executable,
    Result,
    Select,
    Text,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.audit.service import change_insert, snapshot
from creatorhub.db import together
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound, Unprocessable
from creatorhub.kit.idempotency import Responder
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import translate as ledger_refusal
from creatorhub.ledger.models import AccountKind, OwnerType
from creatorhub.marketplace import queries
from creatorhub.marketplace.errors import MarketplaceConflict, guard_refusal, translate
from creatorhub.marketplace.models import (
    Job,
    JobLog,
    JobStatus,
)
from creatorhub.marketplace.schemas import FundJobOut, brand_job
from creatorhub.payments.funding import FundingTarget, create_intent
from creatorhub.payments.models import FundingIntent
from creatorhub.payments.providers.base import PaymentProvider
from creatorhub.payments.schemas import FundingOut

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


async def send_guarded(
    session: AsyncSession, statement: Executable, *, actor: uuid.UUID | None = None
) -> Result[Any]:
    """Send one statement that writes (the workflow's rows and its money together): a trigger's
    refusal (a closed or resolved record) becomes its 409, and a ledger function's its ledger
    problem."""
    try:
        return await session.execute(statement)
    except DBAPIError as error:
        refusal: Exception | None = translate(error, actor) or ledger_refusal(error)
        if refusal is None:
            raise
        raise refusal from error


async def written_job(
    session: AsyncSession, statement: Select[Any], actor: uuid.UUID | None
) -> Job:
    """Send a statement whose result is the job's row as it wrote it (an UPDATE's RETURNING);
    the session's `Job` is refreshed from that row, not read again."""
    query = select(Job).from_statement(statement).execution_options(populate_existing=True)
    job: Job = (await send_guarded(session, query, actor=actor)).scalar_one()
    return job


def no_such_job() -> NotFound:
    # One answer for a job that does not exist and one the caller may not see.
    return NotFound("no such job", code="job_not_found")


async def get_job(session: AsyncSession, job_uid: uuid.UUID, *, lock: bool = False) -> Job:
    query = select(Job).where(Job.uid == job_uid).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    job = await session.scalar(query)
    if job is None:
        raise no_such_job()
    return job


async def get_brand_job(
    session: AsyncSession, job_uid: uuid.UUID, brand_id: uuid.UUID, *, lock: bool = False
) -> Job:
    """The job, if the caller is the brand who created it. Anyone else's is 404, the answer
    for a job that does not exist: a 403 would confirm that it exists (a draft, the uid of a
    job another brand has not published)."""
    job = await get_job(session, job_uid, lock=lock)
    if job.creator_uid != brand_id:
        raise no_such_job()
    return job


def is_published(job: Job) -> bool:
    """Whether anyone but its brand may see the job: once funded (or closed). A draft is the
    brand's business: for everyone else it answers as a job that does not exist."""
    return job.funded_at is not None or job.closed_at is not None


def refuse_closed(job: Job, operation: str, actor: uuid.UUID | None) -> None:
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
    # One statement: the job with its escrow account (created by it), its log and audit rows.
    job_uid = uuid.uuid4()
    created = (
        insert(Job)
        .values(
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
            escrow_account_id=ledger.account_ref(
                owner_type=OwnerType.JOB,
                owner_id=job_uid,
                kind=AccountKind.ESCROW,
                currency=draft.currency,
            ),
        )
        .returning(*Job.__table__.columns)
        .cte("created")
    )
    logged = insert(JobLog).values(
        job_uid=job_uid,
        description="job created",
        log={"budget": draft.budget, "currency": draft.currency, "slots": draft.influencer_slots},
    )
    audited = change_insert(
        action="marketplace.job.create",
        entity_type="job",
        entity_id=job_uid,
        actor_id=brand_id,
        after=select(func.to_jsonb(created.table_valued())).scalar_subquery(),
    )
    statement = together(logged, audited, result=select(created))
    return await written_job(session, statement, brand_id)


async def fund_from_wallet(
    session: AsyncSession,
    *,
    job_uid: uuid.UUID,
    brand_id: uuid.UUID,
    now: datetime,
    answer: Responder | None = None,
) -> Job:
    """Move the budget from the brand's available wallet into the job's escrow; the job opens.

    Two statements: the job, locked; then the transfer (the brand's wallet created by it if
    need be), the job opened, its log and the request's `answer`, as one."""
    job = await get_brand_job(session, job_uid, brand_id, lock=True)
    refuse_closed(job, "fund", brand_id)
    if job.funded_at is not None:
        raise MarketplaceConflict("the job is already funded", code="job_already_funded")
    funded = ledger.transfer_select(
        debit_account=ledger.account_ref(
            owner_type=OwnerType.USER,
            owner_id=brand_id,
            kind=AccountKind.WALLET_AVAILABLE,
            currency=job.currency,
        ),
        credit_account=job.escrow_account_id,
        amount=job.budget,
        kind="escrow_funding",
        idempotency_key=f"marketplace:job:{job.uid}:funding",
        currency=job.currency,
        reference_type="job",
        reference_id=str(job.uid),
    ).cte("funded")
    opening = {"status": JobStatus.OPEN.value, "funded_at": now, "funding_source": "wallet"}
    opened = (
        update(Job)
        .where(Job.uid == job.uid)
        .values(**opening)
        .returning(*Job.__table__.columns)
        .cte("opened")
    )
    # The funding reference: the ledger transfer (stripe_charge_id is for provider charges).
    logged = insert(JobLog).from_select(
        ["job_uid", "description", "log"],
        select(
            literal(job.uid, PG_UUID(as_uuid=True)),
            literal("job funded", Text),
            func.jsonb_build_object(
                "source", "wallet", "amount", job.budget, "transfer_id", funded.c.transfer_id
            ),
        ),
    )
    writes: list[UpdateBase] = [logged]
    if answer is not None:
        # The answer shows the job as this statement leaves it (no trigger changes these
        # columns): its escrow holds the budget, since nothing moves an escrow before its job
        # is funded, and nothing is claimed before then either.
        for key, value in opening.items():
            set_committed_value(job, key, value)
        view = queries.BrandJobView(job=job, escrow_balance=job.budget, refund=None, slots=[])
        stored = answer.stored_answer(200, FundJobOut(job=brand_job(view), funding_intent=None))
        writes += [stored] if stored is not None else []
    return await written_job(session, together(*writes, result=select(opened)), brand_id)


# How a job-funding request is answered (the job and the intent, 200), by payments for the
# request itself and for its recovery job alike (`payments.funding.register_answer`).
FUND_JOB_ANSWER = "marketplace.fund_job"


async def fund_job_answer(session: AsyncSession, intent: FundingIntent) -> tuple[int, FundJobOut]:
    assert intent.target_id is not None
    view = await brand_job_view(session, intent.target_id, intent.user_id)
    return 200, FundJobOut(job=brand_job(view), funding_intent=FundingOut.model_validate(intent))


async def fund_through_provider(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    job_uid: uuid.UUID,
    brand_id: uuid.UUID,
    auto_confirm: bool,
    answer: Responder | None = None,
) -> FundingIntent:
    """Fund the job by a provider charge: an intent for exactly its budget, credited to the
    job's escrow when the provider confirms it (the job opens then). The request's key is
    held through the provider's call like any funding's (`payments.funding.create_intent`):
    a retry while the provider answers is 409 in flight, and a request that dies during the
    call is answered by its recovery job, with the same body. `auto_confirm`: the sandbox
    confirms at once."""
    job = await get_brand_job(session, job_uid, brand_id)
    return await create_intent(
        session,
        provider,
        user_id=brand_id,
        amount=job.budget,
        currency=job.currency,
        target_type="job",
        target_id=job.uid,
        answer=answer,
        answer_as=FUND_JOB_ANSWER,
        confirm=auto_confirm,
    )


async def brand_job_view(
    session: AsyncSession, job_uid: uuid.UUID, brand_id: uuid.UUID
) -> queries.BrandJobView:
    """The job as its brand sees it (escrow, slots, refund): 404 for anyone else's."""
    view = await queries.brand_job(session, job_uid)
    if view is None or view.job.creator_uid != brand_id:
        raise no_such_job()
    return view


async def resolve_funding_target(
    session: AsyncSession, payer: uuid.UUID, job_uid: uuid.UUID, currency: str, amount: int
) -> FundingTarget:
    """Funding intents for a job (payments calls this when one is created): the job's brand
    pays exactly the budget, in the job's currency, while the job awaits funding."""
    job = await get_brand_job(session, job_uid, payer)
    refuse_closed(job, "fund", payer)
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
    # The job opened and its log as one statement; payments' own statement then moves the money.
    opening = {
        "status": JobStatus.OPEN.value,
        "funded_at": utcnow(),
        "funding_source": "provider",
        "stripe_charge_id": intent.provider_reference,
    }
    logged = insert(JobLog).values(
        job_uid=job.uid,
        description="job funded",
        log={
            "source": "provider",
            "amount": intent.amount,
            "funding_intent_id": str(intent.id),
            "stripe_charge_id": intent.provider_reference,
        },
    )
    await send_guarded(
        session, together(update(Job).where(Job.uid == job.uid).values(**opening), logged)
    )
    for key, value in opening.items():
        set_committed_value(job, key, value)
    return FundingTarget(escrow_account_id=job.escrow_account_id)
