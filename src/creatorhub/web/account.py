"""Signing in and out, registering, a forgotten password, and the dashboard of each role.

The pages call the identity services as the API does. A form that fails comes back with what
was typed (never a password) and the service's message next to the field at fault; outcomes
are flashes on the page a 303 leads to, so that reloading it sends nothing again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.db import DbSession
from creatorhub.identity import service
from creatorhub.identity.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from creatorhub.identity.schemas import PasswordResetRequest, RegisterRequest
from creatorhub.identity.service.browser import browser_login
from creatorhub.kit.errors import Conflict, Forbidden, Problem, TooManyRequests
from creatorhub.kit.state import AppDatabase, AppSettings
from creatorhub.web.acting import field_errors
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, render
from creatorhub.web.session import (
    DEFAULT_AFTER_LOGIN,
    ROLE,
    ROLE_LABELS,
    SESSION,
    CurrentUser,
    clear_cookie,
    optional_principal,
    redirect,
    safe_next,
    set_cookie,
)

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=1000)]
SELF_SERVICE_ROLES = (
    ("creator", "Creator: I take on jobs and keep a portfolio"),
    ("brand", "Brand: I hire creators for jobs"),
    ("fan", "Fan: I follow creators"),
)


def problem_field(problem: Problem, default: str) -> str:
    """The form field a service's problem names (`body.email` -> `email`), else `default`."""
    return problem.field.rsplit(".", 1)[-1] if problem.field else default


# --- signing in -----------------------------------------------------------------------------


def _login_form(
    request: Request,
    *,
    email: str = "",
    next_path: str = DEFAULT_AFTER_LOGIN,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        status_code,
        values={"email": email},
        next_path=next_path,
        errors=errors or {},
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return _login_form(request, next_path=safe_next(request.query_params.get("next")))


@router.post("/login")
async def login(
    request: Request,
    _: FormChecked,
    session: DbSession,
    database: AppDatabase,
    settings: AppSettings,
    email: Text = "",
    password: Text = "",
    next: Text = "",
) -> Response:
    target = safe_next(next)
    errors = {}
    if not email.strip():
        errors["email"] = "Enter your e-mail address."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message
    if errors:
        raise PageError(
            _login_form(request, email=email, next_path=target, errors=errors, status_code=422)
        )
    try:
        signed = await browser_login(session, database, settings, email.strip(), password)
    except Problem as problem:
        text = (
            "Too many sign-in attempts. Wait a few minutes, then try again."
            if isinstance(problem, TooManyRequests)
            else "Wrong e-mail address or password."
        )
        form = _login_form(
            request,
            email=email,
            next_path=target,
            errors={"form": text},
            status_code=problem.status,
        )
        form.headers.update(problem.headers)  # a 429's Retry-After
        raise PageError(form) from None
    response = redirect(target, flash="signed_in", request=request)
    # A new token for a new session: the cookie the browser had before (if any) is replaced,
    # never promoted; the role choice of whoever used the browser before goes with it.
    set_cookie(request, response, SESSION, signed.token, max_age=settings.refresh_token_ttl_seconds)
    clear_cookie(request, response, ROLE)
    return response


@router.post("/logout")
async def logout(request: Request, _: FormChecked, session: DbSession) -> Response:
    principal = await optional_principal(request, session)
    if principal is not None:
        await service.logout(session, principal)
    response = redirect("/", flash="signed_out", request=request)
    clear_cookie(request, response, SESSION)
    clear_cookie(request, response, ROLE)
    return response


# --- registering ----------------------------------------------------------------------------


def _register_form(
    request: Request,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "register.html",
        status_code,
        values=values or {"email": "", "display_name": "", "roles": ["creator"]},
        errors=errors or {},
        role_choices=SELF_SERVICE_ROLES,
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
    )


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request) -> HTMLResponse:
    return _register_form(request)


@router.post("/register")
async def register(
    request: Request,
    _: FormChecked,
    session: DbSession,
    database: AppDatabase,
    settings: AppSettings,
    email: Text = "",
    display_name: Text = "",
    password: Text = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = [role for role in roles or [] if role in dict(SELF_SERVICE_ROLES)]
    values = {"email": email, "display_name": display_name, "roles": chosen}
    try:
        body = RegisterRequest.model_validate(
            {
                "email": email.strip(),
                "display_name": display_name,
                "password": password,
                "roles": chosen or ["fan"],
            }
        )
    except ValidationError as error:
        raise PageError(
            _register_form(request, values, field_errors(error, default="password"), 422)
        ) from None
    try:
        await service.register(session, database, settings, body)
    except Problem as problem:
        text = problem.detail or "The account could not be created."
        if isinstance(problem, TooManyRequests):
            text = "Too many registrations from your address. Try again later."
        raise PageError(
            _register_form(request, values, {problem_field(problem, "form"): text}, problem.status)
        ) from None
    return redirect("/login", flash="registered", request=request)


# --- a forgotten password -------------------------------------------------------------------


@router.get("/forgot-password", response_class=HTMLResponse)
async def forgot_password_form(request: Request) -> HTMLResponse:
    return render(request, "forgot_password.html", values={"email": ""}, errors={})


@router.post("/forgot-password")
async def forgot_password(
    request: Request,
    _: FormChecked,
    session: DbSession,
    database: AppDatabase,
    settings: AppSettings,
    email: Text = "",
) -> Response:
    try:
        body = PasswordResetRequest.model_validate({"email": email.strip()})
    except ValidationError as error:
        raise PageError(
            render(
                request,
                "forgot_password.html",
                422,
                values={"email": email},
                errors=field_errors(error, default="password"),
            )
        ) from None
    await service.request_password_reset(session, database, settings, body.email)
    # The same answer whether or not the address has an account.
    return redirect("/login", flash="reset_requested", request=request)


# --- the dashboard --------------------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
async def dashboard(request: Request, me: CurrentUser) -> HTMLResponse:
    return render(request, "dashboard.html", me=me, user=me.principal.user)


@router.post("/account/role")
async def switch_role(
    request: Request, _: FormChecked, me: CurrentUser, role: Text = ""
) -> Response:
    if role not in me.roles:
        wanted = ROLE_LABELS.get(role, "that role")
        raise Forbidden(f"Your account does not have the role {wanted}.", code="role_required")
    response = redirect("/account", flash="role_switched", request=request)
    set_cookie(request, response, ROLE, role)
    return response


@router.post("/account/verify-email")
async def resend_verification(
    request: Request, _: FormChecked, me: CurrentUser, session: DbSession, settings: AppSettings
) -> Response:
    try:
        await service.resend_verification(session, settings, me.principal.user)
    except Conflict:
        return redirect("/account", flash="already_verified", request=request)
    return redirect("/account", flash="verification_sent", request=request)
