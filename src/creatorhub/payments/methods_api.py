"""Saved payment methods: `/v1/me/payment-methods` (seed 002 `payment_methods`, issue 15).

A payer (an advertiser funding campaigns, typically) saves a card or bank account at the
provider and later funds with it (`payment_method_id` of `POST /v1/funding` and of
`POST /v1/campaigns/{id}/fund`), without their client taking part again:

* `POST` starts saving one: a setup intent at the provider, answered with its `client_secret`
  for the provider's script in the payer's browser (Stripe.js `confirmSetup`): the number goes
  from there to the provider, never to this platform. The method is `pending` until the
  provider's event (webhook) says it is saved (`active`) or declined (`failed`). The answer,
  which carries the secret, is kept sealed for retries with the same `Idempotency-Key`.
* `POST /{id}/confirm`: the sandbox provider's stand-in for that script, a test method by its
  last four digits (409 `payment_method_confirmed_at_provider` with a real provider).
* `GET` lists them (brand, last four digits, expiry, which is the default); `POST /{id}/default`
  makes one the default; `DELETE /{id}` removes one (detached at the provider first, outside any
  transaction).

Saving one needs a verified e-mail address, as every route that brings money in does.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from creatorhub.db import DbSession
from creatorhub.identity.deps import (
    CurrentPrincipal,
    SealedOptionalIdempotency,
    VerifiedPrincipal,
)
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.idempotency import SEALED_IDEMPOTENCY_RESPONSES
from creatorhub.payments import methods
from creatorhub.payments.providers.base import PaymentMethodKind
from creatorhub.payments.schemas import (
    PaymentMethodConfirm,
    PaymentMethodCreate,
    PaymentMethodOut,
    PaymentMethodSetupOut,
)
from creatorhub.payments.tasks import provider_in

router = APIRouter(
    prefix="/v1/me/payment-methods",
    tags=["payment methods"],
    responses=problem_responses(401, 403, 404, 409, 422),
)


@router.post(
    "",
    status_code=201,
    response_model=PaymentMethodSetupOut,
    responses=SEALED_IDEMPOTENCY_RESPONSES,
    summary="Start saving a card or bank account",
)
async def create_payment_method(
    principal: VerifiedPrincipal,
    session: DbSession,
    idem: SealedOptionalIdempotency,
    body: PaymentMethodCreate | None = None,
) -> JSONResponse:
    """A `pending` method and its setup intent's `client_secret`; it is `active` once the
    provider confirms (webhook)."""
    await methods.start_setup(
        session,
        provider_in(session),
        user_id=principal.id,
        email=principal.email,
        kind=PaymentMethodKind(body.kind if body is not None else "card"),
        answer=idem,
    )
    return idem.response


@router.get("", response_model=list[PaymentMethodOut], summary="Your saved payment methods")
async def list_payment_methods(
    principal: CurrentPrincipal, session: DbSession
) -> list[PaymentMethodOut]:
    """Newest first; removed ones are not listed."""
    return [
        PaymentMethodOut.model_validate(method)
        for method in await methods.own_methods(session, principal.id)
    ]


@router.get("/{method_id}", response_model=PaymentMethodOut, summary="One saved payment method")
async def get_payment_method(
    method_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PaymentMethodOut:
    return PaymentMethodOut.model_validate(
        await methods.get_own_method(session, method_id, principal.id)
    )


@router.post(
    "/{method_id}/confirm",
    response_model=PaymentMethodOut,
    summary="Confirm a setup with a test method (sandbox provider)",
)
async def confirm_payment_method(
    method_id: uuid.UUID,
    body: PaymentMethodConfirm,
    principal: VerifiedPrincipal,
    session: DbSession,
) -> PaymentMethodOut:
    """What the provider's script does in the payer's browser, for the sandbox: the outcome
    arrives as its webhook event ("4242" saved, "0002" declined, "0341" saved but declining
    every charge, "4444" a mastercard, "6789" a bank account)."""
    method = await methods.confirm_sandbox_setup(
        session,
        provider_in(session),
        method_id=method_id,
        user_id=principal.id,
        last4=body.last4,
    )
    return PaymentMethodOut.model_validate(method)


@router.post(
    "/{method_id}/default",
    response_model=PaymentMethodOut,
    summary="Make a saved payment method your default",
)
async def set_default_payment_method(
    method_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PaymentMethodOut:
    method = await methods.set_default(session, method_id=method_id, user_id=principal.id)
    return PaymentMethodOut.model_validate(method)


@router.delete(
    "/{method_id}", response_model=PaymentMethodOut, summary="Remove a saved payment method"
)
async def delete_payment_method(
    method_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PaymentMethodOut:
    """Detached at the provider, then here (`detached`): it can no longer be charged."""
    method = await methods.detach(
        session,
        lambda name: provider_in(session, name),
        method_id=method_id,
        user_id=principal.id,
    )
    return PaymentMethodOut.model_validate(method)
