"""Salesman campaign endpoints (issue 15): the shop's signed sales webhook, its secret, the
promoters' coupon codes and both parties' lists of sales."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from creatorhub.campaigns.sales import service
from creatorhub.campaigns.sales.service import SIGNATURE_HEADER
from creatorhub.db import DbSession
from creatorhub.identity.deps import require_roles
from creatorhub.identity.models import Role
from creatorhub.identity.schemas import RequestModel
from creatorhub.identity.service import Principal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import NotFound, Unprocessable, problem_responses
from creatorhub.kit.state import AppSettings

router = APIRouter(
    tags=["campaign sales"], responses=problem_responses(400, 401, 403, 404, 409, 422)
)

BrandPrincipal = Annotated[Principal, Depends(require_roles(Role.BRAND))]
CreatorPrincipal = Annotated[Principal, Depends(require_roles(Role.CREATOR))]
Limit = Annotated[int, Query(ge=1, le=500)]


class WebhookSecretOut(BaseModel):
    secret: str = Field(description="sign each event's body with it (see the sales webhook)")
    header: str = SIGNATURE_HEADER
    scheme: str = "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>"


class CouponIn(RequestModel):
    code: str = Field(min_length=1, max_length=64, description=service.COUPON_SHAPE)


class CouponOut(BaseModel):
    code: str


class SaleEventAnswer(BaseModel):
    order_id: str
    status: str
    commission: int
    duplicate: bool = Field(description="true: this order's event was recorded before")


class SaleOut(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    promoter_id: uuid.UUID | None
    order_id: str
    amount: int
    currency: str
    commission: int
    fee: int | None
    attributed_by: str | None
    code: str | None
    status: str
    occurred_at: datetime
    verify_after: datetime
    verified_at: datetime | None
    refunded_at: datetime | None


class SalesOut(BaseModel):
    items: list[SaleOut]


class RowRefusalOut(BaseModel):
    line: int
    code: str
    detail: str


class ImportReportOut(BaseModel):
    recorded: int
    duplicates: int = Field(description="orders recorded before: nothing changed")
    refused: list[RowRefusalOut] = Field(description="rows not recorded, each with its reason")


@router.post(
    "/v1/campaigns/{campaign_id}/sales-webhook-secret",
    response_model=WebhookSecretOut,
    summary="Your shop's secret for the sales webhook",
)
async def sales_webhook_secret(
    campaign_id: uuid.UUID,
    principal: BrandPrincipal,
    session: DbSession,
    settings: AppSettings,
    rotate: Annotated[bool, Query(description="replace it: the old one stops working")] = False,
) -> WebhookSecretOut:
    secret = await service.webhook_secret(
        session, settings, campaign_id=campaign_id, advertiser_id=principal.id, rotate=rotate
    )
    return WebhookSecretOut(secret=secret)


@router.post(
    "/v1/campaigns/{campaign_id}/sales-events",
    response_model=SaleEventAnswer,
    summary="The shop reports a sale or a refund (signed)",
)
async def sales_event(
    campaign_id: uuid.UUID, request: Request, session: DbSession, settings: AppSettings
) -> SaleEventAnswer:
    """Body: `{"type": "sale" | "refund", "order_id", "amount", "currency", "coupon"?, "ref"?,
    "occurred_at"?}`, signed in the `Creatorhub-Signature` header. An order's event recorded
    before answers 200 with `duplicate: true` and changes nothing."""
    payload = await request.body()
    answer = await service.record_event(
        session,
        settings,
        campaign_id=campaign_id,
        payload=payload,
        signature=request.headers.get(SIGNATURE_HEADER),
        now=utcnow(),
    )
    return SaleEventAnswer(**answer.__dict__)


@router.get("/r/{code}", include_in_schema=False)  # a link people follow, as /t/{code}
async def referral_link(
    code: Annotated[str, Path(max_length=64)], session: DbSession
) -> RedirectResponse:
    """Recorded, then on to the campaign's shop with `ref=<code>`; an unknown code is a 404."""
    destination = await service.follow_referral(session, code, utcnow())
    if destination is None:
        raise NotFound("this referral link does not exist")  # a page, as for /t/{code}
    return RedirectResponse(
        destination,
        status_code=302,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.put(
    "/v1/campaigns/{campaign_id}/coupon", response_model=CouponOut, summary="Your coupon code"
)
async def put_coupon(
    campaign_id: uuid.UUID, body: CouponIn, principal: CreatorPrincipal, session: DbSession
) -> CouponOut:
    """In a salesman campaign you joined; compared upper-cased; unique in the campaign."""
    code = await service.set_coupon(
        session, campaign_id=campaign_id, promoter_id=principal.id, code=body.code
    )
    return CouponOut(code=code)


@router.get(
    "/v1/campaigns/{campaign_id}/sales", response_model=SalesOut, summary="Your campaign's sales"
)
async def campaign_sales(
    campaign_id: uuid.UUID, principal: BrandPrincipal, session: DbSession, limit: Limit = 100
) -> SalesOut:
    sales = await service.campaign_sales(session, campaign_id, principal.id, limit=limit)
    return SalesOut(items=[SaleOut.model_validate(service.sale_out(s)) for s in sales])


@router.get(
    "/v1/campaign-sales", response_model=SalesOut, summary="Your sales and their commissions"
)
async def my_sales(principal: CreatorPrincipal, session: DbSession, limit: Limit = 100) -> SalesOut:
    """Pending in their refund window, verified (credited to your wallet), or reversed."""
    sales = await service.promoter_sales(session, principal.id, limit=limit)
    return SalesOut(items=[SaleOut.model_validate(service.sale_out(s)) for s in sales])


@router.post(
    "/v1/campaigns/{campaign_id}/sales/import",
    response_model=ImportReportOut,
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
    summary="Import your shop's sales and refunds (CSV)",
)
async def import_sales(
    campaign_id: uuid.UUID,
    request: Request,
    principal: BrandPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> ImportReportOut:
    """A header line naming `order_id,amount,currency` and any of `coupon,ref,occurred_at,type`
    (`sale` by default, or `refund`); up to 10,000 rows, each recorded as the webhook would
    record it. A refused row is reported with its line and code; the others are recorded."""
    raw = await request.body()
    try:
        text_body = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable("the CSV must be UTF-8", code="csv_not_utf8") from None
    report = await service.import_csv(
        session,
        settings,
        campaign_id=campaign_id,
        advertiser_id=principal.id,
        text_body=text_body,
        now=utcnow(),
    )
    return ImportReportOut(
        recorded=report.recorded,
        duplicates=report.duplicates,
        refused=[RowRefusalOut(**r.__dict__) for r in report.refused],
    )
