"""The creator's shoots and planned uploads (seed 001's scheduling), on the workspace service.

A shoot: the list (latest first) with a form to add one, and a shoot's page to change, mark
done or not done, delete it and manage its client review link (`web.studio_reviews`). An upload
is what seed 001 and the API call one: a post planned on a platform (date, time, platform,
content type, brand, campaign), not a file; there is no file storage in the platform. The
uploads page lists them with a form to plan one (a shoot's page links to it with the shoot's
brand and campaign filled in), and buttons to mark them done, not done, or delete them.
The typed values are checked by the API's request models (`ShootCreate`, `ShootUpdate`,
`UploadCreate`), and the amount is typed in major units and kept exactly in minor units.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import DbSession
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Problem
from creatorhub.payments.schemas import check_currency
from creatorhub.web.account import problem_field
from creatorhub.web.acting import field_errors, major_units, may_act, minor_units, money
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError
from creatorhub.web.session import redirect
from creatorhub.web.studio_base import Creator, optional, studio_page
from creatorhub.workspace import service
from creatorhub.workspace.models import UPLOAD_PLATFORMS, Shoot, Upload
from creatorhub.workspace.review_status import ReviewStatus, review_status
from creatorhub.workspace.schemas import ShootCreate, ShootUpdate, UploadCreate, UploadUpdate

router = APIRouter(include_in_schema=False)

# The pages list this many, latest first (the API pages through all of them).
LISTED = 100
SHOOT_FIELDS = ("date", "time", "location", "brand_name", "campaign_name", "notes")
PLATFORM_CHOICES = [("", "Choose a platform"), *((p, p.capitalize()) for p in UPLOAD_PLATFORMS)]
REVIEW_STATES = {
    "none": "No review link yet",
    "link_open": "Review link open",
    "reviewed": "Reviewed",
    "link_expired": "Review link expired",
    "link_revoked": "Review link withdrawn",
}

SHORT, LONG = 300, 6000


class ShootForm(BaseModel):
    """The shoot form as sent: text, checked by `_shoot_fields` and the API's models."""

    date: str = Field("", max_length=SHORT)
    time: str = Field("", max_length=SHORT)
    location: str = Field("", max_length=SHORT)
    brand_name: str = Field("", max_length=SHORT)
    campaign_name: str = Field("", max_length=SHORT)
    notes: str = Field("", max_length=LONG)
    amount: str = Field("", max_length=SHORT)
    currency: str = Field("", max_length=SHORT)


class UploadForm(BaseModel):
    """The upload form as sent."""

    date: str = Field("", max_length=SHORT)
    time: str = Field("", max_length=SHORT)
    platform: str = Field("", max_length=SHORT)
    content_type: str = Field("", max_length=SHORT)
    brand_name: str = Field("", max_length=SHORT)
    campaign_name: str = Field("", max_length=SHORT)
    notes: str = Field("", max_length=LONG)


ShootTyped = Annotated[ShootForm, Form()]
UploadTyped = Annotated[UploadForm, Form()]


def review_label(status: ReviewStatus) -> str:
    label = REVIEW_STATES[status.state]
    if status.state == "reviewed":
        label += ", published" if status.published else ", not published"
    return label


HELPERS: dict[str, Any] = {"money": money, "review_label": review_label}


# --- shoots ----------------------------------------------------------------------------------


def _shoot_fields(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form as the API's shoot body (empty optional fields as null), or the faults."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {name: optional(values[name]) for name in SHOOT_FIELDS}
    body["date"] = values["date"].strip()
    body["brand_name"] = values["brand_name"].strip()
    currency = values["currency"].strip().upper()
    amount = values["amount"].strip()
    body["amount"] = body["currency"] = None
    if amount or currency:
        if not currency:
            errors["currency"] = "Choose the currency of the amount."
        elif not amount:
            errors["amount"] = "Enter the amount, or leave the currency empty too."
        else:
            try:
                body["currency"] = check_currency(currency)
                body["amount"] = minor_units(amount, currency, zero_allowed=True)
            except ValueError as error:
                field = "currency" if body["currency"] is None else "amount"
                errors[field] = str(error)[:1].upper() + str(error)[1:].rstrip(".") + "."
    return body, errors


def _shoot_values(shoot: Shoot) -> dict[str, str]:
    return {
        "date": shoot.date.isoformat(),
        "time": shoot.time.strftime("%H:%M") if shoot.time else "",
        "location": shoot.location or "",
        "brand_name": shoot.brand_name,
        "campaign_name": shoot.campaign_name or "",
        "notes": shoot.notes or "",
        "amount": major_units(shoot.amount, shoot.currency),
        "currency": shoot.currency or "",
    }


async def _shoots_page(
    request: Request,
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = await service.recent_shoots(session, user_id, now=utcnow(), limit=LISTED + 1)
    return studio_page(
        request,
        "studio_shoots.html",
        "shoots",
        status_code,
        shoots=rows[:LISTED],
        more=len(rows) > LISTED,
        values={**ShootForm().model_dump(), **(values or {})},
        errors=errors or {},
        **HELPERS,
    )


@router.get("/studio/shoots", response_class=HTMLResponse)
async def shoots_page(request: Request, me: Creator, session: DbSession) -> HTMLResponse:
    return await _shoots_page(request, session, me.principal.id)


@router.post("/studio/shoots")
async def add_shoot(
    request: Request,
    _: FormChecked,
    me: Creator,
    session: DbSession,
    form: ShootTyped,
) -> Response:
    may_act(me, moves_money=False)
    values = form.model_dump()
    body, errors = _shoot_fields(values)
    try:
        draft = ShootCreate.model_validate(body)
    except ValidationError as error:
        errors = {**field_errors(error), **errors}
    if errors:
        page = await _shoots_page(
            request, session, me.principal.id, values=values, errors=errors, status_code=422
        )
        raise PageError(page)
    shoot = await service.create_shoot(session, me.principal.id, draft.model_dump())
    return redirect(f"/studio/shoots/{shoot.id}", flash="shoot_added", request=request)


def _shoot_page(
    request: Request,
    shoot: Shoot,
    status: ReviewStatus,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return studio_page(
        request,
        "studio_shoot.html",
        "shoots",
        status_code,
        shoot=shoot,
        review=status,
        values=values or _shoot_values(shoot),
        errors=errors or {},
        **HELPERS,
    )


@router.get("/studio/shoots/{shoot_id}", response_class=HTMLResponse)
async def shoot_page(
    request: Request, shoot_id: uuid.UUID, me: Creator, session: DbSession
) -> HTMLResponse:
    shoot = await service.get_own_shoot(session, shoot_id, me.principal.id)
    return _shoot_page(request, shoot, await review_status(session, shoot, utcnow()))


@router.post("/studio/shoots/{shoot_id}")
async def change_shoot(
    request: Request,
    _: FormChecked,
    shoot_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    form: ShootTyped,
) -> Response:
    may_act(me, moves_money=False)
    shoot = await service.get_own_shoot(session, shoot_id, me.principal.id, lock=True)
    values = form.model_dump()
    body, errors = _shoot_fields(values)
    # A required field left empty is refused here (the API's update would keep it unchanged
    # only when absent).
    for required, message in (("date", "Choose the day."), ("brand_name", "Name the brand.")):
        if not body[required]:
            errors.setdefault(required, message)
    changes: dict[str, Any] = {}
    if not errors:
        try:
            update = ShootUpdate.model_validate(body)
            changes = update.model_dump(include=set(body))
        except ValidationError as error:
            errors = {**field_errors(error), **errors}
    if errors:
        status = await review_status(session, shoot, utcnow())
        page = _shoot_page(request, shoot, status, values=values, errors=errors, status_code=422)
        raise PageError(page)
    await service.update_row(session, shoot, changes)
    return redirect(f"/studio/shoots/{shoot.id}", flash="shoot_saved", request=request)


@router.post("/studio/shoots/{shoot_id}/complete")
async def complete_shoot(
    request: Request, _: FormChecked, shoot_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    shoot = await service.get_own_shoot(session, shoot_id, me.principal.id, lock=True)
    await service.complete(session, shoot, utcnow())
    return redirect(f"/studio/shoots/{shoot_id}", flash="shoot_completed", request=request)


@router.post("/studio/shoots/{shoot_id}/reopen")
async def reopen_shoot(
    request: Request, _: FormChecked, shoot_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    shoot = await service.get_own_shoot(session, shoot_id, me.principal.id, lock=True)
    await service.reopen(session, shoot, utcnow())
    return redirect(f"/studio/shoots/{shoot_id}", flash="shoot_reopened", request=request)


@router.post("/studio/shoots/{shoot_id}/delete")
async def delete_shoot(
    request: Request, _: FormChecked, shoot_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    shoot = await service.get_own_shoot(session, shoot_id, me.principal.id, lock=True)
    await service.delete_row(session, shoot)
    return redirect("/studio/shoots", flash="shoot_deleted", request=request)


# --- uploads ---------------------------------------------------------------------------------


async def _uploads_page(
    request: Request,
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = await service.recent_uploads(session, user_id, limit=LISTED + 1)
    return studio_page(
        request,
        "studio_uploads.html",
        "uploads",
        status_code,
        uploads=rows[:LISTED],
        more=len(rows) > LISTED,
        values={**UploadForm().model_dump(), **values},
        errors=errors or {},
        platforms=PLATFORM_CHOICES,
    )


Prefill = Annotated[str, Query(max_length=200)]


@router.get("/studio/uploads", response_class=HTMLResponse)
async def uploads_page(
    request: Request,
    me: Creator,
    session: DbSession,
    brand: Prefill = "",
    campaign: Prefill = "",
    date: Prefill = "",
) -> HTMLResponse:
    """`brand`, `campaign` and `date` fill the form in (a shoot's page links here with its)."""
    values = {"brand_name": brand, "campaign_name": campaign, "date": date}
    return await _uploads_page(request, session, me.principal.id, values=values)


@router.post("/studio/uploads")
async def add_upload(
    request: Request,
    _: FormChecked,
    me: Creator,
    session: DbSession,
    form: UploadTyped,
) -> Response:
    may_act(me, moves_money=False)
    values = form.model_dump()
    body: dict[str, Any] = {name: optional(value) for name, value in values.items()}
    body["date"], body["platform"] = form.date.strip(), form.platform.strip()
    try:
        draft = UploadCreate.model_validate(body)
    except ValidationError as error:
        errors = field_errors(error)
        if "platform" in errors:
            errors["platform"] = "Choose the platform of the post."
        page = await _uploads_page(
            request, session, me.principal.id, values=values, errors=errors, status_code=422
        )
        raise PageError(page) from None
    try:
        await service.create_upload(session, me.principal.id, draft.model_dump())
    except Problem as problem:
        if problem.status >= 500:
            raise
        errors = {problem_field(problem, "form"): problem.detail or "This cannot be saved."}
        page = await _uploads_page(
            request, session, me.principal.id, values=values, errors=errors, status_code=422
        )
        raise PageError(page) from None
    return redirect("/studio/uploads", flash="upload_added", request=request)


def _upload_values(upload: Upload) -> dict[str, str]:
    return {
        "date": upload.date.isoformat(),
        "time": upload.time.strftime("%H:%M") if upload.time else "",
        "platform": upload.platform,
        "content_type": upload.content_type or "",
        "brand_name": upload.brand_name or "",
        "campaign_name": upload.campaign_name or "",
        "notes": upload.notes or "",
    }


def _upload_page(
    request: Request,
    upload: Upload,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return studio_page(
        request,
        "studio_upload.html",
        "uploads",
        status_code,
        upload=upload,
        values=values or _upload_values(upload),
        errors=errors or {},
        platforms=PLATFORM_CHOICES,
    )


@router.get("/studio/uploads/{upload_id}", response_class=HTMLResponse)
async def upload_page(
    request: Request, upload_id: uuid.UUID, me: Creator, session: DbSession
) -> HTMLResponse:
    return _upload_page(request, await service.get_own_upload(session, upload_id, me.principal.id))


@router.post("/studio/uploads/{upload_id}")
async def change_upload(
    request: Request,
    _: FormChecked,
    upload_id: uuid.UUID,
    me: Creator,
    session: DbSession,
    form: UploadTyped,
) -> Response:
    may_act(me, moves_money=False)
    upload = await service.get_own_upload(session, upload_id, me.principal.id, lock=True)
    values = form.model_dump()
    body: dict[str, Any] = {name: optional(value) for name, value in values.items()}
    errors: dict[str, str] = {}
    if body["date"] is None:
        errors["date"] = "Choose the day."
    changes: dict[str, Any] = {}
    try:
        changes = UploadUpdate.model_validate(body).model_dump(include=set(body))
    except ValidationError as error:
        errors = {**field_errors(error), **errors}
    if body["platform"] not in UPLOAD_PLATFORMS:
        errors["platform"] = "Choose the platform of the post."
    if errors:
        raise PageError(
            _upload_page(request, upload, values=values, errors=errors, status_code=422)
        )
    await service.update_row(session, upload, changes)
    return redirect("/studio/uploads", flash="upload_saved", request=request)


@router.post("/studio/uploads/{upload_id}/complete")
async def complete_upload(
    request: Request, _: FormChecked, upload_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    upload = await service.get_own_upload(session, upload_id, me.principal.id, lock=True)
    await service.complete(session, upload, utcnow())
    return redirect("/studio/uploads", flash="upload_completed", request=request)


@router.post("/studio/uploads/{upload_id}/reopen")
async def reopen_upload(
    request: Request, _: FormChecked, upload_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    upload = await service.get_own_upload(session, upload_id, me.principal.id, lock=True)
    await service.reopen(session, upload, utcnow())
    return redirect("/studio/uploads", flash="upload_reopened", request=request)


@router.post("/studio/uploads/{upload_id}/delete")
async def delete_upload(
    request: Request, _: FormChecked, upload_id: uuid.UUID, me: Creator, session: DbSession
) -> Response:
    may_act(me, moves_money=False)
    upload = await service.get_own_upload(session, upload_id, me.principal.id, lock=True)
    await service.delete_row(session, upload)
    return redirect("/studio/uploads", flash="upload_deleted", request=request)
