"""The draw's certificate: everything needed to replay it, signed with Ed25519.

A certificate is a JSON object (`build_certificate`)::

    version 1, commitment, commitment_hash, reveal {seed}, beacon (null, or the committed
    beacon with its round's randomness and signature, and signature_checked: false),
    config, blacklist, attestations, counts {entries, eligible, excluded {reason: n}},
    excluded [[index, reason]], skipped [[index, index of the drawn entry of its user]],
    winners and alternates [{rank, index, platform, username, platform_user_id, comment_id}],
    rerolls [{rank, replaced_index, alternate_index, reason, at}], issued_at,
    signature {alg: "Ed25519", key_id, public_key, value}

The signature (`sign_certificate`) is over the canonical JSON of the certificate whose
`signature` holds everything but `value` (alg, key_id, public_key): the key's name and the key
are signed too, so neither can be swapped without breaking it. `certificate_hash` is SHA-256
of the canonical JSON of the whole signed certificate, which is also the form it is published
and stored in (`certificate_bytes`).

`beacon.signature_checked` is false: the beacon's BLS signature is not verified here (see
`beacon`); its randomness is checked to be SHA-256 of that signature.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from creatorhub.giveaways.proof.beacon import BeaconReveal, check_beacon
from creatorhub.giveaways.proof.canonical import canonical_json, format_timestamp
from creatorhub.giveaways.proof.draw import Commitment, DrawResult
from creatorhub.giveaways.proof.rules import (
    Blacklist,
    DrawConfig,
    attestations,
    canonical_blacklist,
)

CERTIFICATE_VERSION: Final = 1
ALGORITHM: Final = "Ed25519"


def beacon_section(commitment: Commitment, reveal: BeaconReveal | None) -> dict[str, Any] | None:
    if commitment.beacon is None:
        if reveal is not None:
            raise ValueError("no beacon was committed")
        return None
    if reveal is None or reveal.round != commitment.beacon["round"]:
        raise ValueError(f"the draw needs beacon round {commitment.beacon['round']}")
    if not check_beacon(reveal.randomness, reveal.signature):
        raise ValueError("the beacon's randomness is not SHA-256 of its signature")
    return {
        **commitment.beacon,
        "randomness": reveal.randomness.lower(),
        "signature": reveal.signature.lower(),
        "signature_checked": False,
    }


def build_certificate(
    *,
    commitment: Commitment,
    seed: bytes,
    beacon: BeaconReveal | None,
    config: DrawConfig,
    blacklist: Blacklist,
    result: DrawResult,
    issued_at: datetime,
) -> dict[str, Any]:
    """The unsigned certificate of a draw."""
    return {
        "version": CERTIFICATE_VERSION,
        "commitment": commitment.to_dict(),
        "commitment_hash": commitment.hash,
        "reveal": {"seed": seed.hex()},
        "beacon": beacon_section(commitment, beacon),
        "config": config.canonical(),
        "blacklist": canonical_blacklist(blacklist),
        "attestations": attestations(config),
        "counts": {
            "entries": result.entries_count,
            "eligible": result.eligible_count,
            "excluded": dict(result.excluded_counts),
        },
        "excluded": [[index, code] for index, code in result.excluded],
        "skipped": [[index, earlier] for index, earlier in result.skipped],
        "winners": [p.to_dict() for p in result.winners],
        "alternates": [p.to_dict() for p in result.alternates],
        "rerolls": [r.to_dict() for r in result.rerolls],
        "issued_at": format_timestamp(issued_at),
    }


def public_key_hex(private_key: Ed25519PrivateKey) -> str:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signed_message(certificate: dict[str, Any]) -> bytes:
    """The bytes the signature is over: the certificate, its signature without `value`."""
    signature = {k: v for k, v in certificate["signature"].items() if k != "value"}
    return canonical_json({**certificate, "signature": signature})


def sign_certificate(
    body: dict[str, Any], private_key: Ed25519PrivateKey, key_id: str
) -> dict[str, Any]:
    """`body` (a certificate without `signature`) signed."""
    if "signature" in body:
        raise ValueError("the certificate is signed already")
    header = {"alg": ALGORITHM, "key_id": key_id, "public_key": public_key_hex(private_key)}
    unsigned = {**body, "signature": header}
    value = private_key.sign(signed_message(unsigned))
    return {**body, "signature": {**header, "value": value.hex()}}


def certificate_bytes(certificate: dict[str, Any]) -> bytes:
    return canonical_json(certificate)


def certificate_hash(certificate: dict[str, Any]) -> str:
    return hashlib.sha256(certificate_bytes(certificate)).hexdigest()
