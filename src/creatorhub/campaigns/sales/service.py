"""Salesman campaigns' workflows (issue 15): the shop's webhook secret, promoters' coupon
codes, sales and refunds reported by the signed webhook, and the verification of commissions
once their refund window has passed.

Sales webhook (`POST /v1/campaigns/{id}/sales-events`): the body is signed like the sandbox
provider's events (`Creatorhub-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
with the campaign's secret; `webhook_tolerance_seconds` apart from now at most). An event is
a `sale` or a `refund` of the shop's order id: the order id is unique per campaign, so a
replayed or retried event is answered 200 with `duplicate: true` and changes nothing, and a
refund that arrives before its sale is recorded (reversed) so that the sale, arriving later,
pays nothing. A sale is traced to a promoter by their coupon code or their referral code (their
participation's tracking code); its commission is `amount * commission_per_sale // 10000`.

Referral links (`GET /r/{code}`): each click is recorded and the visitor sent to the campaign's
destination with `ref=<code>` added; the shop keeps the code in its own (first-party) cookie,
the last click's code replacing an earlier one, and reports it with the sale. A referral code
counts when its link was clicked in the referral window (30 days) before the sale.

Locks: the campaign row FOR UPDATE first (a campaign's sales are recorded one at a time: its
escrow's unreserved balance, read under that lock, decides whether a commission fits), then
the sale, then the ledger.
"""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.campaigns.models import (
    Campaign,
    CampaignBudgetAllocation,
    CampaignStatus,
    CampaignType,
    ParticipationStatus,
    PauseReason,
    PromoterCampaign,
)
from creatorhub.campaigns.sales.models import (
    Attribution,
    CouponCode,
    ReferralClick,
    SalesRecord,
    SaleStatus,
    SalesWebhookSecret,
)
from creatorhub.campaigns.service.common import (
    ENDED,
    CampaignConflict,
    lock_campaign,
    lock_own_campaign,
    no_such_campaign,
)
from creatorhub.campaigns.service.lifecycle import pause_for_budget, unreserved_escrow
from creatorhub.campaigns.service.participation import no_such_participation
from creatorhub.config import Settings
from creatorhub.db import Database, is_unique_violation
from creatorhub.kit.crypto import keyring_from_settings
from creatorhub.kit.errors import BadRequest, Problem, Unprocessable
from creatorhub.ledger import service as ledger
from creatorhub.ledger.models import AccountKind
from creatorhub.payments.earnings import pay_earnings
from creatorhub.payments.providers.base import WebhookSignatureError, WebhookStaleError
from creatorhub.payments.providers.sandbox import check_signature

COMMISSION_KIND = "campaign_commission"  # the fee rule (10 % by default) and the ledger kind
SIGNATURE_HEADER = "creatorhub-signature"
COUPON_SHAPE = "3 to 32 letters, digits, '-' or '_'"


def commission_of(amount: int, basis_points: int) -> int:
    """The commission on a sale, in minor units: the fraction of a cent stays the advertiser's."""
    return amount * basis_points // 10_000


def _refuse_not_salesman(campaign: Campaign) -> None:
    if campaign.type != CampaignType.SALESMAN:
        raise CampaignConflict(
            f"a {campaign.type} campaign has no sales", code="not_a_salesman_campaign"
        )


def _aad(campaign_id: uuid.UUID) -> bytes:
    return f"campaigns.sales_webhook_secrets:{campaign_id}".encode()


# --- the shop's secret ------------------------------------------------------------------------


async def webhook_secret(
    session: AsyncSession,
    settings: Settings,
    *,
    campaign_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    rotate: bool,
) -> str:
    """The secret the campaign's shop signs sales events with: made on the first call, a new
    one when `rotate` (the old one stops working at once)."""
    campaign = await lock_own_campaign(session, campaign_id, advertiser_id)
    _refuse_not_salesman(campaign)
    keyring = keyring_from_settings(settings)
    stored = await session.get(SalesWebhookSecret, campaign.id, with_for_update=True)
    if stored is not None and not rotate:
        return keyring.open(stored.secret_ciphertext, stored.key_id, aad=_aad(campaign.id))
    secret = "whsec_" + secrets.token_urlsafe(32)
    sealed, key_id = keyring.seal(secret, aad=_aad(campaign.id))
    await session.execute(
        insert(SalesWebhookSecret)
        .values(campaign_id=campaign.id, secret_ciphertext=sealed, key_id=key_id)
        .on_conflict_do_update(
            index_elements=[SalesWebhookSecret.campaign_id],
            set_={"secret_ciphertext": sealed, "key_id": key_id},
        )
    )
    return secret


# --- coupons ----------------------------------------------------------------------------------


async def set_coupon(
    session: AsyncSession, *, campaign_id: uuid.UUID, promoter_id: uuid.UUID, code: str
) -> str:
    """The promoter's coupon code in a salesman campaign they joined (replacing theirs): 422
    `coupon_invalid` for a bad shape, 409 `coupon_taken` when another promoter has it."""
    normalized = code.strip().upper()
    if not 3 <= len(normalized) <= 32 or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in normalized
    ):
        raise Unprocessable(
            f"a coupon code is {COUPON_SHAPE}", code="coupon_invalid", field="body.code"
        )
    row = (
        await session.execute(
            select(Campaign, PromoterCampaign)
            .join(PromoterCampaign, PromoterCampaign.campaign_id == Campaign.id)
            .where(Campaign.id == campaign_id, PromoterCampaign.promoter_id == promoter_id)
            .with_for_update(of=PromoterCampaign)
        )
    ).one_or_none()
    if row is None:
        raise no_such_participation()
    campaign, participation = row[0], row[1]
    _refuse_not_salesman(campaign)
    if campaign.status in ENDED:
        raise CampaignConflict("the campaign has ended", code="campaign_ended")
    if participation.status != ParticipationStatus.ACTIVE:
        raise CampaignConflict("you are not in this campaign", code="not_joined")
    try:
        async with session.begin_nested():
            await session.execute(
                insert(CouponCode)
                .values(
                    promoter_campaign_id=participation.id,
                    campaign_id=campaign.id,
                    code=normalized,
                )
                .on_conflict_do_update(
                    index_elements=[CouponCode.promoter_campaign_id], set_={"code": normalized}
                )
            )
    except IntegrityError as error:
        if is_unique_violation(error, "uq_coupon_codes_code"):
            raise CampaignConflict(
                f"the coupon code {normalized} is taken in this campaign", code="coupon_taken"
            ) from error
        raise
    return normalized


# --- the webhook ------------------------------------------------------------------------------


class SaleEvent(BaseModel):
    """One event of the shop: a sale, or the refund of one."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["sale", "refund"]
    order_id: str = Field(min_length=1, max_length=200)
    amount: int = Field(strict=True, gt=0, le=10**13)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    coupon: str | None = Field(default=None, max_length=64)
    ref: str | None = Field(default=None, max_length=64)
    occurred_at: AwareDatetime | None = None


@dataclass(frozen=True)
class SaleAnswer:
    order_id: str
    status: str
    commission: int
    duplicate: bool


async def _secret_of(session: AsyncSession, settings: Settings, campaign_id: uuid.UUID) -> str:
    stored = await session.get(SalesWebhookSecret, campaign_id)
    if stored is None:
        # No secret yet: nothing can be signed with it. The same answer as a bad signature.
        raise BadRequest("the signature does not match", code="signature_invalid")
    return keyring_from_settings(settings).open(
        stored.secret_ciphertext, stored.key_id, aad=_aad(campaign_id)
    )


def parse_event(payload: bytes) -> SaleEvent:
    try:
        return SaleEvent.model_validate_json(payload)
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in error.errors())
        raise Unprocessable(
            f"the event is not a sale or refund this endpoint reads ({fields})",
            code="sale_event_invalid",
        ) from None


async def record_event(
    session: AsyncSession,
    settings: Settings,
    *,
    campaign_id: uuid.UUID,
    payload: bytes,
    signature: str | None,
    now: datetime,
) -> SaleAnswer:
    """Check the event's signature, then record the sale or refund it reports (see the
    module's docstring). Refusals change nothing: 400 `signature_invalid` or
    `timestamp_stale`, 422 `sale_event_invalid`, `currency_mismatch` or `code_unknown`."""
    if await session.scalar(select(Campaign.type).where(Campaign.id == campaign_id)) is None:
        raise no_such_campaign()
    secret = await _secret_of(session, settings, campaign_id)
    try:
        check_signature(
            secret,
            payload,
            signature,
            now=now,
            tolerance_seconds=settings.webhook_tolerance_seconds,
            header_name=SIGNATURE_HEADER,
        )
    except WebhookStaleError as error:
        raise BadRequest(str(error), code="timestamp_stale") from None
    except WebhookSignatureError as error:
        raise BadRequest(str(error), code="signature_invalid") from None
    event = parse_event(payload)
    campaign = await lock_campaign(session, campaign_id)
    _refuse_not_salesman(campaign)
    return await apply_event(session, settings, campaign, event, now)


async def apply_event(
    session: AsyncSession, settings: Settings, campaign: Campaign, event: SaleEvent, now: datetime
) -> SaleAnswer:
    """Record one sale or refund of the locked salesman campaign (the webhook's and the CSV
    import's common step)."""
    if event.currency != campaign.currency:
        raise Unprocessable(
            f"the campaign's sales are in {campaign.currency}", code="currency_mismatch"
        )
    existing = await session.scalar(
        select(SalesRecord)
        .where(SalesRecord.campaign_id == campaign.id, SalesRecord.order_id == event.order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if event.type == "refund":
        return await _refund(session, campaign, existing, event, now)
    if existing is not None:
        return _answer(existing, duplicate=True)
    return await _sale(session, settings, campaign, event, now)


# --- CSV import -------------------------------------------------------------------------------

IMPORT_COLUMNS = ("order_id", "amount", "currency", "coupon", "ref", "occurred_at", "type")
IMPORT_MAX_ROWS = 10_000


@dataclass(frozen=True)
class RowRefusal:
    line: int
    code: str
    detail: str


@dataclass(frozen=True)
class ImportReport:
    recorded: int
    duplicates: int
    refused: list[RowRefusal]


def _rows(text_body: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text_body))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = {"order_id", "amount", "currency"} - set(header)
    unknown = set(header) - set(IMPORT_COLUMNS)
    if missing or unknown:
        raise Unprocessable(
            "the CSV's header names the columns "
            + ", ".join(IMPORT_COLUMNS)
            + " (order_id, amount and currency required)"
            + (f"; missing: {', '.join(sorted(missing))}" if missing else "")
            + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""),
            code="csv_header_invalid",
        )
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        if len(rows) >= IMPORT_MAX_ROWS:
            raise Unprocessable(
                f"at most {IMPORT_MAX_ROWS} rows per import", code="csv_too_many_rows"
            )
        cleaned = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        rows.append((reader.line_num, cleaned))
    return rows


def _event_of(row: dict[str, str]) -> SaleEvent:
    try:
        amount = int(row.get("amount", ""))
    except ValueError:
        amount = 0  # refused below with the other faults of the row
    return SaleEvent.model_validate(
        {
            "type": row.get("type") or "sale",
            "order_id": row.get("order_id", ""),
            "amount": amount,
            "currency": row.get("currency", ""),
            "coupon": row.get("coupon") or None,
            "ref": row.get("ref") or None,
            "occurred_at": row.get("occurred_at") or None,
        }
    )


async def import_csv(
    session: AsyncSession,
    settings: Settings,
    *,
    campaign_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    text_body: str,
    now: datetime,
) -> ImportReport:
    """The advertiser's CSV of sales and refunds (columns `IMPORT_COLUMNS`, a header line
    first; `type` defaults to sale), each row applied as a webhook event would be, in a
    savepoint of its own: a refused row is reported with its line and code and changes
    nothing, the others are recorded; an order recorded before counts as a duplicate."""
    campaign = await lock_own_campaign(session, campaign_id, advertiser_id)
    _refuse_not_salesman(campaign)
    recorded = duplicates = 0
    refused: list[RowRefusal] = []
    for line, row in _rows(text_body):
        try:
            event = _event_of(row)
        except ValidationError as error:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
            refused.append(RowRefusal(line, "sale_event_invalid", f"invalid: {fields}"))
            continue
        try:
            async with session.begin_nested():
                answer = await apply_event(session, settings, campaign, event, now)
        except Problem as problem:
            refused.append(RowRefusal(line, problem.code, problem.detail or ""))
            continue
        if answer.duplicate:
            duplicates += 1
        else:
            recorded += 1
    return ImportReport(recorded, duplicates, refused)


def _answer(sale: SalesRecord, *, duplicate: bool) -> SaleAnswer:
    return SaleAnswer(sale.order_id, sale.status, sale.commission, duplicate)


async def _clicked_within(
    session: AsyncSession, promoter_campaign_id: uuid.UUID, at: datetime, window: timedelta
) -> bool:
    clicked = await session.scalar(
        select(ReferralClick.id)
        .where(
            ReferralClick.promoter_campaign_id == promoter_campaign_id,
            ReferralClick.clicked_at <= at,
            ReferralClick.clicked_at >= at - window,
        )
        .limit(1)
    )
    return clicked is not None


async def _attributed(
    session: AsyncSession,
    campaign: Campaign,
    event: SaleEvent,
    occurred_at: datetime,
    window: timedelta,
) -> tuple[PromoterCampaign, Attribution, str]:
    """The participation the sale's coupon (first) or referral code names; a referral code
    counts when its link was clicked in the window before the sale (422 `referral_expired`)."""
    if event.coupon:
        code = event.coupon.strip().upper()
        found = await session.scalar(
            select(PromoterCampaign)
            .join(CouponCode, CouponCode.promoter_campaign_id == PromoterCampaign.id)
            .where(CouponCode.campaign_id == campaign.id, CouponCode.code == code)
        )
        if found is not None:
            return found, Attribution.COUPON, code
    if event.ref:
        found = await session.scalar(
            select(PromoterCampaign).where(
                PromoterCampaign.campaign_id == campaign.id,
                PromoterCampaign.tracking_code == event.ref,
            )
        )
        if found is not None:
            if not await _clicked_within(session, found.id, occurred_at, window):
                raise Unprocessable(
                    "this referral link was not clicked in the referral window before the sale",
                    code="referral_expired",
                )
            return found, Attribution.REF_LINK, event.ref
    raise Unprocessable(
        "neither the coupon nor the referral code is a promoter's in this campaign",
        code="code_unknown",
    )


async def _sale(
    session: AsyncSession, settings: Settings, campaign: Campaign, event: SaleEvent, now: datetime
) -> SaleAnswer:
    occurred_at = min(event.occurred_at or now, now)  # a shop's clock ahead of ours: now
    window = timedelta(days=settings.campaign_referral_window_days)
    participation, attribution, code = await _attributed(
        session, campaign, event, occurred_at, window
    )
    assert campaign.commission_per_sale is not None
    commission = commission_of(event.amount, campaign.commission_per_sale)
    status = SaleStatus.PENDING
    hold_id = None
    sale_id = uuid.uuid4()  # named before the hold, which refers to it
    if (
        campaign.status != CampaignStatus.ACTIVE
        or participation.status != ParticipationStatus.ACTIVE
    ):
        status, commission = SaleStatus.CAMPAIGN_INACTIVE, 0
    elif commission > 0:
        if await unreserved_escrow(session, campaign) < commission:
            # Budget control: nothing is spent past what was funded; the campaign says why.
            status, commission = SaleStatus.OVER_BUDGET, 0
            await pause_for_budget(session, campaign, PauseReason.BUDGET_SPENT.value, now)
        else:
            wallet = await ledger.user_account(
                session, participation.promoter_id, campaign.currency, AccountKind.WALLET_AVAILABLE
            )
            hold = await ledger.create_hold(
                session,
                debit_account_id=campaign.escrow_account_id,
                credit_account_id=wallet,
                amount=commission,
                kind=COMMISSION_KIND,
                idempotency_key=f"campaigns:sale:{campaign.id}:{event.order_id}:hold",
                currency=campaign.currency,
                reference_type="sales_record",
                reference_id=str(sale_id),
            )
            hold_id = hold.hold_id
            await session.execute(
                update(PromoterCampaign)
                .where(PromoterCampaign.id == participation.id)
                .values(budget_held=PromoterCampaign.budget_held + commission)
            )
    sale = SalesRecord(
        id=sale_id,
        campaign_id=campaign.id,
        promoter_campaign_id=participation.id,
        promoter_id=participation.promoter_id,
        order_id=event.order_id,
        amount=event.amount,
        currency=event.currency,
        commission=commission,
        attributed_by=attribution.value,
        code=code,
        status=status.value,
        hold_id=hold_id,
        occurred_at=occurred_at,
        verify_after=now + timedelta(days=settings.campaign_sale_refund_window_days),
    )
    session.add(sale)
    await session.flush()
    return _answer(sale, duplicate=False)


async def _refund(
    session: AsyncSession,
    campaign: Campaign,
    sale: SalesRecord | None,
    event: SaleEvent,
    now: datetime,
) -> SaleAnswer:
    """A refund: in its window the commission's hold is voided (`reversed`); after it the sale
    keeps its status (the commission is the promoter's); before its sale, a record of it."""
    if sale is None:
        sale = SalesRecord(
            campaign_id=campaign.id,
            order_id=event.order_id,
            amount=event.amount,
            currency=event.currency,
            commission=0,
            status=SaleStatus.REVERSED.value,
            occurred_at=min(event.occurred_at or now, now),
            verify_after=now,
            refunded_at=now,
        )
        session.add(sale)
        await session.flush()
        return _answer(sale, duplicate=False)
    if sale.refunded_at is not None:
        return _answer(sale, duplicate=True)
    if sale.status == SaleStatus.PENDING:
        if sale.hold_id is not None:
            await ledger.void_hold(session, sale.hold_id)
            await session.execute(
                update(PromoterCampaign)
                .where(PromoterCampaign.id == sale.promoter_campaign_id)
                .values(budget_held=PromoterCampaign.budget_held - sale.commission)
            )
        sale.status = SaleStatus.REVERSED.value
        sale.commission = 0
    sale.refunded_at = now
    await session.flush()
    return _answer(sale, duplicate=False)


# --- referral links ---------------------------------------------------------------------------

_REFERRAL_CLICK = text(
    "WITH link AS (SELECT p.id, c.destination_url FROM campaigns.promoter_campaigns AS p"
    " JOIN campaigns.campaigns AS c ON c.id = p.campaign_id"
    " WHERE p.tracking_code = :code AND c.type = 'salesman' AND c.destination_url IS NOT NULL),"
    " clicked AS (INSERT INTO campaigns.referral_clicks (promoter_campaign_id, clicked_at)"
    " SELECT link.id, :now FROM link RETURNING promoter_campaign_id)"
    " SELECT link.destination_url FROM link"
)


async def follow_referral(session: AsyncSession, code: str, now: datetime) -> str | None:
    """Record a click of the referral link `code` and answer where it leads: the campaign's
    destination with `ref=<code>` added, for the shop to keep in its own cookie (None: no
    salesman campaign's link; nothing recorded). One statement."""
    destination = await session.scalar(_REFERRAL_CLICK, {"code": code, "now": now})
    if destination is None:
        return None
    parts = urlsplit(destination)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("ref", code)])
    return str(urlunsplit(parts._replace(query=query)))


# --- verification -----------------------------------------------------------------------------


async def due_campaigns(session: AsyncSession, now: datetime, *, limit: int) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(SalesRecord.campaign_id)
        .where(SalesRecord.status == SaleStatus.PENDING.value, SalesRecord.verify_after <= now)
        .group_by(SalesRecord.campaign_id)
        .order_by(SalesRecord.campaign_id)
        .limit(limit)
    )
    return list(rows)


async def verify_due(
    session: AsyncSession,
    settings: Settings,
    campaign_id: uuid.UUID,
    now: datetime,
    *,
    limit: int = 500,
) -> int:
    """Credit the commissions of one campaign's sales whose refund window has passed: each
    hold posted into the promoter's available wallet, less the fee (`campaign_commission`),
    once (the ledger's key per sale); the allocation's spend and the participation's figures
    follow. Returns how many were verified."""
    campaign = await lock_campaign(session, campaign_id)
    sales = list(
        await session.scalars(
            select(SalesRecord)
            .where(
                SalesRecord.campaign_id == campaign.id,
                SalesRecord.status == SaleStatus.PENDING.value,
                SalesRecord.verify_after <= now,
            )
            .order_by(SalesRecord.id)
            .limit(limit)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    spent = 0
    for sale in sales:
        assert sale.promoter_id is not None and sale.promoter_campaign_id is not None
        if sale.commission > 0:
            assert sale.hold_id is not None
            earning = await pay_earnings(
                session,
                payee_id=sale.promoter_id,
                gross=sale.commission,
                currency=campaign.currency,
                kind=COMMISSION_KIND,
                key=f"campaigns:sale:{sale.id}:pay",
                reason=f"Commission on order {sale.order_id}: {campaign.title}",
                now=now,
                hold_days=0,  # the refund window was the wait
                fee_shards=settings.fee_shards,
                hold_id=sale.hold_id,
                reference_type="sales_record",
                reference_id=str(sale.id),
            )
            sale.fee = earning.quote.fee
            spent += sale.commission
            await session.execute(
                update(PromoterCampaign)
                .where(PromoterCampaign.id == sale.promoter_campaign_id)
                .values(
                    budget_held=PromoterCampaign.budget_held - sale.commission,
                    spent_budget=PromoterCampaign.spent_budget + sale.commission,
                )
            )
        sale.status = SaleStatus.VERIFIED.value
        sale.verified_at = now
    if spent:
        await session.execute(
            update(CampaignBudgetAllocation)
            .where(CampaignBudgetAllocation.campaign_id == campaign.id)
            .values(spent_amount=CampaignBudgetAllocation.spent_amount + spent, updated_at=now)
        )
    await session.flush()
    return len(sales)


async def verify_all_due(database: Database, settings: Settings, now: datetime) -> int:
    """The periodic job's run: every campaign with due sales, each in its own transaction."""
    async with database.session_scope() as session:
        due = await due_campaigns(session, now, limit=1_000)
    verified = 0
    for campaign_id in due:
        async with database.session_scope() as session:
            verified += await verify_due(session, settings, campaign_id, now)
    return verified


# --- reads ------------------------------------------------------------------------------------


def sale_out(sale: SalesRecord) -> dict[str, Any]:
    return {
        "id": sale.id,
        "campaign_id": sale.campaign_id,
        "promoter_id": sale.promoter_id,
        "order_id": sale.order_id,
        "amount": sale.amount,
        "currency": sale.currency,
        "commission": sale.commission,
        "fee": sale.fee,
        "attributed_by": sale.attributed_by,
        "code": sale.code,
        "status": sale.status,
        "occurred_at": sale.occurred_at,
        "verify_after": sale.verify_after,
        "verified_at": sale.verified_at,
        "refunded_at": sale.refunded_at,
    }


async def campaign_sales(
    session: AsyncSession, campaign_id: uuid.UUID, advertiser_id: uuid.UUID, *, limit: int
) -> list[SalesRecord]:
    """The campaign's sales, newest first, for its advertiser (404 for anyone else)."""
    rows = (
        await session.execute(
            select(Campaign.advertiser_id, SalesRecord)
            .outerjoin(SalesRecord, SalesRecord.campaign_id == Campaign.id)
            .where(Campaign.id == campaign_id)
            .order_by(SalesRecord.occurred_at.desc(), SalesRecord.id.desc())
            .limit(limit)
        )
    ).all()
    if not rows or rows[0][0] != advertiser_id:
        raise no_such_campaign()
    return [row[1] for row in rows if row[1] is not None]


async def promoter_sales(
    session: AsyncSession, promoter_id: uuid.UUID, *, limit: int
) -> list[SalesRecord]:
    """The promoter's attributed sales (their commissions), newest first."""
    return list(
        await session.scalars(
            select(SalesRecord)
            .where(SalesRecord.promoter_id == promoter_id)
            .order_by(SalesRecord.occurred_at.desc(), SalesRecord.id.desc())
            .limit(limit)
        )
    )
