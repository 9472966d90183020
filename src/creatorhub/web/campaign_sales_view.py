"""What the salesman campaign pages show (issue 15), shared by the brand's campaign page
(`campaign_pages`), the creator's (`campaign_promoter_pages`) and the sales forms
(`campaign_sales_pages`), which import it (not each other): the new-campaign form's salesman
fields (the commission typed as a percentage, read in basis points), and each side's sales,
their totals and words.

Reads are the sales services' (`sales.service.campaign_sales`, `sales.page_reads`), never the
API over HTTP.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.campaigns.models import Campaign, PromoterCampaign, TrackingMethod
from creatorhub.campaigns.sales import page_reads
from creatorhub.campaigns.sales import service as sales
from creatorhub.campaigns.sales.models import SaleStatus
from creatorhub.config import Settings
from creatorhub.web.acting import minor_units, money
from creatorhub.web.render import render

# The sales a page lists, newest first (the totals count them all).
SALES_LISTED = 100

SALE_LABELS = {
    SaleStatus.PENDING.value: "Pending: in its refund window",
    SaleStatus.VERIFIED.value: "Verified: paid",
    SaleStatus.REVERSED.value: "Reversed: refunded",
    SaleStatus.OVER_BUDGET.value: "Over the budget: no commission",
    SaleStatus.CAMPAIGN_INACTIVE.value: "Campaign not active: no commission",
}
TRACKING_LABELS = {
    TrackingMethod.COUPON.value: "Coupon codes",
    TrackingMethod.REF_LINK.value: "Referral links",
}
ATTRIBUTION_LABELS = {"coupon": "coupon", "ref_link": "referral code"}
EVENT_FIELDS = (
    ("type", '"sale" or "refund"'),
    ("order_id", "your shop's order id, 1 to 200 characters, unique in the campaign"),
    ("amount", "the order's amount in minor units (cents), a whole number above zero"),
    ("currency", 'the campaign\'s currency, e.g. "USD"'),
    ("coupon", "the coupon code used (optional)"),
    ("ref", "the referral code your shop kept from the link's ref= (optional)"),
    ("occurred_at", "when the order was placed, ISO 8601 with a time zone (optional: now)"),
)


def percent(basis_points: int | None) -> str:
    """Basis points as people read a rate: 1250 -> `12.5 %`."""
    value = Decimal(basis_points or 0) / 100
    return f"{value.normalize():f} %"


def _commission_points(text: str) -> int:
    """A percentage typed with up to two decimals, in basis points (ValueError: why not)."""
    try:
        value = Decimal(text.strip().removesuffix("%").strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("Enter the commission as a percentage, e.g. 12.5.") from None
    if not value.is_finite() or not 0 < value <= 100:
        raise ValueError("Enter a commission above 0 and at most 100 %.")
    points = value * 100
    if points != points.to_integral_value():
        raise ValueError("A commission has at most two decimals, e.g. 12.25.")
    return int(points)


def salesman_fields(values: dict[str, str], body: dict[str, Any], errors: dict[str, str]) -> None:
    """The new-campaign form's salesman fields into the API's body (`commission_per_sale` in
    basis points, the budget in minor units); a message per field at fault."""
    try:
        body["commission_per_sale"] = _commission_points(values["commission"])
    except ValueError as error:
        errors["commission"] = str(error)
    method = values["tracking_method"].strip()
    if method in TRACKING_LABELS:
        body["tracking_method"] = method
    else:
        errors["tracking_method"] = "Choose how sales are traced to the promoters."
    shop = values["shop_url"].strip()
    body["destination_url"] = shop or None
    if not shop and method == TrackingMethod.REF_LINK.value:
        errors["shop_url"] = "Enter your shop's address: the referral links lead there."
    if "currency" not in errors:
        try:
            body["budget"] = minor_units(values["budget"], body["currency"], noun="budget")
        except ValueError as error:
            errors["budget"] = str(error)


def _sale_rows(found: list[Any]) -> list[dict[str, Any]]:
    return [sales.sale_out(sale) for sale in found]


async def brand_sales(
    request: Request,
    session: AsyncSession,
    campaign: Campaign,
    advertiser_id: uuid.UUID,
    shown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The brand's sales section: the latest sales, the totals and the webhook's facts;
    `shown` adds what a form just answered (a revealed `secret`, an import's `report`)."""
    settings: Settings = request.app.state.settings
    found = await sales.campaign_sales(session, campaign.id, advertiser_id, limit=SALES_LISTED)
    totals = await page_reads.sales_totals(session, campaign.id)
    return {
        "sales": _sale_rows(found),
        "totals": totals,
        "statuses": SaleStatus,
        "endpoint": f"{settings.link_base_url}/v1/campaigns/{campaign.id}/sales-events",
        "header": "Creatorhub-Signature",
        "event_fields": EVENT_FIELDS,
        "import_columns": ",".join(sales.IMPORT_COLUMNS),
        "tolerance": settings.webhook_tolerance_seconds,
        "refund_days": settings.campaign_sale_refund_window_days,
        "secret": None,
        "report": None,
        **(shown or {}),
    }


def counted(number: int) -> str:
    """`1 sale`, `2 sales`."""
    return f"{number} sale" if number == 1 else f"{number} sales"


def sales_words(**context: Any) -> dict[str, Any]:
    """The words every sales template reads, with `context`."""
    return {
        "money": money,
        "counted": counted,
        "percent": percent,
        "sale_labels": SALE_LABELS,
        "tracking_labels": TRACKING_LABELS,
        "attribution_labels": ATTRIBUTION_LABELS,
        **context,
    }


async def creator_sales_page(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    campaign: Campaign,
    participation: PromoterCampaign | None,
    *,
    failed: dict[str, Any],
    status_code: int,
    **context: Any,
) -> HTMLResponse:
    """The creator's page of a salesman campaign: its terms, and once joined their referral
    link, their coupon code and their sales (`failed`: the coupon form's refusal)."""
    found: list[Any] = []
    totals = None
    coupon = None
    link = None
    if participation is not None:
        link = f"{settings.link_base_url}/r/{participation.tracking_code}"
        coupon = await page_reads.coupon_of(session, participation.id)
        found = await page_reads.promoter_campaign_sales(
            session, campaign.id, participation.promoter_id, limit=SALES_LISTED
        )
        totals = await page_reads.sales_totals(
            session, campaign.id, promoter_id=participation.promoter_id
        )
    return render(
        request,
        "campaign_sales_creator.html",
        status_code,
        **sales_words(
            campaign=campaign,
            participation=participation,
            link=link,
            coupon=coupon,
            sales=_sale_rows(found),
            totals=totals,
            statuses=SaleStatus,
            failed=failed,
            coupon_shape=sales.COUPON_SHAPE,
            refund_days=settings.campaign_sale_refund_window_days,
            referral_days=settings.campaign_referral_window_days,
            **context,
        ),
    )
