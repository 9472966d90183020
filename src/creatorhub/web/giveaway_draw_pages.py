"""One giveaway draw's steps, for its host (seed 003): the page that manages it and its forms.
The host's other pages (credits, new draws, the blacklist) are `giveaway_pages`; what the pages
share is `giveaway_view`'s.

* `GET /giveaways/draws/{id}/manage`: its state, commitment, winners, alternates and history,
  and the forms of its next steps (those its state allows);
* `POST /giveaways/draws/{id}/entries` (multipart): a file of comments imported; the page it
  answers shows the report, or the file's problems each with its line (nothing imported: a
  file is refused whole, as in the API). The path is the API's without `/v1`: the request
  middleware takes a body of up to `max_upload_bytes` on these paths only;
* `POST /giveaways/draws/{id}/commit`: entries closed and the commitment published, drawn at
  once without a beacon (as `POST /v1/giveaways/draws/{id}/commit`);
* `POST /giveaways/draws/{id}/cancel`, `POST /giveaways/draws/{id}/rerolls`;
* `GET /giveaways/draws/{id}/entries.jsonl`: the ENTRIES file (the committed one once the
  draw is committed), for the host to hand to whoever audits the draw.

As the API: the services it calls, as the signed-in person; another host's draw is a 404 page.
A refusal (409, 422: a draw no longer pending, no entries, no alternate left) shows the page
again with its message at the form it came from, or at the top when the draw's state no longer
shows that form. Double submission: every step is guarded by the service's state check under
the draw's row lock (committing a committed draw is 409 `draw_not_pending`, cancelling a
cancelled one 409 `draw_finished`); importing a file twice keeps each comment once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from creatorhub.db import DbSession
from creatorhub.giveaways import imports
from creatorhub.giveaways.service import drawing, execution, reads
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Unprocessable
from creatorhub.kit.state import AppSettings
from creatorhub.web.acting import may_act
from creatorhub.web.csrf import FormChecked
from creatorhub.web.giveaway_view import (
    Page,
    certificate_view,
    history_view,
    refused_as_page,
    words,
)
from creatorhub.web.render import PageError, render
from creatorhub.web.session import FLASHES, CurrentUser, SignedIn, redirect

router = APIRouter(include_in_schema=False)

Number = Annotated[str, Form(max_length=20)]
Reason = Annotated[str, Form(max_length=500)]

FLASHES.update(
    {
        "giveaway_drawn": ("ok", "The entries are closed and the draw is made: see its winners."),
        "giveaway_committed": (
            "ok",
            "The entries are closed and the commitment is public: the draw is made when its"
            " drand round is published.",
        ),
        "giveaway_failed": (
            "error",
            "The draw could not be made: too few eligible entries. Your credits are back.",
        ),
        "giveaway_cancelled": ("ok", "The draw is cancelled; its credits are back."),
        "giveaway_rerolled": (
            "ok",
            "The winner is replaced by the next alternate; a new certificate records why.",
        ),
    }
)


async def manage_page(
    request: Request,
    draw_id: uuid.UUID,
    me: SignedIn,
    session: DbSession,
    *,
    failed: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    problems: list[imports.ImportProblem] | None = None,
    truncated: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    draw = await reads.own_draw(session, draw_id, me.principal.id)
    body = (
        await reads.certificate_bytes(session, draw["certificate_hash"])
        if draw["certificate_hash"]
        else None
    )
    return render(
        request,
        "giveaway_manage.html",
        status_code,
        **words(
            draw=draw,
            history=history_view(draw["history"]),
            certificate=certificate_view(body),
            failed=failed or {},
            report=report,
            problems=problems,
            truncated=truncated,
            max_megabytes=imports.MAX_FILE_BYTES // (1024 * 1024),
        ),
    )


def _manage(request: Request, draw_id: uuid.UUID, me: SignedIn, session: DbSession) -> Page:
    async def page(failed: dict[str, Any], status: int) -> HTMLResponse:
        return await manage_page(request, draw_id, me, session, failed=failed, status_code=status)

    return page


@router.get("/giveaways/draws/{draw_id}/manage", response_class=HTMLResponse)
async def manage_draw(
    request: Request, draw_id: uuid.UUID, me: CurrentUser, session: DbSession
) -> HTMLResponse:
    return await manage_page(request, draw_id, me, session)


@router.post("/giveaways/draws/{draw_id}/entries", response_class=HTMLResponse)
async def import_entries(
    request: Request,
    _: FormChecked,
    draw_id: uuid.UUID,
    me: CurrentUser,
    session: DbSession,
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """The file read as the API reads it; a file with any problem is refused whole and the
    page lists its problems with their lines."""
    may_act(me, moves_money=False)
    draw = await reads.get_draw(session, draw_id)
    if draw.user_id != me.principal.id:
        raise drawing.DrawNotFound("no such draw of yours")
    data = await file.read(imports.MAX_FILE_BYTES + 1) if file is not None else b""
    platform = None if draw.platform == "file" else draw.platform
    try:
        if not data:
            raise imports.ImportRejected(
                [imports.ImportProblem(0, None, "choose the file of the post's comments")]
            )
        # Seconds of CPU for a big file: off the event loop, which keeps serving meanwhile.
        parsed = await asyncio.to_thread(
            imports.parse_entries_file,
            data,
            filename=(file.filename if file is not None else None) or "",
            platform=platform,
        )
    except imports.ImportRejected as rejected:
        await session.rollback()
        raise PageError(
            await manage_page(
                request,
                draw_id,
                me,
                session,
                problems=rejected.problems,
                truncated=rejected.truncated,
                status_code=422,
            )
        ) from None

    async def action() -> dict[str, Any]:
        added, duplicates = await drawing.add_entries(
            session,
            draw_id=draw_id,
            host_id=me.principal.id,
            entries=parsed.entries,
            source=parsed.format,
        )
        return {"added": added, "duplicates": duplicates, "format": parsed.format}

    report = await refused_as_page(
        session, action, _manage(request, draw_id, me, session), key="import"
    )
    return await manage_page(request, draw_id, me, session, report=report)


@router.post("/giveaways/draws/{draw_id}/commit")
async def commit_draw(
    request: Request,
    _: FormChecked,
    draw_id: uuid.UUID,
    me: CurrentUser,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    """As `POST /v1/giveaways/draws/{id}/commit`: without a beacon the draw is made at once."""
    may_act(me, moves_money=False)

    async def action() -> str:
        made = await execution.commit_and_draw(
            session, settings, draw_id=draw_id, host_id=me.principal.id, now=utcnow()
        )
        if made.status == "processing":
            return "giveaway_committed"
        return "giveaway_drawn" if made.status == "completed" else "giveaway_failed"

    flash = await refused_as_page(
        session, action, _manage(request, draw_id, me, session), key="commit"
    )
    return redirect(f"/giveaways/draws/{draw_id}/manage", flash=flash, request=request)


@router.post("/giveaways/draws/{draw_id}/cancel")
async def cancel_draw(
    request: Request,
    _: FormChecked,
    draw_id: uuid.UUID,
    me: CurrentUser,
    session: DbSession,
    reason: Reason = "",
) -> Response:
    may_act(me, moves_money=False)

    async def action() -> None:
        await drawing.cancel_draw(
            session,
            draw_id=draw_id,
            host_id=me.principal.id,
            reason=reason.strip() or None,
            now=utcnow(),
        )

    await refused_as_page(
        session,
        action,
        _manage(request, draw_id, me, session),
        key="cancel",
        values={"reason": reason},
    )
    return redirect(
        f"/giveaways/draws/{draw_id}/manage", flash="giveaway_cancelled", request=request
    )


@router.post("/giveaways/draws/{draw_id}/rerolls")
async def reroll(
    request: Request,
    _: FormChecked,
    draw_id: uuid.UUID,
    me: CurrentUser,
    session: DbSession,
    settings: AppSettings,
    rank: Number = "",
    reason: Reason = "",
) -> Response:
    may_act(me, moves_money=False)

    async def action() -> None:
        if not rank.strip().isdigit() or not 1 <= int(rank) <= 1000:
            raise Unprocessable("choose the rank of the winner to replace", field="rank")
        if not reason.strip():
            raise Unprocessable("say why the winner is replaced: it is published", field="reason")
        await execution.reroll(
            session,
            settings,
            draw_id=draw_id,
            host_id=me.principal.id,
            rank=int(rank),
            reason=reason.strip(),
            now=utcnow(),
        )

    await refused_as_page(
        session,
        action,
        _manage(request, draw_id, me, session),
        key="reroll",
        values={"rank": rank, "reason": reason},
    )
    return redirect(
        f"/giveaways/draws/{draw_id}/manage", flash="giveaway_rerolled", request=request
    )


@router.get("/giveaways/draws/{draw_id}/entries.jsonl")
async def entries_file(draw_id: uuid.UUID, me: CurrentUser, session: DbSession) -> Response:
    body = await reads.entries_file(session, draw_id, me.principal.id)
    return Response(
        body,
        media_type="application/jsonl",
        headers={
            "Content-Disposition": f'attachment; filename="draw-{draw_id}-entries.jsonl"',
            "Cache-Control": "no-store",
        },
    )
