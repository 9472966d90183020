"""The workspace's pages: a creator's public portfolio and the client review form.

The review link is opened by e-mail link scanners before the client: `GET /review/{token}`
only reads (it writes nothing, not even a "seen" time) and shows the form; the form's POST
records the review. Its protection against forgery is `web.csrf.LinkChecked`, as on the other
token pages: the token in the URL is the secret a forged request would need, and a POST the
browser says came from another site is refused. Token pages are never cached and send no
referrer.
Errors are raised as `PageError` so the request's transaction rolls back.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from creatorhub.db import DbSession
from creatorhub.kit.errors import Conflict, NotFound, Problem
from creatorhub.web.csrf import LinkChecked
from creatorhub.web.render import PageError, message_page, render
from creatorhub.workspace import reviews
from creatorhub.workspace.portfolio import budget_text, get_portfolio
from creatorhub.workspace.reviews import LinkView
from creatorhub.workspace.reviews_schemas import MAX_REVIEW_TEXT, check_review_form

router = APIRouter(include_in_schema=False)

# Any profile address could be (identity checks the exact shape when one is saved).
SLUG_SHAPE = re.compile(r"^[A-Za-z0-9-]{1,50}$")

# A public page: may load the creator's photo from wherever it is hosted, besides what every
# page may (observability.DEFAULT_PAGE_CSP; the middleware adds the framing ban).
PORTFOLIO_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src https: http:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'"
    ),
}
TOKEN_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
RATING_WORDS = ((1, "poor"), (2, "fair"), (3, "good"), (4, "very good"), (5, "excellent"))

# (heading, text) of each way a review link can fail; the status is the problem's.
LINK_PROBLEMS = {
    "review_link_not_found": (
        "This review link is not valid",
        "Check that you opened the whole link from the message you received, or ask the "
        "creator for a new one.",
    ),
    "review_link_expired": (
        "This review link has expired",
        "Review links work for a limited time. Ask the creator for a new one.",
    ),
    "review_link_revoked": (
        "This review link was withdrawn",
        "The creator withdrew this link, perhaps because they sent you a newer one. Use the "
        "newest link, or ask them for one.",
    ),
    "review_link_used": (
        "This review was already sent",
        "A review was recorded with this link, and a link takes one review. Thank you!",
    ),
    "already_reviewed": (
        "This shoot already has a review",
        "Only one review per shoot can be recorded, and one was; this one was not saved.",
    ),
    "shoot_not_completed": (
        "This shoot cannot be reviewed now",
        "The creator has not marked this shoot as completed any more. Ask them about it.",
    ),
}


def human_date(value: date | datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def number(value: int) -> str:
    return f"{value:,}"


def stars(average: Decimal | None) -> str:
    full = int((average or Decimal(0)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return "★" * full + "☆" * (5 - full)


HELPERS: dict[str, Any] = {"human_date": human_date, "number": number, "stars": stars}


def _link_problem_page(request: Request, problem: Problem) -> PageError:
    heading, text = LINK_PROBLEMS.get(
        problem.code, ("This review cannot be sent", problem.detail or "Please try again later.")
    )
    return PageError(
        message_page(
            request,
            heading=heading,
            text=text,
            ok=False,
            status_code=problem.status,
            headers=TOKEN_PAGE_HEADERS,
        )
    )


def _form(
    request: Request,
    token: str,
    view: LinkView,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "review_form.html",
        status_code,
        headers=TOKEN_PAGE_HEADERS,
        token=token,
        view=view,
        values=values or {"phone": "", "email": "", "rating": "", "text": ""},
        errors=errors or {},
        ratings=RATING_WORDS,
        max_text=MAX_REVIEW_TEXT,
        **HELPERS,
    )


@router.get("/portfolio/{slug}", response_class=HTMLResponse)
async def portfolio_page(request: Request, session: DbSession, slug: str) -> HTMLResponse:
    try:
        if not SLUG_SHAPE.match(slug):
            raise NotFound("no creator has this profile address", code="creator_not_found")
        portfolio = await get_portfolio(session, slug)
    except Problem as problem:
        raise PageError(
            message_page(
                request,
                heading="No such portfolio",
                text="No creator has this profile address. Check the link for typos.",
                ok=False,
                status_code=problem.status,
            )
        ) from None
    return render(
        request,
        "portfolio.html",
        headers=PORTFOLIO_HEADERS,
        p=portfolio,
        budget=budget_text(portfolio.budget),
        **HELPERS,
    )


@router.get("/review/{token}", response_class=HTMLResponse)
async def review_form(request: Request, session: DbSession, token: str) -> HTMLResponse:
    try:
        view = await reviews.describe_link(session, token)
    except Problem as problem:
        raise _link_problem_page(request, problem) from None
    return _form(request, token, view)


FormText = Annotated[str, Form()]


@router.post("/review/{token}", response_class=HTMLResponse)
async def submit_review(
    request: Request,
    _: LinkChecked,
    session: DbSession,
    token: str,
    phone: FormText = "",
    email: FormText = "",
    rating: FormText = "",
    review_text: FormText = "",
) -> HTMLResponse:
    try:
        view = await reviews.describe_link(session, token)
    except Problem as problem:
        if problem.code == "review_link_used":
            # A second submission: its problem is the shoot's one review, not the link.
            problem = Conflict(code="already_reviewed")
        raise _link_problem_page(request, problem) from None
    form, errors = check_review_form(phone, email, rating, review_text)
    if form is None:
        values = {"phone": phone, "email": email, "rating": rating, "text": review_text}
        safe = {key: value.replace("\x00", "") for key, value in values.items()}
        raise PageError(_form(request, token, view, values=safe, errors=errors, status_code=422))
    try:
        view = await reviews.submit_review(session, token, form)
    except Problem as problem:
        raise _link_problem_page(request, problem) from None
    return render(
        request,
        "review_thanks.html",
        headers=TOKEN_PAGE_HEADERS,
        view=view,
        rating=form.rating,
        **HELPERS,
    )
