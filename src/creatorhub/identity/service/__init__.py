"""Identity workflows: accounts, sessions and tokens, profiles, administration.

Services take the request's session, flush, and never commit. Errors are `Problem`s with
stable codes. Callers use the names re-exported here.
"""

from creatorhub.identity.service.accounts import (
    change_password,
    confirm_email_change,
    confirm_password_reset,
    delete_account,
    register,
    request_email_change,
    request_password_reset,
    resend_verification,
    verify_email,
)
from creatorhub.identity.service.admin import (
    create_admin,
    record_age_verification,
    set_roles,
    set_status,
)
from creatorhub.identity.service.lookup import (
    AccountProfiles,
    Principal,
    account_profiles,
    get_user,
)
from creatorhub.identity.service.profiles import (
    creator_by_slug,
    follower_estimates_of,
    follower_total,
    follower_total_of,
    get_brand_profile,
    get_creator_by_slug,
    get_creator_profile,
    no_creator_here,
    public_name_of,
    put_brand_profile,
    put_creator_profile,
    update_user,
)
from creatorhub.identity.service.sessions import (
    RefreshTokenReused,
    authenticate,
    login,
    logout,
    purge_expired,
    refresh,
    revoke_user_sessions,
)

__all__ = [
    "AccountProfiles",
    "Principal",
    "RefreshTokenReused",
    "account_profiles",
    "authenticate",
    "change_password",
    "confirm_email_change",
    "confirm_password_reset",
    "create_admin",
    "creator_by_slug",
    "delete_account",
    "follower_estimates_of",
    "follower_total",
    "follower_total_of",
    "get_brand_profile",
    "get_creator_by_slug",
    "get_creator_profile",
    "get_user",
    "login",
    "logout",
    "no_creator_here",
    "public_name_of",
    "purge_expired",
    "put_brand_profile",
    "put_creator_profile",
    "record_age_verification",
    "refresh",
    "register",
    "request_email_change",
    "request_password_reset",
    "resend_verification",
    "revoke_user_sessions",
    "set_roles",
    "set_status",
    "update_user",
    "verify_email",
]
