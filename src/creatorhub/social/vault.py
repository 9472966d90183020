"""Sealing and opening the secrets `social` stores: tokens of a connection, PKCE verifiers.

The associated data names the table, the row's natural key and the column, so a ciphertext only
opens where it was written: a refresh token pasted into `access_token`, or one creator's token
copied onto another's row, fails to open. The natural key (user and platform) is used rather
than the row id because it is known before the row exists, which keeps upserts one statement.
Both tokens of a connection are sealed with the same key (the row has one `key_id`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from creatorhub.config import Settings
from creatorhub.kit.crypto import Keyring, KeyringError, keyring_from_settings
from creatorhub.kit.errors import Problem
from creatorhub.social.models import Credential, OAuthState


class EncryptionUnavailable(Problem):
    """The server cannot seal or open tokens (no key configured, or a key was removed)."""

    status, code = 503, "token_encryption_unavailable"


def keyring(settings: Settings) -> Keyring:
    try:
        return keyring_from_settings(settings)
    except KeyringError as error:
        raise EncryptionUnavailable(str(error)) from None


def credential_aad(user_id: uuid.UUID, platform: str, column: str) -> bytes:
    return f"social.credentials/{user_id}/{platform}/{column}".encode()


def state_aad(state_hash: bytes) -> bytes:
    return b"social.oauth_states/" + state_hash.hex().encode() + b"/code_verifier"


@dataclass(frozen=True)
class SealedTokens:
    access_token: bytes
    refresh_token: bytes | None
    key_id: str


def seal_tokens(
    ring: Keyring,
    user_id: uuid.UUID,
    platform: str,
    access_token: str,
    refresh_token: str | None,
) -> SealedTokens:
    access, key_id = ring.seal(access_token, aad=credential_aad(user_id, platform, "access_token"))
    refresh = None
    if refresh_token:
        refresh, _ = ring.seal(
            refresh_token, aad=credential_aad(user_id, platform, "refresh_token")
        )
    return SealedTokens(access, refresh, key_id)


def store_tokens(credential: Credential, sealed: SealedTokens) -> None:
    credential.access_token = sealed.access_token
    credential.refresh_token = sealed.refresh_token
    credential.key_id = sealed.key_id


def has_tokens(credential: Credential) -> bool:
    """False for a disconnected connection, whose tokens were wiped."""
    return bool(credential.access_token)


def open_tokens(ring: Keyring, credential: Credential) -> tuple[str, str | None]:
    """(access token, refresh token or None); raises `KeyringError` if they do not open."""
    if not has_tokens(credential):
        raise KeyringError("this connection holds no tokens (disconnected)")
    user_id, platform = credential.user_id, credential.platform
    access = ring.open(
        credential.access_token,
        credential.key_id,
        aad=credential_aad(user_id, platform, "access_token"),
    )
    refresh = None
    if credential.refresh_token:
        refresh = ring.open(
            credential.refresh_token,
            credential.key_id,
            aad=credential_aad(user_id, platform, "refresh_token"),
        )
    return access, refresh


def seal_verifier(ring: Keyring, state_hash: bytes, verifier: str) -> tuple[bytes, str]:
    return ring.seal(verifier, aad=state_aad(state_hash))


def open_verifier(ring: Keyring, state: OAuthState) -> str:
    return ring.open(state.code_verifier, state.key_id, aad=state_aad(state.state_hash))
