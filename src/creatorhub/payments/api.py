"""Money endpoints: wallet, funding, payout accounts, payouts, provider webhooks, fee settings.

Every request that moves money requires an `Idempotency-Key` (see kit.idempotency): the first
answer is stored with the effects and replayed to retries. Bringing money in, setting up where
it goes out and taking it out need a verified e-mail address (`VerifiedPrincipal`); reading,
and cancelling a payout (which only gives the money back), do not.

Routes hold no queries: each calls one service, which sends its writes and the request's
stored answer together (`idem` goes to the service) and calls a provider outside any
transaction (see "The request path" in docs/architecture.md).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse

from creatorhub.audit.models import LogLevel
from creatorhub.audit.service import record_blocked
from creatorhub.db import DbSession
from creatorhub.identity.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    Idempotency,
    OptionalIdempotency,
    VerifiedMoneyMove,
    VerifiedPrincipal,
)
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import (
    BadRequest,
    NotFound,
    Unprocessable,
    problem_response,
    problem_responses,
)
from creatorhub.kit.idempotency import OPTIONAL_IDEMPOTENCY_RESPONSES
from creatorhub.kit.state import AppDatabase, AppSettings
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.payments import fees, funding, payouts, wallet, webhooks
from creatorhub.payments.methods_api import router as payment_methods_router
from creatorhub.payments.providers.base import WebhookSignatureError, WebhookStaleError
from creatorhub.payments.providers.registry import provider_names
from creatorhub.payments.schemas import (
    AdminPayoutCreate,
    FeeQuoteOut,
    FeeRuleIn,
    FeeRuleOut,
    FundingCreate,
    FundingOut,
    OnboardingLinkOut,
    PayoutAccountCreate,
    PayoutAccountOut,
    PayoutCreate,
    PayoutOut,
    PayoutsPage,
    PendingItemOut,
    WalletOut,
    WalletTransactionOut,
    WalletTransactionsPage,
    WebhookReceiptOut,
    check_currency,
)
from creatorhub.payments.tasks import provider_in

money_responses = problem_responses(400, 401, 403, 404, 409, 422)

wallet_router = APIRouter(prefix="/v1/wallet", tags=["wallet"], responses=money_responses)
funding_router = APIRouter(prefix="/v1/funding", tags=["funding"], responses=money_responses)
payout_accounts_router = APIRouter(
    prefix="/v1/payout-accounts", tags=["payouts"], responses=money_responses
)
payouts_router = APIRouter(prefix="/v1/payouts", tags=["payouts"], responses=money_responses)
webhooks_router = APIRouter(
    prefix="/v1/webhooks", tags=["webhooks"], responses=problem_responses(400, 404, 409)
)
admin_router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=money_responses)
fees_router = APIRouter(prefix="/v1/fees", tags=["fees"], responses=money_responses)

Currency = Annotated[str, Query(min_length=3, max_length=3, examples=["USD"])]


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except ValueError as error:
        raise Unprocessable(str(error), code="unknown_currency", field="query.currency") from None


# --- wallet ---------------------------------------------------------------------------------


@wallet_router.get("", response_model=WalletOut)
async def get_wallet(
    principal: CurrentPrincipal, session: DbSession, currency: Currency = "USD"
) -> WalletOut:
    summary = await wallet.summary(session, principal.id, _currency(currency))
    return WalletOut(
        currency=summary.currency,
        available=summary.available,
        held=summary.held,
        pending=summary.pending,
        pending_items=[PendingItemOut.model_validate(item) for item in summary.pending_items],
        in_payout=summary.in_payout,
    )


@wallet_router.get("/transactions", response_model=WalletTransactionsPage)
async def list_wallet_transactions(
    principal: CurrentPrincipal,
    session: DbSession,
    currency: Currency = "USD",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> WalletTransactionsPage:
    items, next_cursor = await wallet.transactions(
        session, principal.id, _currency(currency), limit=limit, cursor=cursor
    )
    return WalletTransactionsPage(
        items=[WalletTransactionOut.model_validate(item) for item in items],
        next_cursor=next_cursor,
    )


# --- funding --------------------------------------------------------------------------------


@funding_router.post("", status_code=201, response_model=FundingOut)
async def create_funding(body: FundingCreate, move: VerifiedMoneyMove) -> JSONResponse:
    """Start bringing money in; it is credited when the provider confirms (webhook). With
    `payment_method_id` (a saved method, `/v1/me/payment-methods`), it is charged at once."""
    # One dependency (session, verified principal, key): the hottest money route.
    provider = provider_in(move.session)
    await funding.create_intent(
        move.session,
        provider,
        user_id=move.principal.id,
        amount=body.amount,
        currency=body.currency,
        target_type=body.target_type,
        target_id=body.target_id,
        answer=move.idem,
        confirm=move.settings.sandbox_auto_confirm and provider.name == "sandbox",
        payment_method_id=body.payment_method_id,
    )
    return move.idem.response


@funding_router.get("/{intent_id}", response_model=FundingOut)
async def get_funding(
    intent_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> FundingOut:
    return FundingOut.model_validate(await funding.get_own_intent(session, intent_id, principal.id))


@funding_router.post("/{intent_id}/confirm", response_model=FundingOut)
async def confirm_funding(
    intent_id: uuid.UUID, principal: VerifiedPrincipal, session: DbSession, idem: Idempotency
) -> JSONResponse:
    """Charge the payment method (server-side confirmation); the outcome arrives by webhook."""
    await funding.confirm(
        session,
        lambda name: provider_in(session, name),
        intent_id=intent_id,
        user_id=principal.id,
        answer=idem,
    )
    return idem.response


@funding_router.get("", response_model=list[FundingOut])
async def list_funding(
    principal: CurrentPrincipal,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[FundingOut]:
    intents = await funding.own_intents(session, principal.id, limit=limit)
    return [FundingOut.model_validate(intent) for intent in intents]


# --- payout accounts ------------------------------------------------------------------------


@payout_accounts_router.post(
    "",
    status_code=201,
    response_model=PayoutAccountOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
)
async def create_payout_account(
    body: PayoutAccountCreate,
    principal: VerifiedPrincipal,
    session: DbSession,
    idem: OptionalIdempotency,
) -> JSONResponse:
    await payouts.create_payout_account(
        session,
        provider_in(session),
        user_id=principal.id,
        email=principal.email,
        country=body.country,
        answer=idem,
    )
    return idem.response


@payout_accounts_router.get("", response_model=list[PayoutAccountOut])
async def list_payout_accounts(
    principal: CurrentPrincipal, session: DbSession
) -> list[PayoutAccountOut]:
    accounts = await payouts.own_payout_accounts(session, principal.id)
    return [PayoutAccountOut.model_validate(a) for a in accounts]


@payout_accounts_router.post("/{account_id}/onboarding-link", response_model=OnboardingLinkOut)
async def payout_account_onboarding_link(
    account_id: uuid.UUID,
    principal: VerifiedPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> OnboardingLinkOut:
    url = await payouts.onboarding_link(
        session,
        lambda name: provider_in(session, name),
        account_id=account_id,
        user_id=principal.id,
        base_url=settings.link_base_url,
    )
    return OnboardingLinkOut(url=url)


@payout_accounts_router.get("/{account_id}", response_model=PayoutAccountOut)
async def get_payout_account(
    account_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PayoutAccountOut:
    return PayoutAccountOut.model_validate(
        await payouts.get_own_payout_account(session, account_id, principal.id)
    )


@payout_accounts_router.post("/{account_id}/refresh", response_model=PayoutAccountOut)
async def refresh_payout_account(
    account_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PayoutAccountOut:
    account = await payouts.refresh_payout_account(
        session,
        lambda name: provider_in(session, name),
        account_id=account_id,
        user_id=principal.id,
    )
    return PayoutAccountOut.model_validate(account)


# --- payouts --------------------------------------------------------------------------------


@payouts_router.post("", status_code=201, response_model=PayoutOut)
async def request_payout(
    body: PayoutCreate,
    principal: VerifiedPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: Idempotency,
) -> JSONResponse:
    """Withdraw `amount` (default: all that is available) to your payout account."""
    await payouts.request_payout(
        session,
        settings,
        user_id=principal.id,
        amount=body.amount,
        currency=body.currency,
        answer=idem,
    )
    return idem.response


@payouts_router.get("", response_model=PayoutsPage)
async def list_payouts(
    principal: CurrentPrincipal,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PayoutsPage:
    rows = await payouts.own_payouts(session, principal.id, limit=limit)
    return PayoutsPage(items=[PayoutOut.model_validate(row) for row in rows])


@payouts_router.get("/{payout_id}", response_model=PayoutOut)
async def get_payout(
    payout_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PayoutOut:
    return PayoutOut.model_validate(
        await payouts.get_payout(session, payout_id, user_id=principal.id)
    )


@payouts_router.post("/{payout_id}/cancel", response_model=PayoutOut)
async def cancel_payout(
    payout_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, idem: Idempotency
) -> JSONResponse:
    """Cancel a payout not yet handed to the provider; the money is available again at once."""
    await payouts.cancel_payout(session, payout_id, principal.id, answer=idem)
    return idem.response


@admin_router.post("/payouts", status_code=201, response_model=PayoutOut)
async def admin_release_payout(
    body: AdminPayoutCreate,
    admin: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: Idempotency,
) -> JSONResponse:
    """Release a payout below the minimum (audited, with the reason)."""
    await payouts.request_payout(
        session,
        settings,
        user_id=body.user_id,
        amount=body.amount,
        currency=body.currency,
        trigger="admin",
        released_below_minimum_by=admin.id,
        actor_id=admin.id,
        reason=body.reason,
        answer=idem,
    )
    return idem.response


# --- webhooks -------------------------------------------------------------------------------


@webhooks_router.post("/{provider}", response_model=WebhookReceiptOut)
async def receive_webhook(
    provider: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    database: AppDatabase,
) -> WebhookReceiptOut | JSONResponse:
    """A provider's event: verified, stored once, applied in the same transaction."""
    # Only the configured provider's events count: with Stripe configured, a request signed
    # with the sandbox's development secret must not credit anyone.
    if provider not in provider_names() or provider != settings.payments_provider:
        raise NotFound(f"no webhook endpoint for {provider!r}", code="unknown_provider")
    body = await request.body()
    try:
        receipt = await webhooks.receive(
            session,
            provider_in(session, provider),
            body=body,
            headers=request.headers,
            now=utcnow(),
        )
    except WebhookSignatureError as error:
        code = "stale_signature" if isinstance(error, WebhookStaleError) else "invalid_signature"
        await record_blocked(
            database,
            component="payments.webhooks",
            data={"action": code, "provider": provider, "detail": str(error)},
            level=LogLevel.WARNING,
        )
        raise BadRequest(str(error), code=code) from None
    return WebhookReceiptOut(
        event_id=receipt.event_id, duplicate=receipt.duplicate, outcome=receipt.outcome
    )


# --- fees -----------------------------------------------------------------------------------


@admin_router.get("/fees", response_model=list[FeeRuleOut])
async def list_fee_rules(admin: AdminPrincipal, session: DbSession) -> list[FeeRuleOut]:
    return [FeeRuleOut.model_validate(row) for row in await fees.rules(session)]


@admin_router.put("/fees/{transaction_kind}", response_model=FeeRuleOut)
async def set_fee_rule(
    transaction_kind: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,49}$")],
    body: FeeRuleIn,
    admin: AdminPrincipal,
    session: DbSession,
) -> FeeRuleOut:
    """Set the default fee of a kind of transaction, or one payee's override (`user_id`)."""
    rule = await fees.set_rule(
        session,
        actor_id=admin.id,
        kind=transaction_kind,
        user_id=body.user_id,
        basis_points=body.basis_points,
        fixed_amount=body.fixed_amount,
    )
    return FeeRuleOut.model_validate(rule)


@fees_router.get("/quote", response_model=FeeQuoteOut)
async def quote_fee(
    principal: CurrentPrincipal,
    session: DbSession,
    kind: Annotated[str, Query(min_length=1, max_length=50)],
    gross: Annotated[int, Query(gt=0, le=100_000_000_00)],
    payee_id: uuid.UUID | None = None,
) -> FeeQuoteOut:
    """What the platform fee on `gross` would be: gross, fee and net."""
    quote = await fees.quote(session, kind=kind, payee_id=payee_id or principal.id, gross=gross)
    return FeeQuoteOut(
        kind=quote.kind,
        gross=quote.gross,
        fee=quote.fee,
        net=quote.net,
        basis_points=quote.basis_points,
        fixed_amount=quote.fixed_amount,
    )


routers = [
    wallet_router,
    funding_router,
    payment_methods_router,
    payout_accounts_router,
    payouts_router,
    webhooks_router,
    admin_router,
    fees_router,
]


def install_payments_handlers(app: FastAPI) -> None:
    """A refused debit is answered 409 and kept in system_logs in seed 000's form."""

    async def insufficient_funds(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InsufficientFunds)
        await ledger.record_insufficient_funds(request.app.state.db, exc)
        return problem_response(exc.status, exc.code, detail=exc.detail)

    app.add_exception_handler(InsufficientFunds, insufficient_funds)
