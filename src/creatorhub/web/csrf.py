"""Cross-site request forgery: every page POST is checked here, by one of two dependencies.

`FormChecked`, for every form of the app: the form carries a hidden `csrf_token`, an HMAC
derived from a secret only this browser holds in an HttpOnly cookie: its session token once
signed in, else a random pre-session value set with the first form it is shown. Another site
can make the browser send the cookie (not even that, with SameSite=Lax, for a POST), but can
neither read the cookie nor the page, so it cannot put the right value in the form. Bound to
the session token, a form token dies with the session and changes with every login, and a
planted pre-session cookie can at most sign someone in as the planter, never act as them.
No server key is needed: the secret is the cookie.

`LinkChecked`, for the forms on pages reached from a secret link (the e-mail links' pages, the
client review form): the link's one-time token, in the URL or the form, is itself the secret a
forged request would need, and those pages are opened from a mail client where the browser
may have no cookie of this site at all. These checks stay as they were.

Both refuse a POST that the browser says came from another site (`Sec-Fetch-Site`), and answer
a refusal with a 403 page saying what happened and what to do; the handler never runs, so
nothing changes.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Form, Request

from creatorhub.web.render import PageError, message_page
from creatorhub.web.session import CSRF, SESSION, derive_form_token, read_cookie

FIELD = "csrf_token"


def _refused(request: Request, text: str) -> PageError:
    return PageError(
        message_page(
            request,
            heading="This form was not accepted",
            text=text,
            ok=False,
            status_code=403,
            next_step="Nothing was changed. Go back, reload the page and send the form again.",
        )
    )


def _refuse_cross_site(request: Request) -> None:
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise _refused(
            request, "The form was sent from another site. Only this site's own forms count."
        )


async def _check_form(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    _refuse_cross_site(request)
    secret = read_cookie(request, SESSION) or read_cookie(request, CSRF)
    if secret is None:
        raise _refused(
            request,
            "Your browser did not send this site's cookie with the form, so it could not be "
            "told apart from a forged one. Allow cookies for this site.",
        )
    if not csrf_token or not hmac.compare_digest(csrf_token, derive_form_token(secret)):
        raise _refused(
            request,
            "The form's security code does not match your session: the page was open from "
            "before you signed in or out, or the form came from somewhere else.",
        )


async def _check_link(request: Request) -> None:
    _refuse_cross_site(request)


FormChecked = Annotated[None, Depends(_check_form)]
LinkChecked = Annotated[None, Depends(_check_link)]
CSRF_CHECKS = (_check_form, _check_link)
