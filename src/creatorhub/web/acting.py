"""What every page that acts shares: whether the signed-in person may act, a service's refusal
shown as a page, and amounts of money typed and shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation

from fastapi import Request
from pydantic import ValidationError

from creatorhub.identity.models import AccountStatus
from creatorhub.kit.errors import Forbidden
from creatorhub.marketplace.errors import GuardedRecord, record_refusal
from creatorhub.payments.schemas import MAX_AMOUNT
from creatorhub.web.errors import error_page
from creatorhub.web.render import PageError
from creatorhub.web.session import SignedIn
from creatorhub.workspace.portfolio import format_minor, minor_exponent


def money(amount: int, currency: str) -> str:
    """An amount in minor units as people read it: `USD 1,250.50`."""
    return f"{currency} {format_minor(amount, currency)}"


def may_act(me: SignedIn, *, moves_money: bool) -> None:
    """What the API's dependencies check before anyone acts: an active account (the same codes
    as the API's 403s), and for a money move a verified address."""
    status = me.principal.status
    if status == AccountStatus.BANNED.value:
        raise Forbidden("your account is banned: it cannot act", code="account_banned")
    if status != AccountStatus.ACTIVE.value:
        raise Forbidden("your account is not active: it cannot act", code="account_suspended")
    if moves_money and not me.principal.email_verified:
        raise Forbidden(
            "moving money needs a verified e-mail address: confirm it from your dashboard first",
            code="email_not_verified",
        )


@contextlib.asynccontextmanager
async def refusals_as_pages(request: Request) -> AsyncIterator[None]:
    """A guarded record's refusal (a closed job, a resolved escrow) as an error page.

    The marketplace's handler for these answers problem+json on every path, after logging the
    refusal; a page logs it the same way here and shows the problem's message instead."""
    try:
        yield
    except GuardedRecord as refusal:
        await record_refusal(request.app.state.db, refusal, refusal.actor)
        raise PageError(error_page(request, refusal.status, refusal.detail)) from None


def minor_units(
    text: str, currency: str, *, noun: str = "amount", zero_allowed: bool = False
) -> int:
    """An amount typed in major units (`1250.50`), exactly in minor units; ValueError with the
    reason (naming the field's `noun`) when it is not an amount of that currency. Zero only
    where `zero_allowed` (a rate or a budget may be zero, a payment may not)."""
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"Enter the {noun} as a number, e.g. 1250.50.") from None
    exponent = minor_exponent(currency)
    if not amount.is_finite() or amount < 0 or (amount == 0 and not zero_allowed):
        if zero_allowed:
            raise ValueError(f"Enter the {noun} as zero or more.")
        raise ValueError(f"Enter {'an' if noun[0] in 'aeiou' else 'a'} {noun} above zero.")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {exponent} decimals.")
    if minor > MAX_AMOUNT:
        raise ValueError(f"This {noun} is larger than the platform takes at once.")
    return int(minor)


def major_units(amount: int | None, currency: str | None) -> str:
    """A stored amount as it is typed back into a form (`1250.5` -> `1250.50`, no grouping)."""
    if amount is None or currency is None:
        return ""
    return format_minor(amount, currency).replace(",", "")


def field_errors(
    error: ValidationError, *, names: dict[str, str] | None = None, default: str = "form"
) -> dict[str, str]:
    """A message per form field from a request model's validation (the first one each);
    `names` maps the model's fields to the form's, `default` takes what names no field (a
    model's own check)."""
    errors: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else default
        field = (names or {}).get(field, field)
        message = str(item["msg"]).removeprefix("Value error, ")
        errors.setdefault(field, message[:1].upper() + message[1:] + ".")
    return errors
