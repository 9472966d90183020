"""The wallet page (brands and creators) and the creator's payout pages.

* `GET /wallet`: what `GET /v1/wallet` and `GET /v1/wallet/transactions` answer, as a page:
  available, held and pending in one currency, each pending item with its release date and
  reason, and the latest transactions, older ones a page at a time (`?before=`: the service's
  cursor).
* `GET /payouts`: the payout account (`GET /v1/payout-accounts`), the buttons that create it and
  open its onboarding at the provider, the form that requests a payout and the payouts with a
  cancel button on those still pending (`GET /v1/payouts`).

Provider calls: as the API routes do, the pages call the payouts services that leave the
request's transaction before they call out (`create_payout_account` commits before asking a
provider that calls out, `onboarding_link` too; the sandbox calls nothing), and a payout's
submission to the provider is a job the request only queues. A provider's onboarding page is
on another site: the page's CSP (`form-action 'self'`) stops a browser from following a form's
redirect there, so for such a link the answer is a page with a link to it.

Double submission: creating a payout account twice is refused by the service (409
`payout_account_exists`), cancelling twice by the payout's state (409 `payout_not_cancelable`);
both land back on the page with a note. Requesting a payout has no state that a second request
would meet, so the form carries a one-time key (a new one each time the page is shown) that is
the request's idempotency key: the same machinery and stored answer as `POST /v1/payouts`'s
`Idempotency-Key`, so the second click of one form takes no money twice.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message

from creatorhub.config import Settings
from creatorhub.db import DbSession, is_unique_violation
from creatorhub.identity.models import Role
from creatorhub.kit.errors import Problem, Unprocessable
from creatorhub.kit.idempotency import IdempotentReplay, begin_idempotent
from creatorhub.kit.state import AppSettings
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.payments import payouts, wallet
from creatorhub.payments.models import PayoutStatus
from creatorhub.payments.schemas import (
    PayoutAccountCreate,
    PayoutAccountOut,
    PayoutOut,
    check_currency,
)
from creatorhub.payments.tasks import provider_in
from creatorhub.web.acting import field_errors, may_act, minor_units, money
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, message_page, navigation, render
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

WalletOwner = Annotated[SignedIn, Depends(page_role(Role.BRAND, Role.CREATOR))]
Payee = Annotated[SignedIn, Depends(page_role(Role.CREATOR))]
# Transactions per page of the wallet (the API's default page).
TRANSACTIONS_PER_PAGE = 50
# The payouts page lists this many, newest first.
PAYOUTS_LISTED = 50

navigation(Role.BRAND, "/wallet", "Wallet")
navigation(Role.CREATOR, "/wallet", "Wallet")
navigation(Role.CREATOR, "/payouts", "Payouts")

FLASHES.update(
    {
        "payout_account_created": ("ok", "Your payout account is set up."),
        "payout_account_exists": ("ok", "You have a payout account already; nothing changed."),
        "payout_requested": (
            "ok",
            "The payout is requested: the money left your available balance and is on its way.",
        ),
        "payout_already_requested": (
            "ok",
            "This payout was requested already; nothing more was taken.",
        ),
        "payout_in_progress": (
            "ok",
            "Your payout request is still being processed; it is listed below once it is done.",
        ),
        "payout_canceled": ("ok", "The payout is canceled; the money is available again."),
        "payout_already_canceled": ("ok", "The payout was canceled already; nothing changed."),
    }
)

# What a transaction was, by its ledger kinds (the fee is shown in its own column).
KIND_LABELS = {
    "funding": "Money added",
    "escrow_funding": "Job funded",
    "escrow_release": "Job earnings",
    "earning_release": "Earnings released",
    "refund": "Refund",
    "payout": "Payout",
    "payout_returned": "Payout returned",
    "payout_paid": "Payout paid",
    "tip": "Tip",
    "subscription": "Subscription",
}


def transaction_label(kinds: list[str]) -> str:
    shown = [kind for kind in kinds if kind != "platform_fee"] or kinds
    return ", ".join(KIND_LABELS.get(kind, kind.replace("_", " ").capitalize()) for kind in shown)


# --- the wallet -------------------------------------------------------------------------------


@router.get("/wallet", response_class=HTMLResponse)
async def wallet_page(
    request: Request,
    me: WalletOwner,
    session: DbSession,
    currency: Annotated[str | None, Query(max_length=3)] = None,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    owned = await wallet.currencies(session, me.principal.id)
    shown = currency.upper() if currency else (owned[0] if owned else "USD")
    try:
        check_currency(shown)
    except ValueError as error:
        raise Unprocessable(str(error), field="currency") from None
    summary = await wallet.summary(session, me.principal.id, shown)
    items, next_cursor = await wallet.transactions(
        session, me.principal.id, shown, limit=TRANSACTIONS_PER_PAGE, cursor=before
    )
    return render(
        request,
        "wallet.html",
        wallet=summary,
        currencies=sorted({*owned, shown}),
        transactions=items,
        next_cursor=next_cursor,
        first_page=before is None,
        is_brand=me.role == Role.BRAND.value,
        label=transaction_label,
        money=money,
    )


# --- payouts ----------------------------------------------------------------------------------


async def _payouts_page(
    request: Request,
    me: SignedIn,
    session: AsyncSession,
    settings: Settings,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    accounts = [
        PayoutAccountOut.model_validate(account)
        for account in await payouts.own_payout_accounts(session, me.principal.id)
    ]
    listed = [
        PayoutOut.model_validate(row)
        for row in await payouts.own_payouts(session, me.principal.id, limit=PAYOUTS_LISTED)
    ]
    account = next((a for a in accounts if a.provider == settings.payments_provider), None)
    defaults = {"amount": "", "currency": settings.payout_currency, "country": "US"}
    return render(
        request,
        "payouts.html",
        status_code,
        account=account,
        payouts=listed,
        minimum=settings.payout_minimum_amount,
        payout_currency=settings.payout_currency,
        # A new key each time the form is shown: a second click of the same form replays.
        request_key=str(uuid.uuid4()),
        values={**defaults, **(values or {})},
        errors=errors or {},
        cancelable=PayoutStatus.PENDING.value,
        money=money,
    )


@router.get("/payouts", response_class=HTMLResponse)
async def payouts_page(
    request: Request, me: Payee, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    return await _payouts_page(request, me, session, settings)


async def _refused(
    request: Request,
    me: SignedIn,
    session: AsyncSession,
    settings: Settings,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int,
) -> PageError:
    """The page again with the form's errors, after the refused work is rolled back (a refusal
    by the database ends the transaction: the page's reads need a new one)."""
    await session.rollback()
    page = await _payouts_page(
        request, me, session, settings, values=values, errors=errors, status_code=status_code
    )
    return PageError(page)


@router.post("/payouts/account")
async def create_payout_account(
    request: Request,
    _: FormChecked,
    me: Payee,
    session: DbSession,
    settings: AppSettings,
    country: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """The service as `POST /v1/payout-accounts` calls it (without a stored answer: it commits
    before a provider that calls out is asked, and names the same account when asked again)."""
    may_act(me, moves_money=True)
    values = {"country": country}
    try:
        body = PayoutAccountCreate(country=country.strip().upper())
    except ValidationError as error:
        message = next(iter(field_errors(error).values()))
        if "pattern" in message.lower() or "match" in message.lower():
            message = "Enter your country as its two-letter code, e.g. US or DE."
        raise await _refused(
            request, me, session, settings, values, {"country": message}, 422
        ) from None
    try:
        await payouts.create_payout_account(
            session,
            provider_in(session),
            user_id=me.principal.id,
            email=me.principal.email,
            country=body.country,
        )
    except Problem as problem:
        if problem.code != "payout_account_exists":
            raise
        raise PageError(
            redirect("/payouts", flash="payout_account_exists", request=request)
        ) from None
    return redirect("/payouts", flash="payout_account_created", request=request)


@router.post("/payouts/account/onboarding")
async def payout_account_onboarding(
    request: Request, _: FormChecked, me: Payee, session: DbSession, settings: AppSettings
) -> Response:
    """The link of `POST /v1/payout-accounts/{id}/onboarding-link` for the account with the
    configured provider, coming back to the payouts page."""
    may_act(me, moves_money=True)
    accounts = await payouts.own_payout_accounts(session, me.principal.id)
    account = next((a for a in accounts if a.provider == settings.payments_provider), None)
    if account is None:
        raise Unprocessable(
            "set up your payout account first", code="payout_account_required", field="account"
        )
    url = await payouts.onboarding_link(
        session,
        lambda name: provider_in(session, name),
        account_id=account.id,
        user_id=me.principal.id,
        base_url=settings.link_base_url,
        return_path="/payouts",
    )
    if url.startswith(f"{settings.link_base_url}/"):
        return redirect(url)
    # Another site: a browser follows no form's redirect there (`form-action 'self'`).
    return message_page(
        request,
        heading="Finish your payout account",
        text="Your payout provider asks for your details on its own site. The link below is "
        "for you alone and works for a few minutes.",
        ok=True,
        link=(url, "Continue to the payout provider"),
    )


def _as_read_again(request: Request, fields: dict[str, str]) -> Request:
    """The request as `begin_idempotent` reads it (its body is the request's fingerprint): a
    form's body was read once already, to parse it, so its fields are given again as the body."""
    body = urlencode(sorted(fields.items())).encode()

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


@router.post("/payouts/request")
async def request_payout(
    request: Request,
    _: FormChecked,
    me: Payee,
    session: DbSession,
    settings: AppSettings,
    amount: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=10)] = "",
    request_key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The payouts service as `POST /v1/payouts` calls it, the form's one-time key as the
    request's idempotency key (the submission to the provider is a job it queues)."""
    may_act(me, moves_money=True)
    values = {"amount": amount, "currency": currency}
    errors: dict[str, str] = {}
    code = currency.strip().upper() or settings.payout_currency
    try:
        code = check_currency(code)
    except ValueError as error:
        errors["currency"] = str(error)[:1].upper() + str(error)[1:] + "."
    minor: int | None = None
    if not errors and amount.strip():
        try:
            minor = minor_units(amount, code)
        except ValueError as error:
            errors["amount"] = str(error)
    if errors:
        raise await _refused(request, me, session, settings, values, errors, 422)
    try:
        idem = await begin_idempotent(
            _as_read_again(request, {**values, "request_key": request_key}),
            session,
            scope=str(me.principal.id),
            key=request_key,
        )
    except IdempotentReplay:
        raise PageError(
            redirect("/payouts", flash="payout_already_requested", request=request)
        ) from None
    except Problem as problem:
        if problem.code != "idempotency_key_in_flight":
            raise
        raise PageError(redirect("/payouts", flash="payout_in_progress", request=request)) from None
    try:
        await payouts.request_payout(
            session, settings, user_id=me.principal.id, amount=minor, currency=code, answer=idem
        )
    except InsufficientFunds as refusal:
        # Kept in system_logs as the API's handler keeps it (in a transaction of its own).
        await ledger.record_insufficient_funds(request.app.state.db, refusal)
        message = "Your available balance is less than that."
        if minor is None:
            message = "Nothing is available to pay out yet."
        raise await _refused(
            request, me, session, settings, values, {"amount": message}, 409
        ) from None
    except IntegrityError as error:
        # The same form sent twice at once: the other request stored its key first.
        if not is_unique_violation(error, "pk_idempotency_keys"):
            raise
        raise PageError(redirect("/payouts", flash="payout_in_progress", request=request)) from None
    except Problem as problem:
        if problem.status >= 500:
            raise
        if problem.code == "payout_below_minimum":
            asked = money(minor or 0, code)
            message = (
                f"Payouts start at {money(settings.payout_minimum_amount, code)}; {asked} is below."
            )
            field = "amount"
        else:
            message = problem.detail or "This payout cannot be requested."
            field = "form"
        raise await _refused(
            request, me, session, settings, values, {field: message}, problem.status
        ) from None
    return redirect("/payouts", flash="payout_requested", request=request)


@router.post("/payouts/{payout_id}/cancel")
async def cancel_payout(
    request: Request, _: FormChecked, payout_id: uuid.UUID, me: Payee, session: DbSession
) -> Response:
    """The service of `POST /v1/payouts/{id}/cancel`: only a pending payout (not yet handed to
    the provider) can be canceled; its money is available again at once."""
    may_act(me, moves_money=False)
    try:
        await payouts.cancel_payout(session, payout_id, me.principal.id)
    except Problem as problem:
        if problem.code != "payout_not_cancelable":
            raise
        payout = await payouts.get_payout(session, payout_id, user_id=me.principal.id)
        if payout.status != PayoutStatus.CANCELED:
            raise problem from None
        raise PageError(
            redirect("/payouts", flash="payout_already_canceled", request=request)
        ) from None
    return redirect("/payouts", flash="payout_canceled", request=request)
