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

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from creatorhub.identity.models import Role
from creatorhub.web.render import navigation, render
from creatorhub.web.session import FLASHES, SignedIn, page_role

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


def studio_page(
    request: Request, template: str, section: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(request, template, status_code, sections=SECTIONS, section=section, **context)


def optional(text: str) -> str | None:
    """A typed value, or None for an empty field (the API's "absent")."""
    text = text.strip()
    return text or None
