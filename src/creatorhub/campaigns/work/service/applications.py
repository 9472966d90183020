"""Applications to consultant and seller campaigns, and their negotiation (issue 15).

A promoter applies with a proposed amount for the whole work and a note: the application's
first offer. The party an open offer waits for answers it: accepts it (the application is
accepted at that amount), or counters with an offer of their own (the open one is superseded).
The advertiser can also reject the application (with a reason); the promoter can withdraw it.

The amounts an offer may name: a consultant campaign's `min_budget` to `max_budget` (one
promoter does all the work); a seller campaign's 1 to `max_budget` (several sellers share the
range). Accepting adds the amount to the campaign's `committed_budget`, which the database
keeps within `max_budget`; a consultant campaign accepts one application (a unique index).

Locks: the campaign row FOR UPDATE first (every step of one campaign's applications and
deliverables is serialized by it), then the application.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
from creatorhub.campaigns.models import Campaign, CampaignStatus
from creatorhub.campaigns.service.common import ENDED, CampaignConflict
from creatorhub.campaigns.service.participation import campaign_for_promoter
from creatorhub.campaigns.work.models import (
    WORK_TYPES,
    ApplicationOffer,
    ApplicationStatus,
    CampaignApplication,
    OfferParty,
    OfferStatus,
)
from creatorhub.db import is_unique_violation
from creatorhub.kit.errors import Forbidden, NotFound, Unprocessable


def no_such_application() -> NotFound:
    # One answer for an application that does not exist and one the caller is not party to.
    return NotFound("no such application", code="application_not_found")


def refuse_ended(campaign: Campaign, now: datetime) -> None:
    if campaign.status in ENDED or (campaign.ends_at is not None and campaign.ends_at <= now):
        raise CampaignConflict("the campaign has ended", code="campaign_ended")


def check_amount(campaign: Campaign, amount: int, field: str) -> None:
    """422 `rate_out_of_range` unless `amount` is one the campaign's range allows."""
    assert campaign.max_budget is not None and campaign.min_budget is not None
    low = campaign.min_budget if campaign.type == "consultant" else 1
    if not low <= amount <= campaign.max_budget:
        raise Unprocessable(
            f"a {campaign.type} campaign's amounts are {low} to {campaign.max_budget}"
            f" ({campaign.currency} minor units)",
            code="rate_out_of_range",
            field=f"body.{field}",
        )


async def apply(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    promoter_id: uuid.UUID,
    proposed_rate: int,
    note: str,
    now: datetime,
) -> CampaignApplication:
    """Apply to an active consultant or seller campaign. Refusals: a visibility or salesman
    campaign (409 `application_not_needed`: join it), paused (409 `campaign_paused`) or
    ended (409 `campaign_ended`), one's own (403 `own_campaign`), too few followers (403
    `not_enough_followers`), an amount outside the range (422 `rate_out_of_range`), a
    consultant campaign that selected its promoter (409 `promoter_selected`), applied
    already (409 `already_applied`)."""
    campaign, followers = await campaign_for_promoter(session, campaign_id, promoter_id)
    if campaign.type not in WORK_TYPES:
        raise CampaignConflict(
            f"a {campaign.type} campaign takes no applications: join it",
            code="application_not_needed",
        )
    if campaign.status == CampaignStatus.PAUSED:
        raise CampaignConflict("the campaign is paused", code="campaign_paused")
    refuse_ended(campaign, now)
    if campaign.advertiser_id == promoter_id:
        raise Forbidden("an advertiser cannot work on their own campaign", code="own_campaign")
    if followers < campaign.min_followers:
        raise Forbidden(
            f"the campaign is for promoters with at least {campaign.min_followers} followers",
            code="not_enough_followers",
        )
    check_amount(campaign, proposed_rate, "proposed_rate")
    if campaign.type == "consultant" and await _has_accepted(session, campaign.id):
        raise CampaignConflict("the campaign has selected its consultant", code="promoter_selected")
    application: CampaignApplication | None = await session.scalar(
        select(CampaignApplication)
        .from_statement(
            insert(CampaignApplication)
            .values(
                campaign_id=campaign.id,
                campaign_type=campaign.type,
                promoter_id=promoter_id,
                proposed_rate=proposed_rate,
                note=note,
            )
            .on_conflict_do_nothing(constraint="uq_campaign_applications_promoter")
            .returning(*CampaignApplication.__table__.columns)
        )
        .execution_options(populate_existing=True)
    )
    if application is None:
        raise CampaignConflict("you applied to this campaign already", code="already_applied")
    session.add(
        ApplicationOffer(
            application_id=application.id,
            party=OfferParty.PROMOTER.value,
            author_id=promoter_id,
            amount=proposed_rate,
            note=note,
        )
    )
    await session.flush()
    await record_change(
        session,
        action="campaigns.application.apply",
        entity_type="campaign_application",
        entity_id=application.id,
        actor_id=promoter_id,
        after=snapshot(application),
    )
    return application


async def _has_accepted(session: AsyncSession, campaign_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(CampaignApplication.id)
        .where(
            CampaignApplication.campaign_id == campaign_id,
            CampaignApplication.status == ApplicationStatus.ACCEPTED.value,
        )
        .limit(1)
    )
    return found is not None


async def lock_campaign_of(session: AsyncSession, campaign_id: Any) -> Campaign | None:
    """The campaign whose id `campaign_id` (a scalar subquery over the application or the
    deliverable) names, locked FOR UPDATE: the first lock of every work step, one statement."""
    campaign: Campaign | None = await session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .with_for_update(of=Campaign)
        .execution_options(populate_existing=True)
    )
    return campaign


def party_of(
    campaign: Campaign, application: CampaignApplication, actor_id: uuid.UUID
) -> OfferParty | None:
    if actor_id == application.promoter_id:
        return OfferParty.PROMOTER
    if actor_id == campaign.advertiser_id:
        return OfferParty.ADVERTISER
    return None


async def locked_application(
    session: AsyncSession, application_id: uuid.UUID, actor_id: uuid.UUID
) -> tuple[Campaign, CampaignApplication, OfferParty]:
    """The application's campaign, then the application, locked (two statements); with the
    caller's party (404 `application_not_found` for anyone but its promoter and the campaign's
    advertiser)."""
    campaign = await lock_campaign_of(
        session,
        select(CampaignApplication.campaign_id)
        .where(CampaignApplication.id == application_id)
        .scalar_subquery(),
    )
    if campaign is None:
        raise no_such_application()
    application = await session.scalar(
        select(CampaignApplication)
        .where(CampaignApplication.id == application_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert application is not None  # applications are never deleted
    party = party_of(campaign, application, actor_id)
    if party is None:
        raise no_such_application()
    return campaign, application, party


async def _open_offer(session: AsyncSession, application_id: uuid.UUID) -> ApplicationOffer:
    offer = await session.scalar(
        select(ApplicationOffer)
        .where(
            ApplicationOffer.application_id == application_id,
            ApplicationOffer.status == OfferStatus.OPEN.value,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert offer is not None  # a pending application has its open offer
    return offer


def _refuse_decided(application: CampaignApplication) -> None:
    if application.status != ApplicationStatus.PENDING:
        raise CampaignConflict(
            f"the application is {application.status}", code="application_decided"
        )


def _refuse_own_offer(offer: ApplicationOffer, party: OfferParty) -> None:
    if offer.party == party:
        raise CampaignConflict(
            "the open offer is yours: it waits for the other party's answer",
            code="offer_awaits_other_party",
        )


async def counter(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    actor_id: uuid.UUID,
    amount: int,
    note: str,
    now: datetime,
) -> CampaignApplication:
    """Answer the other party's open offer with one of your own (it supersedes theirs)."""
    campaign, application, party = await locked_application(session, application_id, actor_id)
    _refuse_decided(application)
    refuse_ended(campaign, now)
    check_amount(campaign, amount, "amount")
    offer = await _open_offer(session, application.id)
    _refuse_own_offer(offer, party)
    offer.status = OfferStatus.SUPERSEDED.value
    offer.decided_at = now
    await session.flush()  # the open offer's unique index: the old one closes first
    session.add(
        ApplicationOffer(
            application_id=application.id,
            party=party.value,
            author_id=actor_id,
            amount=amount,
            note=note,
        )
    )
    application.updated_at = now
    await session.flush()
    await record_change(
        session,
        action="campaigns.application.counter",
        entity_type="campaign_application",
        entity_id=application.id,
        actor_id=actor_id,
        after={"party": party.value, "amount": amount, "currency": campaign.currency},
    )
    return application


async def accept(
    session: AsyncSession, *, application_id: uuid.UUID, actor_id: uuid.UUID, now: datetime
) -> CampaignApplication:
    """Accept the other party's open offer: the application is accepted at its amount, which
    the campaign commits from its range (an application exists only for a funded campaign:
    drafts take none). Refusals: the campaign ended, a consultant campaign with its promoter (409
    `promoter_selected`), an amount past what is left of `max_budget` (409
    `over_max_budget`). A consultant campaign's other pending applications are rejected
    (`SELECTED_ANOTHER`)."""
    campaign, application, party = await locked_application(session, application_id, actor_id)
    _refuse_decided(application)
    refuse_ended(campaign, now)
    offer = await _open_offer(session, application.id)
    _refuse_own_offer(offer, party)
    if campaign.type == "consultant" and await _has_accepted(session, campaign.id):
        raise CampaignConflict("the campaign has selected its consultant", code="promoter_selected")
    assert campaign.max_budget is not None
    left = campaign.max_budget - campaign.committed_budget
    if offer.amount > left:
        raise CampaignConflict(
            f"{offer.amount} is more than what is left of the campaign's max_budget ({left})",
            code="over_max_budget",
        )
    before = snapshot(application)
    offer.status = OfferStatus.ACCEPTED.value
    offer.decided_at = now
    application.status = ApplicationStatus.ACCEPTED.value
    application.agreed_amount = offer.amount
    application.decided_at = now
    application.updated_at = now
    campaign.committed_budget += offer.amount
    campaign.updated_at = now
    try:
        await session.flush()
    except IntegrityError as error:
        if is_unique_violation(error, "uq_campaign_applications_one_consultant"):
            raise CampaignConflict(
                "the campaign has selected its consultant", code="promoter_selected"
            ) from error
        raise
    if campaign.type == "consultant":
        await _close_others(session, campaign.id, application.id, now)
    await record_change(
        session,
        action="campaigns.application.accept",
        entity_type="campaign_application",
        entity_id=application.id,
        actor_id=actor_id,
        before=before,
        after=snapshot(application),
    )
    return application


SELECTED_ANOTHER = "the campaign selected another consultant"


async def _close_others(
    session: AsyncSession, campaign_id: uuid.UUID, accepted_id: uuid.UUID, now: datetime
) -> None:
    """A consultant campaign selected its promoter: the other pending applications are
    rejected, saying so, and their open offers closed."""
    others = list(
        await session.scalars(
            update(CampaignApplication)
            .where(
                CampaignApplication.campaign_id == campaign_id,
                CampaignApplication.id != accepted_id,
                CampaignApplication.status == ApplicationStatus.PENDING.value,
            )
            .values(
                status=ApplicationStatus.REJECTED.value,
                reject_reason=SELECTED_ANOTHER,
                decided_at=now,
                updated_at=now,
            )
            .returning(CampaignApplication.id)
        )
    )
    if others:
        await session.execute(
            update(ApplicationOffer)
            .where(
                ApplicationOffer.application_id.in_(others),
                ApplicationOffer.status == OfferStatus.OPEN.value,
            )
            .values(status=OfferStatus.CLOSED.value, decided_at=now)
        )


async def reject(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> CampaignApplication:
    """The advertiser turns a pending application down, saying why."""
    _, application, party = await locked_application(session, application_id, advertiser_id)
    if party != OfferParty.ADVERTISER:
        raise Forbidden("only the campaign's advertiser rejects", code="not_the_advertiser")
    return await _close(
        session, application, ApplicationStatus.REJECTED, advertiser_id, now, reason
    )


async def withdraw(
    session: AsyncSession, *, application_id: uuid.UUID, promoter_id: uuid.UUID, now: datetime
) -> CampaignApplication:
    """The promoter withdraws a pending application."""
    _, application, party = await locked_application(session, application_id, promoter_id)
    if party != OfferParty.PROMOTER:
        raise Forbidden("only the applicant withdraws", code="not_the_applicant")
    return await _close(session, application, ApplicationStatus.WITHDRAWN, promoter_id, now, None)


async def _close(
    session: AsyncSession,
    application: CampaignApplication,
    status: ApplicationStatus,
    actor_id: uuid.UUID | None,
    now: datetime,
    reason: str | None,
) -> CampaignApplication:
    _refuse_decided(application)
    before = snapshot(application)
    await session.execute(
        update(ApplicationOffer)
        .where(
            ApplicationOffer.application_id == application.id,
            ApplicationOffer.status == OfferStatus.OPEN.value,
        )
        .values(status=OfferStatus.CLOSED.value, decided_at=now)
    )
    application.status = status.value
    application.reject_reason = reason
    application.decided_at = now
    application.updated_at = now
    await session.flush()
    await record_change(
        session,
        action=f"campaigns.application.{'reject' if status == 'rejected' else 'withdraw'}",
        entity_type="campaign_application",
        entity_id=application.id,
        actor_id=actor_id,
        before=before,
        after=snapshot(application),
    )
    return application


async def agree_to_close(
    session: AsyncSession, *, application_id: uuid.UUID, promoter_id: uuid.UUID, now: datetime
) -> CampaignApplication:
    """The selected promoter agrees that the campaign may complete below its `min_budget`
    (recorded; the advertiser can then end it)."""
    _, application, party = await locked_application(session, application_id, promoter_id)
    if party != OfferParty.PROMOTER:
        raise Forbidden("only the selected promoter agrees", code="not_the_applicant")
    if application.status != ApplicationStatus.ACCEPTED:
        raise CampaignConflict(
            "only an accepted application's promoter agrees to close",
            code="application_not_accepted",
        )
    if application.close_agreed_at is None:
        application.close_agreed_at = now
        application.updated_at = now
        await session.flush()
        await record_change(
            session,
            action="campaigns.application.agree_to_close",
            entity_type="campaign_application",
            entity_id=application.id,
            actor_id=promoter_id,
            after={"close_agreed_at": now.isoformat()},
        )
    return application
