"""Ending a campaign, and the refunds that follow it (issue 14).

Ending a funded campaign (its advertiser, or its end date passing) stops it at once: a click
after it is not counted, and settlement reserves nothing new. What its escrow holds then is
split in two:

* **kept back**: what the views counted but not settled yet can still earn (pending in their
  validation window, or validated and waiting for their day's settlement). Per promoter
  campaign that is at most (carry + views * cpv) // 100, with `carry` the fraction of a cent
  its last settled day carried: exactly what settlement would pay for all of them;
* **refunded at once**: the rest, to the advertiser's wallet in this transaction, or back to
  the provider charge that funded the campaign by a job that calls the provider outside any
  lock (`issue_provider_refund`).

Settlement goes on paying those views from what was kept back (the least of the allocation
left and the escrow's unreserved balance, as for a running campaign). Once none of the
campaign's views waits any more (each paid, rejected or over cap), `refund_rest` returns what
is left (rejected views' share, the fractions of a cent no view reached) the same way. The
allocation's `refunded_amount` grows with each refund, in the transaction that moves the money
or defers the provider's refund: nothing can be spent past it afterwards.

Lock order, as everywhere in campaigns: the campaign row, its allocation, the ledger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change
from creatorhub.campaigns.models import Campaign, CampaignBudgetAllocation, CampaignStatus
from creatorhub.campaigns.service.common import (
    ENDED,
    CampaignConflict,
    lock_campaign,
    no_such_campaign,
)
from creatorhub.campaigns.service.lifecycle import set_status
from creatorhub.campaigns.work.models import WORK_TYPES
from creatorhub.jobs import defer, job_app
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import Account, AccountKind, Hold, Transfer
from creatorhub.payments.models import FundingIntent
from creatorhub.payments.providers.base import PaymentProvider

# Deferred by name: the tasks module imports this package.
REFUND_TASK = "creatorhub.campaigns.tasks.issue_refund"
# A campaign's provider refunds have one id per stage, whoever asks (the provider's idempotency).
REFUND_NAMESPACE = uuid.UUID("5b0f7d3e-4c1a-4e38-9a52-0c3e1f0d2a14")


class RefundStage(StrEnum):
    """A campaign is refunded at most twice: when it ends, and once its last views settled."""

    END = "end"
    REST = "rest"


def refund_key(campaign_id: uuid.UUID | str, stage: RefundStage = RefundStage.END) -> str:
    """The ledger key of the stage's refund transfer (one per campaign and stage)."""
    base = f"campaigns:campaign:{campaign_id}:refund"
    return base if stage == RefundStage.END else f"{base}:{stage.value}"


def provider_refund_id(campaign_id: uuid.UUID, stage: RefundStage) -> uuid.UUID:
    name = str(campaign_id) if stage == RefundStage.END else f"{campaign_id}:{stage.value}"
    return uuid.uuid5(REFUND_NAMESPACE, name)


# The campaign's views not settled yet (`pending` in their window or `validated` waiting for
# their day), and the most settlement can pay them: per promoter campaign, its views from the
# day after its last settled one (read by the (promoter campaign, time) index; every earlier
# view was settled or dropped) with that day's carried fraction.
_WAITING_VIEWS = text(
    "SELECT coalesce(sum(due.views), 0) AS views,"
    " coalesce(sum((coalesce(last.carry_after, 0) + due.views * c.cpv) / 100), 0) AS owed"
    " FROM campaigns.campaigns c"
    " JOIN campaigns.promoter_campaigns pc ON pc.campaign_id = c.id"
    " LEFT JOIN LATERAL (SELECT s.day, s.carry_after FROM campaigns.view_settlements s"
    "   WHERE s.promoter_campaign_id = pc.id ORDER BY s.day DESC LIMIT 1) last ON true"
    " CROSS JOIN LATERAL (SELECT count(*) AS views FROM campaigns.views v"
    "   WHERE v.promoter_campaign_id = pc.id"
    "   AND v.occurred_at >= coalesce((last.day + 1)::timestamp AT TIME ZONE 'UTC', '-infinity')"
    "   AND v.outcome IN ('pending', 'validated')) due"
    " WHERE c.id = :campaign_id AND c.cpv IS NOT NULL"
)


@dataclass(frozen=True)
class WaitingViews:
    views: int  # counted, not settled yet
    owed: int  # the most their settlement can pay


async def waiting_views(session: AsyncSession, campaign_id: uuid.UUID) -> WaitingViews:
    row = (await session.execute(_WAITING_VIEWS, {"campaign_id": campaign_id})).one()
    return WaitingViews(views=int(row.views), owed=int(row.owed))


@dataclass(frozen=True)
class Ending:
    campaign: Campaign
    refunded: int  # refunded now: to the wallet at once, or to the charge by the job
    refund_to_provider: bool  # issued later by a job (the provider is called outside the lock)
    kept_for_views: int = 0  # kept in escrow for the views still in their window


async def end_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, *, by: uuid.UUID | None, now: datetime
) -> Ending:
    """End a campaign (its advertiser `by`, or None: its end date): a draft is cancelled
    (nothing was paid in); a funded one is completed: every hold on its escrow voided, what
    its waiting views can still earn kept back, the rest refunded to where the budget came
    from. 409 `campaign_ended` when it has ended already."""
    campaign = await lock_campaign(session, campaign_id)
    if by is not None and campaign.advertiser_id != by:
        raise no_such_campaign()
    if campaign.status in ENDED:
        raise CampaignConflict(f"the campaign is {campaign.status}", code="campaign_ended")
    if campaign.status == CampaignStatus.DRAFT:
        campaign = await set_status(
            session,
            campaign,
            action="campaigns.campaign.cancel",
            actor=by,
            now=now,
            status=CampaignStatus.CANCELLED.value,
            pause_reason=None,
            ended_at=now,
        )
        return Ending(campaign=campaign, refunded=0, refund_to_provider=False)
    if campaign.type in WORK_TYPES:
        # campaigns.work builds on this package (its locks and refusals), and ending a work
        # campaign needs its deliverables closed first: an import cycle on purpose.
        from creatorhub.campaigns.work.service.deliverables import close_for_end

        await close_for_end(session, campaign, by=by, now=now)
    # One statement: the allocation, locked; the escrow's balance; the holds still reserving
    # escrow money, in the ledger's own lock order (by the credit account) so that two endings
    # sharing promoters cannot deadlock. Voiding them leaves the balance as it is and frees
    # all of it: the balance is what is left.
    held = (
        select(func.array_agg(aggregate_order_by(Hold.id, Hold.credit_account_id, Hold.id)))
        .where(Hold.debit_account_id == campaign.escrow_account_id, Hold.status == "pending")
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(CampaignBudgetAllocation, Account.balance, held)
            .join(Account, Account.id == campaign.escrow_account_id)
            .where(CampaignBudgetAllocation.campaign_id == campaign.id)
            .with_for_update(of=CampaignBudgetAllocation)
            .execution_options(populate_existing=True)
        )
    ).one()  # a funded campaign has its allocation (written in the same transaction)
    allocation, balance, hold_ids = row[0], int(row[1]), list(row[2] or [])
    for hold_id in hold_ids:
        await ledger.void_hold(session, hold_id)
    # Read after the campaign's lock: no click can add a counted view meanwhile.
    waiting = await waiting_views(session, campaign.id)
    campaign = await set_status(
        session,
        campaign,
        action="campaigns.campaign.end",
        actor=by,
        now=now,
        status=CampaignStatus.COMPLETED.value,
        pause_reason=None,
        ended_at=now,
    )
    left = min(
        balance,
        allocation.allocated_amount - allocation.spent_amount - allocation.refunded_amount,
    )
    kept = min(max(left, 0), waiting.owed)
    refund = left - kept
    if refund <= 0:
        return Ending(campaign=campaign, refunded=0, refund_to_provider=False, kept_for_views=kept)
    to_provider = await _refund(
        session, campaign, allocation, refund, stage=RefundStage.END, now=now
    )
    return Ending(
        campaign=campaign, refunded=refund, refund_to_provider=to_provider, kept_for_views=kept
    )


async def _refund(
    session: AsyncSession,
    campaign: Campaign,
    allocation: CampaignBudgetAllocation,
    amount: int,
    *,
    stage: RefundStage,
    now: datetime,
) -> bool:
    """Record `amount` refunded on the locked allocation (nothing can spend it from now on)
    and move it: to the advertiser's wallet in this transaction, or (a provider funded the
    campaign) by the refund job. Answers whether the job will."""
    await session.execute(
        update(CampaignBudgetAllocation)
        .where(CampaignBudgetAllocation.id == allocation.id)
        .values(refunded_amount=CampaignBudgetAllocation.refunded_amount + amount, updated_at=now)
    )
    if allocation.funding_source == "provider":
        await defer(
            session,
            job_app.configure_task(REFUND_TASK),
            campaign_id=str(campaign.id),
            stage=stage.value,
            amount=amount,
        )
        return True
    wallet = await ledger.user_account(
        session, campaign.advertiser_id, campaign.currency, AccountKind.WALLET_AVAILABLE
    )
    await ledger.transfer(
        session,
        ledger.TransferSpec(
            debit_account_id=campaign.escrow_account_id,
            credit_account_id=wallet,
            amount=amount,
            kind="refund",
            idempotency_key=refund_key(campaign.id, stage),
            currency=campaign.currency,
            reference_type="campaign",
            reference_id=str(campaign.id),
        ),
    )
    return False


async def refund_rest(session: AsyncSession, campaign_id: uuid.UUID, *, now: datetime) -> int:
    """An ended campaign whose views have all settled (paid, rejected or over cap): refund
    what its escrow kept back and no view earned. Answers the amount (0: nothing to refund
    yet, or nothing left). Settlement calls it after each run over an ended campaign."""
    campaign = await lock_campaign(session, campaign_id)
    if campaign.status not in ENDED:
        return 0
    allocation = await session.scalar(
        select(CampaignBudgetAllocation)
        .where(CampaignBudgetAllocation.campaign_id == campaign.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if allocation is None:
        return 0
    rest = allocation.allocated_amount - allocation.spent_amount - allocation.refunded_amount
    if rest <= 0 or (await waiting_views(session, campaign.id)).views > 0:
        return 0
    to_provider = await _refund(
        session, campaign, allocation, rest, stage=RefundStage.REST, now=now
    )
    await record_change(
        session,
        action="campaigns.campaign.refund_rest",
        entity_type="campaign",
        entity_id=campaign.id,
        actor_id=None,
        after={"amount": rest, "currency": campaign.currency, "to_provider": to_provider},
        description="what the ended campaign kept back for its last views and they did not earn",
    )
    return rest


async def issue_provider_refund(
    session: AsyncSession,
    provider: PaymentProvider,
    campaign_id: uuid.UUID,
    *,
    stage: RefundStage,
    amount: int,
    now: datetime,
) -> int | None:
    """Refund `amount` of an ended, provider-funded campaign to its charge, once per stage
    (the `issue_refund` job; the amount was recorded as refunded when the job was deferred,
    so nothing can spend it, and the escrow still holds it).

    The provider is called outside any transaction: what is needed is read and that
    transaction ended first; then, in a second one with the campaign locked, the transfer
    escrow → provider clearing under the stage's refund key (the ledger's idempotency: a
    second run moves nothing). The provider's idempotency key is derived from the campaign and
    the stage, so two runs ask for one refund. Answers the amount (None: nothing to refund)."""
    key = refund_key(campaign_id, stage)
    row = (
        await session.execute(
            select(
                Campaign,
                FundingIntent.provider_reference,
                select(Transfer.id).where(Transfer.idempotency_key == key).exists(),
            )
            .join(CampaignBudgetAllocation, CampaignBudgetAllocation.campaign_id == Campaign.id)
            .join(FundingIntent, FundingIntent.id == CampaignBudgetAllocation.funding_intent_id)
            .where(Campaign.id == campaign_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        return None
    campaign, reference, done = row
    if campaign.status not in ENDED or amount <= 0 or reference is None:
        return None
    if done:
        return amount
    await session.commit()  # nothing is held while the provider answers
    await provider.refund(
        refund_id=provider_refund_id(campaign.id, stage),
        payment_reference=reference,
        amount=amount,
    )
    campaign = await lock_campaign(session, campaign_id)
    clearing = await ledger.platform_account(
        session, AccountKind.PROVIDER_CLEARING, campaign.currency
    )
    await ledger.transfer(
        session,
        ledger.TransferSpec(
            debit_account_id=campaign.escrow_account_id,
            credit_account_id=clearing,
            amount=amount,
            kind="refund",
            idempotency_key=key,
            currency=campaign.currency,
            reference_type="campaign",
            reference_id=str(campaign.id),
        ),
    )
    return amount


async def ended_campaign_ids(
    session: AsyncSession, now: datetime, *, limit: int
) -> list[uuid.UUID]:
    """Campaigns past their end date that have not ended (drafts included: cancelled)."""
    rows = await session.scalars(
        select(Campaign.id)
        .where(Campaign.status.not_in(ENDED), Campaign.ends_at <= now)
        .order_by(Campaign.ends_at, Campaign.id)
        .limit(limit)
    )
    return list(rows)


async def end_if_due(session: AsyncSession, campaign_id: uuid.UUID, now: datetime) -> Ending | None:
    """End one campaign whose end date has passed, unless ended or locked meanwhile (the
    next run takes it)."""
    due = await session.scalar(
        select(Campaign.id)
        .where(Campaign.id == campaign_id, Campaign.status.not_in(ENDED), Campaign.ends_at <= now)
        .with_for_update(skip_locked=True)
    )
    if due is None:
        return None
    return await end_campaign(session, campaign_id, by=None, now=now)
