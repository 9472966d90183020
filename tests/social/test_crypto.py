"""kit.crypto: AES-256-GCM with key ids and associated data; the connector log's redaction."""

from __future__ import annotations

import base64
import uuid

import pytest
from pydantic import ValidationError

from creatorhub.config import Settings
from creatorhub.kit.crypto import (
    DEVELOPMENT_KEY_ID,
    DecryptionError,
    KeyringError,
    UnknownKeyError,
    generate_key,
    keyring_from_settings,
    parse_keys,
)
from creatorhub.social.logbook import REDACTED, LogBook, redact
from creatorhub.social.models import LogStatus

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()
AAD = b"social.credentials/some-user/youtube/access_token"


def test_round_trip_with_the_active_key() -> None:
    ring = parse_keys(f"a:{KEY_A},b:{KEY_B}")
    assert ring.active_id == "a"
    sealed, key_id = ring.seal("ya29.secret-token", aad=AAD)
    assert key_id == "a"
    assert b"secret-token" not in sealed
    assert len(sealed) == 12 + len("ya29.secret-token") + 16
    assert ring.open(sealed, key_id, aad=AAD) == "ya29.secret-token"
    # A fresh nonce each time: the same plaintext never gives the same ciphertext.
    assert ring.seal("ya29.secret-token", aad=AAD)[0] != sealed


def test_a_tampered_or_truncated_ciphertext_does_not_open() -> None:
    ring = parse_keys(f"a:{KEY_A}")
    sealed, key_id = ring.seal("token", aad=AAD)
    for position in (0, 12, len(sealed) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(sealed)
        tampered[position] ^= 1
        with pytest.raises(DecryptionError):
            ring.open(bytes(tampered), key_id, aad=AAD)
    with pytest.raises(DecryptionError, match="too short"):
        ring.open(sealed[:20], key_id, aad=AAD)


def test_other_associated_data_does_not_open() -> None:
    """A token moved to another row or column is refused."""
    ring = parse_keys(f"a:{KEY_A}")
    sealed, key_id = ring.seal("token", aad=AAD)
    for aad in (
        AAD.replace(b"access_token", b"refresh_token"),
        AAD.replace(b"some-user", str(uuid.uuid4()).encode()),
        b"",
    ):
        with pytest.raises(DecryptionError, match="another row or column"):
            ring.open(sealed, key_id, aad=aad)


def test_an_unknown_key_id_is_a_clear_error() -> None:
    ring = parse_keys(f"a:{KEY_A}")
    sealed, _ = ring.seal("token", aad=AAD)
    with pytest.raises(UnknownKeyError, match=r"no key 'old'.*keys rotate"):
        ring.open(sealed, "old", aad=AAD)
    # The right id with the wrong key material is a decryption error, not a silent success.
    impostor = parse_keys(f"a:{KEY_B}")
    with pytest.raises(DecryptionError):
        impostor.open(sealed, "a", aad=AAD)


def test_rotation_seals_with_the_new_key_and_opens_with_both() -> None:
    old = parse_keys(f"a:{KEY_A}")
    sealed_old, old_id = old.seal("old token", aad=AAD)
    rotated = parse_keys(f"b:{KEY_B},a:{KEY_A}")
    sealed_new, new_id = rotated.seal("new token", aad=AAD)
    assert (old_id, new_id) == ("a", "b")
    assert rotated.open(sealed_old, old_id, aad=AAD) == "old token"
    assert rotated.open(sealed_new, new_id, aad=AAD) == "new token"
    # Once everything is re-sealed, the old key can go.
    retired = parse_keys(f"b:{KEY_B}")
    assert retired.open(sealed_new, new_id, aad=AAD) == "new token"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no key"),
        ("nocolon", "expected `id:base64key`"),
        ("bad id:" + KEY_A, "expected `id:base64key`"),
        ("a:not base64!", "not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), "5 bytes, AES-256 needs 32"),
        (f"a:{KEY_A},a:{KEY_B}", "listed twice"),
    ],
)
def test_malformed_key_lists_are_refused(spec: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        parse_keys(spec)


def test_settings_refuse_a_malformed_key_list_at_startup() -> None:
    with pytest.raises(ValidationError, match="TOKEN_ENCRYPTION_KEYS"):
        Settings(token_encryption_keys="a:tooshort")


def test_development_key_outside_production_only() -> None:
    development = keyring_from_settings(Settings(environment="test"))
    assert development.active_id == DEVELOPMENT_KEY_ID
    with pytest.raises(KeyringError, match="must be set in production"):
        keyring_from_settings(Settings(environment="production", payments_provider="stripe"))
    # Configured keys: the first is active; outside production the development key stays
    # readable so `keys rotate` can move development data off it; production never has it.
    configured = keyring_from_settings(
        Settings(environment="development", token_encryption_keys=f"k1:{KEY_A}")
    )
    assert configured.active_id == "k1"
    assert configured.ids == {"k1", DEVELOPMENT_KEY_ID}
    production = keyring_from_settings(
        Settings(
            environment="production",
            payments_provider="stripe",
            token_encryption_keys=f"k1:{KEY_A}",
        )
    )
    assert production.ids == {"k1"}


def test_generated_keys_are_valid() -> None:
    ring = parse_keys(f"new:{generate_key()}")
    sealed, key_id = ring.seal("x", aad=b"")
    assert ring.open(sealed, key_id, aad=b"") == "x"


def test_redaction_by_key_and_by_value() -> None:
    payload = {
        "client_id": "app",
        "client_secret": "s3cr3t-value",
        "code": "auth-code-123456",
        "nested": [{"access_token": "tok", "token_type": "bearer", "expires_in": 3600}],
        "error": {"code": 190, "message": "bad"},
    }
    assert redact(payload, request=True) == {
        "client_id": "app",
        "client_secret": REDACTED,
        "code": REDACTED,
        "nested": [{"access_token": REDACTED, "token_type": REDACTED, "expires_in": 3600}],
        "error": {"code": REDACTED, "message": "bad"},
    }
    # Answers keep error codes (a request's `code` is the authorization code; an answer's is not).
    assert redact({"error": {"code": 190}}) == {"error": {"code": 190}}

    book = LogBook(user_id=None, platform="youtube", ip=None)
    book.secret("live-access-token-value", "short")
    book.add(
        "fetch_profile",
        LogStatus.FAILURE,
        "the token live-access-token-value was refused\x00",
        request={"url": "https://x.example/me", "q": "live-access-token-value"},
        response={"body": {"next": "https://x.example/me?access_token=abc123&limit=5"}},
    )
    (row,) = book.rows()
    assert row.message == f"the token {REDACTED} was refused"
    assert row.request_payload == {"url": "https://x.example/me", "q": REDACTED}
    assert row.response_payload == {
        "body": {"next": f"https://x.example/me?access_token={REDACTED}&limit=5"}
    }
