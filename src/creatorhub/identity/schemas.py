"""API shapes of the identity module.

Request models forbid unknown fields and bound every string, so malformed input is refused
with a 422 that names the field before any service code runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from creatorhub.identity.passwords import MAX_PASSWORD_LENGTH, password_problem


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(item) for item in value)
    return False


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: object) -> object:
        # PostgreSQL text cannot hold U+0000: a NUL that reached the database was a 500.
        if _contains_nul(value):
            raise ValueError("must not contain NUL (U+0000) characters")
        return value


def _check_password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(f"password {problem}")
    return value


Email = Annotated[EmailStr, StringConstraints(max_length=254)]
NewPassword = Annotated[
    str, StringConstraints(max_length=MAX_PASSWORD_LENGTH), AfterValidator(_check_password)
]
AnyPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.]{3,30}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()\-]{5,31}$")]
Token = Annotated[str, StringConstraints(min_length=10, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]{1,2040}$", max_length=2048)]
PlatformName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,30}$")]
SelfServiceRole = Literal["fan", "creator", "brand"]
Role = Literal["fan", "creator", "brand", "moderator", "admin"]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


# --- auth -----------------------------------------------------------------------------------


class RegisterRequest(RequestModel):
    email: Email
    password: NewPassword
    display_name: DisplayName
    roles: list[SelfServiceRole] = Field(
        default_factory=lambda: list[SelfServiceRole](["fan"]), min_length=1, max_length=3
    )

    @model_validator(mode="after")
    def _password_not_email(self) -> Self:
        problem = password_problem(self.password, email=self.email)
        if problem:
            raise ValueError(f"password {problem}")
        return self

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        return sorted(set(roles))


REGISTRATION_ACCEPTED = (
    "If the address can take a new account, it was created and a verification code is on its "
    "way there; if it already has one, its owner was told by e-mail. Either way, log in with "
    "POST /v1/auth/login; moving money needs the verified address."
)


class RegistrationAccepted(BaseModel):
    """The answer to every accepted registration: the same whether or not the address was
    already taken, so it tells nobody who has an account."""

    status: Literal["accepted"] = "accepted"
    detail: str = Field(default=REGISTRATION_ACCEPTED, examples=[REGISTRATION_ACCEPTED])


class LoginRequest(RequestModel):
    email: Email
    password: AnyPassword


class RefreshRequest(RequestModel):
    refresh_token: Token


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_expires_in: int


class TokenRequest(RequestModel):
    token: Token


class PasswordResetRequest(RequestModel):
    email: Email


class PasswordResetConfirm(RequestModel):
    token: Token
    new_password: NewPassword


class ChangePasswordRequest(RequestModel):
    current_password: AnyPassword
    new_password: NewPassword


class ChangeEmailRequest(RequestModel):
    new_email: Email
    current_password: AnyPassword


class DeleteAccountRequest(RequestModel):
    current_password: AnyPassword


# --- users ----------------------------------------------------------------------------------


class AgeVerificationOut(BaseModel):
    method: str
    result: str
    verified_at: datetime


class CreatorProfileIn(RequestModel):
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")]
    categories: list[Tag] = Field(default_factory=list, max_length=20)
    photo_url: Url | None = None
    min_budget_minor: int | None = Field(default=None, ge=0, le=10**12)
    max_budget_minor: int | None = Field(default=None, ge=0, le=10**12)
    budget_currency: Currency | None = None
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]] = Field(
        default_factory=list, max_length=20
    )
    skills: list[Tag] = Field(default_factory=list, max_length=30)
    follower_estimates: dict[PlatformName, Annotated[int, Field(ge=0, le=10**11)]] = Field(
        default_factory=dict, max_length=20
    )

    @model_validator(mode="after")
    def _budget_consistent(self) -> Self:
        lo, hi = self.min_budget_minor, self.max_budget_minor
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("min_budget_minor must not exceed max_budget_minor")
        if (lo is not None or hi is not None) and self.budget_currency is None:
            raise ValueError("budget_currency is required with a budget")
        return self


class CreatorProfileOut(BaseModel):
    slug: str
    categories: list[str]
    photo_url: str | None
    min_budget_minor: int | None
    max_budget_minor: int | None
    budget_currency: str | None
    languages: list[str]
    skills: list[str]
    follower_estimates: dict[str, int]


class BrandProfileIn(RequestModel):
    company_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    website: Url | None = None
    business_categories: list[Tag] = Field(default_factory=list, max_length=20)


class BrandProfileOut(BaseModel):
    company_name: str
    website: str | None
    business_categories: list[str]


class UserOut(BaseModel):
    """Everything an account holder (or an admin) may see of an account."""

    id: uuid.UUID
    email: str
    email_verified: bool
    display_name: str
    username: str | None
    phone: str | None
    bio: str | None
    socials: dict[str, Any]
    roles: list[str]
    status: str
    status_reason: str | None
    age_verification: AgeVerificationOut | None
    external_uid: str | None
    created_at: datetime
    creator_profile: CreatorProfileOut | None = None
    brand_profile: BrandProfileOut | None = None


class PublicCreatorOut(BaseModel):
    """What anyone may see of a creator: no e-mail, phone or account state."""

    user_id: uuid.UUID
    display_name: str
    bio: str | None
    socials: dict[str, Any]
    profile: CreatorProfileOut


class UserUpdate(RequestModel):
    display_name: DisplayName | None = None
    username: Username | None = None
    phone: Phone | None = None
    bio: Annotated[str, StringConstraints(max_length=2000)] | None = None
    socials: (
        dict[PlatformName, Annotated[str, StringConstraints(min_length=1, max_length=300)]] | None
    ) = Field(default=None, max_length=20, description="`null` clears them, like `{}`")

    @field_validator("socials")
    @classmethod
    def _null_socials_clear_them(cls, socials: dict[str, str] | None) -> dict[str, str]:
        # An explicit null clears, as it does for username, phone and bio. Passed on as None it
        # was stored as a JSON null, and building the response (UserOut.socials) failed: a 500.
        return {} if socials is None else socials


class StatusOut(BaseModel):
    status: str
    reason: str | None
    changed_at: datetime | None
    email_verified: bool


# --- administration -------------------------------------------------------------------------


class SetStatusRequest(RequestModel):
    status: Literal["active", "suspended", "banned"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SetRolesRequest(RequestModel):
    roles: list[Role] = Field(min_length=1, max_length=5)


class AgeVerificationIn(RequestModel):
    method: Literal[
        "document_check", "id_provider", "credit_card", "facial_estimation", "manual_review"
    ]
    result: Literal["passed", "failed"]
