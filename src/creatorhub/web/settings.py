"""The account settings pages (issue 13), for everyone signed in whatever the role: the
account's details, the brand and creator profiles, the e-mail address, the password, and
deleting the account.

Each form calls the identity service its API route calls (`PATCH /v1/me`,
`PUT /v1/me/brand-profile`, `PUT /v1/me/creator-profile`, `POST /v1/me/email`,
`POST /v1/me/password`, `POST /v1/me/delete`), validated by the same request model, as the
signed-in account. The API refuses a suspended or banned account (`CurrentPrincipal`); so do
these forms, with the same codes. A form that fails comes back alone, with what was typed
(never a password) and the message at its field, and the request's transaction rolls back, so
nothing changed. A wrong current password is answered at its field with 422 (the API's 403
`wrong_password`: on a page it is a form to correct, not a refusal).

Mail (the confirmation link of an e-mail change) is only put in the outbox by the service, in
the request's transaction: the worker sends it after the commit, so no network call happens
while the transaction is open, and a request that rolls back sends nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.db import DbSession
from creatorhub.identity import service
from creatorhub.identity.models import AccountStatus, Role
from creatorhub.identity.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from creatorhub.identity.schemas import (
    BrandProfileIn,
    ChangeEmailRequest,
    ChangePasswordRequest,
    CreatorProfileIn,
    DeleteAccountRequest,
    UserUpdate,
)
from creatorhub.kit.errors import Forbidden, Problem
from creatorhub.kit.state import AppSettings
from creatorhub.web.account import problem_field
from creatorhub.web.acting import may_act, minor_units
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import ACCOUNT, PageError, navigation, render
from creatorhub.web.session import (
    FLASHES,
    ROLE,
    SESSION,
    CurrentUser,
    SignedIn,
    clear_cookie,
    redirect,
)
from creatorhub.workspace.portfolio import format_minor

router = APIRouter(include_in_schema=False)

Short = Annotated[str, Form(max_length=1000)]
Long = Annotated[str, Form(max_length=10_000)]
Secret = Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH + 100)]

for _role in Role:
    navigation(_role, "/settings", "Settings", position=ACCOUNT)

# The outcomes a settings page's redirect can announce (codes only: `web.session` says why).
FLASHES.update(
    {
        "profile_saved": ("ok", "Your account details are saved."),
        "brand_profile_saved": ("ok", "Your brand profile is saved."),
        "creator_profile_saved": ("ok", "Your creator profile is saved."),
        "email_change_sent": (
            "ok",
            "A link to confirm the change is on its way to the new address. Your account keeps "
            "its current address until the link is opened.",
        ),
        "password_changed": (
            "ok",
            "Your password is changed. Wherever else you were signed in (other browsers, apps) "
            "you are signed out; this browser stays signed in.",
        ),
        "account_deleted": (
            "ok",
            "Your account is deleted and you are signed out everywhere. Its e-mail address is "
            "free again.",
        ),
    }
)

# The forms of the settings page, each with its fields (unique over the page: a field's
# name is its input's id) and the API's name of each where it differs.
PROFILE_FIELDS = ("display_name", "username", "phone", "bio", "socials")
BRAND_FIELDS = ("company_name", "website", "business_categories")
CREATOR_FIELDS = (
    "slug",
    "categories",
    "photo_url",
    "min_budget",
    "max_budget",
    "budget_currency",
    "languages",
    "skills",
    "follower_estimates",
)
CREATOR_API_NAMES = {"min_budget_minor": "min_budget", "max_budget_minor": "max_budget"}
EMAIL_API_NAMES = {"current_password": "email_password"}

# Messages for values that do not match a field's pattern (pydantic's would quote the regex).
PATTERN_MESSAGES = {
    "username": "Use 3 to 30 letters, digits, dots or underscores.",
    "phone": "Enter the number in digits (spaces, brackets, dashes and a leading + are fine).",
    "socials": (
        "Write one profile a line: the platform in lower case (letters, digits, _), a colon, "
        "then the address or handle, e.g. instagram: https://instagram.com/you."
    ),
    "website": "Enter a web address starting with https:// (or http://).",
    "photo_url": "Enter a web address starting with https:// (or http://).",
    "slug": (
        "Use 3 to 50 lower-case letters, digits and dashes, starting and ending with a letter "
        "or digit."
    ),
    "budget_currency": "Enter a three-letter currency code, e.g. USD or EUR.",
    "languages": "Use language codes such as en, de or pt-BR, separated by commas.",
    "follower_estimates": (
        "Name each platform in lower case (letters, digits, _), e.g. instagram: 12000."
    ),
}
REQUIRED_MESSAGES = {
    "display_name": "Enter the name others see.",
    "company_name": "Enter your company's name.",
    "current_password": "Enter your current password.",
    "email_password": "Enter your current password.",
    "new_email": "Enter the new e-mail address.",
}
WRONG_PASSWORD = "This is not your current password."  # noqa: S105 - a message


def _form_errors(error: ValidationError, form: str, names: dict[str, str]) -> dict[str, str]:
    """A message per form field from a request model's validation (the first one each); what
    names no field of the form (a check across fields) goes to the form itself."""
    errors: dict[str, str] = {}
    for item in error.errors():
        api_name = str(item["loc"][0]) if item["loc"] else ""
        field = names.get(api_name, api_name) if api_name else form
        kind = item["type"]
        if kind == "string_pattern_mismatch" and field in PATTERN_MESSAGES:
            message = PATTERN_MESSAGES[field]
        elif kind in ("string_too_short", "missing") and field in REQUIRED_MESSAGES:
            message = REQUIRED_MESSAGES[field]
        else:
            text = str(item["msg"]).removeprefix("Value error, ")
            message = text[:1].upper() + text[1:] + "."
        errors.setdefault(field, message)
    return errors


def _problem_errors(problem: Problem, form: str, names: dict[str, str]) -> dict[str, str]:
    if problem.code == "wrong_password":
        return {names.get("current_password", "current_password"): WRONG_PASSWORD}
    field = problem_field(problem, form)
    text = problem.detail or "This could not be saved."
    return {names.get(field, field): text[:1].upper() + text[1:] + "."}


def _refused(problem: Problem) -> int:
    """The status a service's refusal of a form comes back with: a wrong current password is a
    field to correct (422); others keep theirs (409 for a taken name, ...)."""
    return 422 if problem.code == "wrong_password" else problem.status


def _items(text: str) -> list[str]:
    """A comma-separated list as typed, without empty items."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _pairs(text: str, field: str) -> tuple[dict[str, str], str | None]:
    """`platform: value` lines as a dict (the platform lower-cased), or the message of the
    first line that is not one."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip() or not value.strip():
            return {}, PATTERN_MESSAGES[field]
        pairs[key.strip().lower()] = value.strip()
    return pairs, None


def _lines(pairs: dict[str, Any]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in pairs.items())


# --- the page --------------------------------------------------------------------------------


def _profile_values(me: SignedIn) -> dict[str, str]:
    user = me.principal.user
    return {
        "display_name": user.display_name,
        "username": user.username or "",
        "phone": user.phone or "",
        "bio": user.bio or "",
        "socials": _lines(user.socials or {}),
    }


def _settings_page(
    request: Request,
    me: SignedIn,
    *,
    only: str | None = None,
    profile: dict[str, str] | None = None,
    brand: dict[str, str] | None = None,
    creator: dict[str, str] | None = None,
    email: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The settings page; with `only`, just that form (one that failed, with what was typed:
    the others' current values are not read again for it)."""
    return render(
        request,
        "settings.html",
        status_code,
        # The principal's plain attributes only, never its ORM `User`: after a refused flush
        # (a taken username) the session's objects are expired and cannot load again.
        status=me.principal.status,
        suspended=me.principal.status != AccountStatus.ACTIVE.value,
        address=me.principal.email,
        verified=me.principal.email_verified,
        only=only,
        is_brand=Role.BRAND.value in me.roles,
        is_creator=Role.CREATOR.value in me.roles,
        profile=profile or dict.fromkeys(PROFILE_FIELDS, ""),
        brand=brand or dict.fromkeys(BRAND_FIELDS, ""),
        creator=creator or dict.fromkeys(CREATOR_FIELDS, ""),
        email=email or {"new_email": ""},
        errors=errors or {},
        min_length=MIN_PASSWORD_LENGTH,
    )


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, me: CurrentUser, session: DbSession) -> HTMLResponse:
    brand: dict[str, str] | None = None
    creator: dict[str, str] | None = None
    if Role.BRAND.value in me.roles or Role.CREATOR.value in me.roles:
        # Both profiles in one statement (what GET /v1/me reads besides the account).
        profiles = await service.account_profiles(session, me.principal.id)
        if profiles.brand is not None:
            brand = {
                "company_name": profiles.brand.company_name,
                "website": profiles.brand.website or "",
                "business_categories": ", ".join(profiles.brand.business_categories),
            }
        if profiles.creator is not None:
            creator = _creator_values(profiles.creator, profiles.followers)
    return _settings_page(request, me, profile=_profile_values(me), brand=brand, creator=creator)


def _creator_values(profile: Any, followers: dict[str, int]) -> dict[str, str]:
    currency = profile.budget_currency or ""

    def amount(minor: int | None) -> str:
        return "" if minor is None else format_minor(minor, currency or "USD")

    return {
        "slug": profile.slug,
        "categories": ", ".join(profile.categories),
        "photo_url": profile.photo_url or "",
        "min_budget": amount(profile.min_budget_minor),
        "max_budget": amount(profile.max_budget_minor),
        "budget_currency": currency,
        "languages": ", ".join(profile.languages),
        "skills": ", ".join(profile.skills),
        "follower_estimates": _lines(followers),
    }


# --- the account's details -------------------------------------------------------------------


@router.post("/settings/profile")
async def save_profile(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    display_name: Short = "",
    username: Short = "",
    phone: Short = "",
    bio: Long = "",
    socials: Long = "",
) -> Response:
    may_act(me, moves_money=False)
    values = {
        "display_name": display_name,
        "username": username,
        "phone": phone,
        "bio": bio,
        "socials": socials,
    }

    def failed(errors: dict[str, str], status_code: int = 422) -> PageError:
        return PageError(
            _settings_page(
                request, me, only="profile", profile=values, errors=errors, status_code=status_code
            )
        )

    pairs, wrong = _pairs(socials, "socials")
    if wrong:
        raise failed({"socials": wrong})
    try:
        changes = UserUpdate.model_validate(
            {
                "display_name": display_name,
                # An emptied field clears it, as `null` does in the API.
                "username": username.strip() or None,
                "phone": phone.strip() or None,
                "bio": bio.strip() or None,
                "socials": pairs,
            }
        )
    except ValidationError as error:
        raise failed(_form_errors(error, "profile_form", {})) from None
    try:
        await service.update_user(session, me.principal, me.principal.user, changes)
    except Problem as problem:
        if problem.status >= 500:
            raise
        raise failed(_problem_errors(problem, "profile_form", {}), _refused(problem)) from None
    return redirect("/settings", flash="profile_saved", request=request)


# --- the profiles ----------------------------------------------------------------------------


@router.post("/settings/brand-profile")
async def save_brand_profile(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    company_name: Short = "",
    website: Annotated[str, Form(max_length=3000)] = "",
    business_categories: Long = "",
) -> Response:
    may_act(me, moves_money=False)
    if Role.BRAND.value not in me.roles:
        raise Forbidden("a brand profile needs the brand role", code="role_required")
    values = {
        "company_name": company_name,
        "website": website,
        "business_categories": business_categories,
    }

    def failed(errors: dict[str, str], status_code: int = 422) -> PageError:
        return PageError(
            _settings_page(
                request, me, only="brand", brand=values, errors=errors, status_code=status_code
            )
        )

    try:
        body = BrandProfileIn.model_validate(
            {
                "company_name": company_name,
                "website": website.strip() or None,
                "business_categories": _items(business_categories),
            }
        )
    except ValidationError as error:
        raise failed(_form_errors(error, "brand_form", {})) from None
    try:
        await service.put_brand_profile(session, me.principal, body)
    except Problem as problem:
        if problem.status >= 500:
            raise
        raise failed(_problem_errors(problem, "brand_form", {}), _refused(problem)) from None
    return redirect("/settings", flash="brand_profile_saved", request=request)


_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _creator_body(values: dict[str, str]) -> tuple[CreatorProfileIn | None, dict[str, str]]:
    """The form's values as the API's request model, or a message per field at fault. Budgets
    are typed in major units of the budget's currency, parsed exactly as a job's budget."""
    errors: dict[str, str] = {}
    currency = values["budget_currency"].strip().upper() or None
    body: dict[str, Any] = {
        "slug": values["slug"].strip().lower(),
        "categories": _items(values["categories"]),
        "photo_url": values["photo_url"].strip() or None,
        "budget_currency": currency,
        "languages": _items(values["languages"]),
        "skills": _items(values["skills"]),
    }
    for name, api_name in (("min_budget", "min_budget_minor"), ("max_budget", "max_budget_minor")):
        typed = values[name].strip()
        body[api_name] = None
        if not typed:
            continue
        if currency is None:
            errors["budget_currency"] = "Choose the currency of your budget, e.g. USD."
        elif _CURRENCY.match(currency):
            try:
                body[api_name] = minor_units(typed, currency, noun="budget")
            except ValueError as error:
                errors[name] = str(error)
    low, high = body["min_budget_minor"], body["max_budget_minor"]
    if low is not None and high is not None and low > high:
        errors["max_budget"] = "The highest budget must not be below the lowest."
    estimates, wrong = _pairs(values["follower_estimates"], "follower_estimates")
    if wrong:
        errors["follower_estimates"] = wrong
    counts: dict[str, Any] = {}
    for platform, followers in estimates.items():
        try:
            counts[platform] = int(followers.replace(",", "").replace(" ", ""))
        except ValueError:
            errors.setdefault(
                "follower_estimates",
                f"Enter the followers on {platform} as a whole number, e.g. {platform}: 12000.",
            )
    body["follower_estimates"] = counts
    try:
        draft = CreatorProfileIn.model_validate(body)
    except ValidationError as error:
        for field, message in _form_errors(error, "creator_form", CREATOR_API_NAMES).items():
            errors.setdefault(field, message)
        return None, errors
    return (None, errors) if errors else (draft, errors)


@router.post("/settings/creator-profile")
async def save_creator_profile(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    slug: Short = "",
    categories: Long = "",
    photo_url: Annotated[str, Form(max_length=3000)] = "",
    min_budget: Short = "",
    max_budget: Short = "",
    budget_currency: Short = "",
    languages: Long = "",
    skills: Long = "",
    follower_estimates: Long = "",
) -> Response:
    may_act(me, moves_money=False)
    if Role.CREATOR.value not in me.roles:
        raise Forbidden("a creator profile needs the creator role", code="role_required")
    values = {
        "slug": slug,
        "categories": categories,
        "photo_url": photo_url,
        "min_budget": min_budget,
        "max_budget": max_budget,
        "budget_currency": budget_currency,
        "languages": languages,
        "skills": skills,
        "follower_estimates": follower_estimates,
    }

    def failed(errors: dict[str, str], status_code: int = 422) -> PageError:
        return PageError(
            _settings_page(
                request, me, only="creator", creator=values, errors=errors, status_code=status_code
            )
        )

    body, errors = _creator_body(values)
    if body is None:
        raise failed(errors)
    try:
        await service.put_creator_profile(session, me.principal, body)
    except Problem as problem:
        if problem.status >= 500:
            raise
        errors = _problem_errors(problem, "creator_form", CREATOR_API_NAMES)
        raise failed(errors, _refused(problem)) from None
    return redirect("/settings", flash="creator_profile_saved", request=request)


# --- the e-mail address and the password -----------------------------------------------------


@router.post("/settings/email")
async def change_email(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    new_email: Short = "",
    email_password: Secret = "",
) -> Response:
    may_act(me, moves_money=False)
    values = {"new_email": new_email}

    def failed(errors: dict[str, str], status_code: int = 422) -> PageError:
        return PageError(
            _settings_page(
                request, me, only="email", email=values, errors=errors, status_code=status_code
            )
        )

    try:
        body = ChangeEmailRequest.model_validate(
            {"new_email": new_email.strip(), "current_password": email_password}
        )
    except ValidationError as error:
        raise failed(_form_errors(error, "email_form", EMAIL_API_NAMES)) from None
    try:
        # Puts the confirmation mail in the outbox: sent by the worker after the commit.
        await service.request_email_change(
            session, settings, me.principal, body.new_email, body.current_password
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        errors = _problem_errors(problem, "email_form", EMAIL_API_NAMES)
        raise failed(errors, _refused(problem)) from None
    return redirect("/settings", flash="email_change_sent", request=request)


@router.post("/settings/password")
async def change_password(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    current_password: Secret = "",
    new_password: Secret = "",
) -> Response:
    may_act(me, moves_money=False)

    def failed(errors: dict[str, str], status_code: int = 422) -> PageError:
        return PageError(
            _settings_page(request, me, only="password", errors=errors, status_code=status_code)
        )

    try:
        body = ChangePasswordRequest.model_validate(
            {"current_password": current_password, "new_password": new_password}
        )
    except ValidationError as error:
        raise failed(_form_errors(error, "password_form", {})) from None
    try:
        # Ends every other session of the account; this browser's stays.
        await service.change_password(
            session, me.principal, body.current_password, body.new_password
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        raise failed(_problem_errors(problem, "password_form", {}), _refused(problem)) from None
    return redirect("/settings", flash="password_changed", request=request)


# --- deleting the account --------------------------------------------------------------------


def _delete_page(
    request: Request, me: SignedIn, errors: dict[str, str] | None = None, status_code: int = 200
) -> HTMLResponse:
    status = me.principal.status
    return render(
        request,
        "settings_delete.html",
        status_code,
        status=status,
        suspended=status != AccountStatus.ACTIVE.value,
        errors=errors or {},
    )


@router.get("/settings/delete", response_class=HTMLResponse)
async def delete_form(request: Request, me: CurrentUser) -> HTMLResponse:
    return _delete_page(request, me)


@router.post("/settings/delete")
async def delete_account(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    current_password: Secret = "",
) -> Response:
    may_act(me, moves_money=False)
    try:
        body = DeleteAccountRequest.model_validate({"current_password": current_password})
    except ValidationError as error:
        errors = _form_errors(error, "delete_form", {})
        raise PageError(_delete_page(request, me, errors, 422)) from None
    try:
        # Soft: the row stays for the records that refer to it; every session of it ends,
        # this browser's too.
        await service.delete_account(session, me.principal, body.current_password)
    except Problem as problem:
        if problem.status >= 500:
            raise
        errors = _problem_errors(problem, "delete_form", {})
        raise PageError(_delete_page(request, me, errors, _refused(problem))) from None
    response = redirect("/", flash="account_deleted", request=request)
    clear_cookie(request, response, SESSION)
    clear_cookie(request, response, ROLE)
    return response
