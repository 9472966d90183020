"""Routes of the identity module: /v1/auth, /v1/me, /v1/users, /v1/creators, /v1/admin/users."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.db import DbSession
from creatorhub.identity import service
from creatorhub.identity.deps import (
    AdminPrincipal,
    AnyStatusPrincipal,
    CurrentPrincipal,
    OwnerOrAdmin,
    StaffPrincipal,
)
from creatorhub.identity.models import AccountStatus, Role, User
from creatorhub.identity.schemas import (
    AgeVerificationIn,
    AgeVerificationOut,
    BrandProfileIn,
    BrandProfileOut,
    ChangeEmailRequest,
    ChangePasswordRequest,
    CreatorProfileIn,
    CreatorProfileOut,
    DeleteAccountRequest,
    LoginRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    PublicCreatorOut,
    RefreshRequest,
    RegisterRequest,
    RegistrationAccepted,
    SetRolesRequest,
    SetStatusRequest,
    StatusOut,
    TokenPair,
    TokenRequest,
    UserOut,
    UserUpdate,
)
from creatorhub.kit.errors import Forbidden, problem_response, problem_responses
from creatorhub.kit.state import AppDatabase, AppSettings

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
me_router = APIRouter(prefix="/v1/me", tags=["me"], responses=problem_responses(401, 403, 422))
users_router = APIRouter(tags=["users"], responses=problem_responses(401, 403, 404, 422))
admin_router = APIRouter(
    prefix="/v1/admin/users", tags=["admin"], responses=problem_responses(401, 403, 404, 422)
)


def _creator_out(profile: object, followers: dict[str, int]) -> CreatorProfileOut:
    return CreatorProfileOut.model_validate(
        {
            **{
                k: getattr(profile, k)
                for k in CreatorProfileOut.model_fields
                if k != "follower_estimates"
            },
            "follower_estimates": followers,
        }
    )


async def user_out(session: AsyncSession, user: User) -> UserOut:
    # One statement for both profiles (GET /v1/me: authentication and this, nothing else).
    profiles = await service.account_profiles(session, user.id)
    creator, brand = profiles.creator, profiles.brand
    age = (
        AgeVerificationOut(
            method=user.age_verification_method,
            result=user.age_verification_result,
            verified_at=user.age_verified_at,
        )
        if user.age_verification_method and user.age_verification_result and user.age_verified_at
        else None
    )
    return UserOut(
        id=user.id,
        email=user.email,
        email_verified=user.email_verified_at is not None,
        display_name=user.display_name,
        username=user.username,
        phone=user.phone,
        bio=user.bio,
        socials=user.socials,
        roles=user.roles,
        status=user.status,
        status_reason=user.status_reason,
        age_verification=age,
        external_uid=user.external_uid,
        created_at=user.created_at,
        creator_profile=_creator_out(creator, profiles.followers) if creator else None,
        brand_profile=BrandProfileOut.model_validate(brand, from_attributes=True)
        if brand
        else None,
    )


# --- /v1/auth -------------------------------------------------------------------------------


@auth_router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 429),
    summary="Create an account; a verification code is e-mailed",
    description=(
        "Answers 202 with the same body whether the address was new (the account is created "
        "and a verification code mailed to it) or already had an account (its owner is told "
        "by e-mail; nothing changes), so the answer does not tell who has an account. Log in "
        "afterwards with `POST /v1/auth/login`; moving money needs the verified address. "
        "Registrations are counted per client address: past "
        "`CREATORHUB_REGISTER_MAX_PER_IP` in `CREATORHUB_REGISTER_WINDOW_SECONDS`, 429 "
        "`rate_limited` with `Retry-After`."
    ),
)
async def register(
    body: RegisterRequest, session: DbSession, database: AppDatabase, settings: AppSettings
) -> RegistrationAccepted:
    await service.register(session, database, settings, body)
    return RegistrationAccepted()


@auth_router.post(
    "/login",
    responses=problem_responses(401, 422, 429),
    summary="Exchange e-mail and password for an access and a refresh token",
)
async def login(
    body: LoginRequest, session: DbSession, database: AppDatabase, settings: AppSettings
) -> TokenPair:
    return await service.login(session, database, settings, body.email, body.password)


@auth_router.post(
    "/refresh",
    response_model=TokenPair,
    responses=problem_responses(401, 422),
    summary="Spend a refresh token for a new token pair (the old refresh token dies)",
)
async def refresh(body: RefreshRequest, session: DbSession, settings: AppSettings) -> Any:
    try:
        return await service.refresh(session, settings, body.refresh_token)
    except service.RefreshTokenReused as refusal:
        # Returned, not raised: the session's revocation must commit with this answer.
        return problem_response(
            refusal.status, refusal.code, detail=refusal.detail, headers=refusal.headers
        )


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401),
    summary="Revoke the session of the access token (its refresh token dies with it)",
)
async def logout(principal: AnyStatusPrincipal, session: DbSession) -> Response:
    await service.logout(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/verify-email",
    responses=problem_responses(401, 410, 422),
    summary="Confirm the account's e-mail address with the code that was mailed",
)
async def verify_email(body: TokenRequest, session: DbSession) -> StatusOut:
    user = await service.verify_email(session, body.token)
    return _status_out(user)


@auth_router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses=problem_responses(401, 403, 409),
    summary="Mail a new verification code",
)
async def resend_verification(
    principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> Response:
    await service.resend_verification(session, settings, principal.user)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@auth_router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses=problem_responses(422),
    summary="Mail a password reset code (answers 202 whether or not the account exists)",
)
async def request_password_reset(
    body: PasswordResetRequest, session: DbSession, database: AppDatabase, settings: AppSettings
) -> Response:
    await service.request_password_reset(session, database, settings, body.email)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@auth_router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(401, 410, 422),
    summary="Set a new password with a reset code; every session of the account ends",
)
async def confirm_password_reset(body: PasswordResetConfirm, session: DbSession) -> Response:
    await service.confirm_password_reset(session, body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth_router.post(
    "/confirm-email-change",
    responses=problem_responses(401, 409, 410, 422),
    summary="Make the new address the account's address, with the code mailed to it",
)
async def confirm_email_change(body: TokenRequest, session: DbSession) -> StatusOut:
    user = await service.confirm_email_change(session, body.token)
    return _status_out(user)


# --- /v1/me ---------------------------------------------------------------------------------


def _status_out(user: User) -> StatusOut:
    return StatusOut(
        status=user.status,
        reason=user.status_reason,
        changed_at=user.status_changed_at,
        email_verified=user.email_verified_at is not None,
    )


@me_router.get("", summary="The caller's account")
async def get_me(principal: CurrentPrincipal, session: DbSession) -> UserOut:
    return await user_out(session, principal.user)


@me_router.patch("", summary="Change the caller's name, username, phone, bio or socials")
async def patch_me(body: UserUpdate, principal: CurrentPrincipal, session: DbSession) -> UserOut:
    user = await service.update_user(session, principal, principal.user, body)
    return await user_out(session, user)


@me_router.get(
    "/status",
    summary="The caller's account status (the one thing a suspended or banned account can read)",
)
async def get_my_status(principal: AnyStatusPrincipal) -> StatusOut:
    return _status_out(principal.user)


@me_router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Change the password; the caller's other sessions end",
)
async def change_password(
    body: ChangePasswordRequest, principal: CurrentPrincipal, session: DbSession
) -> Response:
    await service.change_password(session, principal, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses=problem_responses(409),
    summary="Ask to change the e-mail address; a code is mailed to the new address",
)
async def change_email(
    body: ChangeEmailRequest,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> Response:
    await service.request_email_change(
        session, settings, principal, body.new_email, body.current_password
    )
    return Response(status_code=status.HTTP_202_ACCEPTED)


@me_router.post(
    "/delete",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete the account (soft: records the law requires stay, logins end)",
)
async def delete_me(
    body: DeleteAccountRequest, principal: CurrentPrincipal, session: DbSession
) -> Response:
    await service.delete_account(session, principal, body.current_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.put(
    "/creator-profile",
    responses=problem_responses(409),
    summary="Create or replace the caller's creator profile (needs the creator role)",
)
async def put_creator_profile(
    body: CreatorProfileIn, principal: CurrentPrincipal, session: DbSession
) -> CreatorProfileOut:
    if not principal.has_role(Role.CREATOR):
        raise Forbidden("a creator profile needs the creator role", code="role_required")
    profile, followers = await service.put_creator_profile(session, principal, body)
    return _creator_out(profile, followers)


@me_router.put(
    "/brand-profile",
    summary="Create or replace the caller's brand profile (needs the brand role)",
)
async def put_brand_profile(
    body: BrandProfileIn, principal: CurrentPrincipal, session: DbSession
) -> BrandProfileOut:
    if not principal.has_role(Role.BRAND):
        raise Forbidden("a brand profile needs the brand role", code="role_required")
    profile = await service.put_brand_profile(session, principal, body)
    return BrandProfileOut.model_validate(profile, from_attributes=True)


# --- /v1/users, /v1/creators ----------------------------------------------------------------


@users_router.get(
    "/v1/users/{user_id}", summary="An account, as its owner or an administrator sees it"
)
async def get_user(user_id: uuid.UUID, principal: OwnerOrAdmin, session: DbSession) -> UserOut:
    return await user_out(session, await service.get_user(session, user_id))


@users_router.patch(
    "/v1/users/{user_id}", summary="Change an account (its owner or an administrator)"
)
async def patch_user(
    user_id: uuid.UUID, body: UserUpdate, principal: OwnerOrAdmin, session: DbSession
) -> UserOut:
    user = await service.update_user(
        session, principal, await service.get_user(session, user_id), body
    )
    return await user_out(session, user)


@users_router.get(
    "/v1/creators/{slug}",
    summary="A creator's public profile (no sign-in needed)",
    responses=problem_responses(404),
)
async def get_creator(slug: str, session: DbSession) -> PublicCreatorOut:
    user, profile, followers = await service.get_creator_by_slug(session, slug[:50])
    return PublicCreatorOut(
        user_id=user.id,
        display_name=user.display_name,
        bio=user.bio,
        socials=user.socials,
        profile=_creator_out(profile, followers),
    )


# --- /v1/admin/users ------------------------------------------------------------------------


@admin_router.post(
    "/{user_id}/status",
    summary="Suspend, ban or reactivate an account (moderators suspend, administrators ban)",
    description=(
        "Who may change which status:\n\n"
        "* **administrators**: any status (`active`, `suspended`, `banned`) of any account "
        "except their own;\n"
        "* **moderators**: `active` <-> `suspended`, on accounts that are neither moderators "
        "nor administrators. They may not ban, and may not lift or change a ban: a banned "
        "account stays banned until an administrator decides otherwise.\n\n"
        "A refusal is 403 `role_required` (`own_status` for one's own account) and changes "
        "nothing; a change is recorded in the audit trail."
    ),
)
async def set_status(
    user_id: uuid.UUID, body: SetStatusRequest, principal: StaffPrincipal, session: DbSession
) -> UserOut:
    user = await service.set_status(
        session, principal, user_id, AccountStatus(body.status), body.reason
    )
    return await user_out(session, user)


@admin_router.put("/{user_id}/roles", summary="Set an account's roles (administrators)")
async def set_roles(
    user_id: uuid.UUID, body: SetRolesRequest, principal: AdminPrincipal, session: DbSession
) -> UserOut:
    user = await service.set_roles(session, principal, user_id, list(body.roles))
    return await user_out(session, user)


@admin_router.post(
    "/{user_id}/age-verification",
    summary="Record the outcome of an age check (method and result only, never the document)",
)
async def record_age_verification(
    user_id: uuid.UUID, body: AgeVerificationIn, principal: StaffPrincipal, session: DbSession
) -> UserOut:
    user = await service.record_age_verification(
        session, principal, user_id, body.method, body.result
    )
    return await user_out(session, user)


routers = [auth_router, me_router, users_router, admin_router]
