"""Secret tokens: random, shown once to their owner, stored only as a hash.

The tokens carry 256 bits of randomness, so a single SHA-256 is enough to store them: there is
nothing to brute-force, unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str) -> str:
    """A URL-safe secret with a readable prefix telling what it is for (e.g. `chr_…`)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
