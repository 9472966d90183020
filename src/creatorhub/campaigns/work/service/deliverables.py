"""Deliverables and their works (issue 15): the agreed work of an accepted application, in
pieces, each reserved when agreed and paid when approved.

* The advertiser proposes a deliverable (title, due date, amount) against an accepted
  application; its amount counts against the application's `agreed_amount` from then on
  (`committed_amount`, kept within it by a CHECK), so proposals can never add up past it.
* The promoter agrees to it: its amount is reserved on the campaign's escrow as a ledger hold
  for the promoter's available wallet (`campaigns:deliverable:{id}:hold`).
* The promoter submits work (links and a note; each resubmission a new revision). The
  advertiser approves it, and the hold is posted at once, less the platform fee of kind
  `campaign_work`, into the promoter's available wallet (seed 002's immediate `direct_*`
  payments; no earnings hold period), or asks for changes, saying why.
* The promoter can contest a request for changes; an admin decides: pay it, pay part of it
  (the rest released to the campaign), or refund it (all released). Audited.
* The advertiser can cancel a deliverable not in review or dispute: its hold is voided.

Every step locks the campaign row, then the application, then the deliverable, then the
ledger: an approval racing a cancellation is serialized, and the second finds the first's
outcome (409), so nothing is paid twice; the escrow's hold is posted or voided once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
from creatorhub.campaigns.models import Campaign, CampaignBudgetAllocation
from creatorhub.campaigns.service.common import CampaignConflict
from creatorhub.campaigns.work.models import (
    ApplicationOffer,
    ApplicationStatus,
    CampaignApplication,
    CampaignDeliverable,
    CampaignWork,
    DeliverableStatus,
    DisputeResolution,
    OfferStatus,
    WorkStatus,
)
from creatorhub.campaigns.work.service.applications import (
    lock_campaign_of,
    locked_application,
    party_of,
    refuse_ended,
)
from creatorhub.config import Settings
from creatorhub.kit.errors import NotFound, Unprocessable
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind
from creatorhub.payments.earnings import pay_earnings

WORK_KIND = "campaign_work"  # the fee rule (10 % by default) and the ledger kind


def no_such_deliverable() -> NotFound:
    return NotFound("no such deliverable", code="deliverable_not_found")


def hold_key(deliverable_id: uuid.UUID) -> str:
    return f"campaigns:deliverable:{deliverable_id}:hold"


def pay_key(deliverable_id: uuid.UUID) -> str:
    return f"campaigns:deliverable:{deliverable_id}:pay"


async def propose(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    title: str,
    description: str,
    due_date: date | None,
    amount: int,
    now: datetime,
) -> CampaignDeliverable:
    """A deliverable of an accepted application, proposed by the campaign's advertiser.
    Refusals: the application not accepted (409 `application_not_accepted`), the campaign
    ended, a due date past (422 `due_date_past`), an amount past what the application's
    agreed amount has left (409 `over_agreed_amount`)."""
    campaign, application, party = await locked_application(session, application_id, advertiser_id)
    if party.value != "advertiser":
        raise _not_advertiser()
    if application.status != ApplicationStatus.ACCEPTED:
        raise CampaignConflict(
            "deliverables belong to an accepted application", code="application_not_accepted"
        )
    refuse_ended(campaign, now)
    if due_date is not None and due_date < now.date():
        raise Unprocessable("the due date has passed", code="due_date_past", field="body.due_date")
    assert application.agreed_amount is not None
    left = application.agreed_amount - application.committed_amount
    if amount > left:
        raise CampaignConflict(
            f"{amount} is more than what is left of the agreed amount ({left})",
            code="over_agreed_amount",
        )
    deliverable = CampaignDeliverable(
        campaign_id=campaign.id,
        application_id=application.id,
        promoter_id=application.promoter_id,
        title=title,
        description=description,
        due_date=due_date,
        amount=amount,
    )
    session.add(deliverable)
    application.committed_amount += amount
    application.updated_at = now
    await session.flush()
    await record_change(
        session,
        action="campaigns.deliverable.propose",
        entity_type="campaign_deliverable",
        entity_id=deliverable.id,
        actor_id=advertiser_id,
        after=snapshot(deliverable),
    )
    return deliverable


def _not_advertiser() -> NotFound:
    # The promoter may see the deliverable but not act as its advertiser: the same 404 as for
    # an outsider keeps the answer simple (the promoter knows whose campaign it is).
    return NotFound("no such deliverable among your campaigns", code="deliverable_not_found")


async def _locked(
    session: AsyncSession, deliverable_id: uuid.UUID, actor_id: uuid.UUID, role: str
) -> tuple[Campaign, CampaignApplication, CampaignDeliverable]:
    """The deliverable's campaign, then its application and the deliverable, locked (two
    statements: the campaign's lock serializes the rest); 404 unless `actor_id` is its
    campaign's advertiser (`role` advertiser), its promoter (promoter) or anyone (admin: the
    route checked the role)."""
    campaign = await lock_campaign_of(
        session,
        select(CampaignDeliverable.campaign_id)
        .where(CampaignDeliverable.id == deliverable_id)
        .scalar_subquery(),
    )
    if campaign is None:
        raise no_such_deliverable()
    row = (
        await session.execute(
            select(CampaignApplication, CampaignDeliverable)
            .join(
                CampaignDeliverable,
                CampaignDeliverable.application_id == CampaignApplication.id,
            )
            .where(CampaignDeliverable.id == deliverable_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    application, deliverable = row[0], row[1]
    if role != "admin":
        party = party_of(campaign, application, actor_id)
        if party is None or party.value != role:
            raise no_such_deliverable()
    return campaign, application, deliverable


def _refuse_status(deliverable: CampaignDeliverable, *allowed: DeliverableStatus) -> None:
    if deliverable.status in allowed:
        return
    codes = {
        DeliverableStatus.APPROVED: ("the deliverable is approved and paid", "already_approved"),
        DeliverableStatus.CANCELLED: ("the deliverable is cancelled", "deliverable_cancelled"),
        DeliverableStatus.SUBMITTED: ("its work waits for review", "work_in_review"),
        DeliverableStatus.DISPUTED: ("the deliverable is disputed", "deliverable_disputed"),
        DeliverableStatus.PROPOSED: ("the promoter has not agreed to it yet", "not_agreed"),
        DeliverableStatus.AGREED: ("no work has been submitted for it", "no_work_submitted"),
        DeliverableStatus.CHANGES_REQUESTED: (
            "changes were requested: it waits for the next revision",
            "changes_requested",
        ),
    }
    detail, code = codes.get(
        DeliverableStatus(deliverable.status),
        (f"the deliverable is {deliverable.status}", "deliverable_state"),
    )
    raise CampaignConflict(detail, code=code)


async def agree(
    session: AsyncSession, *, deliverable_id: uuid.UUID, promoter_id: uuid.UUID, now: datetime
) -> CampaignDeliverable:
    """The promoter agrees to a proposed deliverable: its amount is held on the escrow for
    their wallet (409 `insufficient_funds` if the escrow cannot cover it)."""
    campaign, _, deliverable = await _locked(session, deliverable_id, promoter_id, "promoter")
    _refuse_status(deliverable, DeliverableStatus.PROPOSED)
    refuse_ended(campaign, now)
    wallet = await ledger.user_account(
        session, deliverable.promoter_id, campaign.currency, AccountKind.WALLET_AVAILABLE
    )
    hold = await ledger.create_hold(
        session,
        debit_account_id=campaign.escrow_account_id,
        credit_account_id=wallet,
        amount=deliverable.amount,
        kind=WORK_KIND,
        idempotency_key=hold_key(deliverable.id),
        currency=campaign.currency,
        reference_type="campaign_deliverable",
        reference_id=str(deliverable.id),
    )
    before = snapshot(deliverable)
    deliverable.status = DeliverableStatus.AGREED.value
    deliverable.hold_id = hold.hold_id
    deliverable.agreed_at = now
    deliverable.updated_at = now
    await session.flush()
    await _audit(session, "agree", deliverable, promoter_id, before)
    return deliverable


async def cancel(
    session: AsyncSession, *, deliverable_id: uuid.UUID, advertiser_id: uuid.UUID, now: datetime
) -> CampaignDeliverable:
    """The advertiser cancels a deliverable that is proposed, agreed or waiting for changes:
    its hold (if agreed) is voided, and its amount is the application's to commit again."""
    _, application, deliverable = await _locked(
        session, deliverable_id, advertiser_id, "advertiser"
    )
    _refuse_status(
        deliverable,
        DeliverableStatus.PROPOSED,
        DeliverableStatus.AGREED,
        DeliverableStatus.CHANGES_REQUESTED,
    )
    before = snapshot(deliverable)
    await _release(session, application, deliverable, now)
    await _audit(session, "cancel", deliverable, advertiser_id, before)
    return deliverable


async def _release(
    session: AsyncSession,
    application: CampaignApplication,
    deliverable: CampaignDeliverable,
    now: datetime,
) -> None:
    """Cancel the deliverable: its hold voided, its amount uncommitted."""
    if deliverable.hold_id is not None:
        await ledger.void_hold(session, deliverable.hold_id)
    deliverable.status = DeliverableStatus.CANCELLED.value
    deliverable.cancelled_at = now
    deliverable.updated_at = now
    application.committed_amount -= deliverable.amount
    application.updated_at = now
    await session.flush()


async def submit_work(
    session: AsyncSession,
    *,
    deliverable_id: uuid.UUID,
    promoter_id: uuid.UUID,
    links: list[str],
    note: str,
    now: datetime,
) -> CampaignDeliverable:
    """The promoter submits the work of an agreed deliverable (or its next revision after a
    request for changes)."""
    _, _, deliverable = await _locked(session, deliverable_id, promoter_id, "promoter")
    _refuse_status(deliverable, DeliverableStatus.AGREED, DeliverableStatus.CHANGES_REQUESTED)
    revision = await session.scalar(
        select(func.coalesce(func.max(CampaignWork.revision), 0) + 1).where(
            CampaignWork.deliverable_id == deliverable.id
        )
    )
    work = CampaignWork(
        deliverable_id=deliverable.id,
        promoter_id=promoter_id,
        revision=int(revision or 1),
        links=links,
        note=note,
        submitted_at=now,
    )
    session.add(work)
    before = snapshot(deliverable)
    deliverable.status = DeliverableStatus.SUBMITTED.value
    deliverable.updated_at = now
    await session.flush()
    await _audit(session, "submit_work", deliverable, promoter_id, before)
    return deliverable


async def _review_work(
    session: AsyncSession,
    deliverable_id: uuid.UUID,
    status: WorkStatus,
    now: datetime,
    note: str | None = None,
) -> None:
    """The submitted work (the deliverable's last revision) reviewed: one statement."""
    await session.execute(
        update(CampaignWork)
        .where(
            CampaignWork.deliverable_id == deliverable_id,
            CampaignWork.status == WorkStatus.SUBMITTED.value,
        )
        .values(status=status.value, review_note=note, reviewed_at=now)
    )


async def approve(
    session: AsyncSession,
    settings: Settings,
    *,
    deliverable_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    now: datetime,
) -> CampaignDeliverable:
    """Approve the submitted work: the deliverable is paid at once (409 `already_approved` the
    second time)."""
    campaign, application, deliverable = await _locked(
        session, deliverable_id, advertiser_id, "advertiser"
    )
    _refuse_status(deliverable, DeliverableStatus.SUBMITTED)
    await _review_work(session, deliverable.id, WorkStatus.APPROVED, now)
    before = snapshot(deliverable)
    await _pay(session, settings, campaign, application, deliverable, deliverable.amount, now)
    await _audit(session, "approve", deliverable, advertiser_id, before)
    return deliverable


async def _pay(
    session: AsyncSession,
    settings: Settings,
    campaign: Campaign,
    application: CampaignApplication,
    deliverable: CampaignDeliverable,
    amount: int,
    now: datetime,
) -> None:
    """Post `amount` of the deliverable's hold to the promoter (the rest, if any, released to
    the campaign), less the fee; record it on the deliverable, the application and the
    campaign's allocation."""
    assert deliverable.hold_id is not None
    earning = await pay_earnings(
        session,
        payee_id=deliverable.promoter_id,
        gross=amount,
        currency=campaign.currency,
        kind=WORK_KIND,
        key=pay_key(deliverable.id),
        reason=f"Deliverable approved: {deliverable.title}",
        now=now,
        hold_days=0,  # seed 002: consultant and seller work is paid immediately
        fee_shards=settings.fee_shards,
        hold_id=deliverable.hold_id,
        reference_type="campaign_deliverable",
        reference_id=str(deliverable.id),
    )
    deliverable.status = DeliverableStatus.APPROVED.value
    deliverable.paid_amount = amount
    deliverable.fee = earning.quote.fee
    deliverable.approved_at = now
    deliverable.updated_at = now
    application.paid_amount += amount
    application.committed_amount -= deliverable.amount - amount
    application.updated_at = now
    # The allocation's spend, in one statement (the campaign's lock serializes it).
    await session.execute(
        update(CampaignBudgetAllocation)
        .where(CampaignBudgetAllocation.campaign_id == campaign.id)
        .values(spent_amount=CampaignBudgetAllocation.spent_amount + amount, updated_at=now)
    )
    await session.flush()


async def request_changes(
    session: AsyncSession,
    *,
    deliverable_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> CampaignDeliverable:
    """Reject the submitted work, saying what to change: the promoter resubmits or disputes."""
    _, _, deliverable = await _locked(session, deliverable_id, advertiser_id, "advertiser")
    _refuse_status(deliverable, DeliverableStatus.SUBMITTED)
    await _review_work(session, deliverable.id, WorkStatus.CHANGES_REQUESTED, now, reason)
    before = snapshot(deliverable)
    deliverable.status = DeliverableStatus.CHANGES_REQUESTED.value
    deliverable.updated_at = now
    await session.flush()
    await _audit(session, "request_changes", deliverable, advertiser_id, before)
    return deliverable


async def dispute(
    session: AsyncSession,
    *,
    deliverable_id: uuid.UUID,
    promoter_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> CampaignDeliverable:
    """The promoter contests the rejection of their work; an admin decides."""
    _, _, deliverable = await _locked(session, deliverable_id, promoter_id, "promoter")
    if deliverable.status != DeliverableStatus.CHANGES_REQUESTED:
        raise CampaignConflict(
            f"only a rejected work is disputed (the deliverable is {deliverable.status})",
            code="nothing_to_dispute",
        )
    before = snapshot(deliverable)
    deliverable.status = DeliverableStatus.DISPUTED.value
    deliverable.dispute_reason = reason
    deliverable.disputed_at = now
    deliverable.updated_at = now
    await session.flush()
    await _audit(session, "dispute", deliverable, promoter_id, before)
    return deliverable


async def resolve(
    session: AsyncSession,
    settings: Settings,
    *,
    deliverable_id: uuid.UUID,
    admin_id: uuid.UUID,
    decision: DisputeResolution,
    amount: int | None,
    note: str,
    now: datetime,
) -> CampaignDeliverable:
    """An admin decides a dispute: pay the deliverable, pay `amount` of it (1 to its amount
    less one; the rest released to the campaign), or refund it (all released)."""
    campaign, application, deliverable = await _locked(session, deliverable_id, admin_id, "admin")
    if deliverable.status != DeliverableStatus.DISPUTED:
        raise CampaignConflict(
            f"the deliverable is {deliverable.status}, not disputed", code="not_disputed"
        )
    if decision == DisputeResolution.PARTIAL:
        if amount is None or not 1 <= amount < deliverable.amount:
            raise Unprocessable(
                f"a partial payment is 1 to {deliverable.amount - 1}",
                code="partial_amount_invalid",
                field="body.amount",
            )
    elif amount is not None:
        raise Unprocessable(
            "an amount goes with a partial decision only",
            code="partial_amount_invalid",
            field="body.amount",
        )
    before = snapshot(deliverable)
    if decision == DisputeResolution.REFUND:
        await _release(session, application, deliverable, now)
    else:
        paid = deliverable.amount if decision == DisputeResolution.PAY else amount
        assert paid is not None
        await _pay(session, settings, campaign, application, deliverable, paid, now)
    deliverable.resolution = decision.value
    deliverable.resolution_note = note
    deliverable.resolved_by = admin_id
    deliverable.resolved_at = now
    await session.flush()
    await _audit(session, "resolve", deliverable, admin_id, before)
    return deliverable


async def _audit(
    session: AsyncSession,
    step: str,
    deliverable: CampaignDeliverable,
    actor_id: uuid.UUID,
    before: dict[str, object],
) -> None:
    await record_change(
        session,
        action=f"campaigns.deliverable.{step}",
        entity_type="campaign_deliverable",
        entity_id=deliverable.id,
        actor_id=actor_id,
        before=before,
        after=snapshot(deliverable),
    )


async def close_for_end(
    session: AsyncSession, campaign: Campaign, *, by: uuid.UUID | None, now: datetime
) -> None:
    """What ending a consultant or seller campaign needs (called by `end_campaign` under the
    campaign's lock, before it voids the escrow's holds): refused while work waits for review
    or a dispute for its decision (409 `work_in_review`), and, when its advertiser ends it
    having spent less than `min_budget`, until every selected promoter agreed to close (409
    `below_min_budget`; the end date passing needs no agreement: the dates were known when
    they applied). Then the open deliverables are cancelled (their holds are voided by
    `end_campaign` with the others') and pending applications closed."""
    rows = (
        await session.execute(
            select(CampaignDeliverable)
            .where(
                CampaignDeliverable.campaign_id == campaign.id,
                CampaignDeliverable.status.in_(
                    [
                        DeliverableStatus.PROPOSED.value,
                        DeliverableStatus.AGREED.value,
                        DeliverableStatus.SUBMITTED.value,
                        DeliverableStatus.CHANGES_REQUESTED.value,
                        DeliverableStatus.DISPUTED.value,
                    ]
                ),
            )
            .order_by(CampaignDeliverable.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalars()
    open_deliverables = list(rows)
    if any(
        d.status in (DeliverableStatus.SUBMITTED, DeliverableStatus.DISPUTED)
        for d in open_deliverables
    ):
        raise CampaignConflict(
            "work waits for review or a dispute for its decision: settle it first",
            code="work_in_review",
        )
    applications = list(
        (
            await session.execute(
                select(CampaignApplication)
                .where(CampaignApplication.campaign_id == campaign.id)
                .order_by(CampaignApplication.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    assert campaign.min_budget is not None
    spent = await session.scalar(
        select(CampaignBudgetAllocation.spent_amount).where(
            CampaignBudgetAllocation.campaign_id == campaign.id
        )
    )
    spent = int(spent or 0)
    if by is not None and spent < campaign.min_budget:
        waiting = [
            a
            for a in applications
            if a.status == ApplicationStatus.ACCEPTED and a.close_agreed_at is None
        ]
        if waiting:
            raise CampaignConflict(
                f"{spent} spent is below the campaign's min_budget ({campaign.min_budget}):"
                " each selected promoter must agree to close it first",
                code="below_min_budget",
            )
    by_id = {a.id: a for a in applications}
    for deliverable in open_deliverables:
        application = by_id[deliverable.application_id]
        deliverable.status = DeliverableStatus.CANCELLED.value
        deliverable.cancelled_at = now
        deliverable.updated_at = now
        application.committed_amount -= deliverable.amount
    await session.execute(
        update(ApplicationOffer)
        .where(
            ApplicationOffer.application_id.in_([a.id for a in applications]),
            ApplicationOffer.status == OfferStatus.OPEN.value,
        )
        .values(status=OfferStatus.CLOSED.value, decided_at=now)
    )
    for application in applications:
        if application.status == ApplicationStatus.PENDING:
            application.status = ApplicationStatus.REJECTED.value
            application.reject_reason = "the campaign ended"
            application.decided_at = now
        application.updated_at = now
    await session.flush()
