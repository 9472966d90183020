"""Password hashing (argon2id) and the password policy.

Hashing costs tens of milliseconds of CPU by design, so it runs in a worker thread and never
blocks the event loop. The policy follows NIST SP 800-63B: length matters, composition rules
do not; known-weak passwords are refused.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from creatorhub.config import get_settings

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128

# A short list of the passwords most often seen in breaches that still pass the length rule.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "0123456789",
        "12345678910",
        "123456789a",
        "1q2w3e4r5t",
        "qwertyuiop",
        "1qaz2wsx3edc",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou123",
        "qwerty1234",
        "qwerty12345",
        "abcdefghij",
        "abc1234567",
        "letmein123",
        "welcome123",
        "football123",
        "baseball123",
        "sunshine123",
        "princess123",
        "dragon1234",
        "monkey1234",
        "superman123",
        "administrator",
        "changeme123",
        "creatorhub1",
        "creatorhub123",
    }
)


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why `password` is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        return "is too common"
    if len(set(password)) < 4:
        return "uses too few different characters"
    if email:
        local = email.split("@", 1)[0].lower()
        if len(local) >= 4 and local in lowered:
            return "must not contain the e-mail address"
    return None


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    settings = get_settings()
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=1,
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("no account has this password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher().hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown account) burn the same time and say no.

    Spending equal time whether or not the account exists keeps login from revealing which
    e-mail addresses have accounts.
    """
    target = password_hash or _dummy_hash()

    def check() -> bool:
        try:
            return bool(_hasher().verify(target, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    ok = await asyncio.to_thread(check)
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
