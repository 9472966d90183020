"""Making a committed draw: the revealed seed and the beacon's randomness drive the DRBG over
the committed entries; the certificate is signed with the platform's Ed25519 key and kept as
issued; the reserved credits are used. A reroll (a winner disqualified) takes the next
alternate and issues a new certificate that records it.

The beacon is fetched over HTTP before this transaction begins (`tasks.run_due_draws`): no
network call happens while the draw row is locked. Each new certificate defers its replay
video's rendering (`tasks.render_draw_video`) in the same transaction, so a committed
certificate always gets its video; until it is rendered the draw has no `video_url`.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.config import Settings
from creatorhub.giveaways import engine
from creatorhub.giveaways.models import Certificate, Draw, DrawStatus, HistoryAction, SigningKey
from creatorhub.giveaways.service.drawing import (
    commit_draw,
    entry_lines,
    fail_draw,
    history,
    lock_draw,
    lock_own_draw,
    open_seed,
)
from creatorhub.jobs import defer, job_app
from creatorhub.kit.crypto import keyring_from_settings
from creatorhub.kit.errors import Conflict, Unprocessable
from creatorhub.ledger import service as ledger

# The replay video's job (`giveaways.tasks`, which imports this module), deferred by name.
VIDEO_TASK = "creatorhub.giveaways.tasks.render_draw_video"


class DrawNotCompleted(Conflict):
    code = "draw_not_completed"


class NoAlternateLeft(Conflict):
    code = "no_alternate_left"


class UnknownWinnerRank(Unprocessable):
    code = "unknown_winner_rank"


class BeaconNotDue(RuntimeError):
    """A caller asked to draw a beacon draw without its round: a defect, not a request's."""


# --- the platform's signing key ----------------------------------------------------------------


def _key_aad(key_id: str) -> bytes:
    return f"giveaways.signing_keys:{key_id}".encode()


async def signing_key(session: AsyncSession, settings: Settings) -> tuple[str, Ed25519PrivateKey]:
    """The active certificate key, made on first use (two first uses at once make one: the
    unique index on the active key keeps the first, the second reads it)."""
    keyring = keyring_from_settings(settings)
    for _ in range(2):
        row = (
            await session.execute(select(SigningKey).where(SigningKey.retired_at.is_(None)))
        ).scalar_one_or_none()
        if row is not None:
            private = bytes.fromhex(
                keyring.open(row.private_ciphertext, row.sealing_key_id, aad=_key_aad(row.key_id))
            )
            return row.key_id, Ed25519PrivateKey.from_private_bytes(private)
        key = Ed25519PrivateKey.generate()
        key_id = "cert-" + secrets.token_hex(6)
        sealed, sealing_key_id = keyring.seal(engine.private_hex(key), aad=_key_aad(key_id))
        await session.execute(
            insert(SigningKey)
            .values(
                key_id=key_id,
                public_key=engine.public_hex(key),
                private_ciphertext=sealed,
                sealing_key_id=sealing_key_id,
            )
            .on_conflict_do_nothing()
        )
    raise RuntimeError("no active signing key after creating one")  # pragma: no cover


# --- drawing ------------------------------------------------------------------------------------


def _winners_column(result: dict[str, Any], selected_at: datetime) -> list[dict[str, Any]]:
    """The seed's `winners` JSON: username, the platform's user id, the comment, when."""
    return [
        {
            "rank": winner["rank"],
            "username": winner["username"],
            "user_id": winner["platform_user_id"],
            "comment_id": winner["comment_id"],
            "comment": winner.get("text", ""),
            "selected_at": selected_at.isoformat(),
        }
        for winner in result["winners"]
    ]


async def _store_certificate(
    session: AsyncSession, draw: Draw, certificate: engine.SignedCertificate
) -> None:
    session.add(
        Certificate(certificate_hash=certificate.hash, draw_id=draw.id, body=certificate.body_bytes)
    )
    draw.certificate_hash = certificate.hash
    # A video of an earlier certificate is not this one's: the job sets the new one's.
    draw.video_url = None
    await defer(session, job_app.configure_task(VIDEO_TASK), certificate_hash=certificate.hash)


async def execute_draw(
    session: AsyncSession,
    settings: Settings,
    *,
    draw_id: uuid.UUID,
    beacon: engine.Beacon | None,
    now: datetime,
    lines: list[bytes] | None = None,
) -> Draw:
    """Draw a committed draw (status `processing`). With a beacon round in its commitment,
    `beacon` is that round, fetched by the caller; without, None. `lines`: the committed
    entries when the caller has them (read again otherwise). Too few eligible entries fails
    the draw (credits back) and says how many there were."""
    draw = await lock_draw(session, draw_id)
    if draw.status != DrawStatus.PROCESSING:
        return draw  # made, failed or cancelled meanwhile: nothing to do
    if draw.beacon_round is not None and beacon is None:
        raise BeaconNotDue(f"the draw waits for drand round {draw.beacon_round}")
    assert draw.commitment is not None and draw.blacklist is not None
    if lines is None:
        lines = await entry_lines(session, draw.id)
    key_id, key = await signing_key(session, settings)
    try:
        certificate, result = engine.draw_and_certify(
            commitment=draw.commitment,
            lines=lines,
            config=draw.config,
            blacklist=draw.blacklist,
            seed=open_seed(settings, draw),
            beacon=beacon,
            key=key,
            key_id=key_id,
            issued_at=now,
        )
    except engine.NotEnoughEligible as short:
        await fail_draw(
            session,
            draw,
            reason=(
                f"{short.eligible_users} eligible user(s) ({short.eligible_entries} eligible"
                f" entries) for {draw.winners_count} winner(s)"
            ),
            details={
                "eligible_users": short.eligible_users,
                "eligible_entries": short.eligible_entries,
                "winners_count": draw.winners_count,
            },
        )
        return draw
    await _store_certificate(session, draw, certificate)
    draw.winners = _winners_column(result, now)
    draw.status = DrawStatus.COMPLETED
    draw.executed_at = now
    if draw.credit_hold_id is not None:
        await ledger.post_hold(session, draw.credit_hold_id)
    session.add(
        history(
            draw.id,
            None,
            HistoryAction.COMPLETED,
            {
                "certificate_hash": certificate.hash,
                "eligible": result["counts"]["eligible"],
                "winners": [w["username"] for w in result["winners"]],
            },
        )
    )
    await session.flush()
    return draw


async def reroll(
    session: AsyncSession,
    settings: Settings,
    *,
    draw_id: uuid.UUID,
    host_id: uuid.UUID,
    rank: int,
    reason: str,
    now: datetime,
) -> Draw:
    """Replace winner `rank` by the next alternate not used yet; a new certificate, re-signed,
    records who was replaced, by whom and why (the old one stays kept and listed)."""
    draw = await lock_own_draw(session, draw_id, host_id)
    if draw.status != DrawStatus.COMPLETED or draw.certificate_hash is None:
        raise DrawNotCompleted(f"the draw is {draw.status}: only a completed draw is rerolled")
    body = (
        await session.execute(
            select(Certificate.body).where(Certificate.certificate_hash == draw.certificate_hash)
        )
    ).scalar_one()
    key_id, key = await signing_key(session, settings)
    try:
        certificate, result = engine.reroll_certificate(
            body,
            rank=rank,
            reason=reason,
            at=now,
            key=key,
            key_id=key_id,
            lines=await entry_lines(session, draw.id),
        )
    except engine.UnknownRank as unknown:
        raise UnknownWinnerRank(str(unknown), field="body.rank") from unknown
    except engine.NoAlternates as none_left:
        raise NoAlternateLeft(str(none_left)) from none_left
    replaced = result["rerolls"][-1]
    await _store_certificate(session, draw, certificate)
    draw.winners = _winners_column(result, now)
    session.add(
        history(
            draw.id,
            host_id,
            HistoryAction.REROLLED,
            {"rank": rank, "reason": reason, "certificate_hash": certificate.hash, **replaced},
        )
    )
    await session.flush()
    return draw


async def commit_and_draw(
    session: AsyncSession,
    settings: Settings,
    *,
    draw_id: uuid.UUID,
    host_id: uuid.UUID,
    now: datetime,
) -> Draw:
    """Commit a draw and, without a beacon, make it at once from the lines just committed;
    with one it waits for its round (`tasks.run_due_draws`)."""
    committed = await commit_draw(session, settings, draw_id=draw_id, host_id=host_id, now=now)
    if committed.draw.beacon_round is not None:
        return committed.draw
    return await execute_draw(
        session, settings, draw_id=draw_id, beacon=None, now=now, lines=committed.lines
    )
