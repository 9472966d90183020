"""The creator's pages of consultant and seller work (issue 15): applying to a campaign from
its page, the negotiation's answers (accepting the brand's offer, countering, withdrawing),
agreeing to close below the minimum budget, the deliverables' steps (agreeing, submitting work,
disputing a request for changes), and the list of their applications.

How the pages read, act and show a refusal is `campaign_work_pages`' (its docstring): the
services the API calls, as the signed-in creator; a refusal shows the campaign page again
with the service's message and what was typed, with the refusal's status.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from creatorhub.campaigns.work.schemas import ApplicationIn, OfferIn, ReasonIn, WorkIn
from creatorhub.campaigns.work.service import applications, deliverables, reads
from creatorhub.campaigns.work.service.applications import no_such_application
from creatorhub.campaigns.work.service.deliverables import no_such_deliverable
from creatorhub.config import Settings
from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unprocessable
from creatorhub.kit.state import AppSettings
from creatorhub.web.acting import may_act
from creatorhub.web.campaign_promoter_pages import creator_campaign_page
from creatorhub.web.campaign_work_pages import (
    DELIVERABLE_FORMS,
    LISTED,
    Currency,
    Note,
    Reason,
    Short,
    act,
    checked,
    same_currency,
    shown,
    typed_amount,
)
from creatorhub.web.campaign_work_view import presented
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import render
from creatorhub.web.session import SignedIn, page_role

router = APIRouter(include_in_schema=False)

Creator = Annotated[SignedIn, Depends(page_role(Role.CREATOR))]


async def _creator_act(
    request: Request,
    me: SignedIn,
    session: DbSession,
    settings: Settings,
    campaign_id: uuid.UUID,
    action: Callable[[], Awaitable[uuid.UUID]],
    *,
    flash: str,
    key: str,
    values: dict[str, str] | None = None,
) -> Response:
    may_act(me, moves_money=False)  # as the API: a creator's role, an active account

    async def page(failed: dict[str, Any], status: int) -> HTMLResponse:
        return await creator_campaign_page(
            request, campaign_id, me, session, settings, failed=failed, status_code=status
        )

    return await act(
        request,
        session,
        action,
        campaign_id=campaign_id,
        page=page,
        back=f"/creator/campaigns/{campaign_id}",
        flash=flash,
        key=key,
        values=values,
        missing=no_such_deliverable if key.startswith(DELIVERABLE_FORMS) else no_such_application,
    )


CREATOR_APPLICATION = "/creator/campaigns/{campaign_id}/applications/{application_id}"
CREATOR_DELIVERABLE = "/creator/campaigns/{campaign_id}/deliverables/{deliverable_id}"


@router.post("/creator/campaigns/{campaign_id}/apply")
async def creator_apply(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
    amount: Short = "",
    note: Note = "",
    currency: Currency = "",
) -> Response:
    async def action() -> uuid.UUID:
        body = checked(
            ApplicationIn,
            {"proposed_rate": typed_amount(amount, currency, noun="proposed amount"), "note": note},
        )
        done = await applications.apply(
            session,
            campaign_id=campaign_id,
            promoter_id=me.principal.id,
            proposed_rate=body.proposed_rate,
            note=body.note.strip(),
            now=utcnow(),
        )
        await same_currency(session, done.campaign_id, currency)
        return done.campaign_id

    return await _creator_act(
        request,
        me,
        session,
        settings,
        campaign_id,
        action,
        flash="work_applied",
        key="apply",
        values={"amount": amount, "note": note},
    )


@router.post(CREATOR_APPLICATION + "/accept")
async def creator_accept(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    async def action() -> uuid.UUID:
        done = await applications.accept(
            session, application_id=application_id, actor_id=me.principal.id, now=utcnow()
        )
        return done.campaign_id

    return await _creator_act(
        request, me, session, settings, campaign_id, action, flash="work_accepted", key="accept"
    )


@router.post(CREATOR_APPLICATION + "/counter")
async def creator_counter(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
    amount: Short = "",
    note: Note = "",
    currency: Currency = "",
) -> Response:
    async def action() -> uuid.UUID:
        body = checked(OfferIn, {"amount": typed_amount(amount, currency), "note": note.strip()})
        done = await applications.counter(
            session,
            application_id=application_id,
            actor_id=me.principal.id,
            amount=body.amount,
            note=body.note,
            now=utcnow(),
        )
        await same_currency(session, done.campaign_id, currency)
        return done.campaign_id

    return await _creator_act(
        request,
        me,
        session,
        settings,
        campaign_id,
        action,
        flash="work_countered",
        key="counter",
        values={"amount": amount, "note": note},
    )


@router.post(CREATOR_APPLICATION + "/withdraw")
async def creator_withdraw(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    async def action() -> uuid.UUID:
        done = await applications.withdraw(
            session, application_id=application_id, promoter_id=me.principal.id, now=utcnow()
        )
        return done.campaign_id

    return await _creator_act(
        request, me, session, settings, campaign_id, action, flash="work_withdrawn", key="withdraw"
    )


@router.post(CREATOR_APPLICATION + "/agree-to-close")
async def creator_agree_to_close(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    async def action() -> uuid.UUID:
        done = await applications.agree_to_close(
            session, application_id=application_id, promoter_id=me.principal.id, now=utcnow()
        )
        return done.campaign_id

    return await _creator_act(
        request,
        me,
        session,
        settings,
        campaign_id,
        action,
        flash="work_close_agreed",
        key="close",
    )


@router.post(CREATOR_DELIVERABLE + "/agree")
async def creator_agree(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    deliverable_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    async def action() -> uuid.UUID:
        done = await deliverables.agree(
            session, deliverable_id=deliverable_id, promoter_id=me.principal.id, now=utcnow()
        )
        return done.campaign_id

    key = f"agree-{deliverable_id}"
    return await _creator_act(
        request, me, session, settings, campaign_id, action, flash="work_agreed", key=key
    )


@router.post(CREATOR_DELIVERABLE + "/works")
async def creator_submit_work(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    deliverable_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
    links: Annotated[str, Form(max_length=25_000)] = "",
    note: Note = "",
) -> Response:
    async def action() -> uuid.UUID:
        typed = [line.strip() for line in links.splitlines() if line.strip()]
        if not typed:
            raise Unprocessable("Enter at least one link to the work.", code="validation_error")
        body = checked(WorkIn, {"links": typed, "note": note.strip()})
        done = await deliverables.submit_work(
            session,
            deliverable_id=deliverable_id,
            promoter_id=me.principal.id,
            links=list(body.links),
            note=body.note,
            now=utcnow(),
        )
        return done.campaign_id

    return await _creator_act(
        request,
        me,
        session,
        settings,
        campaign_id,
        action,
        flash="work_submitted",
        key=f"work-{deliverable_id}",
        values={"links": links, "note": note},
    )


@router.post(CREATOR_DELIVERABLE + "/dispute")
async def creator_dispute(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    deliverable_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
    reason: Reason = "",
) -> Response:
    async def action() -> uuid.UUID:
        body = checked(ReasonIn, {"reason": reason.strip()})
        done = await deliverables.dispute(
            session,
            deliverable_id=deliverable_id,
            promoter_id=me.principal.id,
            reason=body.reason,
            now=utcnow(),
        )
        return done.campaign_id

    return await _creator_act(
        request,
        me,
        session,
        settings,
        campaign_id,
        action,
        flash="work_disputed",
        key=f"dispute-{deliverable_id}",
        values={"reason": reason},
    )


@router.get("/creator/campaign-applications", response_class=HTMLResponse)
async def my_applications(request: Request, me: Creator, session: DbSession) -> HTMLResponse:
    items = await reads.promoter_applications(session, me.principal.id, limit=LISTED)
    return render(
        request, "campaign_applications.html", **shown(applications=[presented(i) for i in items])
    )
