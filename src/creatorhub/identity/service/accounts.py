"""Registration, one-time e-mail tokens, password and e-mail changes, account deletion.

One-time tokens (verification, reset, e-mail change) are stored hashed, expire, and are spent
under a row lock so each works once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.models import Severity
from creatorhub.audit.service import record_change, snapshot
from creatorhub.config import Settings
from creatorhub.db import Database, is_unique_violation
from creatorhub.identity import passwords
from creatorhub.identity.models import AccountStatus, EmailToken, EmailTokenPurpose, User
from creatorhub.identity.schemas import RegisterRequest
from creatorhub.identity.service.lookup import (
    Principal,
    email_key,
    get_user,
    user_by_email,
)
from creatorhub.identity.service.sessions import (
    count_attempt,
    revoke_user_sessions,
    throttle_registration,
)
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Conflict, Forbidden, Gone, Unauthorized, Unprocessable
from creatorhub.kit.tokens import new_token, token_hash
from creatorhub.mail import service as mail

EMAIL_PREFIX = "che"
RESET_MAILS_PER_HOUR = 3
NOTICE_MAILS_PER_HOUR = 3  # "someone tried to register with your address" mails


async def _issue_email_token(
    session: AsyncSession,
    settings: Settings,
    user: User,
    purpose: EmailTokenPurpose,
    *,
    new_email: str | None = None,
) -> str:
    token = new_token(EMAIL_PREFIX)
    ttl = (
        settings.password_reset_ttl_seconds
        if purpose is EmailTokenPurpose.RESET_PASSWORD
        else settings.email_token_ttl_seconds
    )
    session.add(
        EmailToken(
            token_hash=token_hash(token),
            user_id=user.id,
            purpose=purpose.value,
            new_email=new_email,
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return token


async def _send_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    token = await _issue_email_token(session, settings, user, EmailTokenPurpose.VERIFY_EMAIL)
    await mail.enqueue(
        session,
        to_address=user.email,
        subject="Confirm your e-mail address",
        body_text=(
            f"Hello {user.display_name},\n\n"
            "Confirm your e-mail address for creatorhub by opening this link:\n\n"
            f"{settings.link_base_url}/verify-email?token={token}\n\n"
            f"(Apps: POST the code {token} to /v1/auth/verify-email.)\n\n"
            f"It expires in {settings.email_token_ttl_seconds // 3600} hours. If you did not "
            "create an account, ignore this message.\n"
        ),
        template="verify_email",
        user_id=user.id,
    )


async def register(
    session: AsyncSession, database: Database, settings: Settings, request: RegisterRequest
) -> None:
    """Create the account; when the address already has one, mail its owner instead.

    The caller answers both alike (202, one body), and both hash the password first, so
    neither the answer nor its time tells whether the address has an account. Counted per
    client address (429 past `register_max_per_ip`).
    """
    await throttle_registration(database, settings)
    password_hash = await passwords.hash_password(request.password)
    owner = await user_by_email(session, request.email)
    if owner is None:
        user = await _insert_account(session, request, password_hash)
        if user is not None:
            await record_change(
                session,
                action="user.registered",
                entity_type="user",
                entity_id=user.id,
                actor_id=user.id,
                after=snapshot(user),
            )
            await _send_verification(session, settings, user)
            return
        # A concurrent registration of the address committed first: the same as taken.
        owner = await user_by_email(session, request.email)
        if owner is None:
            return
    await _notify_registration_attempt(session, database, settings, owner)


async def _insert_account(
    session: AsyncSession, request: RegisterRequest, password_hash: str
) -> User | None:
    """The new account, or None when the address was taken meanwhile (in a savepoint, so the
    request's transaction goes on to mail the owner)."""
    user = User(
        email=request.email,
        password_hash=password_hash,
        display_name=request.display_name,
        roles=list(request.roles),
        socials={},
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc, "uq_users_email_lower"):
            return None
        raise
    await session.refresh(user)
    return user


async def _notify_registration_attempt(
    session: AsyncSession, database: Database, settings: Settings, owner: User
) -> None:
    """Tell the owner of a taken address that someone tried to register with it."""
    attempts, _ = await count_attempt(database, f"register-notice:{email_key(owner.email)}", 3600)
    if attempts > NOTICE_MAILS_PER_HOUR:
        return  # silently, as for resets: the answer must not differ
    base = settings.link_base_url
    await mail.enqueue(
        session,
        to_address=owner.email,
        subject="Someone tried to create a creatorhub account with your address",
        body_text=(
            f"Hello {owner.display_name},\n\n"
            "Someone, perhaps you, tried to create a new creatorhub account with this e-mail "
            "address. It already belongs to your account, so no new account was made and "
            "yours is unchanged.\n\n"
            f"To sign in, use your password at {base}/ (apps: POST /v1/auth/login).\n"
            "Forgot it? Ask for a reset link (POST /v1/auth/password-reset with this address); "
            f"it leads to {base}/reset-password.\n\n"
            "If it was not you, you need do nothing: nobody can use your address for another "
            "account.\n"
        ),
        template="registration_attempt",
        user_id=owner.id,
    )


async def resend_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    if user.email_verified_at is not None:
        raise Conflict("the e-mail address is already verified", code="already_verified")
    await _send_verification(session, settings, user)


async def _spend_email_token(
    session: AsyncSession, token: str, purpose: EmailTokenPurpose
) -> EmailToken:
    """Lock the token and mark it used; refuse unknown, expired or already used ones."""
    row = await session.scalar(
        select(EmailToken)
        .where(EmailToken.token_hash == token_hash(token), EmailToken.purpose == purpose.value)
        .with_for_update()
    )
    if row is None:
        raise Unauthorized("the token is not valid", code="invalid_token", field="body.token")
    if row.used_at is not None:
        raise Gone("the token was already used", code="token_used", field="body.token")
    if row.expires_at <= utcnow():
        raise Gone("the token has expired", code="token_expired", field="body.token")
    row.used_at = utcnow()
    return row


async def verify_email(session: AsyncSession, token: str) -> User:
    row = await _spend_email_token(session, token, EmailTokenPurpose.VERIFY_EMAIL)
    user = await get_user(session, row.user_id)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        await record_change(
            session,
            action="user.email_verified",
            entity_type="user",
            entity_id=user.id,
            actor_id=user.id,
            after={"email": user.email},
        )
    await session.flush()
    return user


async def request_password_reset(
    session: AsyncSession, database: Database, settings: Settings, email: str
) -> None:
    """Mail a reset link if the account exists. The caller answers 202 either way."""
    attempts, _ = await count_attempt(database, f"reset:{email_key(email)}", 3600)
    if attempts > RESET_MAILS_PER_HOUR:
        return  # silently: saying "too many" would reveal that the account exists
    user = await user_by_email(session, email)
    if user is None or user.password_hash is None:
        return
    token = await _issue_email_token(session, settings, user, EmailTokenPurpose.RESET_PASSWORD)
    await mail.enqueue(
        session,
        to_address=user.email,
        subject="Reset your creatorhub password",
        body_text=(
            f"Hello {user.display_name},\n\nSomeone asked to reset the password of this account. "
            "To choose a new one, open this link:\n\n"
            f"{settings.link_base_url}/reset-password?token={token}\n\n"
            f"It expires in {settings.password_reset_ttl_seconds // 60} minutes. If it was not "
            "you, ignore this message: your password stays as it is.\n"
        ),
        template="reset_password",
        user_id=user.id,
    )


async def confirm_password_reset(session: AsyncSession, token: str, new_password: str) -> None:
    row = await _spend_email_token(session, token, EmailTokenPurpose.RESET_PASSWORD)
    user = await get_user(session, row.user_id)
    user.password_hash = await passwords.hash_password(new_password)
    revoked = await revoke_user_sessions(session, user.id, reason="password_reset")
    await record_change(
        session,
        action="user.password_reset",
        entity_type="user",
        entity_id=user.id,
        actor_id=user.id,
        after={"sessions_revoked": revoked},
        severity=Severity.WARNING,
    )


async def _check_current_password(user: User, password: str) -> None:
    if not await passwords.verify_password(user.password_hash, password):
        raise Forbidden(
            "the current password is wrong", code="wrong_password", field="body.current_password"
        )


async def change_password(
    session: AsyncSession, principal: Principal, current_password: str, new_password: str
) -> None:
    user = principal.user
    await _check_current_password(user, current_password)
    problem = passwords.password_problem(new_password, email=user.email)
    if problem:
        raise Unprocessable(f"password {problem}", field="body.new_password", code="weak_password")
    user.password_hash = await passwords.hash_password(new_password)
    revoked = await revoke_user_sessions(
        session, user.id, reason="password_changed", keep=principal.session_id
    )
    await record_change(
        session,
        action="user.password_changed",
        entity_type="user",
        entity_id=user.id,
        actor_id=user.id,
        after={"other_sessions_revoked": revoked},
        severity=Severity.WARNING,
    )


async def request_email_change(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    new_email: str,
    current_password: str,
) -> None:
    user = principal.user
    await _check_current_password(user, current_password)
    if email_key(new_email) == email_key(user.email):
        raise Conflict(
            "that is already the account's address", code="same_email", field="body.new_email"
        )
    if await user_by_email(session, new_email) is not None:
        raise Conflict(
            "an account with this e-mail address exists", code="email_taken", field="body.new_email"
        )
    token = await _issue_email_token(
        session, settings, user, EmailTokenPurpose.CHANGE_EMAIL, new_email=new_email
    )
    await mail.enqueue(
        session,
        to_address=new_email,
        subject="Confirm your new e-mail address",
        body_text=(
            f"Hello {user.display_name},\n\nTo make {new_email} the address of your creatorhub "
            "account, open this link:\n\n"
            f"{settings.link_base_url}/confirm-email-change?token={token}\n"
        ),
        template="change_email",
        user_id=user.id,
    )


async def confirm_email_change(session: AsyncSession, token: str) -> User:
    row = await _spend_email_token(session, token, EmailTokenPurpose.CHANGE_EMAIL)
    assert row.new_email is not None
    user = await get_user(session, row.user_id)
    old_email = user.email
    user.email, user.email_verified_at = row.new_email, utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        if is_unique_violation(exc, "uq_users_email_lower"):
            raise Conflict(
                "an account with this e-mail address exists", code="email_taken"
            ) from None
        raise
    await record_change(
        session,
        action="user.email_changed",
        entity_type="user",
        entity_id=user.id,
        actor_id=user.id,
        before={"email": old_email},
        after={"email": user.email},
        severity=Severity.WARNING,
    )
    await mail.enqueue(
        session,
        to_address=old_email,
        subject="Your creatorhub e-mail address was changed",
        body_text=(
            f"Hello {user.display_name},\n\nThe address of your account is now {user.email}. "
            "If you did not ask for this, reset your password at once and contact support.\n"
        ),
        template="email_changed_notice",
        user_id=user.id,
    )
    return user


async def delete_account(
    session: AsyncSession, principal: Principal, current_password: str
) -> None:
    """Soft delete: the row stays (money records refer to it), logins end, the e-mail is freed."""
    user = principal.user
    await _check_current_password(user, current_password)
    before = snapshot(user)
    user.status, user.deleted_at, user.status_changed_at = (
        AccountStatus.DELETED.value,
        utcnow(),
        utcnow(),
    )
    # Free the address for a new account while keeping the row unique and traceable.
    user.email = f"deleted+{user.id}@invalid"
    user.username = None
    user.phone = None
    await revoke_user_sessions(session, user.id, reason="account_deleted")
    await session.flush()
    await record_change(
        session,
        action="user.deleted",
        entity_type="user",
        entity_id=user.id,
        actor_id=user.id,
        before=before,
        after={"status": user.status},
        severity=Severity.WARNING,
    )
