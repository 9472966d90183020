"""The browser's side of a page login: cookies, the signed-in user, the chosen role, flashes.

* The session cookie carries an opaque `page` token of an identity login session
  (`identity.service.browser`), never an account id. HttpOnly (no script reads it), SameSite=Lax
  (not sent with another site's POST), Path=/, and Secure with the `__Host-` prefix when the
  request came over HTTPS or the configured public base URL is https (the prefix stops a
  sibling subdomain from planting its own cookie).
* A role choice (for someone with several roles) is a cookie too: it only picks which of the
  account's own roles the navigation shows, and is checked against the account on every page,
  so a forged value can choose nothing the account does not have.
* A flash is the code of one of `FLASHES`, shown once on the next page: a cookie can name a
  message, never supply its text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from creatorhub.config import Settings
from creatorhub.db import DbSession
from creatorhub.identity.models import AccountStatus, Role
from creatorhub.identity.service import Principal
from creatorhub.identity.service.browser import browser_principal
from creatorhub.kit.errors import Forbidden, Unauthorized

# Roles in the order a new page session shows them: the first the account has is the default.
ROLE_ORDER = (Role.ADMIN, Role.MODERATOR, Role.BRAND, Role.CREATOR, Role.FAN)
ROLE_LABELS = {
    Role.ADMIN.value: "Administrator",
    Role.MODERATOR.value: "Moderator",
    Role.BRAND.value: "Brand",
    Role.CREATOR.value: "Creator",
    Role.FAN.value: "Fan",
}

# (kind, text) of every message a redirect can leave for the next page.
FLASHES = {
    "signed_in": ("ok", "You are signed in."),
    "signed_out": ("ok", "You are signed out. The session is closed on the server too."),
    "registered": (
        "ok",
        "If the address can take a new account, it was created and a link to confirm it is on "
        "its way there; if it already had one, its owner was told by e-mail. Sign in below.",
    ),
    "reset_requested": (
        "ok",
        "If an account uses that address, a link to choose a new password is on its way there.",
    ),
    "role_switched": ("ok", "The pages now show what you do in this role."),
    "verification_sent": ("ok", "A new confirmation link is on its way to your address."),
    "already_verified": ("ok", "Your e-mail address is already confirmed."),
    "session_ended": ("error", "Your session has ended. Sign in again to go on."),
}

SESSION, ROLE, FLASH, CSRF = "session", "role", "flash", "csrf"
DEFAULT_AFTER_LOGIN = "/account"
_MAX_NEXT = 2000
_FORM_CONTEXT = b"creatorhub page form v1"
_NEW_SECRET = "creatorhub_new_csrf_secret"  # noqa: S105 - where request.state keeps it
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def derive_form_token(secret: str) -> str:
    """A form's CSRF token, from the browser's cookie secret (`web.csrf` says why)."""
    digest = hmac.new(secret.encode(), _FORM_CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def form_token(request: Request) -> str:
    """The hidden field's value for this browser. Without any cookie secret yet, a new
    pre-session secret is made, which `render` sets as a cookie with the page."""
    secret = read_cookie(request, SESSION) or read_cookie(request, CSRF)
    if secret is None:
        secret = getattr(request.state, _NEW_SECRET, None)
        if secret is None:
            secret = secrets.token_urlsafe(32)
            setattr(request.state, _NEW_SECRET, secret)
    return derive_form_token(secret)


def new_pre_session_secret(request: Request) -> str | None:
    """The pre-session secret made while rendering this request's page, if one was."""
    secret: str | None = getattr(request.state, _NEW_SECRET, None)
    return secret


def is_secure(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    settings: Settings = request.app.state.settings
    return settings.link_base_url.lower().startswith("https://")


def cookie_name(request: Request, what: str) -> str:
    # `__Host-` cookies must be Secure, for Path=/ and without Domain: browsers refuse any
    # other, so a subdomain cannot set one for this host.
    return f"__Host-creatorhub_{what}" if is_secure(request) else f"creatorhub_{what}"


def read_cookie(request: Request, what: str) -> str | None:
    value = request.cookies.get(cookie_name(request, what))
    return value if value and len(value) <= 200 else None


def set_cookie(
    request: Request, response: Response, what: str, value: str, *, max_age: int | None = None
) -> None:
    response.set_cookie(
        cookie_name(request, what),
        value,
        max_age=max_age,
        path="/",
        secure=is_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(request: Request, response: Response, what: str) -> None:
    response.delete_cookie(
        cookie_name(request, what), path="/", secure=is_secure(request), httponly=True
    )


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site, else the dashboard.

    Refused: absolute URLs, scheme-relative ones (`//evil.example`), backslashes (browsers read
    `/\\evil.example` as another host), control characters, and anything overlong.
    """
    if not value or len(value) > _MAX_NEXT or _CONTROL.search(value):
        return DEFAULT_AFTER_LOGIN
    if not value.startswith("/") or value.startswith("//"):
        return DEFAULT_AFTER_LOGIN
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return DEFAULT_AFTER_LOGIN
    return value


def login_url(next_path: str | None = None) -> str:
    if not next_path or next_path == DEFAULT_AFTER_LOGIN:
        return "/login"
    return f"/login?next={quote(next_path, safe='/')}"


def redirect(url: str, *, flash: str | None = None, request: Request | None = None) -> Response:
    """A 303 (the browser GETs `url` after a POST), leaving `flash` for the next page."""
    response = RedirectResponse(url, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if flash is not None:
        assert flash in FLASHES and request is not None
        set_cookie(request, response, FLASH, flash)
    return response


def flash_of(request: Request) -> tuple[str, str] | None:
    code = read_cookie(request, FLASH)
    return FLASHES.get(code) if code else None


def roles_of(principal: Principal) -> list[str]:
    held = set(principal.user.roles)
    return [role.value for role in ROLE_ORDER if role.value in held]


def chosen_role(request: Request, principal: Principal) -> str:
    """The role the pages show: the cookie's choice when the account has that role, else the
    first of `ROLE_ORDER` it has."""
    roles = roles_of(principal)
    wanted = read_cookie(request, ROLE)
    return wanted if wanted in roles else roles[0]


@dataclass(frozen=True)
class SignedIn:
    """The signed-in person of a page request."""

    principal: Principal
    role: str
    roles: list[str]

    @property
    def suspended(self) -> bool:
        return self.principal.user.status != AccountStatus.ACTIVE.value


class LoginRequired(Exception):
    """Raised by `signed_in`: answered with a redirect to the login page (app.py installs the
    handler through `web.errors`)."""

    def __init__(self, response: Response) -> None:
        super().__init__("login required")
        self.response = response


async def optional_principal(request: Request, session: DbSession) -> Principal | None:
    """The account of the browser's session cookie, None without a (valid) one."""
    token = read_cookie(request, SESSION)
    if token is None:
        return None
    try:
        return await browser_principal(session, request.app.state.settings, token)
    except Unauthorized:
        return None


async def signed_in(request: Request, session: DbSession) -> SignedIn:
    """The page dependency of everything behind the login: the signed-in person, or a redirect
    to the login page that comes back here (a GET's own path; after a POST, the dashboard)."""
    token = read_cookie(request, SESSION)
    principal = None
    if token is not None:
        try:
            principal = await browser_principal(session, request.app.state.settings, token)
        except Unauthorized:
            principal = None
    if principal is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = login_url(safe_next(back) if request.method == "GET" else None)
        response = redirect(
            target, flash="session_ended" if token else None, request=request if token else None
        )
        if token is not None:
            clear_cookie(request, response, SESSION)
        raise LoginRequired(response)
    signed = SignedIn(principal, chosen_role(request, principal), roles_of(principal))
    request.state.signed_in = signed
    return signed


CurrentUser = Annotated[SignedIn, Depends(signed_in)]


def page_role(*roles: Role) -> Callable[..., Awaitable[SignedIn]]:
    """A product page's dependency: signed in (else the login redirect), with one of `roles`
    among the account's (else 403 `role_required`, a page), the one it acts as switched to the
    first of them it has when it was acting as another (a link from one role's page into
    another's opens as the role it belongs to)."""
    wanted = [role.value for role in roles]

    async def check(request: Request, me: CurrentUser) -> SignedIn:
        held = [role for role in wanted if role in me.roles]
        if not held:
            names = ", ".join(ROLE_LABELS[role] for role in wanted)
            raise Forbidden(f"this page is for the role: {names}", code="role_required")
        if me.role in held:
            return me
        acting = SignedIn(me.principal, held[0], me.roles)
        request.state.signed_in = acting
        return acting

    return check
