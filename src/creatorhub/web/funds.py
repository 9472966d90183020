"""Adding money to a wallet from the pages: an amount, the provider's checkout, the outcome.

The same funding service as `POST /v1/funding` and `POST /v1/funding/{id}/confirm`:

1. `POST /wallet/add-funds` creates a funding intent (nothing is charged yet) and leads to its
   checkout page.
2. The checkout is the sandbox provider's stand-in for a card form: its button confirms the
   intent, and the provider's outcome arrives as a signed webhook (a job), which credits the
   wallet. Until then the page says the payment is being confirmed and reloads itself every few
   seconds (a `<meta http-equiv="refresh">`: no script).

Double submission: a second click of "Continue" makes a second intent that is never confirmed
(nothing is charged for it; it stays `requires_confirmation`, as an abandoned checkout does at
any provider); a second click of "Pay" is refused by the intent's own state check under its row
lock (`funding_intent_not_confirmable`), so it is shown the intent as it is. The checkout of a
provider that calls out (Stripe) needs the provider's own script in the payer's browser, which
this app's pages do not load: with such a provider the page sends integrators to the API.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.errors import Problem
from creatorhub.kit.state import AppSettings
from creatorhub.payments import funding
from creatorhub.payments.models import FundingIntent, FundingStatus
from creatorhub.payments.schemas import FundingCreate, check_currency
from creatorhub.payments.tasks import provider_in
from creatorhub.web.acting import field_errors, may_act, minor_units, money
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, render
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

# Those who pay into their wallet: brands for jobs (fans, later, for tips and subscriptions).
Payer = Annotated[SignedIn, Depends(page_role(Role.BRAND, Role.FAN))]
# The checkout page shows this many of the payer's earlier payments.
RECENT_PAYMENTS = 10
# Seconds between the reloads of a checkout waiting for the provider's outcome.
REFRESH_SECONDS = 3

FLASHES.update(
    {
        "checkout_started": ("ok", "Check the amount, then pay to add it to your wallet."),
        "payment_sent": (
            "ok",
            "The payment is sent. The money is in your wallet once the provider confirms it.",
        ),
        "payment_not_confirmable": ("ok", "This payment was sent already; here is where it is."),
    }
)

STATUS_TEXT = {
    FundingStatus.REQUIRES_CONFIRMATION.value: "waiting for you to pay",
    FundingStatus.PROCESSING.value: "being confirmed by the provider",
    FundingStatus.SUCCEEDED.value: "paid: the money is in your wallet",
    FundingStatus.FAILED.value: "failed: nothing was taken",
    FundingStatus.CANCELED.value: "canceled: nothing was taken",
}


def _form(
    request: Request,
    settings: AppSettings,
    recent: list[FundingIntent],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "funds_add.html",
        status_code,
        values={"amount": "", "currency": "USD", **(values or {})},
        errors=errors or {},
        checkout_here=settings.payments_provider == "sandbox",
        provider=settings.payments_provider,
        recent=recent,
        status_text=STATUS_TEXT,
        money=money,
    )


@router.get("/wallet/add-funds", response_class=HTMLResponse)
async def add_funds_form(
    request: Request, me: Payer, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    recent = await funding.own_intents(session, me.principal.id, limit=RECENT_PAYMENTS)
    return _form(request, settings, list(recent))


def _funding_create(amount: str, currency: str) -> tuple[FundingCreate | None, dict[str, str]]:
    """The form as the API's request model, or a message per field at fault."""
    try:
        code = check_currency(currency.strip().upper())
    except ValueError as error:
        return None, {"currency": str(error)[:1].upper() + str(error)[1:] + "."}
    try:
        minor = minor_units(amount, code)
    except ValueError as error:
        return None, {"amount": str(error)}
    try:
        return FundingCreate(amount=minor, currency=code), {}
    except ValidationError as error:
        return None, {
            ("amount" if field.endswith("amount") else "form"): message
            for field, message in field_errors(error).items()
        }


@router.post("/wallet/add-funds")
async def start_checkout(
    request: Request,
    _: FormChecked,
    me: Payer,
    session: DbSession,
    settings: AppSettings,
    amount: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    may_act(me, moves_money=True)
    values = {"amount": amount, "currency": currency}
    body, errors = _funding_create(amount, currency)
    if body is None:
        raise PageError(_form(request, settings, [], values=values, errors=errors, status_code=422))
    if settings.payments_provider != "sandbox":
        errors = {"form": "Payments here go through the funding API with your provider's checkout."}
        raise PageError(_form(request, settings, [], values=values, errors=errors, status_code=409))
    intent = await funding.create_intent(
        session,
        provider_in(session),
        user_id=me.principal.id,
        amount=body.amount,
        currency=body.currency,
    )
    return redirect(f"/wallet/add-funds/{intent.id}", flash="checkout_started", request=request)


@router.get("/wallet/add-funds/{intent_id}", response_class=HTMLResponse)
async def checkout(
    request: Request, intent_id: uuid.UUID, me: Payer, session: DbSession
) -> HTMLResponse:
    intent = await funding.get_own_intent(session, intent_id, me.principal.id)
    waiting = intent.status == FundingStatus.PROCESSING
    return render(
        request,
        "funds_checkout.html",
        intent=intent,
        status_text=STATUS_TEXT.get(intent.status, intent.status),
        can_pay=_can_pay(intent),
        refresh_seconds=REFRESH_SECONDS if waiting else None,
        money=money,
    )


def _can_pay(intent: FundingIntent) -> bool:
    return intent.status == FundingStatus.REQUIRES_CONFIRMATION and intent.provider == "sandbox"


@router.post("/wallet/add-funds/{intent_id}/pay")
async def pay(
    request: Request, _: FormChecked, intent_id: uuid.UUID, me: Payer, session: DbSession
) -> Response:
    may_act(me, moves_money=True)
    try:
        await funding.confirm(
            session,
            lambda name: provider_in(session, name),
            intent_id=intent_id,
            user_id=me.principal.id,
        )
    except Problem as problem:
        if problem.code != "funding_intent_not_confirmable":
            raise
        # A second click: the first one's payment goes on; nothing is charged twice.
        return redirect(
            f"/wallet/add-funds/{intent_id}", flash="payment_not_confirmable", request=request
        )
    return redirect(f"/wallet/add-funds/{intent_id}", flash="payment_sent", request=request)
