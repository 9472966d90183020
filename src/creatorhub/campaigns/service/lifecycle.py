"""A campaign's life: created as a draft, funded (active), paused and resumed, ended.

Money: the funded budget moves into the campaign's own ledger escrow account (owner type
`campaign`) from the advertiser's available wallet, or from a provider charge confirmed by
webhook; `campaign_budget_allocations` records it in the same transaction (allocated), and
what is spent (part C) and refunded. Ending, and the refunds that follow it, live in
`ending.py`.

Lock order, always: the campaign row, its allocation, promoter campaigns (by id), the ledger.
Every state check happens after the lock, in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import UpdateBase

from creatorhub.audit.service import change_insert, record_change, snapshot
from creatorhub.campaigns.models import (
    Campaign,
    CampaignBudgetAllocation,
    CampaignStatus,
    CampaignType,
    PauseReason,
)
from creatorhub.campaigns.service.common import (
    CampaignConflict,
    CampaignView,
    keyset,
    lock_allocation,
    lock_own_campaign,
    no_such_campaign,
    view_query,
    views_of,
)
from creatorhub.db import insert_of, together
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unprocessable
from creatorhub.kit.idempotency import Responder
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import Account, AccountKind, OwnerType
from creatorhub.payments.funding import FundingTarget, create_intent
from creatorhub.payments.models import FundingIntent
from creatorhub.payments.providers.base import PaymentProvider

FUNDING_KEY = "campaigns:campaign:{}:funding"  # the ledger key of the funding transfer


def visibility_budget(cpv: int, max_views: int) -> int:
    """What `max_views` views cost at `cpv` per 100, rounded UP to the minor unit: the views'
    exact price is cpv * max_views / 100, and a budget must cover it; the fraction of a cent
    rounded up is never paid (settlement pays floor(views * cpv / 100) over all days) and is
    refunded when the campaign ends."""
    return (cpv * max_views + 99) // 100


@dataclass(frozen=True)
class CampaignDraft:
    type: str
    title: str
    description: str
    currency: str
    budget: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    categories: list[str]
    languages: list[str]
    min_followers: int
    cpv: int | None = None
    max_views: int | None = None
    max_views_per_promoter: int | None = None
    destination_url: str | None = None
    min_budget: int | None = None
    max_budget: int | None = None
    commission_per_sale: int | None = None
    tracking_method: str | None = None


def _bad(detail: str, code: str, field: str) -> Unprocessable:
    return Unprocessable(detail, code=code, field=f"body.{field}")


def _require(draft: CampaignDraft, *fields: str) -> None:
    for name in fields:
        if getattr(draft, name) is None:
            raise _bad(f"a {draft.type} campaign needs {name}", "campaign_parameter_missing", name)


def _check_destination(url: str) -> None:
    if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise _bad(
            "destination_url must be an http(s) address",
            "destination_url_invalid",
            "destination_url",
        )


def _refuse_foreign(draft: CampaignDraft, *fields: str) -> None:
    for name in fields:
        if getattr(draft, name) is not None:
            raise _bad(
                f"{name} is not a parameter of a {draft.type} campaign",
                "campaign_parameter_unexpected",
                name,
            )


VIEW_FIELDS = ("cpv", "max_views", "max_views_per_promoter")
VISIBILITY_FIELDS = (*VIEW_FIELDS, "destination_url")
RANGE_FIELDS = ("min_budget", "max_budget")
SALESMAN_FIELDS = ("commission_per_sale", "tracking_method")


# A start sent as "now" by a client is a little in the past when it arrives: accepted within
# this much (a start before it is refused: starts_at_past).
START_GRACE = timedelta(minutes=5)


def check_draft(draft: CampaignDraft, now: datetime) -> tuple[int, datetime]:
    """The draft's budget (its default filled in) and start, or its refusal (422 with a code of
    its own). Nothing is written before this passes."""
    starts_at = draft.starts_at or now
    if starts_at < now - START_GRACE:
        raise _bad("starts_at must not be in the past", "starts_at_past", "starts_at")
    if draft.ends_at is not None and draft.ends_at <= starts_at:
        raise _bad("ends_at must be after starts_at", "ends_before_start", "ends_at")
    budget = draft.budget
    if draft.type == CampaignType.VISIBILITY:
        _require(draft, "cpv", "max_views", "destination_url")
        _refuse_foreign(draft, *RANGE_FIELDS, *SALESMAN_FIELDS)
        assert draft.cpv is not None and draft.max_views is not None
        if draft.cpv <= 0:
            raise _bad("cpv (per 100 views) must be above zero", "cpv_not_positive", "cpv")
        if draft.max_views < 100:
            raise _bad("max_views must be at least 100", "max_views_too_low", "max_views")
        if draft.max_views_per_promoter is not None and not (
            0 < draft.max_views_per_promoter <= draft.max_views
        ):
            raise _bad(
                "max_views_per_promoter must be between 1 and max_views",
                "promoter_cap_invalid",
                "max_views_per_promoter",
            )
        _check_destination(draft.destination_url or "")
        needed = visibility_budget(draft.cpv, draft.max_views)
        budget = needed if budget is None else budget
        if budget < needed:
            raise _bad(
                f"the budget must cover cpv x max_views / 100 = {needed}",
                "budget_not_covering",
                "budget",
            )
    elif draft.type in (CampaignType.CONSULTANT, CampaignType.SELLER):
        _require(draft, *RANGE_FIELDS)
        _refuse_foreign(draft, *VISIBILITY_FIELDS, *SALESMAN_FIELDS)
        assert draft.min_budget is not None and draft.max_budget is not None
        if draft.min_budget <= 0 or draft.max_budget < draft.min_budget:
            raise _bad(
                "0 < min_budget <= max_budget is required", "budget_range_invalid", "max_budget"
            )
        budget = draft.max_budget if budget is None else budget
        if budget < draft.max_budget:
            raise _bad("the budget must cover max_budget", "budget_not_covering", "budget")
    else:
        _require(draft, *SALESMAN_FIELDS)
        _refuse_foreign(draft, *VIEW_FIELDS, *RANGE_FIELDS)
        if draft.tracking_method == "ref_link" or draft.destination_url is not None:
            # The referral link (`/r/{code}`) sends visitors to the shop.
            _require(draft, "destination_url")
            _check_destination(draft.destination_url or "")
        assert draft.commission_per_sale is not None
        if not 1 <= draft.commission_per_sale <= 10_000:
            raise _bad(
                "commission_per_sale is in basis points: 1 to 10000",
                "commission_invalid",
                "commission_per_sale",
            )
        if budget is None:
            raise _bad("a salesman campaign needs a budget", "campaign_parameter_missing", "budget")
    if budget <= 0 or budget > 10**13:
        raise _bad("the budget must be above zero", "budget_invalid", "budget")
    return budget, starts_at


async def create_campaign(
    session: AsyncSession, *, advertiser_id: uuid.UUID, draft: CampaignDraft, now: datetime
) -> Campaign:
    """A draft, with its escrow account (created by the statement), and its audit row: one
    statement after the checks."""
    budget, starts_at = check_draft(draft, now)
    campaign_id = uuid.uuid4()
    created = (
        insert(Campaign)
        .values(
            id=campaign_id,
            advertiser_id=advertiser_id,
            type=draft.type,
            title=draft.title,
            description=draft.description,
            status=CampaignStatus.DRAFT.value,
            currency=draft.currency,
            budget=budget,
            starts_at=starts_at,
            ends_at=draft.ends_at,
            categories=list(draft.categories),
            languages=list(draft.languages),
            min_followers=draft.min_followers,
            cpv=draft.cpv,
            max_views=draft.max_views,
            max_views_per_promoter=draft.max_views_per_promoter,
            destination_url=draft.destination_url,
            min_budget=draft.min_budget,
            max_budget=draft.max_budget,
            commission_per_sale=draft.commission_per_sale,
            tracking_method=draft.tracking_method,
            escrow_account_id=ledger.account_ref(
                owner_type=OwnerType.CAMPAIGN,
                owner_id=campaign_id,
                kind=AccountKind.ESCROW,
                currency=draft.currency,
            ),
        )
        .returning(*Campaign.__table__.columns)
        .cte("created")
    )
    audited = change_insert(
        action="campaigns.campaign.create",
        entity_type="campaign",
        entity_id=campaign_id,
        actor_id=advertiser_id,
        after=select(func.to_jsonb(created.table_valued())).scalar_subquery(),
    )
    query = select(Campaign).from_statement(together(audited, result=select(created)))
    result = await ledger.send(session, query.execution_options(populate_existing=True))
    campaign: Campaign = result.scalar_one()
    return campaign


# --- reading ----------------------------------------------------------------------------------


async def campaign_view(
    session: AsyncSession, campaign_id: uuid.UUID, caller: uuid.UUID | None
) -> CampaignView:
    query = view_query(caller, with_promoters=True).where(Campaign.id == campaign_id)
    rows = (await session.execute(query)).all()
    if not rows:
        raise no_such_campaign()
    return views_of(rows)[0]


async def visible_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, caller: uuid.UUID
) -> tuple[CampaignView, bool]:
    """The campaign and whether the caller sees it as its advertiser; a promoter who joined
    it, or anyone while it is active, sees its public view; anyone else gets 404."""
    view = await campaign_view(session, campaign_id, caller)
    if view.campaign.advertiser_id == caller:
        return view, True
    if view.caller_joined or view.campaign.status == CampaignStatus.ACTIVE:
        return view, False
    raise no_such_campaign()


async def advertiser_campaigns(
    session: AsyncSession,
    advertiser_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[CampaignView]:
    query = keyset(
        view_query(None, with_promoters=False).where(Campaign.advertiser_id == advertiser_id),
        Campaign.created_at,
        Campaign.id,
        after,
    ).limit(limit)
    return views_of((await session.execute(query)).all())


async def own_view(
    session: AsyncSession, campaign_id: uuid.UUID, advertiser_id: uuid.UUID
) -> CampaignView:
    view = await campaign_view(session, campaign_id, None)
    if view.campaign.advertiser_id != advertiser_id:
        raise no_such_campaign()
    return view


# --- funding ----------------------------------------------------------------------------------


def _refuse_not_draft(campaign: Campaign) -> None:
    """Only a draft is funded, and only before its end date (the end-date job cancels it)."""
    if campaign.status != CampaignStatus.DRAFT:
        raise CampaignConflict(
            f"the campaign is {campaign.status}: only a draft is funded", code="campaign_not_draft"
        )
    if campaign.ends_at is not None and campaign.ends_at <= utcnow():
        raise CampaignConflict("the campaign's end date has passed", code="campaign_ended")


def _allocation_for(
    campaign: Campaign, source: str, intent_id: uuid.UUID | None
) -> CampaignBudgetAllocation:
    return CampaignBudgetAllocation(
        campaign_id=campaign.id,
        allocated_amount=campaign.budget,
        currency=campaign.currency,
        funding_source=source,
        funding_intent_id=intent_id,
        rate_per_100_views=campaign.cpv,
        commission_rate=campaign.commission_per_sale,
    )


async def _activate(
    session: AsyncSession,
    campaign: Campaign,
    *,
    source: str,
    intent_id: uuid.UUID | None,
    now: datetime,
    actor: uuid.UUID | None,
) -> None:
    before = snapshot(campaign)
    session.add(_allocation_for(campaign, source, intent_id))
    campaign.status = CampaignStatus.ACTIVE.value
    campaign.funded_at = now
    campaign.updated_at = now
    await session.flush()
    await record_change(
        session,
        action="campaigns.campaign.fund",
        entity_type="campaign",
        entity_id=campaign.id,
        actor_id=actor,
        before=before,
        after=snapshot(campaign),
        description=f"funded {campaign.budget} {campaign.currency} from the {source}",
    )


async def fund_from_wallet(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    now: datetime,
    answer: Responder | None = None,
) -> Campaign:
    """Move the budget from the advertiser's available wallet into the campaign's escrow; the
    campaign goes active, its allocation recorded with the transfer.

    Two statements: the campaign, locked; then the transfer (the wallet created by it if need
    be), the campaign activated, its allocation, the audit row and the request's `answer`, as
    one (a refusal of the ledger, e.g. insufficient funds, fails all of it)."""
    from creatorhub.campaigns.schemas import FundCampaignOut
    from creatorhub.campaigns.service.present import campaign_out

    campaign = await lock_own_campaign(session, campaign_id, advertiser_id)
    _refuse_not_draft(campaign)
    transferred = ledger.transfer_select(
        debit_account=ledger.account_ref(
            owner_type=OwnerType.USER,
            owner_id=advertiser_id,
            kind=AccountKind.WALLET_AVAILABLE,
            currency=campaign.currency,
        ),
        credit_account=campaign.escrow_account_id,
        amount=campaign.budget,
        kind="escrow_funding",
        idempotency_key=FUNDING_KEY.format(campaign.id),
        currency=campaign.currency,
        reference_type="campaign",
        reference_id=str(campaign.id),
    )
    before = snapshot(campaign)
    activation = {
        "status": CampaignStatus.ACTIVE.value,
        "funded_at": now,
        "updated_at": now,
    }
    allocation = _allocation_for(campaign, "wallet", None)
    allocation.spent_amount = 0
    allocation.refunded_amount = 0
    writes: list[UpdateBase] = [
        update(Campaign).where(Campaign.id == campaign.id).values(**activation),
        insert_of(allocation),
        change_insert(
            action="campaigns.campaign.fund",
            entity_type="campaign",
            entity_id=campaign.id,
            actor_id=advertiser_id,
            before=before,
            after={**before, **{key: _as_json(value) for key, value in activation.items()}},
            description=f"funded {campaign.budget} {campaign.currency} from the wallet",
        ),
    ]
    # The campaign as the statement leaves it (nothing else changes these columns under the
    # lock), without marking it changed in the session.
    for key, value in activation.items():
        set_committed_value(campaign, key, value)
    if answer is not None:
        # Its escrow holds exactly the budget (nothing moves it before the campaign is funded),
        # nothing is reserved, and nobody has joined a draft.
        view = CampaignView(
            campaign=campaign,
            allocation=allocation,
            escrow_balance=campaign.budget,
            escrow_reserved=0,
            promoters=[],
            caller_joined=False,
        )
        body = FundCampaignOut(campaign=campaign_out(view, advertiser=True), funding_intent=None)
        stored = answer.stored_answer(200, body)
        writes += [stored] if stored is not None else []
    await ledger.send(session, together(*writes, result=transferred))
    return campaign


def _as_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


FUND_CAMPAIGN_ANSWER = "campaigns.fund_campaign"


async def fund_campaign_answer(session: AsyncSession, intent: FundingIntent) -> tuple[int, Any]:
    """How a campaign-funding request through a provider is answered (the campaign and the
    intent, 200), by the request and its recovery job alike."""
    from creatorhub.campaigns.schemas import FundCampaignOut
    from creatorhub.campaigns.service.present import campaign_out
    from creatorhub.payments.schemas import FundingOut

    assert intent.target_id is not None
    view = await own_view(session, intent.target_id, intent.user_id)
    return 200, FundCampaignOut(
        campaign=campaign_out(view, advertiser=True),
        funding_intent=FundingOut.model_validate(intent),
    )


async def fund_through_provider(
    session: AsyncSession,
    provider: PaymentProvider,
    *,
    campaign_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    auto_confirm: bool,
    answer: Responder | None = None,
    payment_method_id: uuid.UUID | None = None,
) -> FundingIntent:
    """An intent for exactly the budget, credited to the campaign's escrow when the provider
    confirms it (the campaign goes active then: `funding_credited`); with `payment_method_id`,
    a saved payment method of the advertiser's, charged at once."""
    campaign = await own_view(session, campaign_id, advertiser_id)
    return await create_intent(
        session,
        provider,
        user_id=advertiser_id,
        amount=campaign.campaign.budget,
        currency=campaign.campaign.currency,
        target_type="campaign",
        target_id=campaign_id,
        answer=answer,
        answer_as=FUND_CAMPAIGN_ANSWER,
        confirm=auto_confirm,
        payment_method_id=payment_method_id,
    )


async def resolve_funding_target(
    session: AsyncSession, payer: uuid.UUID, campaign_id: uuid.UUID, currency: str, amount: int
) -> FundingTarget:
    """Funding intents for a campaign: its advertiser pays exactly the budget, in its
    currency, while it is a draft."""
    view = await own_view(session, campaign_id, payer)
    campaign = view.campaign
    _refuse_not_draft(campaign)
    if currency != campaign.currency or amount != campaign.budget:
        raise Unprocessable(
            f"a campaign is funded with its budget: {campaign.budget} {campaign.currency}",
            code="funding_amount_mismatch",
            field="body.amount",
        )
    return FundingTarget(escrow_account_id=campaign.escrow_account_id)


async def funding_credited(session: AsyncSession, intent: FundingIntent) -> FundingTarget | None:
    """The provider confirmed a campaign's funding: it goes active with its allocation, unless
    it no longer awaits money (funded from the wallet meanwhile, or ended): then the money goes
    to the advertiser's wallet (payments does that when this answers None)."""
    assert intent.target_id is not None
    campaign = await session.scalar(
        select(Campaign)
        .where(Campaign.id == intent.target_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if (
        campaign is None
        or campaign.status != CampaignStatus.DRAFT
        or intent.amount != campaign.budget
        or intent.currency != campaign.currency
    ):
        return None
    await _activate(
        session, campaign, source="provider", intent_id=intent.id, now=utcnow(), actor=None
    )
    return FundingTarget(escrow_account_id=campaign.escrow_account_id)


# --- pause, resume ----------------------------------------------------------------------------


async def set_status(
    session: AsyncSession,
    campaign: Campaign,
    *,
    action: str,
    actor: uuid.UUID | None,
    now: datetime,
    **values: Any,
) -> Campaign:
    before = snapshot(campaign)
    for key, value in values.items():
        setattr(campaign, key, value)
    campaign.updated_at = now
    await session.flush()
    await record_change(
        session,
        action=action,
        entity_type="campaign",
        entity_id=campaign.id,
        actor_id=actor,
        before=before,
        after=snapshot(campaign),
    )
    return campaign


async def pause(
    session: AsyncSession, *, campaign_id: uuid.UUID, advertiser_id: uuid.UUID, now: datetime
) -> Campaign:
    campaign = await lock_own_campaign(session, campaign_id, advertiser_id)
    if campaign.status != CampaignStatus.ACTIVE:
        raise CampaignConflict(
            f"the campaign is {campaign.status}: only an active one pauses",
            code="campaign_not_active",
        )
    return await set_status(
        session,
        campaign,
        action="campaigns.campaign.pause",
        actor=advertiser_id,
        now=now,
        status=CampaignStatus.PAUSED.value,
        pause_reason=PauseReason.ADVERTISER.value,
    )


async def pause_for_budget(
    session: AsyncSession, campaign: Campaign, reason: str, now: datetime
) -> Campaign:
    """Part C's call when the budget (or max_views) runs out: `campaign` must be locked by the
    caller (`lock_campaign`). An active campaign pauses with `reason` (`PauseReason`); one
    paused already takes the reason that keeps it paused; an ended one is left as it is."""
    if campaign.status == CampaignStatus.ACTIVE or (
        campaign.status == CampaignStatus.PAUSED and campaign.pause_reason != reason
    ):
        return await set_status(
            session,
            campaign,
            action="campaigns.campaign.pause",
            actor=None,
            now=now,
            status=CampaignStatus.PAUSED.value,
            pause_reason=PauseReason(reason).value,
        )
    return campaign


async def unreserved_escrow(session: AsyncSession, campaign: Campaign) -> int:
    """What the escrow holds that no hold reserves: what can still be spent."""
    row = (
        await session.execute(
            select(Account.balance, Account.pending_debits).where(
                Account.id == campaign.escrow_account_id
            )
        )
    ).one()
    return int(row[0]) - int(row[1])


async def resume(
    session: AsyncSession, *, campaign_id: uuid.UUID, advertiser_id: uuid.UUID, now: datetime
) -> Campaign:
    """A paused campaign goes active again, unless its budget is spent (409 `budget_spent`:
    nothing left that a view could be paid from) or its end date has passed."""
    campaign = await lock_own_campaign(session, campaign_id, advertiser_id)
    if campaign.status != CampaignStatus.PAUSED:
        raise CampaignConflict(
            f"the campaign is {campaign.status}: only a paused one resumes",
            code="campaign_not_paused",
        )
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise CampaignConflict("the campaign's end date has passed", code="campaign_ended")
    await lock_allocation(session, campaign.id)
    left = await unreserved_escrow(session, campaign)
    if left <= 0:
        raise CampaignConflict("the campaign's budget is spent", code="budget_spent")
    return await set_status(
        session,
        campaign,
        action="campaigns.campaign.resume",
        actor=advertiser_id,
        now=now,
        status=CampaignStatus.ACTIVE.value,
        pause_reason=None,
    )
