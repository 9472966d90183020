"""Authenticated encryption of secrets at rest (OAuth tokens), with key ids so keys can rotate.

A `Keyring` holds AES-256-GCM keys by id. The first key of the setting is the active one: it
seals everything new; every key in the ring can open. A ciphertext is the 96-bit random nonce
followed by AES-GCM's output (ciphertext and 128-bit tag); the caller stores it with the id of
the key that sealed it.

Associated data binds a ciphertext to its place (table, row, column): a value copied to another
row or swapped into another column fails to open instead of being silently accepted.

Setting (`CREATORHUB_TOKEN_ENCRYPTION_KEYS`): ``kid1:base64key,kid2:base64key``; each key is 32
random bytes (`creatorhub keys generate` prints one). To rotate: put a new key first, keep the
old ones after it, run `creatorhub keys rotate`, then drop the old keys. Outside production,
when the setting is unset, a fixed development key (`DEVELOPMENT_KEY_ID`) is used so that the
one-command setup works (it stays openable, as a retired key, once real keys are configured, so
`keys rotate` can move development data onto them); production refuses to build the keyring
without the setting and never holds the development key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
# Anyone can read this id and derive this key from the source: it protects nothing and exists
# only so a development install works without configuration. Production refuses it.
DEVELOPMENT_KEY_ID = "development-insecure"
_DEVELOPMENT_KEY = hashlib.sha256(b"creatorhub development token key (not a secret)").digest()
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class KeyringError(Exception):
    """The keyring cannot do what was asked (bad configuration, unknown key, bad ciphertext)."""


class UnknownKeyError(KeyringError):
    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"no key {key_id!r} in CREATORHUB_TOKEN_ENCRYPTION_KEYS: it was removed before "
            "`creatorhub keys rotate` re-encrypted everything it sealed"
        )
        self.key_id = key_id


class DecryptionError(KeyringError):
    """The ciphertext was altered, truncated, or belongs to another row or column."""


@dataclass(frozen=True)
class Keyring:
    keys: Mapping[str, bytes]
    active_id: str

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise KeyringError(f"the active key {self.active_id!r} is not in the keyring")

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.keys)

    def seal(self, plaintext: str, *, aad: bytes) -> tuple[bytes, str]:
        """Encrypt with the active key: (nonce + ciphertext + tag, key id)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_id]).encrypt(nonce, plaintext.encode(), aad)
        return nonce + sealed, self.active_id

    def open(self, ciphertext: bytes, key_id: str, *, aad: bytes) -> str:
        key = self.keys.get(key_id)
        if key is None:
            raise UnknownKeyError(key_id)
        if len(ciphertext) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("the ciphertext is too short to be one")
        nonce, sealed = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
        try:
            plaintext = AESGCM(key).decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptionError(
                f"the ciphertext does not open with key {key_id!r} and its associated data: "
                "altered, or copied from another row or column"
            ) from None
        return plaintext.decode()


def parse_keys(spec: str) -> Keyring:
    """A keyring from ``kid1:base64key,kid2:base64key`` (the first is active)."""
    keys: dict[str, bytes] = {}
    for number, item in enumerate(part.strip() for part in spec.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise KeyringError(
                f"key #{number + 1}: expected `id:base64key` with an id of letters, digits, "
                "`_`, `.` or `-`"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"key {key_id!r}: not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyringError(f"key {key_id!r}: {len(key)} bytes, AES-256 needs {KEY_BYTES}")
        if key_id in keys:
            raise KeyringError(f"key {key_id!r} is listed twice")
        keys[key_id] = key
    if not keys:
        raise KeyringError("no key given")
    return Keyring(keys=keys, active_id=next(iter(keys)))


def generate_key() -> str:
    """A new random key, base64 (for the setting)."""
    return base64.b64encode(AESGCM.generate_key(bit_length=KEY_BYTES * 8)).decode()


@lru_cache(maxsize=8)
def _cached(spec: str) -> Keyring:
    return parse_keys(spec)


class KeySettings(Protocol):
    """What the keyring reads of `creatorhub.config.Settings`.

    A protocol rather than the class: config validates the key list with `parse_keys` when it
    loads, so this module must not import config back.
    """

    @property
    def token_encryption_keys(self) -> SecretStr | None: ...

    @property
    def environment(self) -> str: ...


def keyring_from_settings(settings: KeySettings) -> Keyring:
    configured = settings.token_encryption_keys
    production = settings.environment == "production"
    if configured is not None:
        keyring = _cached(configured.get_secret_value())
        if production or DEVELOPMENT_KEY_ID in keyring.keys:
            return keyring
        # A development install that moves to real keys can still open, and so `keys rotate`
        # away from, what the development key sealed. Production never holds that key.
        return Keyring(
            keys={**keyring.keys, DEVELOPMENT_KEY_ID: _DEVELOPMENT_KEY},
            active_id=keyring.active_id,
        )
    if production:
        raise KeyringError(
            "CREATORHUB_TOKEN_ENCRYPTION_KEYS must be set in production "
            "(`creatorhub keys generate` prints a key)"
        )
    return Keyring(keys={DEVELOPMENT_KEY_ID: _DEVELOPMENT_KEY}, active_id=DEVELOPMENT_KEY_ID)
