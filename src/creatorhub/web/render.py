"""Rendering a page in the shell: the templates, what every page knows, errors raised as pages.

Every page extends `base.html` and is rendered by `render`, which gives the template `page`
(`PageView`: the signed-in person and role when the route asked for one, the form token, the
flash to show, the navigation of the role) and sets what the page needs of its cookies (a new
pre-session secret, the flash cleared once shown). Products add their pages to the navigation
with `navigation(role, href, label)`; the shell's own entries frame theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from creatorhub import __version__
from creatorhub.identity.models import Role
from creatorhub.web.session import (
    CSRF,
    FLASH,
    ROLE_LABELS,
    SESSION,
    SignedIn,
    clear_cookie,
    flash_of,
    form_token,
    new_pre_session_secret,
    read_cookie,
    set_cookie,
)

# Jinja2Templates escapes every value put in an .html template (autoescape).
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# A page with a form or someone's own data is never kept by a cache.
PRIVATE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    position: int


# The navigation of each role, by position (then in the order added); products add their pages.
NAVIGATION: dict[str, list[NavItem]] = {role.value: [] for role in Role}
# Where the shell's own entries go: the dashboard first, the account's and the platform's last;
# a product's pages sit in between, at the default position, in the order they are added.
FIRST, PRODUCT, ACCOUNT, LAST = 0, 50, 80, 90


def navigation(role: Role, href: str, label: str, *, position: int = PRODUCT) -> None:
    items = NAVIGATION[role.value]
    items.append(NavItem(href, label, position))
    items.sort(key=lambda item: item.position)  # stable: equal positions keep their order


for _role in Role:
    navigation(_role, "/account", "Dashboard", position=FIRST)
    navigation(_role, "/#creators", "Creators", position=ACCOUNT)
for _role in (Role.ADMIN, Role.MODERATOR, Role.BRAND, Role.CREATOR):
    navigation(_role, "/docs", "API", position=LAST)


class PageView:
    """What `base.html` and every page read as `page`."""

    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def user(self) -> SignedIn | None:
        signed: SignedIn | None = getattr(self._request.state, "signed_in", None)
        return signed

    @property
    def maybe_signed_in(self) -> bool:
        """A session cookie is there (not checked: public pages look nothing up for the
        header's links; the dashboard checks it)."""
        return read_cookie(self._request, SESSION) is not None

    @property
    def csrf(self) -> str:
        return form_token(self._request)

    @property
    def flash(self) -> tuple[str, str] | None:
        return flash_of(self._request)

    @property
    def nav(self) -> list[NavItem]:
        return NAVIGATION[self.user.role] if self.user else []

    @property
    def path(self) -> str:
        return self._request.url.path

    @staticmethod
    def role_label(role: str) -> str:
        return ROLE_LABELS.get(role, role)


def finish(request: Request, response: Response) -> Response:
    """The cookies a rendered page brings: a pre-session secret made for its forms, and the
    flash it showed, cleared."""
    secret = new_pre_session_secret(request)
    if secret is not None and read_cookie(request, CSRF) is None:
        set_cookie(request, response, CSRF, secret)
    if read_cookie(request, FLASH) is not None:
        clear_cookie(request, response, FLASH)
    return response


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        template,
        {"version": __version__, "page": PageView(request), **context},
        status_code=status_code,
        headers=PRIVATE if headers is None else headers,
    )
    finish(request, response)
    return response


class PageError(Exception):
    """An answer shown instead of the page (an error page, a redirect); raised, not returned,
    so that the request's transaction rolls back."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def message_page(
    request: Request,
    *,
    heading: str,
    text: str,
    ok: bool,
    status_code: int = 200,
    next_step: str | None = None,
    headers: dict[str, str] | None = None,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    """A page saying one thing; `link` (href, label) is where to go next."""
    return render(
        request,
        "message.html",
        status_code,
        headers=headers,
        heading=heading,
        text=text,
        ok=ok,
        next_step=next_step,
        link=link,
    )
