"""The administrator's pages: accounts (search, roles, suspension), the ledger's invariants,
payouts waiting below the minimum, fee settings, the marketplace analytics, and the logs.

Every handler calls the services the `/v1/admin` API calls, with the same rules: a refusal the
API gives (an administrator removing their own admin role, changing their own status, ...) is
shown on the page with the service's message, and the request's transaction rolls back. A form
that fails comes back with what was typed and the message at its field (422), nothing saved.

Double submission: releasing a payout takes the amount out of the wallet in the same statement
as the payout (refused whole when the wallet holds less), so a second click finds the money
gone and is answered 409 on the page; setting roles, a status or a fee sets a value, so
sending it twice leaves what one sending leaves (and one more audit row).

The ledger check is the one `creatorhub ledger verify` runs: a sync psycopg connection of its
own, reading one snapshot. It runs in a worker thread (the event loop goes on serving), on a
button rather than on every visit, as it reads the whole ledger.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from creatorhub.audit import service as audit
from creatorhub.db import DbSession
from creatorhub.identity import service as identity
from creatorhub.identity.models import AccountStatus, Role, User
from creatorhub.identity.schemas import AgeVerificationIn, SetRolesRequest, SetStatusRequest
from creatorhub.identity.service.lookup import search_users
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Forbidden, Problem, Unprocessable
from creatorhub.kit.pagination import decode_cursor, encode_cursor
from creatorhub.kit.state import AppSettings
from creatorhub.ledger.verify import CHECKS, verify
from creatorhub.marketplace import analytics
from creatorhub.payments import admin_reads, fees, payouts
from creatorhub.payments.schemas import FeeRuleIn, check_currency
from creatorhub.web.acting import field_errors, minor_units, money
from creatorhub.web.csrf import FormChecked
from creatorhub.web.render import PageError, navigation, render
from creatorhub.web.session import FLASHES, ROLE_LABELS, ROLE_ORDER, SignedIn, page_role, redirect
from creatorhub.workspace.portfolio import format_minor

router = APIRouter(include_in_schema=False)

USERS_PER_PAGE = 25
LOGS_PER_PAGE = 50
PAYOUTS_LISTED = 100
ANALYTICS_DAYS = 7  # the range shown when none is asked for, ending today

navigation(Role.ADMIN, "/admin/users", "Users")
navigation(Role.ADMIN, "/admin/payouts", "Money")
navigation(Role.ADMIN, "/admin/analytics", "Analytics")
navigation(Role.ADMIN, "/admin/logs", "Logs")

FLASHES.update(
    {
        "admin_roles_set": ("ok", "The roles are saved."),
        "admin_status_set": ("ok", "The account's status is changed."),
        "admin_age_recorded": ("ok", "The outcome of the age check is recorded."),
        "admin_payout_released": ("ok", "The payout is released; it is on its way to the payee."),
        "admin_fee_set": ("ok", "The fee is saved; it applies to transactions from now on."),
        "admin_rollup_done": ("ok", "The analytics of these days are recomputed."),
    }
)

Name = Annotated[str, Query(max_length=100, pattern=r"^[A-Za-z0-9_.:\-]*$")]
Cursor = Annotated[str, Query(max_length=200)]
Reason = Annotated[str, Form(max_length=500)]
Small = Annotated[str, Form(max_length=40)]


async def _active_admin(me: Annotated[SignedIn, Depends(page_role(Role.ADMIN))]) -> SignedIn:
    """An administrator whose account is active (the API refuses a suspended one everywhere)."""
    if me.suspended:
        raise Forbidden("your account is not active: it cannot act", code="account_suspended")
    return me


Admin = Annotated[SignedIn, Depends(_active_admin)]


def _refusal(problem: Problem) -> bool:
    """A service's answer to show at the form (not a missing record, not a failure)."""
    return problem.status in (403, 409, 422)


def _sentence(text: str | None, default: str) -> str:
    """A service's message as the error pages show one: capitalised, with its full stop."""
    text = (text or default).strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


# --- accounts --------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(
    request: Request,
    me: Admin,
    session: DbSession,
    q: Annotated[str, Query(max_length=254)] = "",
    cursor: Cursor = "",
) -> HTMLResponse:
    found = await search_users(
        session, q, limit=USERS_PER_PAGE + 1, before=decode_cursor(cursor) if cursor else None
    )
    shown = found[:USERS_PER_PAGE]
    next_url = None
    if len(found) > USERS_PER_PAGE:
        after = encode_cursor(shown[-1].created_at, shown[-1].id)
        next_url = "/admin/users?" + urlencode({"q": q, "cursor": after})
    return render(
        request, "admin_users.html", users=shown, q=q, next_url=next_url, labels=ROLE_LABELS
    )


# The methods of an age check, as `AgeVerificationIn` takes them, with their labels.
AGE_METHODS = {
    "document_check": "Identity document checked",
    "id_provider": "Identity provider",
    "credit_card": "Credit card",
    "facial_estimation": "Facial age estimation",
    "manual_review": "Manual review",
}


def _user_page(
    request: Request,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    roles: list[str] | None = None,
    status: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin_user.html",
        status_code,
        user=user,
        all_roles=[role.value for role in ROLE_ORDER],
        labels=ROLE_LABELS,
        statuses=[s.value for s in AccountStatus if s is not AccountStatus.DELETED],
        checked=list(user.roles) if roles is None else roles,
        status=status or {"status": "", "reason": ""},
        age_methods=AGE_METHODS,
        errors=errors or {},
    )


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
async def user_page(
    request: Request, user_id: uuid.UUID, me: Admin, session: DbSession
) -> HTMLResponse:
    return _user_page(request, await identity.get_user(session, user_id))


@router.post("/admin/users/{user_id}/roles")
async def set_roles(
    request: Request,
    _: FormChecked,
    user_id: uuid.UUID,
    me: Admin,
    session: DbSession,
    roles: Annotated[list[Annotated[str, Form(max_length=20)]] | None, Form()] = None,
) -> Response:
    chosen = roles or []
    try:
        body = SetRolesRequest.model_validate({"roles": chosen})
        await identity.set_roles(session, me.principal, user_id, list(body.roles))
    except ValidationError:
        errors, status_code = {"roles": "Choose at least one of the roles."}, 422
    except Problem as problem:
        if not _refusal(problem):
            raise
        errors = {"roles": _sentence(problem.detail, "These roles cannot be set.")}
        status_code = problem.status
    else:
        return redirect(f"/admin/users/{user_id}", flash="admin_roles_set", request=request)
    user = await identity.get_user(session, user_id)
    page = _user_page(request, user, errors=errors, roles=chosen, status_code=status_code)
    raise PageError(page)


@router.post("/admin/users/{user_id}/status")
async def set_status(
    request: Request,
    _: FormChecked,
    user_id: uuid.UUID,
    me: Admin,
    session: DbSession,
    status: Small = "",
    reason: Reason = "",
) -> Response:
    typed = {"status": status, "reason": reason}
    try:
        body = SetStatusRequest.model_validate(typed)
        await identity.set_status(
            session, me.principal, user_id, AccountStatus(body.status), body.reason
        )
    except ValidationError as error:
        found = field_errors(error)
        errors = {
            "status": found.get("status", ""),
            "reason": "Write why." if "reason" in found else "",
        }
        status_code = 422
    except Problem as problem:
        if not _refusal(problem):
            raise
        errors = {"status": _sentence(problem.detail, "This status cannot be set.")}
        status_code = problem.status
    else:
        return redirect(f"/admin/users/{user_id}", flash="admin_status_set", request=request)
    user = await identity.get_user(session, user_id)
    errors = {k: v for k, v in errors.items() if v}
    raise PageError(_user_page(request, user, errors=errors, status=typed, status_code=status_code))


@router.post("/admin/users/{user_id}/age-verification")
async def record_age_verification(
    request: Request,
    _: FormChecked,
    user_id: uuid.UUID,
    me: Admin,
    session: DbSession,
    method: Small = "",
    result: Small = "",
) -> Response:
    """What POST /v1/admin/users/{id}/age-verification does: the method and the outcome only."""
    try:
        body = AgeVerificationIn.model_validate({"method": method, "result": result})
    except ValidationError:
        user = await identity.get_user(session, user_id)
        errors = {"age": "Choose how the age was checked and its outcome."}
        raise PageError(_user_page(request, user, errors=errors, status_code=422)) from None
    await identity.record_age_verification(session, me.principal, user_id, body.method, body.result)
    return redirect(f"/admin/users/{user_id}", flash="admin_age_recorded", request=request)


# --- the ledger ------------------------------------------------------------------------------


@router.get("/admin/ledger", response_class=HTMLResponse)
async def ledger_page(request: Request, me: Admin) -> HTMLResponse:
    return render(request, "admin_ledger.html", checks=CHECKS, result=None)


@router.post("/admin/ledger/verify", response_class=HTMLResponse)
async def verify_ledger(
    request: Request, _: FormChecked, me: Admin, session: DbSession
) -> HTMLResponse:
    # The request's transaction (the sign-in's read) ends first and gives its connection back;
    # the check reads on a connection and snapshot of its own, in a thread, so the event loop
    # goes on serving while it runs.
    await session.commit()
    started = time.perf_counter()
    violations = await anyio.to_thread.run_sync(verify, request.app.state.db.url)
    result = {
        "violations": violations,
        "seconds": time.perf_counter() - started,
        "at": utcnow(),
    }
    return render(request, "admin_ledger.html", checks=CHECKS, result=result)


# --- payouts ---------------------------------------------------------------------------------


async def _payouts_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    waiting = await admin_reads.payees_below_minimum(session, settings, limit=PAYOUTS_LISTED)
    attention = await admin_reads.payouts_needing_attention(session, utcnow(), limit=PAYOUTS_LISTED)
    return render(
        request,
        "admin_payouts.html",
        status_code,
        waiting=waiting,
        attention=attention,
        minimum=settings.payout_minimum_amount,
        minimum_currency=settings.payout_currency,
        failed=failed or {},
        money=money,
        major=format_minor,
    )


@router.get("/admin/payouts", response_class=HTMLResponse)
async def payouts_page(
    request: Request, me: Admin, session: DbSession, settings: AppSettings
) -> HTMLResponse:
    return await _payouts_page(request, session, settings)


@router.post("/admin/payouts/release")
async def release_payout(
    request: Request,
    _: FormChecked,
    me: Admin,
    session: DbSession,
    settings: AppSettings,
    user_id: Annotated[uuid.UUID, Form()],
    currency: Annotated[str, Form(max_length=3)],
    amount: Small = "",
    reason: Reason = "",
) -> Response:
    """What POST /v1/admin/payouts does: a payout below the minimum, audited with the reason."""
    errors: dict[str, str] = {}
    try:
        currency = check_currency(currency.strip().upper())
        minor = minor_units(amount, currency)
    except ValueError as error:
        errors["amount"] = str(error).replace("budget", "amount")
    if len(reason.strip()) < 3:
        errors["reason"] = "Write why this payout is released below the minimum."
    if not errors:
        try:
            await payouts.request_payout(
                session,
                settings,
                user_id=user_id,
                amount=minor,
                currency=currency,
                trigger="admin",
                released_below_minimum_by=me.principal.id,
                actor_id=me.principal.id,
                reason=reason.strip(),
            )
        except Problem as problem:
            if not _refusal(problem):
                raise
            errors["form"] = _sentence(problem.detail, "This payout cannot be released.")
            status_code = problem.status
        else:
            return redirect("/admin/payouts", flash="admin_payout_released", request=request)
    else:
        status_code = 422
    failed = {
        "key": f"{user_id}:{currency}",
        "errors": errors,
        "values": {"amount": amount, "reason": reason},
    }
    # Rolled back (PageError) and read again: the lists as they are.
    await session.rollback()
    raise PageError(
        await _payouts_page(request, session, settings, failed=failed, status_code=status_code)
    )


# --- fees ------------------------------------------------------------------------------------


async def _fees_page(
    request: Request,
    session: DbSession,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rules = await fees.rules(session)
    return render(request, "admin_fees.html", status_code, rules=rules, failed=failed or {})


@router.get("/admin/fees", response_class=HTMLResponse)
async def fees_page(request: Request, me: Admin, session: DbSession) -> HTMLResponse:
    return await _fees_page(request, session)


def _whole(text: str, label: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"Enter {label} as a whole number.") from None


@router.post("/admin/fees/{kind}")
async def set_fee(
    request: Request,
    _: FormChecked,
    me: Admin,
    session: DbSession,
    kind: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,49}$")],
    basis_points: Small = "",
    fixed_amount: Small = "0",
    user_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    """What PUT /v1/admin/fees/{kind} does: the kind's default, or one payee's override."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"user_id": user_id}
    for name, text, label in (
        ("basis_points", basis_points, "the basis points"),
        ("fixed_amount", fixed_amount or "0", "the fixed amount"),
    ):
        try:
            body[name] = _whole(text, label)
        except ValueError as error:
            errors[name] = str(error)
    if not errors:
        try:
            rule = FeeRuleIn.model_validate(body)
        except ValidationError as error:
            errors = field_errors(error)
        else:
            await fees.set_rule(
                session,
                actor_id=me.principal.id,
                kind=kind,
                user_id=rule.user_id,
                basis_points=rule.basis_points,
                fixed_amount=rule.fixed_amount,
            )
            return redirect("/admin/fees", flash="admin_fee_set", request=request)
    failed = {
        "key": f"{kind}:{user_id or ''}",
        "errors": errors,
        "values": {"basis_points": basis_points, "fixed_amount": fixed_amount},
    }
    raise PageError(await _fees_page(request, session, failed=failed, status_code=422))


# --- analytics -------------------------------------------------------------------------------


def _range(first: str, last: str) -> tuple[date | None, date | None, dict[str, str]]:
    """The form's days, or messages at their fields (the API's range rules)."""
    errors: dict[str, str] = {}
    days: list[date | None] = []
    for name, text in (("from", first), ("to", last)):
        try:
            days.append(date.fromisoformat(text.strip()))
        except ValueError:
            days.append(None)
            errors[name] = "Choose a day (YYYY-MM-DD)."
    start, end = days
    if start is not None and end is not None:
        try:
            analytics.check_range(start, end)
        except Problem as problem:
            messages = {"invalid_date_range": "The last day must be on or after the first."}
            detail = (problem.detail or "").replace("`", "")
            errors["to"] = messages.get(problem.code, _sentence(detail, "Not an allowed range."))
    return start, end, errors


async def _analytics_page(
    request: Request,
    session: DbSession,
    first: str,
    last: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    start, end, found = _range(first, last)
    errors = {**found, **(errors or {})}
    platform: list[Any] = []
    financial: list[Any] = []
    if not errors and start is not None and end is not None:
        platform = await analytics.platform_rows(session, start, end)
        financial = await analytics.financial_rows(session, start, end)
    totals: dict[str, dict[str, int]] = {}
    for row in financial:
        sums = totals.setdefault(row.currency, dict.fromkeys(FINANCIAL_SUMS, 0))
        for name in FINANCIAL_SUMS:
            sums[name] += getattr(row, name)
        sums["largest_single_payout"] = max(
            sums.get("largest_single_payout", 0), row.largest_single_payout
        )
    return render(
        request,
        "admin_analytics.html",
        422 if errors and status_code == 200 else status_code,
        values={"from": first, "to": last},
        errors=errors,
        platform=platform,
        financial=financial,
        totals=totals,
        money=money,
    )


FINANCIAL_SUMS = (
    "total_payouts",
    "payouts_count",
    "total_refunds",
    "refunds_count",
    "platform_fees",
    "net_revenue",
)


@router.get("/admin/analytics", response_class=HTMLResponse)
async def analytics_page(
    request: Request,
    me: Admin,
    session: DbSession,
    from_: Annotated[str, Query(alias="from", max_length=20)] = "",
    to: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    today = utcnow().date()
    first = from_ or (today - timedelta(days=ANALYTICS_DAYS - 1)).isoformat()
    return await _analytics_page(request, session, first, to or today.isoformat())


@router.post("/admin/analytics/rollup")
async def rollup(
    request: Request,
    _: FormChecked,
    me: Admin,
    session: DbSession,
    from_: Annotated[str, Form(alias="from", max_length=20)] = "",
    to: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """What POST /v1/admin/marketplace/analytics/rollup does: the days recomputed, audited."""
    start, end, errors = _range(from_, to)
    if errors or start is None or end is None:
        raise PageError(await _analytics_page(request, session, from_, to, status_code=422))
    await analytics.rollup(session, start, end)
    await audit.record_change(
        session,
        action="marketplace.analytics.rollup",
        entity_type="marketplace_analytics",
        entity_id=None,
        actor_id=me.principal.id,
        after={"from": start.isoformat(), "to": end.isoformat()},
    )
    query = urlencode({"from": start.isoformat(), "to": end.isoformat()})
    return redirect(f"/admin/analytics?{query}", flash="admin_rollup_done", request=request)


# --- logs ------------------------------------------------------------------------------------


@router.get("/admin/logs", response_class=HTMLResponse)
async def logs_page(
    request: Request,
    me: Admin,
    session: DbSession,
    entity_type: Name = "",
    actor_id: Annotated[str, Query(max_length=36)] = "",
    component: Name = "",
    action: Name = "",
    cursor: Cursor = "",
) -> HTMLResponse:
    actor: uuid.UUID | None = None
    if actor_id.strip():
        try:
            actor = uuid.UUID(actor_id.strip())
        except ValueError:
            raise Unprocessable("the actor is an account id", field="actor_id") from None
    rows = await audit.list_audit_logs(
        session,
        entity_type=entity_type or None,
        actor_id=actor,
        before=decode_cursor(cursor) if cursor else None,
        limit=LOGS_PER_PAGE + 1,
    )
    changes, next_url = rows[:LOGS_PER_PAGE], None
    filters = {
        "entity_type": entity_type,
        "actor_id": actor_id,
        "component": component,
        "action": action,
    }
    if len(rows) > LOGS_PER_PAGE:
        after = encode_cursor(changes[-1].created_at, changes[-1].id)
        next_url = "/admin/logs?" + urlencode({**filters, "cursor": after})
    system = await audit.list_system_logs(
        session, component=component or None, action=action or None, limit=LOGS_PER_PAGE
    )
    return render(
        request,
        "admin_logs.html",
        changes=changes,
        system=system,
        filters=filters,
        next_url=next_url,
    )
