"""The seam between the giveaways' services and the proof (`giveaways.proof`): the services
hold rows and JSON; the proof holds entries, configs and certificates. Everything a service
needs from the proof goes through here, so the proof stays free of the database and of HTTP,
and the services free of its types.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from creatorhub.giveaways.proof import beacon as beacons
from creatorhub.giveaways.proof import certificate as certificates
from creatorhub.giveaways.proof import draw as draws
from creatorhub.giveaways.proof import inclusion as inclusions
from creatorhub.giveaways.proof import rules
from creatorhub.giveaways.proof.canonical import EntryError, entry_line, normalize_entry
from creatorhub.giveaways.proof.table import EntryTable, parse_entries
from creatorhub.kit.errors import FieldError, Unprocessable

NotEnoughEligible = draws.NotEnoughEligible
UnknownRank = draws.UnknownRank
NoAlternates = draws.NoAlternatesLeft


class InvalidDrawConfig(Unprocessable):
    code = "invalid_draw_config"


class InvalidEntry(Unprocessable):
    code = "invalid_entry"


@dataclass(frozen=True)
class Beacon:
    """A drand round as fetched: number, randomness and signature (hex)."""

    round: int
    randomness: str
    signature: str


@dataclass(frozen=True)
class CommitmentOut:
    body: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class SignedCertificate:
    body_bytes: bytes
    hash: str


# --- config and entries --------------------------------------------------------------------


def check_config(raw: dict[str, Any]) -> dict[str, Any]:
    """The config in its canonical form (defaults filled in), or 422 `invalid_draw_config`
    naming the setting at fault."""
    try:
        return rules.parse_config(raw).canonical()
    except rules.ConfigError as error:
        raise InvalidDrawConfig(str(error), field=f"body.config.{error.field}") from error


def entry_rows(entries: Sequence[Any]) -> list[tuple[str, str, str, str]]:
    """Each imported entry as (platform, comment id, username, canonical line)."""
    rows: list[tuple[str, str, str, str]] = []
    for number, raw in enumerate(entries):
        fields = dict(raw)
        # Facebook names commenters by their display name ("Ann Lee"), and so do many CSV
        # exports: the proof's usernames have no whitespace, so a run of it becomes "_".
        if isinstance(fields.get("username"), str):
            fields["username"] = "_".join(fields["username"].split())
        created = fields.get("created_at")
        if isinstance(created, datetime):
            fields["created_at"] = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            entry = normalize_entry(fields)
        except EntryError as error:
            raise InvalidEntry(
                f"entry {number + 1}: {error}",
                errors=[
                    FieldError(field=f"entries[{number}]", code="invalid_entry", message=str(error))
                ],
            ) from error
        rows.append((entry.platform, entry.comment_id, entry.username, entry_line(entry).decode()))
    return rows


def _table(lines: Sequence[bytes]) -> EntryTable:
    return parse_entries(b"".join(line + b"\n" for line in lines))


# --- commitment ----------------------------------------------------------------------------


def future_round(moment: datetime, *, genesis: int, period: int) -> tuple[int, datetime]:
    """The first drand round published after `moment`, and when."""
    number = beacons.choose_round(moment.timestamp(), 0, genesis, period)
    return number, datetime.fromtimestamp(beacons.time_of_round(number, genesis, period), UTC)


def _commitment(body: dict[str, Any]) -> draws.Commitment:
    return draws.Commitment.from_dict(body)


def make_commitment(
    *,
    draw_id: uuid.UUID,
    platform: str,
    post_url: str | None,
    host: str,
    lines: Sequence[bytes],
    config: dict[str, Any],
    blacklist: list[dict[str, str]],
    seed: bytes,
    beacon: dict[str, Any] | None,
    committed_at: datetime,
) -> CommitmentOut:
    commitment = draws.make_commitment(
        draw_id=str(draw_id),
        platform=platform,
        post_ref=post_url or "",
        host_username=host,
        entries=_table(lines),
        config=rules.parse_config(config),
        blacklist=rules.parse_blacklist(blacklist),
        seed=seed,
        beacon=None if beacon is None else {"kind": "drand", **beacon},
        committed_at=committed_at,
    )
    return CommitmentOut(body=commitment.to_dict(), hash=commitment.hash)


# --- drawing and certificates ---------------------------------------------------------------


def private_hex(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()


def public_hex(key: Ed25519PrivateKey) -> str:
    return certificates.public_key_hex(key)


def _signed(body: dict[str, Any], key: Ed25519PrivateKey, key_id: str) -> SignedCertificate:
    signed = certificates.sign_certificate(body, key, key_id)
    return SignedCertificate(
        body_bytes=certificates.certificate_bytes(signed),
        hash=certificates.certificate_hash(signed),
    )


def _result_json(certificate: dict[str, Any], table: EntryTable | None) -> dict[str, Any]:
    """What the services keep of a result: the final winners (after rerolls: the proof's
    `final_winners`) with their comment's text when the entries are at hand, the counts and
    the rerolls."""
    winners = []
    for pick in _result_from_certificate(certificate).final_winners():
        winner = pick.to_dict()
        winner["text"] = table.text[pick.index] if table is not None else ""
        winners.append(winner)
    return {"winners": winners, "counts": certificate["counts"], "rerolls": certificate["rerolls"]}


def draw_and_certify(
    *,
    commitment: dict[str, Any],
    lines: Sequence[bytes],
    config: dict[str, Any],
    blacklist: list[dict[str, str]],
    seed: bytes,
    beacon: Beacon | None,
    key: Ed25519PrivateKey,
    key_id: str,
    issued_at: datetime,
) -> tuple[SignedCertificate, dict[str, Any]]:
    """Run the committed draw and sign its certificate: (certificate, result summary)."""
    table = _table(lines)
    parsed_config = rules.parse_config(config)
    parsed_blacklist = rules.parse_blacklist(blacklist)
    committed = _commitment(commitment)
    reveal = (
        None
        if beacon is None
        else beacons.BeaconReveal(beacon.round, beacon.randomness, beacon.signature)
    )
    result = draws.run_draw(
        table,
        parsed_config,
        parsed_blacklist,
        seed,
        committed,
        None if reveal is None else reveal.randomness_bytes,
    )
    body = certificates.build_certificate(
        commitment=committed,
        seed=seed,
        beacon=reveal,
        config=parsed_config,
        blacklist=parsed_blacklist,
        result=result,
        issued_at=issued_at,
    )
    return _signed(body, key, key_id), _result_json(body, table)


def _result_from_certificate(certificate: dict[str, Any]) -> draws.DrawResult:
    def picks(items: list[dict[str, Any]]) -> tuple[draws.Pick, ...]:
        return tuple(draws.Pick(**item) for item in items)

    return draws.DrawResult(
        entries_count=certificate["counts"]["entries"],
        eligible_count=certificate["counts"]["eligible"],
        excluded=[(index, code) for index, code in certificate["excluded"]],
        excluded_counts=dict(certificate["counts"]["excluded"]),
        winners=picks(certificate["winners"]),
        alternates=picks(certificate["alternates"]),
        skipped=tuple((a, b) for a, b in certificate["skipped"]),
        rerolls=tuple(draws.Reroll(**item) for item in certificate["rerolls"]),
    )


def reroll_certificate(
    body: bytes,
    *,
    rank: int,
    reason: str,
    at: datetime,
    key: Ed25519PrivateKey,
    key_id: str,
    lines: Sequence[bytes] | None = None,
) -> tuple[SignedCertificate, dict[str, Any]]:
    """A new certificate: the old one's draw with winner `rank` replaced by the next unused
    alternate, the reroll recorded, signed again and issued now."""
    certificate = json.loads(body)
    result = draws.reroll(_result_from_certificate(certificate), rank, reason, at)
    updated = {key_: value for key_, value in certificate.items() if key_ != "signature"}
    updated["rerolls"] = [change.to_dict() for change in result.rerolls]
    updated["issued_at"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    table = _table(lines) if lines is not None else None
    return _signed(updated, key, key_id), _result_json(updated, table)


def inclusion(
    lines: Sequence[bytes], username: str, certificate: bytes | None
) -> list[dict[str, Any]]:
    """An entrant's entries with Merkle proofs; their status needs the certificate (`pending`
    until the draw is made)."""
    document: dict[str, Any] = (
        json.loads(certificate)
        if certificate is not None
        else {"winners": [], "alternates": [], "excluded": []}
    )
    found = inclusions.inclusion_proof(_table(lines), username, document)
    if certificate is None:
        found = [{**item, "status": "pending"} for item in found]
    return found


__all__ = [
    "Beacon",
    "CommitmentOut",
    "NoAlternates",
    "NotEnoughEligible",
    "SignedCertificate",
    "UnknownRank",
]
