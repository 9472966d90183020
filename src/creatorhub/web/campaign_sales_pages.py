"""The forms of salesman campaigns (issue 15): on the brand's campaign page the shop's webhook
secret (shown once, on the page the POST answers; replaced on a confirmed request) and the CSV
import of sales and refunds (the page the POST answers shows its report: recorded, duplicates,
and the refused lines with their reasons); on the creator's campaign page their coupon code.
What the pages show is `campaign_sales_view`'s (the brand's sales, totals and the webhook's
signing scheme; the creator's referral link, coupon and sales).

How the pages act and show a refusal is `campaign_work_pages`' (its docstring): the services
the API calls (`campaigns.sales.service`), never the API over HTTP, as the signed-in person; a
service's refusal (409 `coupon_taken`, 422 `coupon_invalid`, `csv_header_invalid`, ...) rolls
the request back and shows the campaign page again with the message at the top and what was
typed kept in the form, with the refusal's status; a missing or foreign campaign is 404.

The secret is never in a URL, a cookie or a redirect: it is on the one page the POST answers
(`Cache-Control: no-store`, as every page), and asked for again by the same POST.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from creatorhub.campaigns.sales import service as sales
from creatorhub.campaigns.service.participation import no_such_participation
from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Problem, Unprocessable
from creatorhub.kit.state import AppSettings
from creatorhub.web.acting import may_act
from creatorhub.web.campaign_pages import brand_campaign_page
from creatorhub.web.campaign_promoter_pages import creator_campaign_page
from creatorhub.web.campaign_work_pages import REFUSALS, act, message_of
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError
from creatorhub.web.session import FLASHES, SignedIn, page_role

router = APIRouter(include_in_schema=False)

Brand = Annotated[SignedIn, Depends(page_role(Role.BRAND))]
Creator = Annotated[SignedIn, Depends(page_role(Role.CREATOR))]
# The largest CSV the form takes (the import's 10,000 lines of a shop's orders fit well).
CSV_MAX_BYTES = 2 * 1024 * 1024
BRAND_PAGE = "/brand/campaigns/{campaign_id}"

FLASHES.update({"sales_coupon_set": ("ok", "Your coupon code is saved: share it.")})


# --- the brand ---------------------------------------------------------------------------------


async def _brand_answer(
    request: Request,
    me: SignedIn,
    session: DbSession,
    campaign_id: uuid.UUID,
    action: Callable[[], Awaitable[dict[str, Any]]],
    *,
    key: str,
) -> HTMLResponse:
    """The campaign page showing what `action` answered (a secret, an import's report); a
    refusal rolls it back and shows the page with its message at the form `key`."""
    may_act(me, moves_money=False)  # as the API: a brand's role, an active account
    try:
        shown = await action()
    except Problem as problem:
        if problem.status not in REFUSALS:
            raise
        await session.rollback()
        failed = {"key": key, "message": message_of(problem), "values": {}}
        raise PageError(
            await brand_campaign_page(
                request, campaign_id, me, session, failed=failed, status_code=problem.status
            )
        ) from None
    return await brand_campaign_page(request, campaign_id, me, session, shown=shown)


def _refusal(message: str) -> Unprocessable:
    """A form's own refusal, shown as the services' are (the forms' `validation_error`)."""
    return Unprocessable(message, code="validation_error")


@router.post(BRAND_PAGE + "/sales-webhook-secret", response_class=HTMLResponse)
async def reveal_secret(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    me: Brand,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    async def action() -> dict[str, Any]:
        secret = await sales.webhook_secret(
            session, settings, campaign_id=campaign_id, advertiser_id=me.principal.id, rotate=False
        )
        return {"secret": secret}

    return await _brand_answer(request, me, session, campaign_id, action, key="secret")


@router.post(BRAND_PAGE + "/sales-webhook-secret/rotate", response_class=HTMLResponse)
async def rotate_secret(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    me: Brand,
    session: DbSession,
    settings: AppSettings,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    async def action() -> dict[str, Any]:
        if confirm != "yes":
            raise _refusal("tick the box to confirm: the current secret stops working at once")
        secret = await sales.webhook_secret(
            session, settings, campaign_id=campaign_id, advertiser_id=me.principal.id, rotate=True
        )
        return {"secret": secret}

    return await _brand_answer(request, me, session, campaign_id, action, key="rotate")


@router.post(BRAND_PAGE + "/sales/import", response_class=HTMLResponse)
async def import_sales(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    me: Brand,
    session: DbSession,
    settings: AppSettings,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    async def action() -> dict[str, Any]:
        raw = await file.read(CSV_MAX_BYTES + 1) if file is not None else b""
        if not raw:
            raise _refusal("choose the CSV file of your sales to import")
        if len(raw) > CSV_MAX_BYTES:
            raise _refusal("the file is larger than 2 MB: import it in parts")
        try:
            text_body = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _refusal("the CSV must be UTF-8 text") from None
        report = await sales.import_csv(
            session,
            settings,
            campaign_id=campaign_id,
            advertiser_id=me.principal.id,
            text_body=text_body,
            now=utcnow(),
        )
        return {"report": report}

    return await _brand_answer(request, me, session, campaign_id, action, key="import")


# --- the creator -------------------------------------------------------------------------------


@router.post("/creator/campaigns/{campaign_id}/coupon")
async def set_coupon(
    request: Request,
    _: FormChecked,
    campaign_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    settings: AppSettings,
    code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    may_act(me, moves_money=False)  # as the API: a creator's role, an active account

    async def action() -> uuid.UUID:
        await sales.set_coupon(
            session, campaign_id=campaign_id, promoter_id=me.principal.id, code=code
        )
        return campaign_id

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
        flash="sales_coupon_set",
        key="coupon",
        values={"code": code},
        missing=no_such_participation,
    )
