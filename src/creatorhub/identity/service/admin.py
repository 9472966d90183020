"""Administration: account status, roles, age verification, administrators."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.models import Severity
from creatorhub.audit.service import record_change
from creatorhub.identity import passwords
from creatorhub.identity.models import AccountStatus, Role, User
from creatorhub.identity.service.lookup import Principal, user_by_email
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import Forbidden, NotFound


async def set_status(
    session: AsyncSession, actor: Principal, user_id: uuid.UUID, status: AccountStatus, reason: str
) -> User:
    """Who may change which status (docs/architecture.md, "Authentication"):

    * administrators: any status (active, suspended, banned) of any account but their own;
    * moderators: active <-> suspended, on accounts that are not staff (moderators,
      administrators); a ban is an administrator's decision, so they neither set nor lift one.

    Everything else is 403 `role_required` (`own_status` for one's own account).
    """
    is_admin = actor.has_role(Role.ADMIN)
    if status is AccountStatus.BANNED and not is_admin:
        raise Forbidden("only administrators can ban accounts", code="role_required")
    if user_id == actor.id:
        raise Forbidden("you cannot change your own account status", code="own_status")
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or user.status == AccountStatus.DELETED.value:
        raise NotFound("no such user", code="user_not_found")
    if not is_admin:
        # Checked on the locked row: the status a moderator would overwrite is the current one.
        if user.status == AccountStatus.BANNED.value:
            raise Forbidden(
                "the account is banned; only administrators can lift or change a ban",
                code="role_required",
            )
        if user.has_role(Role.ADMIN) or user.has_role(Role.MODERATOR):
            raise Forbidden(
                "moderators cannot change the status of staff accounts", code="role_required"
            )
    before = {"status": user.status, "status_reason": user.status_reason}
    user.status, user.status_reason, user.status_changed_at = status.value, reason, utcnow()
    await session.flush()
    await record_change(
        session,
        action=f"user.status.{status.value}",
        entity_type="user",
        entity_id=user.id,
        actor_id=actor.id,
        before=before,
        after={"status": user.status, "status_reason": reason},
        severity=Severity.WARNING if status is not AccountStatus.ACTIVE else Severity.INFO,
    )
    return user


async def set_roles(
    session: AsyncSession, actor: Principal, user_id: uuid.UUID, roles: list[str]
) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or user.status == AccountStatus.DELETED.value:
        raise NotFound("no such user", code="user_not_found")
    if user.id == actor.id and Role.ADMIN.value not in roles:
        raise Forbidden("you cannot remove your own administrator role", code="own_role")
    before = {"roles": list(user.roles)}
    user.roles = sorted(set(roles))
    await session.flush()
    await record_change(
        session,
        action="user.roles_changed",
        entity_type="user",
        entity_id=user.id,
        actor_id=actor.id,
        before=before,
        after={"roles": user.roles},
        severity=Severity.WARNING,
    )
    return user


async def record_age_verification(
    session: AsyncSession, actor: Principal, user_id: uuid.UUID, method: str, result: str
) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None or user.status == AccountStatus.DELETED.value:
        raise NotFound("no such user", code="user_not_found")
    user.age_verification_method, user.age_verification_result = method, result
    user.age_verified_at = utcnow()
    await session.flush()
    await record_change(
        session,
        action="user.age_verification",
        entity_type="user",
        entity_id=user.id,
        actor_id=actor.id,
        after={"method": method, "result": result},
    )
    return user


async def create_admin(
    session: AsyncSession, *, email: str, password: str, display_name: str
) -> User:
    """Make an administrator: a new account, or the admin role added to an existing one."""
    user = await user_by_email(session, email, lock=True)
    if user is None:
        user = User(
            email=email,
            password_hash=await passwords.hash_password(password),
            display_name=display_name,
            roles=[Role.ADMIN.value],
            socials={},
            email_verified_at=utcnow(),
        )
        session.add(user)
    elif Role.ADMIN.value not in user.roles:
        user.roles = sorted({*user.roles, Role.ADMIN.value})
    await session.flush()
    await record_change(
        session,
        action="user.admin_created",
        entity_type="user",
        entity_id=user.id,
        actor_id=None,
        after={"email": user.email, "roles": user.roles},
        severity=Severity.WARNING,
        description="via the command line",
    )
    return user
