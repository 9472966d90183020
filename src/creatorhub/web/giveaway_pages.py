"""The host's giveaway pages (seed 003): credits, new draws, the blacklist. One draw's steps
are `giveaway_draw_pages`; the public pages (a draw, a host's history, an entrant's self-check)
`giveaway_public_pages`; what they share is `giveaway_view`'s.

* `GET /giveaways`: credits (balance, reserved, the packs with a button each, paid from the
  wallet), the host's draws and the form of a new draw;
* `POST /giveaways/credits/purchases`: a pack bought (`credits.purchase`), the form's one-time
  key as the purchase's idempotency key: a second click of one form buys once;
* `POST /giveaways/draws`: a draw created (`drawing.create_draw`), then its manage page;
* `GET /giveaways/blacklist`, `POST /giveaways/blacklist`,
  `POST /giveaways/blacklist/{entry_id}/deactivate`.

The pages call the services the API calls, as the signed-in person (any role may host a draw,
as in the API). A service's refusal (409, 422: too few credits, a wallet short of a pack's
price, a config the rules refuse, a name already on the blacklist) rolls the request back and
shows the page again with its message at the form it came from and what was typed kept, with
the refusal's status.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.config import Settings
from creatorhub.db import DbSession
from creatorhub.giveaways import credits
from creatorhub.giveaways.schemas import DrawIn
from creatorhub.giveaways.service import blacklist, drawing, reads
from creatorhub.identity.models import Role
from creatorhub.kit.errors import Unprocessable
from creatorhub.kit.state import AppSettings
from creatorhub.ledger import service as ledger
from creatorhub.ledger.errors import InsufficientFunds
from creatorhub.web.acting import field_errors, may_act, money
from creatorhub.web.csrf import FormChecked
from creatorhub.web.giveaway_view import BLACKLIST_PLATFORM_LABELS, refused_as_page, words
from creatorhub.web.render import navigation, render
from creatorhub.web.session import FLASHES, CurrentUser, SignedIn, redirect

router = APIRouter(include_in_schema=False)

# Anyone signed in may host a draw (as in the API); those who post are shown the link.
for _role in (Role.CREATOR, Role.BRAND, Role.FAN):
    navigation(_role, "/giveaways", "Giveaways")

Short = Annotated[str, Form(max_length=200)]
Number = Annotated[str, Form(max_length=20)]
Flag = Annotated[str, Form(max_length=10)]
Reason = Annotated[str, Form(max_length=500)]
LISTED = 100  # the draws the page lists (the API's limit)

FLASHES.update(
    {
        "giveaway_credits_bought": ("ok", "The credits are yours: the pack is paid."),
        "giveaway_created": (
            "ok",
            "The draw is created and its credits reserved; the SHA-256 of its secret seed is"
            " public from now on. Import the post's comments next.",
        ),
        "giveaway_blacklisted": ("ok", "The username is on your blacklist."),
        "giveaway_unblacklisted": ("ok", "The entry is deactivated: it no longer excludes."),
    }
)

PLATFORMS = ("instagram", "facebook", "tiktok", "twitter", "file")
DRAW_DEFAULTS = {
    "title": "",
    "platform": "instagram",
    "post_url": "",
    "winners_count": "1",
    "alternates_count": "3",
    "entries_per_user": "one",
    "min_followers": "",
    "exclude_suspicious": "yes",
    "exclude_businesses": "",
    "require_like": "",
    "require_comment": "yes",
    "require_follow": "",
    "comment_keywords": "",
    "min_mentions": "0",
    "window_start": "",
    "window_end": "",
    "exclude_replies": "yes",
    "is_test": "",
}
CHECKBOXES = (
    "exclude_suspicious",
    "exclude_businesses",
    "require_like",
    "require_comment",
    "require_follow",
    "exclude_replies",
    "is_test",
)
# The service's names of the config's settings, as the form names them.
CONFIG_FIELDS = {
    "winners_count": "winners_count",
    "alternates_count": "alternates_count",
    "entries_per_user": "entries_per_user",
    "filters.min_followers": "min_followers",
    "rules.comment_keywords": "comment_keywords",
    "rules.min_mentions": "min_mentions",
    "rules.window_start": "window_start",
    "rules.window_end": "window_end",
}


# --- credits and draws -------------------------------------------------------------------------


async def home_page(
    request: Request,
    me: SignedIn,
    session: DbSession,
    settings: Settings,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    figures = await credits.balance(session, me.principal.id)
    draws = await reads.host_draws(session, me.principal.id, limit=LISTED)
    values = dict(DRAW_DEFAULTS)
    if failed and failed["key"] == "draw":
        values = {**values, **failed["values"]}
    return render(
        request,
        "giveaway_home.html",
        status_code,
        **words(
            credits=figures,
            draw_cost=settings.giveaway_draw_credits,
            welcome=settings.giveaway_welcome_credits,
            packs=list(credits.CREDIT_PACKS.values()),
            money=money,
            draws=draws,
            me=me,
            values=values,
            platforms=PLATFORMS,
            failed=failed or {},
            # A new key each time the form is shown: a second click of one form buys once.
            request_key=str(uuid.uuid4()),
        ),
    )


@router.get("/giveaways", response_class=HTMLResponse)
async def giveaways_page(
    request: Request, me: CurrentUser, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    return await home_page(request, me, session, settings)


@router.post("/giveaways/credits/purchases")
async def buy_credits(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    pack: Annotated[str, Form(max_length=32)] = "",
    request_key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    may_act(me, moves_money=True)  # as the API's money move: a verified address

    async def page(failed: dict[str, Any], status: int) -> HTMLResponse:
        return await home_page(request, me, session, settings, failed=failed, status_code=status)

    async def action() -> None:
        if not request_key.strip():
            raise Unprocessable("reload the page and choose the pack again", field="request_key")
        try:
            await credits.purchase(
                session,
                settings,
                user_id=me.principal.id,
                pack_code=pack,
                idempotency_key=request_key.strip(),
            )
        except InsufficientFunds as refusal:
            # Kept in system_logs as the API's handler keeps it (in a transaction of its own).
            await ledger.record_insufficient_funds(request.app.state.db, refusal)
            raise InsufficientFunds(
                "your wallet's available balance is less than the pack's price: add funds first"
            ) from None

    await refused_as_page(session, action, page, key="credits")
    return redirect("/giveaways", flash="giveaway_credits_bought", request=request)


def _count(values: dict[str, str], name: str, label: str, *, optional: bool = False) -> int | None:
    text = values.get(name, "").strip()
    if not text and optional:
        return None
    try:
        return int(text)
    except ValueError:
        raise Unprocessable(f"{label} is a whole number", field=name) from None


def _moment(values: dict[str, str], name: str) -> str | None:
    """A `datetime-local` value (`2026-11-01T10:00`), read as UTC."""
    text = values.get(name, "").strip()
    if not text:
        return None
    return text + (":00Z" if len(text) == 16 else "Z")


def draw_request(values: dict[str, str]) -> DrawIn:
    """The form as the API's request body, or 422 naming the first field at fault."""
    ticked = {name: values.get(name) == "yes" for name in CHECKBOXES}
    keywords = [k.strip() for k in values.get("comment_keywords", "").split(",") if k.strip()]
    config = {
        "winners_count": _count(values, "winners_count", "The number of winners"),
        "alternates_count": _count(values, "alternates_count", "The number of alternates"),
        "entries_per_user": values.get("entries_per_user", "one"),
        "filters": {
            "min_followers": _count(
                values, "min_followers", "The minimum of followers", optional=True
            ),
            "exclude_suspicious": ticked["exclude_suspicious"],
            "exclude_businesses": ticked["exclude_businesses"],
        },
        "rules": {
            "require_like": ticked["require_like"],
            "require_comment": ticked["require_comment"],
            "require_follow": ticked["require_follow"],
            "comment_keywords": keywords,
            "min_mentions": _count(values, "min_mentions", "The number of @mentions") or 0,
            "window_start": _moment(values, "window_start"),
            "window_end": _moment(values, "window_end"),
            "exclude_replies": ticked["exclude_replies"],
        },
    }
    body = {
        "title": values.get("title", "").strip(),
        "platform": values.get("platform", ""),
        "post_url": values.get("post_url", "").strip() or None,
        "is_test": ticked["is_test"],
        "config": config,
    }
    try:
        return DrawIn.model_validate(body)
    except ValidationError as error:
        field, message = next(iter(field_errors(error).items()))
        raise Unprocessable(message, field=field) from None


@router.post("/giveaways/draws")
async def create_draw(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    title: Short = "",
    platform: Short = "",
    post_url: Annotated[str, Form(max_length=2000)] = "",
    winners_count: Number = "",
    alternates_count: Number = "",
    entries_per_user: Short = "one",
    min_followers: Number = "",
    exclude_suspicious: Flag = "",
    exclude_businesses: Flag = "",
    require_like: Flag = "",
    require_comment: Flag = "",
    require_follow: Flag = "",
    comment_keywords: Annotated[str, Form(max_length=2000)] = "",
    min_mentions: Number = "",
    window_start: Short = "",
    window_end: Short = "",
    exclude_replies: Flag = "",
    is_test: Flag = "",
) -> Response:
    may_act(me, moves_money=False)  # as the API: an active account
    values = {
        "title": title,
        "platform": platform,
        "post_url": post_url,
        "winners_count": winners_count,
        "alternates_count": alternates_count,
        "entries_per_user": entries_per_user,
        "min_followers": min_followers,
        "exclude_suspicious": exclude_suspicious,
        "exclude_businesses": exclude_businesses,
        "require_like": require_like,
        "require_comment": require_comment,
        "require_follow": require_follow,
        "comment_keywords": comment_keywords,
        "min_mentions": min_mentions,
        "window_start": window_start,
        "window_end": window_end,
        "exclude_replies": exclude_replies,
        "is_test": is_test,
    }

    async def page(failed: dict[str, Any], status: int) -> HTMLResponse:
        return await home_page(request, me, session, settings, failed=failed, status_code=status)

    async def action() -> uuid.UUID:
        body = draw_request(values)
        draw = await drawing.create_draw(
            session,
            settings,
            host_id=me.principal.id,
            title=body.title,
            platform=body.platform,
            post_url=body.post_url,
            config=body.config,
            is_test=body.is_test,
        )
        return draw.id

    draw_id = await refused_as_page(
        session, action, page, key="draw", values=values, fields=CONFIG_FIELDS
    )
    return redirect(f"/giveaways/draws/{draw_id}/manage", flash="giveaway_created", request=request)


# --- the blacklist -----------------------------------------------------------------------------


async def blacklist_page(
    request: Request,
    me: SignedIn,
    session: DbSession,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = await blacklist.list_entries(session, me.principal.id)
    values = {"platform": "all", "username": "", "reason": ""}
    if failed and failed["key"] == "add":
        values = {**values, **failed["values"]}
    return render(
        request,
        "giveaway_blacklist.html",
        status_code,
        **words(
            rows=rows,
            platform_choices=BLACKLIST_PLATFORM_LABELS,
            failed=failed or {},
            values=values,
        ),
    )


@router.get("/giveaways/blacklist", response_class=HTMLResponse)
async def blacklist_list(request: Request, me: CurrentUser, session: DbSession) -> HTMLResponse:
    return await blacklist_page(request, me, session)


@router.post("/giveaways/blacklist")
async def blacklist_add(
    request: Request,
    _: FormChecked,
    me: CurrentUser,
    session: DbSession,
    platform: Short = "all",
    username: Short = "",
    reason: Reason = "",
) -> Response:
    may_act(me, moves_money=False)

    async def page(failed: dict[str, Any], status: int) -> HTMLResponse:
        return await blacklist_page(request, me, session, failed=failed, status_code=status)

    async def action() -> None:
        if platform not in BLACKLIST_PLATFORM_LABELS:
            raise Unprocessable("choose a platform from the list", field="platform")
        await blacklist.add(
            session,
            host_id=me.principal.id,
            platform=platform,
            username=username,
            reason=reason.strip() or None,
        )

    values = {"platform": platform, "username": username, "reason": reason}
    await refused_as_page(session, action, page, key="add", values=values)
    return redirect("/giveaways/blacklist", flash="giveaway_blacklisted", request=request)


@router.post("/giveaways/blacklist/{entry_id}/deactivate")
async def blacklist_deactivate(
    request: Request, _: FormChecked, entry_id: uuid.UUID, me: CurrentUser, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    await blacklist.deactivate(session, host_id=me.principal.id, entry_id=entry_id)
    return redirect("/giveaways/blacklist", flash="giveaway_unblacklisted", request=request)
