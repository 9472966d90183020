"""The pages of consultant and seller work (issue 15): on the brand's campaign page its
applications (the negotiation's offers, accepting, countering, rejecting) and the accepted
ones' deliverables (proposing, cancelling, approving, asking for changes): this module, with
what the work pages share; on the creator's campaign page their application and its
deliverables, and the list of their applications (`campaign_work_promoter_pages`); the
administrators' disputes, each with its decision (`campaign_work_admin_pages`).

The pages show what `campaigns.work.service.reads` reads (one statement per page) and act with
the services the API calls (`applications`, `deliverables`), never the API over HTTP, as the
signed-in person. A service's refusal (403, 409, 422: an amount outside the range, an offer
that waits for the other party, a second approval, ...) rolls the request back and shows the
page again with the service's message at the top and what was typed kept in the form, with
the refusal's status; a missing or foreign record is 404, as everywhere.

Amounts are typed in the campaign's currency (`12.50`); the form carries the currency it was
shown in, checked against the campaign's once the service has locked it (the row is then in
the session: no statement more), so an amount is never read in another currency's units.

Double submission: every step is guarded by the service's state check under the campaign's
row lock (approving an approved deliverable is 409 `already_approved`, accepting a decided
application 409 `application_decided`), so a second click pays or commits nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from creatorhub.campaigns.models import Campaign
from creatorhub.campaigns.work.schemas import (
    DeliverableIn,
    OfferIn,
    ReasonIn,
)
from creatorhub.campaigns.work.service import applications, deliverables
from creatorhub.campaigns.work.service.applications import no_such_application
from creatorhub.campaigns.work.service.deliverables import no_such_deliverable
from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Problem, Unprocessable
from creatorhub.kit.state import AppSettings
from creatorhub.payments.schemas import check_currency
from creatorhub.web.acting import field_errors, may_act, minor_units
from creatorhub.web.campaign_pages import STATUS_LABELS, brand_campaign_page, when
from creatorhub.web.campaign_work_view import words
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

Brand = Annotated[SignedIn, Depends(page_role(Role.BRAND))]
Creator = Annotated[SignedIn, Depends(page_role(Role.CREATOR))]
Short = Annotated[str, Form(max_length=200)]
Note = Annotated[str, Form(max_length=5000)]
Reason = Annotated[str, Form(max_length=2000)]
Currency = Annotated[str, Form(max_length=3)]
# A service's answer shown on the page again (not a missing record, not a failure).
REFUSALS = (403, 409, 422)
LISTED = 100  # applications and disputes a list shows (the API's limit)
M = TypeVar("M", bound=BaseModel)

FLASHES.update(
    {
        "work_applied": ("ok", "Your application is sent: the brand answers your proposal."),
        "work_countered": ("ok", "Your counter-offer is sent: it waits for the other party."),
        "work_accepted": ("ok", "The offer is accepted: the application is accepted at it."),
        "work_rejected": ("ok", "The application is rejected; the promoter sees your reason."),
        "work_withdrawn": ("ok", "Your application is withdrawn."),
        "work_close_agreed": (
            "ok",
            "You agreed that the campaign may close below its minimum budget.",
        ),
        "work_proposed": ("ok", "The deliverable is proposed: the promoter agrees to it."),
        "work_agreed": ("ok", "You agreed: its amount is held on the campaign for you."),
        "work_cancelled": ("ok", "The deliverable is cancelled; its amount is released."),
        "work_submitted": ("ok", "Your work is submitted for review."),
        "work_approved": ("ok", "The work is approved and paid to the promoter."),
        "work_changes_requested": ("ok", "The promoter is asked for changes."),
        "work_disputed": ("ok", "Your dispute is sent: an administrator decides it."),
        "work_resolved": ("ok", "The dispute is decided; the money has moved."),
    }
)


def shown(**context: Any) -> dict[str, Any]:
    """What every work template reads besides its own figures."""
    return words(when=when, labels=STATUS_LABELS, **context)


# The services' messages that name amounts in minor units, in the page's words instead.
PAGE_MESSAGES = {
    "rate_out_of_range": "This amount is outside the campaign's range (its terms say which).",
    "over_max_budget": "This amount is more than what is left of the campaign's maximum budget.",
    "over_agreed_amount": "This amount is more than what is left of the agreed amount.",
    "partial_amount_invalid": (
        "A partial payment is more than zero and less than the deliverable's amount; pay all"
        " of it or refund it otherwise."
    ),
}


def message_of(problem: Problem) -> str:
    """What the page says of a service's refusal."""
    return PAGE_MESSAGES.get(problem.code or "", sentence(problem.detail))


def sentence(text: str | None) -> str:
    text = (text or "This cannot be done now.").strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def checked(model: type[M], body: dict[str, Any]) -> M:
    """The form as the API's request model, or a 422 with the first field's message."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        field, message = next(iter(field_errors(error).items()))
        raise Unprocessable(message, code="validation_error", field=f"body.{field}") from None


def typed_amount(text: str, currency: str, *, noun: str = "amount") -> int:
    try:
        return minor_units(text, check_currency(currency.strip().upper()), noun=noun)
    except ValueError as error:
        raise Unprocessable(sentence(str(error)), code="validation_error") from None


async def same_currency(session: DbSession, campaign_id: uuid.UUID, currency: str) -> None:
    """The form's amounts were read in `currency`: the campaign's (locked by the service, so
    in the session: `get` sends nothing)."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.currency != currency.strip().upper():
        raise Unprocessable(
            "the form's currency is not the campaign's: reload the page", code="currency_mismatch"
        )


def due_day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()  # noqa: DTZ007 - a day, read as UTC
    except ValueError:
        raise Unprocessable("Choose the due date as a day.", code="validation_error") from None


Page = Callable[[dict[str, Any], int], Awaitable[HTMLResponse]]


async def act(
    request: Request,
    session: DbSession,
    action: Callable[[], Awaitable[uuid.UUID]],
    *,
    campaign_id: uuid.UUID,
    page: Page,
    back: str,
    flash: str,
    key: str,
    values: dict[str, str] | None = None,
    missing: Callable[[], Problem] = no_such_application,
) -> Response:
    """Run `action` (which answers the campaign it acted on); a refusal rolls it back and shows
    `page` again with the message and what was typed at the form `key`."""
    try:
        acted_on = await action()
        if acted_on != campaign_id:  # a record of another campaign, under this one's path
            raise missing()
    except Problem as problem:
        if problem.status not in REFUSALS:
            raise
        await session.rollback()
        failed = {"key": key, "message": message_of(problem), "values": values or {}}
        raise PageError(await page(failed, problem.status)) from None
    return redirect(back, flash=flash, request=request)


# --- the brand ---------------------------------------------------------------------------------


def _brand(request: Request, campaign_id: uuid.UUID, me: SignedIn, session: DbSession) -> Page:
    async def page(failed: dict[str, Any], status: int) -> HTMLResponse:
        return await brand_campaign_page(
            request, campaign_id, me, session, failed=failed, status_code=status
        )

    return page


async def _brand_act(
    request: Request,
    me: SignedIn,
    session: DbSession,
    campaign_id: uuid.UUID,
    action: Callable[[], Awaitable[uuid.UUID]],
    *,
    flash: str,
    key: str,
    values: dict[str, str] | None = None,
) -> Response:
    may_act(me, moves_money=False)  # as the API: a brand's role, an active account
    return await act(
        request,
        session,
        action,
        campaign_id=campaign_id,
        page=_brand(request, campaign_id, me, session),
        back=f"/brand/campaigns/{campaign_id}",
        flash=flash,
        key=key,
        values=values,
        missing=no_such_deliverable if key.startswith(DELIVERABLE_FORMS) else no_such_application,
    )


# The forms acting on a deliverable (their keys' prefixes): a record of another campaign under
# this one's path is a deliverable not found.
DELIVERABLE_FORMS = ("cancel-", "approve-", "changes-", "agree-", "work-", "dispute-")
BRAND_APPLICATION = "/brand/campaigns/{campaign_id}/applications/{application_id}"
BRAND_DELIVERABLE = "/brand/campaigns/{campaign_id}/deliverables/{deliverable_id}"


@router.post(BRAND_APPLICATION + "/accept")
async def brand_accept(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Brand,
    session: DbSession,
) -> Response:
    async def action() -> uuid.UUID:
        done = await applications.accept(
            session, application_id=application_id, actor_id=me.principal.id, now=utcnow()
        )
        return done.campaign_id

    key = f"accept-{application_id}"
    return await _brand_act(
        request, me, session, campaign_id, action, flash="work_accepted", key=key
    )


@router.post(BRAND_APPLICATION + "/counter")
async def brand_counter(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Brand,
    session: DbSession,
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

    return await _brand_act(
        request,
        me,
        session,
        campaign_id,
        action,
        flash="work_countered",
        key=f"counter-{application_id}",
        values={"amount": amount, "note": note},
    )


@router.post(BRAND_APPLICATION + "/reject")
async def brand_reject(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Brand,
    session: DbSession,
    reason: Reason = "",
) -> Response:
    async def action() -> uuid.UUID:
        body = checked(ReasonIn, {"reason": reason.strip()})
        done = await applications.reject(
            session,
            application_id=application_id,
            advertiser_id=me.principal.id,
            reason=body.reason,
            now=utcnow(),
        )
        return done.campaign_id

    return await _brand_act(
        request,
        me,
        session,
        campaign_id,
        action,
        flash="work_rejected",
        key=f"reject-{application_id}",
        values={"reason": reason},
    )


@router.post(BRAND_APPLICATION + "/deliverables")
async def brand_propose(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    application_id: uuid.UUID,
    me: Brand,
    session: DbSession,
    title: Short = "",
    amount: Short = "",
    due_on: Short = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
    currency: Currency = "",
) -> Response:
    async def action() -> uuid.UUID:
        body = checked(
            DeliverableIn,
            {
                "title": title.strip(),
                "description": description.strip(),
                "due_date": due_day(due_on),
                "amount": typed_amount(amount, currency),
            },
        )
        done = await deliverables.propose(
            session,
            application_id=application_id,
            advertiser_id=me.principal.id,
            title=body.title,
            description=body.description,
            due_date=body.due_date,
            amount=body.amount,
            now=utcnow(),
        )
        await same_currency(session, done.campaign_id, currency)
        return done.campaign_id

    values = {"title": title, "amount": amount, "due_on": due_on, "description": description}
    return await _brand_act(
        request,
        me,
        session,
        campaign_id,
        action,
        flash="work_proposed",
        key=f"propose-{application_id}",
        values=values,
    )


@router.post(BRAND_DELIVERABLE + "/cancel")
async def brand_cancel(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    deliverable_id: uuid.UUID,
    me: Brand,
    session: DbSession,
) -> Response:
    async def action() -> uuid.UUID:
        done = await deliverables.cancel(
            session, deliverable_id=deliverable_id, advertiser_id=me.principal.id, now=utcnow()
        )
        return done.campaign_id

    key = f"cancel-{deliverable_id}"
    return await _brand_act(
        request, me, session, campaign_id, action, flash="work_cancelled", key=key
    )


@router.post(BRAND_DELIVERABLE + "/approve")
async def brand_approve(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    deliverable_id: uuid.UUID,
    me: Brand,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    async def action() -> uuid.UUID:
        done = await deliverables.approve(
            session,
            settings,
            deliverable_id=deliverable_id,
            advertiser_id=me.principal.id,
            now=utcnow(),
        )
        return done.campaign_id

    key = f"approve-{deliverable_id}"
    return await _brand_act(
        request, me, session, campaign_id, action, flash="work_approved", key=key
    )


@router.post(BRAND_DELIVERABLE + "/request-changes")
async def brand_request_changes(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    deliverable_id: uuid.UUID,
    me: Brand,
    session: DbSession,
    reason: Reason = "",
) -> Response:
    async def action() -> uuid.UUID:
        body = checked(ReasonIn, {"reason": reason.strip()})
        done = await deliverables.request_changes(
            session,
            deliverable_id=deliverable_id,
            advertiser_id=me.principal.id,
            reason=body.reason,
            now=utcnow(),
        )
        return done.campaign_id

    return await _brand_act(
        request,
        me,
        session,
        campaign_id,
        action,
        flash="work_changes_requested",
        key=f"changes-{deliverable_id}",
        values={"reason": reason},
    )
