"""The payer's saved payment methods as a page (issue 15): what `GET /v1/me/payment-methods`
lists, with the buttons that make one the default and remove one.

* `GET /payment-methods`: the methods (brand, last four digits, expiry, status, the default);
* `POST /payment-methods`: with the sandbox provider, saves one of its test methods: the setup
  intent started (`methods.start_setup`) and confirmed at once with the chosen test method, the
  sandbox's stand-in for the provider's card form; the provider's outcome arrives as its signed
  webhook (a job), so the method shows "being saved" until then. With a provider whose card
  form runs in the payer's browser (Stripe.js), which these pages do not load, the page sends
  integrators to the API;
* `POST /payment-methods/{id}/default`, `POST /payment-methods/{id}/remove`: the same services
  as `POST /v1/me/payment-methods/{id}/default` and `DELETE /v1/me/payment-methods/{id}`
  (removing calls the provider outside the request's transaction).

Double submission: a second "Save" starts a second setup (a second method, as a second card
form would); a second "Remove" finds the method removed and answers it as it is; a second
"Make default" finds it the default already. Refusals (another's method: 404, one not active:
409) are the API's problems, shown as error pages.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from creatorhub.db import DbSession
from creatorhub.identity.models import Role
from creatorhub.kit.errors import Unprocessable
from creatorhub.kit.state import AppSettings
from creatorhub.payments import methods
from creatorhub.payments.providers.base import PaymentMethodKind
from creatorhub.payments.providers.sandbox import TEST_METHODS
from creatorhub.payments.tasks import provider_in
from creatorhub.web.acting import may_act
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import render
from creatorhub.web.session import FLASHES, SignedIn, page_role, redirect

router = APIRouter(include_in_schema=False)

# Those who pay in (as the add-funds pages): brands for campaigns and jobs, fans.
Payer = Annotated[SignedIn, Depends(page_role(Role.BRAND, Role.FAN))]

FLASHES.update(
    {
        "method_saving": (
            "ok",
            "The payment method is being saved: it is listed as ready once the provider "
            "confirms it.",
        ),
        "method_default": ("ok", "This payment method is now your default."),
        "method_removed": ("ok", "The payment method is removed: it can no longer be charged."),
    }
)

STATUS_TEXT = {
    "pending": "being saved by the provider",
    "active": "ready",
    "failed": "not saved",
    "detached": "removed",
}
# The sandbox's test methods offered by the form: (last four digits, what it is).
TEST_CHOICES = [
    (
        last4,
        f"{method.brand} ending in {last4}{' (declined)' if method.declined_when_saved else ''}",
    )
    for last4, method in TEST_METHODS.items()
]


@router.get("/payment-methods", response_class=HTMLResponse)
async def payment_methods_page(
    request: Request, me: Payer, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    return render(
        request,
        "payment_methods.html",
        methods=await methods.own_methods(session, me.principal.id),
        status_text=STATUS_TEXT,
        save_here=settings.payments_provider == "sandbox",
        provider=settings.payments_provider,
        test_choices=TEST_CHOICES,
    )


@router.post("/payment-methods")
async def save_payment_method(
    request: Request,
    _: FormChecked,
    me: Payer,
    session: DbSession,
    settings: AppSettings,
    last4: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    may_act(me, moves_money=True)
    if settings.payments_provider != "sandbox":
        raise methods.ConfirmedAtProvider(
            "payment methods are saved with your provider's card form: see the API"
        )
    test_method = TEST_METHODS.get(last4)
    if test_method is None:
        raise Unprocessable("choose one of the test payment methods", field="last4")
    provider = provider_in(session)
    method, _secret = await methods.start_setup(
        session,
        provider,
        user_id=me.principal.id,
        email=me.principal.email,
        kind=PaymentMethodKind(test_method.kind),
    )
    await methods.confirm_sandbox_setup(
        session, provider, method_id=method.id, user_id=me.principal.id, last4=last4
    )
    return redirect("/payment-methods", flash="method_saving", request=request)


@router.post("/payment-methods/{method_id}/default")
async def make_default(
    request: Request, _: FormChecked, method_id: uuid.UUID, me: Payer, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await methods.set_default(session, method_id=method_id, user_id=me.principal.id)
    return redirect("/payment-methods", flash="method_default", request=request)


@router.post("/payment-methods/{method_id}/remove")
async def remove(
    request: Request, _: FormChecked, method_id: uuid.UUID, me: Payer, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await methods.detach(
        session,
        lambda name: provider_in(session, name),
        method_id=method_id,
        user_id=me.principal.id,
    )
    return redirect("/payment-methods", flash="method_removed", request=request)
