"""The creator's portfolio editor: what `/portfolio/{slug}` shows, edited on one form with a
live preview (static/studio.js copies what is typed into the preview as text).

The fields are those of the API's two requests behind the public page: the account's name, bio
and published contact (`PATCH /v1/users/{id}`: display_name, bio, socials.email and
socials.website) and the creator profile (`PUT /v1/me/creator-profile`: slug, photo, categories,
languages, skills, budget, declared audience). Both are checked with the API's request models
and saved by the same identity services in the request's one transaction: a refusal of either
saves nothing of both.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.db import DbSession
from creatorhub.identity import service as identity
from creatorhub.identity.schemas import CreatorProfileIn, UserUpdate
from creatorhub.kit.errors import Problem
from creatorhub.payments.schemas import check_currency
from creatorhub.web.account import problem_field
from creatorhub.web.acting import field_errors, major_units, may_act, minor_units
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError
from creatorhub.web.session import redirect
from creatorhub.web.studio_base import Creator, studio_page

router = APIRouter(include_in_schema=False)

FIELDS = (
    "display_name",
    "bio",
    "slug",
    "photo_url",
    "categories",
    "languages",
    "skills",
    "budget_min",
    "budget_max",
    "budget_currency",
    "audience",
    "contact_email",
    "website",
)
# The request models' fields, as the form names them.
FORM_NAMES = {
    "min_budget_minor": "budget_min",
    "max_budget_minor": "budget_max",
    "follower_estimates": "audience",
    "socials": "contact_email",
}
AUDIENCE_LINE = re.compile(r"^\s*([A-Za-z0-9_]{2,30})\s*[:=]?\s*([0-9][0-9,_ ]*)\s*$")


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _values_of(user: Any, saved: tuple[Any, dict[str, int]] | None) -> dict[str, str]:
    socials = user.socials or {}
    values = dict.fromkeys(FIELDS, "")
    values.update(
        display_name=user.display_name or "",
        bio=user.bio or "",
        contact_email=str(socials.get("email", "")),
        website=str(socials.get("website", "")),
    )
    if saved is not None:
        profile, followers = saved
        currency = profile.budget_currency
        values.update(
            slug=profile.slug,
            photo_url=profile.photo_url or "",
            categories=", ".join(profile.categories),
            languages=", ".join(profile.languages),
            skills=", ".join(profile.skills),
            budget_min=major_units(profile.min_budget_minor, currency),
            budget_max=major_units(profile.max_budget_minor, currency),
            budget_currency=currency or "",
            audience="\n".join(f"{name}: {count}" for name, count in followers.items()),
        )
    return values


def _form(
    request: Request,
    values: dict[str, str],
    *,
    slug: str | None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return studio_page(
        request,
        "studio_portfolio.html",
        "portfolio",
        status_code,
        values=values,
        errors=errors or {},
        saved_slug=slug,
        preview_tags=_listed(values["categories"]),
    )


@router.get("/studio/portfolio", response_class=HTMLResponse)
async def portfolio_form(request: Request, me: Creator, session: DbSession) -> HTMLResponse:
    saved = await identity.get_creator_profile(session, me.principal.id)
    values = _values_of(me.principal.user, saved)
    return _form(request, values, slug=saved[0].slug if saved else None)


def _audience(text: str) -> dict[str, int]:
    """`instagram: 12,000` lines as {platform: followers}; ValueError naming a bad line."""
    audience: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = AUDIENCE_LINE.match(line)
        if match is None:
            raise ValueError(
                f"Write one platform per line as “platform: followers”; “{line.strip()[:60]}” "
                "is not."
            )
        count = re.sub(r"[,_ ]", "", match.group(2))
        audience[match.group(1).lower()] = int(count)
    return audience


def _checked(
    values: dict[str, str], socials: dict[str, Any]
) -> tuple[UserUpdate | None, CreatorProfileIn | None, dict[str, str]]:
    """The form as the API's two request models, or a message per field at fault."""
    errors: dict[str, str] = {}
    contact: dict[str, Any] = {k: v for k, v in socials.items() if k not in ("email", "website")}
    email = values["contact_email"].strip()
    if email:
        try:
            contact["email"] = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["contact_email"] = "Enter a valid e-mail address, like name@example.com."
    website = values["website"].strip()
    if website:
        if not website.startswith(("https://", "http://")):
            errors["website"] = "Enter the whole address, starting with https://."
        contact["website"] = website
    account: dict[str, Any] = {
        "display_name": values["display_name"],
        "bio": values["bio"].replace("\r\n", "\n").strip() or None,
        "socials": contact,
    }
    profile: dict[str, Any] = {
        "slug": values["slug"].strip().lower(),
        "photo_url": values["photo_url"].strip() or None,
        "categories": _listed(values["categories"]),
        "languages": _listed(values["languages"]),
        "skills": _listed(values["skills"]),
    }
    currency = values["budget_currency"].strip().upper()
    if currency:
        try:
            profile["budget_currency"] = check_currency(currency)
        except ValueError as error:
            errors["budget_currency"] = str(error)[:1].upper() + str(error)[1:] + "."
    for name, key, what in (
        ("budget_min", "min_budget_minor", "lowest budget"),
        ("budget_max", "max_budget_minor", "highest budget"),
    ):
        if not values[name].strip():
            continue
        if not currency:
            errors.setdefault("budget_currency", "Choose the currency of your budget.")
            continue
        if "budget_currency" in errors:
            continue
        try:
            profile[key] = minor_units(values[name], currency, noun=what, zero_allowed=True)
        except ValueError as error:
            errors[name] = str(error)
    lo, hi = profile.get("min_budget_minor"), profile.get("max_budget_minor")
    if lo is not None and hi is not None and lo > hi:
        errors["budget_max"] = "The highest budget is below the lowest."
    try:
        profile["follower_estimates"] = _audience(values["audience"])
    except ValueError as error:
        errors["audience"] = str(error)
    user_update = profile_in = None
    try:
        user_update = UserUpdate.model_validate(account)
    except ValidationError as error:
        for field, message in field_errors(error, names=FORM_NAMES).items():
            errors.setdefault(field, message)
    try:
        profile_in = CreatorProfileIn.model_validate(profile)
    except ValidationError as error:
        for field, message in field_errors(error, names=FORM_NAMES).items():
            errors.setdefault(field if field in FIELDS else "form", message)
    if errors:
        return None, None, errors
    return user_update, profile_in, errors


Line = Annotated[str, Form(max_length=2100)]


@router.post("/studio/portfolio")
async def save_portfolio(
    request: Request,
    _: FormChecked,
    me: Creator,
    session: DbSession,
    display_name: Line = "",
    bio: Annotated[str, Form(max_length=4000)] = "",
    slug: Line = "",
    photo_url: Line = "",
    categories: Line = "",
    languages: Line = "",
    skills: Line = "",
    budget_min: Line = "",
    budget_max: Line = "",
    budget_currency: Line = "",
    audience: Annotated[str, Form(max_length=4000)] = "",
    contact_email: Line = "",
    website: Line = "",
) -> Response:
    may_act(me, moves_money=False)
    values = {
        "display_name": display_name,
        "bio": bio,
        "slug": slug,
        "photo_url": photo_url,
        "categories": categories,
        "languages": languages,
        "skills": skills,
        "budget_min": budget_min,
        "budget_max": budget_max,
        "budget_currency": budget_currency,
        "audience": audience,
        "contact_email": contact_email,
        "website": website,
    }
    user = me.principal.user
    # The saved address, for the public page's link if the form comes back.
    saved = await identity.get_creator_profile(session, user.id)
    saved_slug = saved[0].slug if saved else None
    user_update, profile_in, errors = _checked(values, dict(user.socials or {}))
    if user_update is None or profile_in is None:
        raise PageError(_form(request, values, slug=saved_slug, errors=errors, status_code=422))
    try:
        await identity.update_user(session, me.principal, user, user_update)
        await identity.put_creator_profile(session, me.principal, profile_in)
    except Problem as problem:
        if problem.status >= 500:
            raise
        field = problem_field(problem, "form")
        errors = {FORM_NAMES.get(field, field): problem.detail or "This cannot be saved."}
        raise PageError(
            _form(request, values, slug=saved_slug, errors=errors, status_code=problem.status)
        ) from None
    return redirect("/studio/portfolio", flash="portfolio_saved", request=request)
