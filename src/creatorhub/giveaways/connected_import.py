"""A draw's comments read from the host's connected account (issue 16), a page at a time.

`POST /v1/giveaways/draws/{draw_id}/imports {platform, media_id}` starts an import of the
comments of one of the host's posts, through their active `social` connection on that platform
(409 `social_account_not_connected` without one), into their pending draw; it answers 202 at
once and a job (`import_comments`, deferred in the request's transaction) reads the pages.
`GET .../imports/{import_id}` shows how far it got.

What is read:

* **Instagram** (Instagram API with Instagram Login, a professional account's own media):
  `GET graph.instagram.com/{version}/{ig-media-id}/comments` with
  `fields=id,text,timestamp,username,like_count,from,replies{...}`, replies nested;
* **Facebook** (a Page's post): `GET graph.facebook.com/{version}/{page-post-id}/comments`
  with `fields=id,message,created_time,from,like_count,comment_count,parent` and
  `filter=stream` (replies flat, each with its `parent`). The Graph API names a commenter
  (`from`) only to a Page access token, so the Page's token is asked for first (`me/accounts`
  with the connection's user token; the Page is the post id's first part, `{page-id}_{post-id}`)
  and kept in memory for the run, never stored;
* **TikTok and X**: not offered. TikTok's comment listing is part of its Research API (granted
  to academic researchers, not to apps acting for a creator) and X's replies need its paid API
  tiers' search; an import for them answers 422 `platform_import_unavailable` (a file export
  goes through `POST .../entries`).

Each page goes through `imports` (the same mapping as a Graph API JSON file) and
`drawing.add_entries` (a comment already in the draw is counted as a duplicate, kept once).

No network call happens inside a database transaction: each page is (1) read the import's state
and the connection's token, commit; (2) call the platform, holding nothing; (3) in one
transaction, write the page's entries with the next cursor and the counts, if the import is
still where (1) found it (a second run of the same import meanwhile wins; this one stops).
Progress is visible after each page. The stored cursor is the Graph API's `after` cursor, never
the `next` URL (which carries the access token); the import is done when a page has no `next`.

Failures: a transient one (429, 5xx, the Graph API's rate-limit codes, the network) makes the
import `waiting` until `retry_at` (the platform's `Retry-After`, else a back-off) and the job is
deferred again for then: it continues from the stored cursor, never from the start. A dead
grant fails the import ("reconnect the account"); so does a comment the mapping refuses, a draw
no longer pending, or a connection gone meanwhile. Only failed calls reach the connector log
(a successful page's answer is the commenters' data; the import row is its record).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import Database, DbSession
from creatorhub.giveaways.imports import _JsonReader
from creatorhub.giveaways.models import CommentImport, CommentImportStatus, Draw, DrawStatus
from creatorhub.giveaways.service import drawing
from creatorhub.identity.deps import CurrentPrincipal
from creatorhub.jobs import defer, job_app, task_database, task_settings
from creatorhub.kit.clock import utcnow
from creatorhub.kit.crypto import KeyringError
from creatorhub.kit.errors import Conflict, NotFound, Problem, Unprocessable, problem_responses
from creatorhub.social.connectors import Connector, ConnectorError, ErrorKind
from creatorhub.social.logbook import LogBook
from creatorhub.social.models import ConnectionStatus, Credential, LogStatus, Platform
from creatorhub.social.platforms import graph
from creatorhub.social.vault import keyring, open_tokens

log = structlog.get_logger(__name__)

router = APIRouter(tags=["giveaways"], responses=problem_responses(401, 404, 409, 422))

PAGE_SIZE = 100
INSTAGRAM_FIELDS = (
    "id,text,timestamp,username,like_count,from,"
    "replies{id,text,timestamp,username,like_count,from,parent_id}"
)
FACEBOOK_FIELDS = "id,message,created_time,from,like_count,comment_count,parent,message_tags"
# Without a `Retry-After`: a server error soon, a rate limit (Graph API windows are an hour
# long at most) later. A `Retry-After` is honoured up to MAX_WAIT.
SERVER_ERROR_WAIT = timedelta(seconds=60)
RATE_LIMIT_WAIT = timedelta(minutes=5)
MAX_WAIT = timedelta(hours=1)
# Pages one run reads before handing over to a new job (a long post does not hold a worker).
PAGES_PER_RUN = 50
TASK_NAME = "import_draw_comments"

UNAVAILABLE = {"tiktok", "twitter", "x"}


class SocialAccountNotConnected(Conflict):
    code = "social_account_not_connected"


class PlatformImportUnavailable(Unprocessable):
    code = "platform_import_unavailable"


class CommentImportInFlight(Conflict):
    code = "comment_import_in_flight"


class CommentImportNotFound(NotFound):
    code = "comment_import_not_found"


class CommentImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Literal["instagram", "facebook", "tiktok", "twitter", "x"]
    media_id: str = Field(
        pattern=r"^[0-9A-Za-z_.\-]{1,100}$",
        description="The Instagram media id, or the Facebook Page post id ({page-id}_{post-id})",
    )


class CommentImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    draw_id: uuid.UUID
    platform: str
    media_id: str
    status: str
    pages: int
    imported: int
    duplicates: int
    retry_at: datetime | None
    last_error: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


# --- routes ------------------------------------------------------------------------------------


@router.post(
    "/v1/giveaways/draws/{draw_id}/imports",
    status_code=202,
    response_model=CommentImportOut,
    summary="Import a post's comments from your connected account (runs in the background)",
)
async def start_import(
    draw_id: uuid.UUID, body: CommentImportIn, principal: CurrentPrincipal, session: DbSession
) -> CommentImportOut:
    """The import starts `running`; follow it with `GET .../imports/{import_id}`. 409
    `social_account_not_connected` without an active connection to the platform,
    `comment_import_in_flight` while another import of the draw runs or waits, 422
    `platform_import_unavailable` for TikTok and X (their APIs give apps no post comments)."""
    if body.platform in UNAVAILABLE:
        raise PlatformImportUnavailable(
            f"{body.platform} offers apps no access to a post's comments: import an export "
            "file instead (POST /v1/giveaways/draws/{draw_id}/entries)",
            field="body.platform",
        )
    draw = await drawing.lock_own_draw(session, draw_id, principal.id)
    if draw.status != DrawStatus.PENDING:
        raise drawing.DrawNotPending(
            f"the draw is {draw.status}: comments are imported only while it is pending"
        )
    connected = await session.scalar(
        select(Credential.id).where(
            Credential.user_id == principal.id,
            Credential.platform == body.platform,
            Credential.status == ConnectionStatus.ACTIVE.value,
        )
    )
    if connected is None:
        raise SocialAccountNotConnected(
            f"connect your {body.platform} account first (POST /v1/social/connections/"
            f"{body.platform}/authorize)"
        )
    busy = await session.scalar(
        select(CommentImport.id).where(
            CommentImport.draw_id == draw_id,
            CommentImport.status.in_(
                [CommentImportStatus.RUNNING.value, CommentImportStatus.WAITING.value]
            ),
        )
    )
    if busy is not None:
        raise CommentImportInFlight(f"import {busy} of this draw is not finished")
    row = CommentImport(draw_id=draw_id, platform=body.platform, media_id=body.media_id)
    session.add(row)
    await session.flush()
    await defer(session, import_draw_comments, import_id=str(row.id))
    return CommentImportOut.model_validate(row)


@router.get(
    "/v1/giveaways/draws/{draw_id}/imports/{import_id}",
    response_model=CommentImportOut,
    summary="How far an import of comments got",
)
async def get_import(
    draw_id: uuid.UUID,
    import_id: Annotated[uuid.UUID, Path()],
    principal: CurrentPrincipal,
    session: DbSession,
) -> CommentImportOut:
    row = await session.scalar(
        select(CommentImport)
        .join(Draw, Draw.id == CommentImport.draw_id)
        .where(
            CommentImport.id == import_id,
            CommentImport.draw_id == draw_id,
            Draw.user_id == principal.id,
        )
    )
    if row is None:
        raise CommentImportNotFound("no such import of your draw")
    return CommentImportOut.model_validate(row)


# --- the job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    """What a page needs, read in a committed transaction before the call."""

    import_id: uuid.UUID
    draw_id: uuid.UUID
    host_id: uuid.UUID
    platform: Platform
    media_id: str
    cursor: str | None
    pages: int
    access_token: str


@dataclass(frozen=True)
class _Page:
    entries: list[Any]
    after: str | None  # None: the last page


class _Stop(Exception):
    """The import ends here (failed) with this reason."""


def _map_page(platform: Platform, answer: dict[str, Any]) -> _Page:
    """A Graph API page of comments, through the file import's mapping."""
    reader = _JsonReader(platform.value)
    read = _JsonReader.instagram_comment
    if platform is Platform.FACEBOOK:
        read = _JsonReader.facebook_comment
    reader.edge(answer, (), read, None)
    if reader.problems:
        first = reader.problems[0]
        raise _Stop(
            f"the platform sent a comment that cannot be read: {first.field or ''} "
            f"{first.reason}".replace("  ", " ")
        )
    paging: dict[str, Any] = answer.get("paging") or {}
    cursors: dict[str, Any] = paging.get("cursors") or {} if isinstance(paging, dict) else {}
    if not isinstance(paging, dict) or not isinstance(cursors, dict):
        raise _Stop("the platform's page has no readable `paging`")
    after = cursors.get("after") if paging.get("next") else None
    if paging.get("next") and not (isinstance(after, str) and after):
        raise _Stop("the platform's page has a next page but no `after` cursor")
    return _Page(list(reader.entries), after)


async def _read_state(
    database: Database, settings: Settings, import_id: uuid.UUID
) -> _State | None:
    """The import's state and the connection's token, or None when there is nothing to do;
    marks the import running (it may have been waiting)."""
    async with database.session_scope() as session:
        row = await session.scalar(
            select(CommentImport).where(CommentImport.id == import_id).with_for_update()
        )
        if row is None or row.status in (
            CommentImportStatus.COMPLETED.value,
            CommentImportStatus.FAILED.value,
        ):
            return None
        host_id = await session.scalar(select(Draw.user_id).where(Draw.id == row.draw_id))
        credential = await session.scalar(
            select(Credential).where(
                Credential.user_id == host_id, Credential.platform == row.platform
            )
        )
        if credential is None or credential.status != ConnectionStatus.ACTIVE.value:
            await _finish(
                session,
                row,
                CommentImportStatus.FAILED,
                f"the account is not connected any more: reconnect the {row.platform} account",
            )
            return None
        try:
            access, _ = open_tokens(keyring(settings), credential)
        except (KeyringError, Problem) as error:
            await _finish(
                session,
                row,
                CommentImportStatus.FAILED,
                f"the stored tokens cannot be opened: {error}",
            )
            return None
        row.status, row.retry_at, row.updated_at = CommentImportStatus.RUNNING.value, None, utcnow()
        assert host_id is not None
        return _State(
            import_id=row.id,
            draw_id=row.draw_id,
            host_id=host_id,
            platform=Platform(row.platform),
            media_id=row.media_id,
            cursor=row.next_cursor,
            pages=row.pages,
            access_token=access,
        )


async def _finish(
    session: AsyncSession, row: CommentImport, status: CommentImportStatus, error: str | None
) -> None:
    now = utcnow()
    row.status, row.retry_at, row.updated_at = status.value, None, now
    row.finished_at = now
    if error is not None:
        row.last_error = error[:500]


async def _page_token(connector: Connector, state: _State) -> str:
    """Facebook: the Page's access token (the commenters are named only to it)."""
    page_id = state.media_id.partition("_")[0]
    answer = await connector.graph_get(
        "fetch_page_token",
        graph(connector.settings, "graph.facebook.com", "me/accounts"),
        {"fields": "id,access_token"},
        access_token=state.access_token,
    )
    for page in answer.get("data") or []:
        if isinstance(page, dict) and str(page.get("id")) == page_id and page.get("access_token"):
            token = str(page["access_token"])
            connector.book.secret(token)
            return token
    raise _Stop(f"the connected account does not manage the Page {page_id}")


async def _fetch(connector: Connector, state: _State, token: str) -> dict[str, Any]:
    params = {"limit": str(PAGE_SIZE)}
    if state.platform is Platform.INSTAGRAM:
        address = graph(connector.settings, "graph.instagram.com", f"{state.media_id}/comments")
        params["fields"] = INSTAGRAM_FIELDS
    else:
        address = graph(connector.settings, "graph.facebook.com", f"{state.media_id}/comments")
        params.update(fields=FACEBOOK_FIELDS, filter="stream", order="chronological")
    if state.cursor:
        params["after"] = state.cursor
    return await connector.graph_get("fetch_comments", address, params, access_token=token)


async def _lock_if_unchanged(session: AsyncSession, state: _State) -> CommentImport | None:
    row = await session.scalar(
        select(CommentImport)
        .where(CommentImport.id == state.import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if (
        row is None
        or row.status != CommentImportStatus.RUNNING.value
        or row.next_cursor != state.cursor
        or row.pages != state.pages
    ):
        return None  # another run moved it on (or it was finished): that one goes on
    return row


def _wait(error: ConnectorError) -> timedelta:
    if error.retry_after is not None:
        return min(timedelta(seconds=error.retry_after), MAX_WAIT)
    return SERVER_ERROR_WAIT if (error.status or 0) >= 500 else RATE_LIMIT_WAIT


async def _write_page(database: Database, state: _State, page: _Page, book: LogBook) -> str:
    async with database.session_scope() as session:
        row = await _lock_if_unchanged(session, state)
        if row is None:
            return "superseded"
        draw = await drawing.lock_own_draw(session, state.draw_id, state.host_id)
        if draw.status != DrawStatus.PENDING:
            await _finish(
                session,
                row,
                CommentImportStatus.FAILED,
                f"the draw is {draw.status}: no more comments can be added",
            )
            return "failed"
        added = duplicates = 0
        if page.entries:
            added, duplicates = await drawing.add_entries(
                session,
                draw_id=state.draw_id,
                host_id=state.host_id,
                entries=page.entries,
                source=f"{state.platform.value}_api",
            )
        row.pages += 1
        row.imported += added
        row.duplicates += duplicates
        row.next_cursor = page.after
        row.updated_at = utcnow()
        if page.after is None:
            await _finish(session, row, CommentImportStatus.COMPLETED, None)
        book.write(session)
        return "completed" if page.after is None else "page"


async def _write_failure(
    database: Database, state: _State, error: ConnectorError | _Stop, book: LogBook
) -> str:
    async with database.session_scope() as session:
        book.write(session)
        row = await _lock_if_unchanged(session, state)
        if row is None:
            return "superseded"
        if isinstance(error, ConnectorError) and error.kind is ErrorKind.TRANSIENT:
            retry_at = utcnow() + _wait(error)
            row.status, row.retry_at, row.updated_at = (
                CommentImportStatus.WAITING.value,
                retry_at,
                utcnow(),
            )
            row.last_error = book.scrub(error.message)[:500]
            await defer(
                session,
                import_draw_comments.configure(schedule_at=retry_at),
                import_id=str(state.import_id),
            )
            return "waiting"
        if isinstance(error, ConnectorError) and error.kind is ErrorKind.INVALID_GRANT:
            shown = book.scrub(error.message)
            message = f"the platform refused the token: reconnect the account ({shown})"
        else:
            message = book.scrub(error.message if isinstance(error, ConnectorError) else str(error))
        await _finish(session, row, CommentImportStatus.FAILED, message)
        return "failed"


async def run_import(
    database: Database, settings: Settings, import_id: uuid.UUID, *, max_pages: int = PAGES_PER_RUN
) -> str:
    """Read the import's pages from its cursor on, one per call with no transaction open;
    what the run ended with: completed, waiting, failed, superseded, idle (nothing to do) or
    continued (`max_pages` read; a new job goes on)."""
    page_token: str | None = None
    for _ in range(max_pages):
        state = await _read_state(database, settings, import_id)
        if state is None:
            return "idle"
        book = LogBook(user_id=state.host_id, platform=state.platform.value, ip=None)
        try:
            async with Connector(state.platform, settings, book) as connector:
                book.secret(state.access_token)
                if state.platform is Platform.FACEBOOK and page_token is None:
                    page_token = await _page_token(connector, state)
                answer = await _fetch(connector, state, page_token or state.access_token)
            page = _map_page(state.platform, answer)
        except (ConnectorError, _Stop) as error:
            outcome = await _write_failure(database, state, error, book)
            log.info("giveaway_comment_import", import_id=str(import_id), outcome=outcome)
            return outcome
        # A successful page is not logged: its answer is the commenters' data.
        book.entries = [e for e in book.entries if e.status is LogStatus.FAILURE]
        outcome = await _write_page(database, state, page, book)
        if outcome != "page":
            log.info("giveaway_comment_import", import_id=str(import_id), outcome=outcome)
            return outcome
    async with database.session_scope() as session:
        await defer(session, import_draw_comments, import_id=str(import_id))
    return "continued"


@job_app.task(queue="social", name=TASK_NAME)
async def import_draw_comments(import_id: str) -> str:
    return await run_import(task_database(), task_settings(), uuid.UUID(import_id))
