"""The creator's calendar page: a month as a table of weeks (Monday first), with each day's
shoots, uploads and blocked ranges, and the forms to block dates and free them again.

It reads the same combined view as `GET /v1/workspace/calendar` (`workspace.calendar.view`,
two statements) for the weeks the grid shows, and blocks and unblocks through the calendar
service, as `POST` and `DELETE /v1/workspace/calendar/blocks` do.
"""

from __future__ import annotations

import calendar as months
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import DbSession
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Problem, Unprocessable
from creatorhub.web.account import problem_field
from creatorhub.web.acting import field_errors, may_act
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError
from creatorhub.web.session import redirect
from creatorhub.web.studio_base import Creator, optional, studio_page
from creatorhub.workspace import calendar
from creatorhub.workspace.schemas import MAX_DATE, MIN_DATE, BlockCreate

router = APIRouter(include_in_schema=False)

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BLOCK_FORM = ("start_date", "end_date", "reason")


@dataclass
class Day:
    day: date
    in_month: bool
    today: bool
    shoots: list[Any] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.shoots or self.uploads or self.blocks)


def month_of(text: str | None, today: date) -> date:
    """The first day of `YYYY-MM` (this month without one)."""
    if not text:
        return today.replace(day=1)
    match = MONTH.match(text)
    if match is None or not 1900 <= int(match.group(1)) <= 2999:
        raise Unprocessable("choose a month as YYYY-MM", code="invalid_month", field="month")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _month_shown(typed: str, today: date) -> date:
    """The month of a typed day when it is one the calendar takes, else this month."""
    try:
        day = date.fromisoformat(typed.strip())
    except ValueError:
        return today.replace(day=1)
    return day.replace(day=1) if MIN_DATE <= day <= MAX_DATE else today.replace(day=1)


def _shifted(first: date, months_on: int) -> date:
    index = first.year * 12 + first.month - 1 + months_on
    return date(index // 12, index % 12 + 1, 1)


def _grid(first: date) -> tuple[date, date]:
    """The first and last day shown: whole weeks, Monday to Sunday, around the month."""
    last = first.replace(day=months.monthrange(first.year, first.month)[1])
    return first - timedelta(days=first.weekday()), last + timedelta(days=6 - last.weekday())


async def _calendar_page(
    request: Request,
    session: AsyncSession,
    user_id: uuid.UUID,
    first: date,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    now = utcnow()
    start, end = _grid(first)
    shoots, uploads, blocks, truncated = await calendar.view(session, user_id, start, end, now=now)
    days = {
        start + timedelta(days=n): Day(
            start + timedelta(days=n),
            (start + timedelta(days=n)).month == first.month,
            start + timedelta(days=n) == now.date(),
        )
        for n in range((end - start).days + 1)
    }
    for shoot, _status in shoots:
        days[shoot.date].shoots.append(shoot)
    for upload in uploads:
        days[date.fromisoformat(upload["date"])].uploads.append(upload)
    ranges = []
    for block in blocks:
        block_start = date.fromisoformat(block["start_date"])
        block_end = date.fromisoformat(block["end_date"])
        ranges.append({**block, "start": block_start, "end": block_end})
        on = max(block_start, start)
        while on <= min(block_end, end):
            days[on].blocks.append(block)
            on += timedelta(days=1)
    weeks = [
        [days[start + timedelta(days=7 * w + d)] for d in range(7)]
        for w in range(((end - start).days + 1) // 7)
    ]
    month_days = [day for day in days.values() if day.in_month and day.busy]
    return studio_page(
        request,
        "studio_calendar.html",
        "calendar",
        status_code,
        first=first,
        title=f"{months.month_name[first.month]} {first.year}",
        previous=_shifted(first, -1).strftime("%Y-%m"),
        next=_shifted(first, 1).strftime("%Y-%m"),
        weekdays=WEEKDAYS,
        weeks=weeks,
        agenda=month_days,
        blocks=ranges,
        truncated=truncated,
        values={**dict.fromkeys(BLOCK_FORM, ""), "reason_public": "", **(values or {})},
        errors=errors or {},
    )


@router.get("/studio/calendar", response_class=HTMLResponse)
async def calendar_page(
    request: Request,
    me: Creator,
    session: DbSession,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> HTMLResponse:
    first = month_of(month, utcnow().date())
    return await _calendar_page(request, session, me.principal.id, first)


Short = Annotated[str, Form(max_length=600)]


@router.post("/studio/calendar/blocks")
async def block_dates(
    request: Request,
    _: FormChecked,
    me: Creator,
    session: DbSession,
    start_date: Short = "",
    end_date: Short = "",
    reason: Short = "",
    reason_public: Short = "",
) -> Response:
    may_act(me, moves_money=False)
    values = {
        "start_date": start_date,
        "end_date": end_date,
        "reason": reason,
        "reason_public": reason_public,
    }
    body = {
        "start_date": start_date.strip(),
        "end_date": optional(end_date),
        "reason": optional(reason),
        "reason_public": bool(reason_public),
    }
    errors: dict[str, str] = {}
    try:
        draft = BlockCreate.model_validate(body)
        await calendar.create_block(session, me.principal.id, **draft.model_dump())
    except ValidationError as error:
        errors = field_errors(error)
    except Problem as problem:
        if problem.status >= 500:
            raise
        errors = {
            problem_field(problem, "form"): problem.detail or "These dates cannot be blocked."
        }
    if errors:
        # A problem names its field as the API's body does (`body.end_date`); a sentence each.
        shown: dict[str, str] = {}
        for name, text in errors.items():
            sentence = text[:1].upper() + text[1:].rstrip(".") + "."
            shown.setdefault(name if name in BLOCK_FORM else "form", sentence)
        page = await _calendar_page(
            request,
            session,
            me.principal.id,
            _month_shown(start_date, utcnow().date()),
            values=values,
            errors=shown,
            status_code=422,
        )
        raise PageError(page)
    month = date.fromisoformat(start_date.strip()).strftime("%Y-%m")
    return redirect(f"/studio/calendar?month={month}", flash="block_added", request=request)


@router.post("/studio/calendar/blocks/{block_id}/delete")
async def unblock_dates(
    request: Request, _: FormChecked, block_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    block = await calendar.get_own_block(session, block_id, me.principal.id)
    month = block.start_date.strftime("%Y-%m")
    await calendar.delete_block(session, block)
    return redirect(f"/studio/calendar?month={month}", flash="block_deleted", request=request)
