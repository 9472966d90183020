"""Workspace endpoints: a creator's shoots, uploads and calendar (seed 001), and the iCalendar
feed.

Everything under `/v1/workspace` needs the creator role (403 `role_required`) and reaches only
the caller's own rows: another user's id answers 404 like a missing one. The feed route
(`/calendar/{token}.ics`) is outside `/v1` and the OpenAPI document: its secret token is the
only credential, calendar apps cannot send a bearer token, and it answers a bare text 404 to
anything but a live token.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import DbSession, keeps_transaction
from creatorhub.identity.deps import OptionalIdempotency, SealedOptionalIdempotency, require_roles
from creatorhub.identity.models import Role
from creatorhub.identity.service import Principal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unprocessable, problem_responses
from creatorhub.kit.idempotency import (
    OPTIONAL_IDEMPOTENCY_RESPONSES,
    SEALED_IDEMPOTENCY_RESPONSES,
)
from creatorhub.kit.pagination import decode_cursor, encode_cursor
from creatorhub.kit.state import AppSettings
from creatorhub.workspace import calendar, service
from creatorhub.workspace.models import Shoot, Upload
from creatorhub.workspace.review_status import NO_REVIEW, review_status
from creatorhub.workspace.schemas import (
    BlockCreate,
    BlockOut,
    BlocksPage,
    CalendarView,
    FeedCreated,
    FeedStatus,
    IsoDate,
    ShootCreate,
    ShootOut,
    ShootsPage,
    ShootUpdate,
    UploadCreate,
    UploadOut,
    UploadsPage,
    UploadUpdate,
)
from creatorhub.workspace.service import Planned

responses = problem_responses(400, 401, 403, 404, 409, 422)
router = APIRouter(prefix="/v1/workspace", tags=["workspace"], responses=responses)
feed_router = APIRouter(include_in_schema=False)

CreatorPrincipal = Annotated[Principal, Depends(require_roles(Role.CREATOR))]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]
FromDate = Annotated[IsoDate | None, Query(alias="from", description="YYYY-MM-DD, inclusive")]
ToDate = Annotated[IsoDate | None, Query(alias="to", description="YYYY-MM-DD, inclusive")]
FEED_NAME = "creatorhub: shoots, uploads, unavailable dates"


def _check_filter(from_date: date | None, to_date: date | None) -> None:
    if from_date is not None and to_date is not None and to_date < from_date:
        raise Unprocessable("`to` is before `from`", code="invalid_date_range", field="query.to")


# Keyset cursors reuse kit.pagination's (aware datetime, id) token: the position of a dated
# row is its date and time of day (00:00 for a row without a time, as it sorts).
def _row_cursor(row: Shoot | Upload) -> str:
    return encode_cursor(datetime.combine(row.date, row.time or time.min, tzinfo=UTC), row.id)


def _row_after(cursor: str | None) -> tuple[date, time, uuid.UUID] | None:
    if cursor is None:
        return None
    at, row_id = decode_cursor(cursor)
    return at.date(), at.time(), row_id


async def _planned_page(
    session: AsyncSession,
    model: type[Planned],
    user_id: uuid.UUID,
    from_date: date | None,
    to_date: date | None,
    completed: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Planned], str | None]:
    """One page of the user's shoots or uploads in date order, and the next page's cursor."""
    _check_filter(from_date, to_date)
    rows = await service.list_rows(
        session,
        model,
        user_id,
        from_date=from_date,
        to_date=to_date,
        completed=completed,
        limit=limit + 1,
        after=_row_after(cursor),
    )
    more, rows = len(rows) > limit, rows[:limit]
    return rows, _row_cursor(rows[-1]) if more else None


# --- shoots ----------------------------------------------------------------------------------


@router.post(
    "/shoots",
    status_code=201,
    response_model=ShootOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Add a shoot",
)
async def create_shoot(
    body: ShootCreate, principal: CreatorPrincipal, session: DbSession, idem: OptionalIdempotency
) -> JSONResponse:
    """Amount in integer minor units with its currency, or neither."""
    shoot = await service.create_shoot(session, principal.id, body.model_dump())
    # A new shoot has no review link yet.
    return await idem.respond(session, 201, ShootOut.of(shoot, NO_REVIEW))


@router.get("/shoots", response_model=ShootsPage, summary="Your shoots, by date")
async def list_shoots(
    principal: CreatorPrincipal,
    session: DbSession,
    from_date: FromDate = None,
    to_date: ToDate = None,
    completed: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ShootsPage:
    """Each with its review state (`review`), read in the statement that reads the page."""
    _check_filter(from_date, to_date)
    rows = await service.list_shoots(
        session,
        principal.id,
        now=utcnow(),
        from_date=from_date,
        to_date=to_date,
        completed=completed,
        limit=limit + 1,
        after=_row_after(cursor),
    )
    more, rows = len(rows) > limit, rows[:limit]
    return ShootsPage(
        items=[ShootOut.of(shoot, status) for shoot, status in rows],
        next_cursor=_row_cursor(rows[-1][0]) if more else None,
    )


async def _shoot_out(session: AsyncSession, shoot: Shoot) -> ShootOut:
    return ShootOut.of(shoot, await review_status(session, shoot, utcnow()))


@router.get("/shoots/{shoot_id}", response_model=ShootOut, summary="One of your shoots")
async def get_shoot(
    shoot_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> ShootOut:
    return await _shoot_out(session, await service.get_own_shoot(session, shoot_id, principal.id))


@router.patch("/shoots/{shoot_id}", response_model=ShootOut, summary="Change a shoot")
async def update_shoot(
    shoot_id: uuid.UUID, body: ShootUpdate, principal: CreatorPrincipal, session: DbSession
) -> ShootOut:
    """Only the fields sent change; `null` clears an optional field."""
    shoot = await service.get_own_shoot(session, shoot_id, principal.id, lock=True)
    changes = body.model_dump(include=body.model_fields_set)
    return await _shoot_out(session, await service.update_row(session, shoot, changes))


@router.delete("/shoots/{shoot_id}", status_code=204, summary="Delete a shoot")
async def delete_shoot(
    shoot_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> Response:
    """Refused (409 `shoot_has_review`) once a client has reviewed it."""
    shoot = await service.get_own_shoot(session, shoot_id, principal.id, lock=True)
    await service.delete_row(session, shoot)
    return Response(status_code=204)


@router.post("/shoots/{shoot_id}/complete", response_model=ShootOut, summary="Mark done")
async def complete_shoot(
    shoot_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> ShootOut:
    """Idempotent: completing a completed shoot answers 200 and keeps its `completed_at`."""
    shoot = await service.get_own_shoot(session, shoot_id, principal.id, lock=True)
    return await _shoot_out(session, await service.complete(session, shoot, utcnow()))


@router.post("/shoots/{shoot_id}/reopen", response_model=ShootOut, summary="Mark not done")
async def reopen_shoot(
    shoot_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> ShootOut:
    """Refused (409 `shoot_has_review`) once a client has reviewed it; revokes a live review
    link otherwise."""
    shoot = await service.get_own_shoot(session, shoot_id, principal.id, lock=True)
    return await _shoot_out(session, await service.reopen(session, shoot, utcnow()))


# --- uploads ---------------------------------------------------------------------------------


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Plan an upload",
)
async def create_upload(
    body: UploadCreate, principal: CreatorPrincipal, session: DbSession, idem: OptionalIdempotency
) -> JSONResponse:
    upload = await service.create_upload(session, principal.id, body.model_dump())
    return await idem.respond(session, 201, UploadOut.model_validate(upload))


@router.get("/uploads", response_model=UploadsPage, summary="Your uploads, by date")
async def list_uploads(
    principal: CreatorPrincipal,
    session: DbSession,
    from_date: FromDate = None,
    to_date: ToDate = None,
    completed: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> UploadsPage:
    rows, next_cursor = await _planned_page(
        session, Upload, principal.id, from_date, to_date, completed, limit, cursor
    )
    return UploadsPage(
        items=[UploadOut.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.get("/uploads/{upload_id}", response_model=UploadOut, summary="One of your uploads")
async def get_upload(
    upload_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> UploadOut:
    return UploadOut.model_validate(await service.get_own_upload(session, upload_id, principal.id))


@router.patch("/uploads/{upload_id}", response_model=UploadOut, summary="Change an upload")
async def update_upload(
    upload_id: uuid.UUID, body: UploadUpdate, principal: CreatorPrincipal, session: DbSession
) -> UploadOut:
    """Only the fields sent change; `null` clears an optional field."""
    upload = await service.get_own_upload(session, upload_id, principal.id, lock=True)
    changes = body.model_dump(include=body.model_fields_set)
    return UploadOut.model_validate(await service.update_row(session, upload, changes))


@router.delete("/uploads/{upload_id}", status_code=204, summary="Delete an upload")
async def delete_upload(
    upload_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> Response:
    upload = await service.get_own_upload(session, upload_id, principal.id, lock=True)
    await service.delete_row(session, upload)
    return Response(status_code=204)


@router.post("/uploads/{upload_id}/complete", response_model=UploadOut, summary="Mark done")
async def complete_upload(
    upload_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> UploadOut:
    """Idempotent: completing a completed upload answers 200 and keeps its `completed_at`."""
    upload = await service.get_own_upload(session, upload_id, principal.id, lock=True)
    return UploadOut.model_validate(await service.complete(session, upload, utcnow()))


@router.post("/uploads/{upload_id}/reopen", response_model=UploadOut, summary="Mark not done")
async def reopen_upload(
    upload_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> UploadOut:
    upload = await service.get_own_upload(session, upload_id, principal.id, lock=True)
    return UploadOut.model_validate(await service.reopen(session, upload, utcnow()))


# --- calendar --------------------------------------------------------------------------------


@router.get("/calendar", response_model=CalendarView, summary="Your calendar for a window")
async def calendar_view(
    principal: CreatorPrincipal,
    session: DbSession,
    from_date: Annotated[IsoDate, Query(alias="from", description="YYYY-MM-DD, inclusive")],
    to_date: Annotated[IsoDate, Query(alias="to", description="YYYY-MM-DD, inclusive")],
) -> CalendarView:
    """Shoots and uploads dated in the window and blocked ranges overlapping it (a range that
    starts before `from` or ends after `to` is included whole). At most 366 days."""
    shoots, uploads, blocks, truncated = await calendar.view(
        session, principal.id, from_date, to_date, now=utcnow()
    )
    return CalendarView(
        from_date=from_date,
        to_date=to_date,
        shoots=[ShootOut.of(shoot, status) for shoot, status in shoots],
        uploads=[UploadOut.model_validate(row) for row in uploads],
        blocked=[BlockOut.model_validate(row) for row in blocks],
        truncated=truncated,
    )


@router.post(
    "/calendar/blocks",
    status_code=201,
    response_model=BlockOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Block dates",
)
async def create_block(
    body: BlockCreate, principal: CreatorPrincipal, session: DbSession, idem: OptionalIdempotency
) -> JSONResponse:
    """An inclusive range of at most 366 days (one day without `end_date`)."""
    block = await calendar.create_block(session, principal.id, **body.model_dump())
    return await idem.respond(session, 201, BlockOut.model_validate(block))


@router.get("/calendar/blocks", response_model=BlocksPage, summary="Your blocked ranges")
async def list_blocks(
    principal: CreatorPrincipal,
    session: DbSession,
    from_date: FromDate = None,
    to_date: ToDate = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> BlocksPage:
    """Ranges overlapping the window (either end open), by start date."""
    _check_filter(from_date, to_date)
    after = None
    if cursor is not None:
        at, block_id = decode_cursor(cursor)
        after = (at.date(), block_id)
    rows = await calendar.list_blocks(
        session, principal.id, from_date=from_date, to_date=to_date, limit=limit + 1, after=after
    )
    more, rows = len(rows) > limit, rows[:limit]
    last = rows[-1] if rows else None
    return BlocksPage(
        items=[BlockOut.model_validate(row) for row in rows],
        next_cursor=(
            encode_cursor(datetime.combine(last.start_date, time.min, tzinfo=UTC), last.id)
            if more and last is not None
            else None
        ),
    )


@router.delete("/calendar/blocks/{block_id}", status_code=204, summary="Unblock a range")
async def delete_block(
    block_id: uuid.UUID, principal: CreatorPrincipal, session: DbSession
) -> Response:
    block = await calendar.get_own_block(session, block_id, principal.id)
    await calendar.delete_block(session, block)
    return Response(status_code=204)


@router.post(
    "/calendar/feed",
    status_code=201,
    response_model=FeedCreated,
    responses=SEALED_IDEMPOTENCY_RESPONSES,
    summary="New calendar feed URL",
)
async def create_feed(
    principal: CreatorPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: SealedOptionalIdempotency,
) -> JSONResponse:
    """A secret iCalendar URL for Google or Apple Calendar, shown only in this answer (and to
    a retry with its `Idempotency-Key`, which keeps the answer encrypted). Making a new one
    revokes the previous URL."""
    token, feed = await calendar.create_feed(session, principal.id, utcnow())
    base = settings.link_base_url
    out = FeedCreated(url=f"{base}/calendar/{token}.ics", created_at=feed.created_at)
    return await idem.respond(session, 201, out)


@router.get("/calendar/feed", response_model=FeedStatus, summary="Your calendar feed")
async def get_feed(principal: CreatorPrincipal, session: DbSession) -> FeedStatus:
    """When the live feed was made and last fetched (its URL cannot be shown again)."""
    return FeedStatus.model_validate(await calendar.live_feed(session, principal.id))


@router.delete("/calendar/feed", status_code=204, summary="Revoke your calendar feed")
async def revoke_feed(principal: CreatorPrincipal, session: DbSession) -> Response:
    """The URL stops working at once; 404 `calendar_feed_not_found` when there is none."""
    await calendar.revoke_feed(session, principal.id, utcnow())
    return Response(status_code=204)


@feed_router.api_route("/calendar/{token}.ics", methods=["GET", "HEAD"])
# A GET that writes: the fetch notes the feed's `last_fetched_at` (one UPDATE that also finds
# the feed, so a fetch racing a revocation waits for it). It keeps its transaction rather than
# read in autocommit like other GETs: the note and the answer commit together.
@keeps_transaction
async def calendar_feed(token: str, session: DbSession) -> Response:
    now = utcnow()
    feed = await calendar.feed_by_token(session, token, now)
    if feed is None:
        return PlainTextResponse("not found\n", status_code=404)
    body = await calendar.feed_ics(session, feed, name=FEED_NAME, now=now)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="creatorhub.ics"',
            # The URL is a credential: no shared cache may keep the answer.
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )


routers = [router, feed_router]
