"""What the creator's studio pages share: the role dependency, the sub-navigation, the outcome
messages, and reading typed values (amounts in major units, optional text) the way the API's
request models want them.

The studio is the creator's workspace (seed 001): the portfolio, shoots, planned uploads, the
calendar and client reviews (`web.studio_portfolio`, `web.studio_shoots`,
`web.studio_calendar`, `web.studio_reviews`; `web.studio` gathers their routes). Every page
calls the workspace and identity services the API calls, as the signed-in creator; another
creator's shoot, upload, blocked range or review answers 404 like a missing one (the services'
own check).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from creatorhub.identity.models import Role
from creatorhub.kit.errors import Forbidden
from creatorhub.payments.schemas import MAX_AMOUNT
from creatorhub.web.render import navigation, render
from creatorhub.web.session import FLASHES, SignedIn, page_role
from creatorhub.workspace.portfolio import format_minor, minor_exponent

Creator = Annotated[SignedIn, Depends(page_role(Role.CREATOR))]

# One entry in the header (it stays short on a phone); the studio's pages link to each other.
navigation(Role.CREATOR, "/studio/shoots", "Studio")
SECTIONS = (
    ("shoots", "/studio/shoots", "Shoots"),
    ("uploads", "/studio/uploads", "Uploads"),
    ("calendar", "/studio/calendar", "Calendar"),
    ("reviews", "/studio/reviews", "Reviews"),
    ("portfolio", "/studio/portfolio", "Portfolio"),
)

FLASHES.update(
    {
        "portfolio_saved": ("ok", "Your portfolio is saved; its public page shows it now."),
        "shoot_added": ("ok", "The shoot is added."),
        "shoot_saved": ("ok", "The shoot is saved."),
        "shoot_completed": ("ok", "Marked done: you can ask the client for a review."),
        "shoot_reopened": (
            "ok",
            "The shoot is marked not done; an open review link is withdrawn.",
        ),
        "shoot_deleted": ("ok", "The shoot is deleted."),
        "upload_added": ("ok", "The upload is planned."),
        "upload_saved": ("ok", "The upload is saved."),
        "upload_completed": ("ok", "The upload is marked done."),
        "upload_reopened": ("ok", "The upload is marked not done."),
        "upload_deleted": ("ok", "The upload is deleted."),
        "block_added": ("ok", "The dates are blocked."),
        "block_deleted": ("ok", "The dates are free again."),
        "link_revoked": ("ok", "The review link is withdrawn: it no longer opens the form."),
        "review_published": ("ok", "The review is published on your portfolio."),
        "review_hidden": ("ok", "The review is hidden from your portfolio."),
    }
)


def acting(me: SignedIn) -> None:
    """What the API's creator dependency refuses before any change: an account not active."""
    if me.suspended:
        raise Forbidden("your account is not active: it cannot act", code="account_suspended")


def studio_page(
    request: Request, template: str, section: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(request, template, status_code, sections=SECTIONS, section=section, **context)


def optional(text: str) -> str | None:
    """A typed value, or None for an empty field (the API's "absent")."""
    text = text.strip()
    return text or None


def message_of(error: ValidationError, names: dict[str, str] | None = None) -> dict[str, str]:
    """A message per form field from a request model's validation (the first one each);
    `names` maps the model's field to the form's."""
    errors: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "form"
        field = (names or {}).get(field, field)
        message = str(item["msg"]).removeprefix("Value error, ")
        errors.setdefault(field, message[:1].upper() + message[1:] + ".")
    return errors


def minor_units(text: str, currency: str, *, what: str = "the amount") -> int:
    """An amount typed in major units (`1250.50`) exactly in minor units (zero allowed);
    ValueError with the reason when it is not an amount of that currency."""
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"Enter {what} as a number, e.g. 1250.50.") from None
    exponent = minor_exponent(currency)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"Enter {what} as zero or more.")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {exponent} decimals.")
    if minor > MAX_AMOUNT:
        raise ValueError(f"This is more than the platform records as {what}.")
    return int(minor)


def major_units(amount: int | None, currency: str | None) -> str:
    """A stored amount as it is typed back into a form (`1250.5` -> `1250.50`, no grouping)."""
    if amount is None or currency is None:
        return ""
    return format_minor(amount, currency).replace(",", "")


def money(amount: int, currency: str) -> str:
    return f"{currency} {format_minor(amount, currency)}"
