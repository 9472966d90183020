"""The landing page, and the pages people reach from the platform's e-mails.

Links in e-mails are opened by mail scanners before people: a GET only shows a form, and only
the form's POST uses the token (the token is the form's protection against forgery, see
`web.csrf`). Token pages are never cached and send no referrer, since the token is in their
URL. Errors render as pages with the problem's status; they are raised (not returned) so the
request's transaction rolls back.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from creatorhub.db import DbSession
from creatorhub.identity import service
from creatorhub.identity.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    password_problem,
)
from creatorhub.kit.errors import Problem
from creatorhub.web.csrf import LinkChecked
from creatorhub.web.render import PageError, message_page, render, templates
from creatorhub.workspace.directory import portfolio_directory

__all__ = ["PageError", "message_page", "render", "router", "templates"]

router = APIRouter(include_in_schema=False)

# What the platform's one-time e-mail tokens look like (kit.tokens.new_token("che")).
EMAIL_TOKEN = re.compile(r"^che_[A-Za-z0-9_\-]{20,100}$")
TOKEN_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

TOKEN_PROBLEMS = {
    "invalid_token": (
        "This link is not valid. Copy the whole link from the e-mail, or ask for a new one."
    ),
    "token_used": "This link was already used.",
    "token_expired": "This link has expired. Ask for a new one.",
    "email_taken": "Another account uses this address now.",
}


def _token_page(
    request: Request, template: str, status_code: int = 200, **context: object
) -> HTMLResponse:
    return render(request, template, status_code, headers=TOKEN_PAGE_HEADERS, **context)


def _message(
    request: Request, *, heading: str, text: str, ok: bool, status_code: int = 200
) -> HTMLResponse:
    return message_page(
        request,
        heading=heading,
        text=text,
        ok=ok,
        status_code=status_code,
        headers=TOKEN_PAGE_HEADERS,
        # Done, or a link that cannot be used: either way, signing in is where to go on.
        link=("/login", "Sign in") if ok else ("/", "Home page"),
    )


def _checked_token(request: Request, token: str, heading: str) -> str:
    if not EMAIL_TOKEN.match(token):
        raise PageError(
            _message(
                request,
                heading=heading,
                text=TOKEN_PROBLEMS["invalid_token"],
                ok=False,
                status_code=400,
            )
        )
    return token


def _problem_page(request: Request, heading: str, problem: Problem) -> PageError:
    text = TOKEN_PROBLEMS.get(problem.code, problem.detail or "The request could not be completed.")
    return PageError(
        _message(request, heading=heading, text=text, ok=False, status_code=problem.status)
    )


Token = Annotated[str, Query(max_length=500)]
FormToken = Annotated[str, Form(max_length=500)]


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, session: DbSession) -> HTMLResponse:
    creators = await portfolio_directory(session)
    return render(request, "index.html", creators=creators)


# --- e-mail verification --------------------------------------------------------------------

VERIFY = "Confirm your e-mail address"


def _button_page(
    request: Request, token: str, *, heading: str, explanation: str, action: str, button: str
) -> HTMLResponse:
    """A page whose only effect is a button that POSTs the token back to `action`."""
    return _token_page(
        request,
        "confirm.html",
        heading=heading,
        explanation=explanation,
        action=action,
        button=button,
        token=_checked_token(request, token, heading),
    )


@router.get("/verify-email", response_class=HTMLResponse)
async def verify_email_form(request: Request, token: Token = "") -> HTMLResponse:
    return _button_page(
        request,
        token,
        heading=VERIFY,
        explanation="Press the button to confirm that this address is yours.",
        action="/verify-email",
        button="Confirm my address",
    )


@router.post("/verify-email", response_class=HTMLResponse)
async def verify_email(
    request: Request, _: LinkChecked, session: DbSession, token: FormToken
) -> HTMLResponse:
    try:
        await service.verify_email(session, _checked_token(request, token, VERIFY))
    except Problem as problem:
        raise _problem_page(request, VERIFY, problem) from None
    return _message(request, heading=VERIFY, text="Your e-mail address is confirmed.", ok=True)


# --- password reset -------------------------------------------------------------------------

RESET = "Choose a new password"


def _reset_form(
    request: Request, token: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    return _token_page(
        request,
        "reset_password.html",
        status_code,
        token=token,
        error=error,
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
    )


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_form(request: Request, token: Token = "") -> HTMLResponse:
    return _reset_form(request, _checked_token(request, token, RESET))


@router.post("/reset-password", response_class=HTMLResponse)
async def reset_password(
    request: Request,
    _: LinkChecked,
    session: DbSession,
    token: FormToken,
    new_password: Annotated[str, Form(max_length=1000)],
    confirm_password: Annotated[str, Form(max_length=1000)],
) -> HTMLResponse:
    token = _checked_token(request, token, RESET)
    if new_password != confirm_password:
        raise PageError(_reset_form(request, token, "The two passwords differ.", 422))
    problem = (
        "The password must not contain NUL characters."
        if "\x00" in new_password
        else password_problem(new_password)
    )
    if problem:
        raise PageError(_reset_form(request, token, f"The password {problem}.", 422))
    try:
        await service.confirm_password_reset(session, token, new_password)
    except Problem as failure:
        raise _problem_page(request, RESET, failure) from None
    return _message(
        request,
        heading="Your password is changed",
        text="Sign in with your new password. Every other device was signed out.",
        ok=True,
    )


# --- e-mail change --------------------------------------------------------------------------

CHANGE = "Confirm your new e-mail address"


@router.get("/confirm-email-change", response_class=HTMLResponse)
async def confirm_email_change_form(request: Request, token: Token = "") -> HTMLResponse:
    return _button_page(
        request,
        token,
        heading=CHANGE,
        explanation="Press the button to make this address the one your account uses.",
        action="/confirm-email-change",
        button="Use this address",
    )


@router.post("/confirm-email-change", response_class=HTMLResponse)
async def confirm_email_change(
    request: Request, _: LinkChecked, session: DbSession, token: FormToken
) -> HTMLResponse:
    try:
        user = await service.confirm_email_change(session, _checked_token(request, token, CHANGE))
    except Problem as problem:
        raise _problem_page(request, CHANGE, problem) from None
    return _message(request, heading=CHANGE, text=f"Your account now uses {user.email}.", ok=True)
