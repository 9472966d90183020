"""Authorization as FastAPI dependencies, for every module's routes.

* `AnyStatusPrincipal`: a valid token, whatever the account's status. Only for the few routes a
  suspended or banned account may still use (reading its own status, logging out).
* `CurrentPrincipal`: a valid token of an *active* account: the default for everything else.
* `VerifiedPrincipal`: an active account whose e-mail address is verified: every route that
  moves or reserves money (funding, payouts and payout accounts, job funding, claims and
  approvals, subscriptions) uses it, or `require_roles(..., verified_email=True)`.
* `require_roles(...)`: the caller has at least one of the roles.
* `owner_or_roles(...)`: the `user_id` path parameter is the caller, or the caller has one of
  the roles (ownership check for `/users/{user_id}/…` routes).
* `Idempotency` / `OptionalIdempotency` (`SealedOptionalIdempotency` for answers carrying a
  secret): `kit.idempotency`'s `Idempotency-Key`, scoped to the authenticated account (kit
  knows no accounts, so the scope comes from here). Required on money moves, optional on
  every other create.
* `money_move(*roles)` / `VerifiedMoneyMove`: the hot money routes' one dependency (the
  session, the verified principal, its roles, the required key), the same checks in the same
  order as `require_roles(..., verified_email=True)` and `Idempotency` together, without the
  chain of seven dependencies FastAPI would resolve one by one on every request.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.db import DbSession
from creatorhub.identity.models import AccountStatus, Role
from creatorhub.identity.service import Principal, authenticate
from creatorhub.kit.errors import Forbidden, NotFound, Unauthorized
from creatorhub.kit.idempotency import (
    IdempotentRequest,
    RequiredKeyHeader,
    Responder,
    begin_required,
    optional_idempotency,
    required_idempotency,
)

_bearer = HTTPBearer(auto_error=False, description="An access token from /v1/auth/login")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _any_status_principal(session: DbSession, credentials: Credentials) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("this endpoint needs an access token", code="not_authenticated")
    if len(credentials.credentials) > 200:
        raise Unauthorized("the access token is not valid", code="invalid_token")
    return await authenticate(session, credentials.credentials)


AnyStatusPrincipal = Annotated[Principal, Depends(_any_status_principal)]


def _refuse_inactive(principal: Principal) -> None:
    status = principal.status
    if status == AccountStatus.SUSPENDED.value:
        raise Forbidden(
            "the account is suspended; only its status can be read", code="account_suspended"
        )
    if status == AccountStatus.BANNED.value:
        raise Forbidden("the account is banned; only its status can be read", code="account_banned")


async def _active_principal(principal: AnyStatusPrincipal) -> Principal:
    _refuse_inactive(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_active_principal)]


def _require_verified_email(principal: Principal) -> None:
    if not principal.email_verified:
        raise Forbidden(
            "moving money needs a verified e-mail address: open the link in the verification "
            "e-mail, or ask for a new one with POST /v1/auth/verify-email/resend",
            code="email_not_verified",
        )


async def _verified_principal(principal: CurrentPrincipal) -> Principal:
    _require_verified_email(principal)
    return principal


# Money moves only for accounts that proved they own their address: a typo'd or borrowed
# address cannot get the receipts, payout notices and recovery mails of a wallet.
VerifiedPrincipal = Annotated[Principal, Depends(_verified_principal)]


def require_roles(
    *roles: Role, verified_email: bool = False
) -> Callable[[Principal], Awaitable[Principal]]:
    """The caller has one of `roles` (403 `role_required`) and, with `verified_email`, a
    verified address (403 `email_not_verified`, checked after the role)."""
    wanted = frozenset(role.value for role in roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        _require_roles(principal, wanted)
        if verified_email:
            _require_verified_email(principal)
        return principal

    return check


def _require_roles(principal: Principal, wanted: frozenset[str]) -> None:
    if not wanted.intersection(principal.roles):
        raise Forbidden(
            f"this needs one of the roles: {', '.join(sorted(wanted))}", code="role_required"
        )


def owner_or_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    privileged = {role.value for role in roles}

    async def check(
        principal: CurrentPrincipal, user_id: Annotated[uuid.UUID, Path()]
    ) -> Principal:
        if principal.id != user_id and not privileged.intersection(principal.roles):
            # 404 rather than 403: whether another account exists is not the caller's business.
            raise NotFound("no such user", code="user_not_found")
        return principal

    return check


AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
StaffPrincipal = Annotated[Principal, Depends(require_roles(Role.MODERATOR, Role.ADMIN))]
OwnerOrAdmin = Annotated[Principal, Depends(owner_or_roles(Role.ADMIN))]


async def account_scope(principal: CurrentPrincipal) -> str:
    """Whose `Idempotency-Key`s these are: the authenticated account's."""
    return str(principal.id)


Idempotency = Annotated[IdempotentRequest, Depends(required_idempotency(account_scope))]
OptionalIdempotency = Annotated[Responder, Depends(optional_idempotency(account_scope))]
SealedOptionalIdempotency = Annotated[
    Responder, Depends(optional_idempotency(account_scope, sealed=True))
]


@dataclass(frozen=True, slots=True)
class MoneyMove:
    """What a request that moves money works with, resolved as one dependency: the request's
    session (a transaction), the caller, its `Idempotency-Key` (locked, and not seen before)
    and the app's settings."""

    session: AsyncSession
    principal: Principal
    idem: IdempotentRequest
    settings: Settings


def money_move(*roles: Role) -> Callable[..., Awaitable[MoneyMove]]:
    """The one dependency of a hot money route: an active account (401, 403 `account_*`), with
    one of `roles` when given (403 `role_required`), whose address is verified (403
    `email_not_verified`), with a required key (400 `idempotency_key_required`, then
    `kit.idempotency.begin_idempotent`'s refusals and replay). The same checks in the same order
    as `require_roles(*roles, verified_email=True)` (or `VerifiedPrincipal`) with `Idempotency`,
    in one call instead of seven dependencies; the document shows the same security scheme and
    header."""
    wanted = frozenset(role.value for role in roles)

    async def dependency(
        request: Request,
        session: DbSession,
        credentials: Credentials,
        idempotency_key: RequiredKeyHeader = None,
    ) -> MoneyMove:
        principal = await _any_status_principal(session, credentials)
        _refuse_inactive(principal)
        if wanted:
            _require_roles(principal, wanted)
        _require_verified_email(principal)
        idem = await begin_required(request, session, scope=str(principal.id), key=idempotency_key)
        return MoneyMove(session, principal, idem, request.app.state.settings)

    return dependency


VerifiedMoneyMove = Annotated[MoneyMove, Depends(money_move())]
