"""Giveaway endpoints (seed 003): credits, the blacklist, draws from creation to certificate,
and what anyone may read to check a draw (its commitment, certificate, the host's history, an
entrant's own inclusion, the platform's signing keys)."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from creatorhub.db import DbSession
from creatorhub.giveaways import connected_import, credits, imports, metrics
from creatorhub.giveaways.schemas import (
    BlacklistIn,
    BlacklistListOut,
    BlacklistOut,
    CancelIn,
    CreditPackOut,
    CreditRowsOut,
    CreditsOut,
    DrawIn,
    DrawListOut,
    DrawOut,
    GrantIn,
    ImportOut,
    InclusionOut,
    MetricsOut,
    PurchaseIn,
    PurchaseOut,
    RerollIn,
    SigningKeysOut,
)
from creatorhub.giveaways.service import blacklist, drawing, execution, reads
from creatorhub.identity.deps import (
    AdminPrincipal,
    CurrentPrincipal,
    Idempotency,
    OptionalIdempotency,
    VerifiedMoneyMove,
)
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import FieldError, Unprocessable, problem_responses
from creatorhub.kit.idempotency import OPTIONAL_IDEMPOTENCY_RESPONSES
from creatorhub.kit.state import AppSettings

router = APIRouter(tags=["giveaways"], responses=problem_responses(400, 401, 403, 404, 409, 422))

Limit = Annotated[int, Query(ge=1, le=500)]


class ImportRefused(Unprocessable):
    code = "invalid_entries_file"


class InvalidPeriod(Unprocessable):
    code = "invalid_metrics_period"


# Days are written YYYY-MM-DD only (a bare number would otherwise read as a UNIX time).
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(f"{text!r} is not a day of the calendar", field=field) from None


def _packs() -> list[CreditPackOut]:
    return [
        CreditPackOut(code=p.code, credits=p.credits, price=p.price, currency=p.currency)
        for p in credits.CREDIT_PACKS.values()
    ]


async def _credits(session: DbSession, settings: Any, user_id: uuid.UUID) -> CreditsOut:
    figures = await credits.balance(session, user_id)
    return CreditsOut(
        balance=figures.balance,
        reserved=figures.reserved,
        available=figures.available,
        draw_cost=settings.giveaway_draw_credits,
        packs=_packs(),
    )


# --- credits -----------------------------------------------------------------------------------


@router.get("/v1/giveaways/credits", response_model=CreditsOut, summary="Your credits")
async def my_credits(
    principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> CreditsOut:
    return await _credits(session, settings, principal.id)


@router.get(
    "/v1/giveaways/credits/history",
    response_model=CreditRowsOut,
    summary="Your credit movements, each with the balance after it",
)
async def my_credit_rows(
    principal: CurrentPrincipal, session: DbSession, limit: Limit = 100
) -> CreditRowsOut:
    return CreditRowsOut.model_validate(
        {"items": await reads.credit_rows(session, principal.id, limit=limit)}
    )


@router.post(
    "/v1/giveaways/credits/purchases",
    status_code=201,
    response_model=PurchaseOut,
    summary="Buy a credit pack from your wallet",
)
async def buy_credits(body: PurchaseIn, move: VerifiedMoneyMove) -> JSONResponse:
    """The price leaves your wallet and the credits arrive in one ledger group (409
    `insufficient_funds`: neither happens). The `Idempotency-Key` makes a retry buy once."""
    pack = await credits.purchase(
        move.session,
        move.settings,
        user_id=move.principal.id,
        pack_code=body.pack,
        idempotency_key=move.idem.key,
    )
    answer = PurchaseOut(
        pack=CreditPackOut(
            code=pack.code, credits=pack.credits, price=pack.price, currency=pack.currency
        ),
        credits=await _credits(move.session, move.settings, move.principal.id),
    )
    return await move.idem.respond(move.session, 201, answer)


@router.post(
    "/v1/admin/giveaways/credit-grants",
    response_model=CreditsOut,
    summary="Give a user bonus credits (audited); answers their credits",
)
async def grant_credits(
    body: GrantIn,
    principal: AdminPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: Idempotency,
) -> JSONResponse:
    await credits.grant(
        session,
        admin_id=principal.id,
        user_id=body.user_id,
        amount=body.amount,
        reason=body.reason,
        idempotency_key=idem.key,
    )
    answer = await _credits(session, settings, body.user_id)
    return await idem.respond(session, 200, answer)


# --- blacklist ---------------------------------------------------------------------------------


@router.get("/v1/giveaways/blacklist", response_model=BlacklistListOut, summary="Your blacklist")
async def my_blacklist(principal: CurrentPrincipal, session: DbSession) -> BlacklistListOut:
    rows = await blacklist.list_entries(session, principal.id)
    return BlacklistListOut(
        items=[BlacklistOut.model_validate(row, from_attributes=True) for row in rows]
    )


@router.post(
    "/v1/giveaways/blacklist",
    status_code=201,
    response_model=BlacklistOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Exclude a username from your draws",
)
async def add_to_blacklist(
    body: BlacklistIn, principal: CurrentPrincipal, session: DbSession, idem: OptionalIdempotency
) -> JSONResponse:
    row = await blacklist.add(
        session,
        host_id=principal.id,
        platform=body.platform,
        username=body.username,
        reason=body.reason,
    )
    return await idem.respond(session, 201, BlacklistOut.model_validate(row, from_attributes=True))


@router.delete(
    "/v1/giveaways/blacklist/{entry_id}",
    status_code=204,
    summary="Deactivate a blacklist entry (it stays listed, inactive)",
)
async def remove_from_blacklist(
    entry_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    await blacklist.deactivate(session, host_id=principal.id, entry_id=entry_id)
    return Response(status_code=204)


# --- draws -------------------------------------------------------------------------------------


@router.post(
    "/v1/giveaways/draws",
    status_code=201,
    response_model=DrawOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Create a draw (reserves its credits)",
)
async def create_draw(
    body: DrawIn,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: OptionalIdempotency,
) -> JSONResponse:
    """409 `insufficient_credits` creates nothing. The seed's SHA-256 is public from now on."""
    draw = await drawing.create_draw(
        session,
        settings,
        host_id=principal.id,
        title=body.title,
        platform=body.platform,
        post_url=body.post_url,
        config=body.config,
        is_test=body.is_test,
    )
    answer = DrawOut.model_validate(await reads.own_draw(session, draw.id, principal.id))
    return await idem.respond(session, 201, answer)


@router.get("/v1/giveaways/draws", response_model=DrawListOut, summary="Your draws")
async def my_draws(
    principal: CurrentPrincipal, session: DbSession, limit: Limit = 100
) -> DrawListOut:
    return DrawListOut.model_validate(
        {"items": await reads.host_draws(session, principal.id, limit=limit)}
    )


@router.get("/v1/giveaways/draws/{draw_id}", response_model=DrawOut, summary="A draw (public)")
async def get_draw(draw_id: uuid.UUID, session: DbSession) -> DrawOut:
    """Anyone may read a draw: its commitment, status, winners and history."""
    return DrawOut.model_validate(await reads.public_draw(session, draw_id))


@router.post(
    "/v1/giveaways/draws/{draw_id}/entries",
    response_model=ImportOut,
    summary="Import the post's comments from a file",
)
async def import_entries(
    draw_id: uuid.UUID, file: UploadFile, principal: CurrentPrincipal, session: DbSession
) -> ImportOut:
    """instaloader's `*_comments.json`, the Graph API's comments JSON, or CSV (`author, text,
    created_at, likes, parent_id`, optional `author_id, comment_id, followers, is_business,
    is_verified`). A file with any problem is refused whole, each problem with its line."""
    draw = await reads.get_draw(session, draw_id)
    data = await file.read(imports.MAX_FILE_BYTES + 1)
    platform = None if draw.platform == "file" else draw.platform
    try:
        # Seconds of CPU for a big file: off the event loop, which keeps serving meanwhile.
        parsed = await asyncio.to_thread(
            imports.parse_entries_file, data, filename=file.filename or "", platform=platform
        )
    except imports.ImportRejected as rejected:
        raise ImportRefused(
            f"the file was not imported: {rejected}",
            field="body.file",
            errors=[
                FieldError(
                    field=f"line {problem.line}" + (f" {problem.field}" if problem.field else ""),
                    code="invalid_entry",
                    message=problem.reason,
                )
                for problem in rejected.problems
            ],
        ) from rejected
    added, duplicates = await drawing.add_entries(
        session,
        draw_id=draw_id,
        host_id=principal.id,
        entries=parsed.entries,
        source=parsed.format,
    )
    return ImportOut(
        added=added,
        duplicates=duplicates,
        entries_count=draw.entries_count,
        format=parsed.format,
    )


@router.post(
    "/v1/giveaways/draws/{draw_id}/commit",
    response_model=DrawOut,
    summary="Close the entries and publish the commitment (then the draw is made)",
)
async def commit_draw(
    draw_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> DrawOut:
    """Without a beacon the draw is made at once; with one, when its round is published."""
    await execution.commit_and_draw(
        session, settings, draw_id=draw_id, host_id=principal.id, now=utcnow()
    )
    return DrawOut.model_validate(await reads.own_draw(session, draw_id, principal.id))


@router.post(
    "/v1/giveaways/draws/{draw_id}/cancel", response_model=DrawOut, summary="Cancel a draw"
)
async def cancel_draw(
    draw_id: uuid.UUID, body: CancelIn, principal: CurrentPrincipal, session: DbSession
) -> DrawOut:
    await drawing.cancel_draw(
        session, draw_id=draw_id, host_id=principal.id, reason=body.reason, now=utcnow()
    )
    return DrawOut.model_validate(await reads.own_draw(session, draw_id, principal.id))


@router.post(
    "/v1/giveaways/draws/{draw_id}/rerolls",
    response_model=DrawOut,
    summary="Replace a disqualified winner by the next alternate",
)
async def reroll(
    draw_id: uuid.UUID,
    body: RerollIn,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> DrawOut:
    await execution.reroll(
        session,
        settings,
        draw_id=draw_id,
        host_id=principal.id,
        rank=body.rank,
        reason=body.reason,
        now=utcnow(),
    )
    return DrawOut.model_validate(await reads.own_draw(session, draw_id, principal.id))


@router.get(
    "/v1/giveaways/draws/{draw_id}/entries.jsonl",
    summary="The committed entries file (the host's, for an audit)",
    response_class=Response,
)
async def entries_file(
    draw_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    body = await reads.entries_file(session, draw_id, principal.id)
    return Response(
        body,
        media_type="application/jsonl",
        headers={"Content-Disposition": f'attachment; filename="draw-{draw_id}-entries.jsonl"'},
    )


@router.get(
    "/v1/giveaways/draws/{draw_id}/inclusion",
    response_model=InclusionOut,
    summary="Check your own entry: its proof against the committed root, and its outcome",
)
async def inclusion(
    draw_id: uuid.UUID,
    session: DbSession,
    username: Annotated[str, Query(min_length=1, max_length=65)],
) -> InclusionOut:
    return InclusionOut.model_validate(await reads.inclusion(session, draw_id, username))


@router.get(
    "/v1/giveaways/certificates/{certificate_hash}",
    summary="A certificate, as signed (its SHA-256 is its name)",
    response_class=Response,
)
async def certificate(
    certificate_hash: Annotated[str, Path(pattern="^[0-9a-fA-F]{64}$")], session: DbSession
) -> Response:
    body = await reads.certificate_bytes(session, certificate_hash)
    return Response(body, media_type="application/json")


# A video is named by its certificate's hash and made from it alone: its bytes never change.
VIDEO_CACHE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"bytes=([0-9]{1,15})?-([0-9]{1,15})?")


def byte_range(header: str | None) -> tuple[int | None, int | None] | None:
    """A `Range: bytes=…` header's one range: (first, last), (first, None) or (None, suffix);
    None (the whole body) when absent, for several ranges or not understood, as RFC 9110
    allows a server to answer."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    first, last = (None if g is None else int(g) for g in match.groups())
    if first is None:
        return None if last is None else (None, last)
    if last is not None and last < first:
        return None
    return first, last


@router.get(
    "/v1/giveaways/videos/{certificate_hash}.mp4",
    summary="A certificate's replay video (MP4, H.264), once rendered",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The video"},
        206: {"content": {"video/mp4": {}}, "description": "The byte range asked for"},
        **problem_responses(416),
    },
)
async def replay_video(
    certificate_hash: Annotated[str, Path(pattern="^[0-9a-fA-F]{64}$")],
    session: DbSession,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The draw's replay, rendered from the certificate after the draw (404 `video_not_found`
    until then): the draw's `video_url` points here once it is. Byte ranges are served (a
    browser seeks with them); the certificate's SHA-256 is also in the MP4's `comment`."""
    wanted = byte_range(range_header)
    total, first, data = await reads.video_part(session, certificate_hash, wanted)
    headers = {
        "Cache-Control": VIDEO_CACHE,
        "Accept-Ranges": "bytes",
        "ETag": f'"{certificate_hash.lower()}"',
    }
    if wanted is None:
        return Response(data, media_type="video/mp4", headers=headers)
    headers["Content-Range"] = f"bytes {first}-{first + len(data) - 1}/{total}"
    return Response(data, status_code=206, media_type="video/mp4", headers=headers)


@router.get(
    "/v1/giveaways/hosts/{host_id}/draws",
    response_model=DrawListOut,
    summary="A host's whole draw history (public)",
)
async def host_history(host_id: uuid.UUID, session: DbSession, limit: Limit = 100) -> DrawListOut:
    return DrawListOut.model_validate(
        {"items": await reads.host_draws(session, host_id, limit=limit)}
    )


@router.get(
    "/v1/giveaways/signing-keys",
    response_model=SigningKeysOut,
    summary="The platform's certificate keys (Ed25519)",
)
async def signing_keys(session: DbSession) -> SigningKeysOut:
    rows = await reads.signing_keys(session)
    return SigningKeysOut.model_validate(
        {
            "items": [
                {
                    "key_id": r.key_id,
                    "public_key": r.public_key,
                    "created_at": r.created_at,
                    "retired_at": r.retired_at,
                }
                for r in rows
            ]
        }
    )


# --- system metrics (admin) ---------------------------------------------------------------------


@router.post(
    "/v1/admin/giveaways/system-metrics/{day}",
    response_model=MetricsOut,
    summary="Compute a day's system metrics now (re-running gives the same rows)",
)
async def compute_metrics(
    day: Annotated[str, Path(pattern=DAY_PATTERN, description="YYYY-MM-DD (UTC)")],
    principal: AdminPrincipal,
    session: DbSession,
) -> MetricsOut:
    when = _day(day, "path.day")
    await metrics.compute_day(session, when)
    return MetricsOut.model_validate({"items": await metrics.list_days(session, when, when)})


@router.get(
    "/v1/admin/giveaways/system-metrics",
    response_model=MetricsOut,
    summary="The daily system metrics of a period",
)
async def list_metrics(
    principal: AdminPrincipal,
    session: DbSession,
    first_day: Annotated[str, Query(alias="from", pattern=DAY_PATTERN)],
    last_day: Annotated[str, Query(alias="to", pattern=DAY_PATTERN)],
) -> MetricsOut:
    first, last = _day(first_day, "query.from"), _day(last_day, "query.to")
    if last < first or (last - first).days > 366:
        raise InvalidPeriod("`to` is on or after `from`, at most 366 days later", field="query.to")
    return MetricsOut.model_validate({"items": await metrics.list_days(session, first, last)})


# Comment imports from a connected account (`connected_import`).
router.routes.extend(connected_import.router.routes)
