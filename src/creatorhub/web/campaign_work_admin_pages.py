"""The administrators' page of consultant and seller disputes (issue 15): the deliverables
whose promoter contests a request for changes, oldest first, each with its works and a form
to decide it: pay it, pay part of it (the rest back to the campaign) or refund it, with a
note (audited). Linked from the money pages' navigation.

It reads `reads.disputed_deliverables` (one statement) and decides with `deliverables.resolve`,
as POST /v1/admin/campaign-deliverables/{id}/resolve does; a refusal (a decided dispute, a
partial amount out of range) shows the list again with the message at its dispute.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from creatorhub.campaigns.work.schemas import DisputedDeliverableOut, ResolutionIn
from creatorhub.campaigns.work.service import deliverables, reads
from creatorhub.db import DbSession
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Problem
from creatorhub.kit.state import AppSettings
from creatorhub.web.admin import Admin
from creatorhub.web.campaign_work_pages import (
    LISTED,
    REFUSALS,
    Currency,
    Reason,
    Short,
    checked,
    message_of,
    same_currency,
    shown,
    typed_amount,
)
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, render
from creatorhub.web.session import redirect

router = APIRouter(include_in_schema=False)


async def _disputes_page(
    request: Request,
    session: DbSession,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    items = await reads.disputed_deliverables(session, limit=LISTED)
    return render(
        request,
        "admin_campaign_disputes.html",
        status_code,
        **shown(
            disputes=[DisputedDeliverableOut.model_validate(i) for i in items],
            failed=failed or {},
        ),
    )


@router.get("/admin/campaign-disputes", response_class=HTMLResponse)
async def disputes_page(request: Request, me: Admin, session: DbSession) -> HTMLResponse:
    return await _disputes_page(request, session)


@router.post("/admin/campaign-disputes/{deliverable_id}/resolve")
async def resolve_dispute(
    request: Request,
    _: FormChecked,
    deliverable_id: uuid.UUID,
    me: Admin,
    session: DbSession,
    settings: AppSettings,
    decision: Short = "",
    amount: Short = "",
    note: Reason = "",
    currency: Currency = "",
) -> Response:
    """What POST /v1/admin/campaign-deliverables/{id}/resolve does, audited with the note."""
    try:
        partial = decision == "partial"
        body = checked(
            ResolutionIn,
            {
                "decision": decision,
                "amount": typed_amount(amount, currency) if partial else None,
                "note": note.strip(),
            },
        )
        done = await deliverables.resolve(
            session,
            settings,
            deliverable_id=deliverable_id,
            admin_id=me.principal.id,
            decision=body.decision,
            amount=body.amount,
            note=body.note,
            now=utcnow(),
        )
        if partial:
            await same_currency(session, done.campaign_id, currency)
    except Problem as problem:
        if problem.status not in REFUSALS:
            raise
        await session.rollback()
        failed = {
            "key": str(deliverable_id),
            "message": message_of(problem),
            "values": {"decision": decision, "amount": amount, "note": note},
        }
        raise PageError(
            await _disputes_page(request, session, failed=failed, status_code=problem.status)
        ) from None
    return redirect("/admin/campaign-disputes", flash="work_resolved", request=request)
