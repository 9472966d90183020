"""What the giveaways API and pages read: a draw as the public sees it (its history for its
host), a host's whole public history, certificates, an entrant's self-check, the signing keys
and the seed's `credits` rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.giveaways import engine
from creatorhub.giveaways.models import Certificate, Draw, DrawHistory, DrawVideo, SigningKey
from creatorhub.giveaways.service.blacklist import InvalidUsername, normalize_username
from creatorhub.giveaways.service.drawing import DrawNotFound, entry_lines
from creatorhub.kit.errors import Conflict, NotFound, Problem


class CertificateNotFound(NotFound):
    code = "certificate_not_found"


class NotCommitted(Conflict):
    code = "draw_not_committed"


class EntrantNotFound(NotFound):
    code = "entrant_not_found"


class VideoNotFound(NotFound):
    code = "video_not_found"


class RangeNotSatisfiable(Problem):
    status, code = 416, "range_not_satisfiable"


def draw_body(draw: Draw, history: Sequence[DrawHistory] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": draw.id,
        "host_id": draw.user_id,
        "title": draw.title,
        "platform": draw.platform,
        "post_url": draw.post_url,
        "status": draw.status,
        "is_test": draw.is_test,
        "config": draw.config,
        "winners_count": draw.winners_count,
        "alternates_count": draw.alternates_count,
        "entries_count": draw.entries_count,
        "credits_used": draw.credits_used,
        "seed_sha256": draw.seed_sha256,
        "commitment": draw.commitment,
        "commitment_hash": draw.commitment_hash,
        "committed_at": draw.committed_at,
        "beacon_round": draw.beacon_round,
        "beacon_due_at": draw.beacon_due_at,
        "winners": draw.winners,
        "certificate_hash": draw.certificate_hash,
        "video_url": draw.video_url,
        "failure_reason": draw.failure_reason,
        "created_at": draw.created_at,
        "executed_at": draw.executed_at,
        "cancelled_at": draw.cancelled_at,
    }
    if history is not None:
        body["history"] = [
            {"action": row.action, "details": row.details, "created_at": row.created_at}
            for row in history
        ]
    return body


async def get_draw(session: AsyncSession, draw_id: uuid.UUID) -> Draw:
    draw = await session.get(Draw, draw_id, populate_existing=True)
    if draw is None:
        raise DrawNotFound("no such draw")
    return draw


async def draw_history(session: AsyncSession, draw_id: uuid.UUID) -> Sequence[DrawHistory]:
    return (
        (
            await session.execute(
                select(DrawHistory).where(DrawHistory.draw_id == draw_id).order_by(DrawHistory.seq)
            )
        )
        .scalars()
        .all()
    )


async def own_draw(session: AsyncSession, draw_id: uuid.UUID, host_id: uuid.UUID) -> dict[str, Any]:
    draw = await get_draw(session, draw_id)
    if draw.user_id != host_id:
        raise DrawNotFound("no such draw of yours")
    return draw_body(draw, await draw_history(session, draw_id))


async def public_draw(session: AsyncSession, draw_id: uuid.UUID) -> dict[str, Any]:
    """Everyone sees a draw's commitment, state, winners and history: its host's hand shows."""
    draw = await get_draw(session, draw_id)
    return draw_body(draw, await draw_history(session, draw_id))


async def host_draws(
    session: AsyncSession, host_id: uuid.UUID, *, limit: int = 100
) -> list[dict[str, Any]]:
    """A host's whole history, newest first: test, failed and cancelled draws included, so a
    draw cannot be quietly made again until a friend wins."""
    draws = (
        (
            await session.execute(
                select(Draw)
                .where(Draw.user_id == host_id)
                .order_by(Draw.created_at.desc(), Draw.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    return [draw_body(draw) for draw in draws]


async def certificate_bytes(session: AsyncSession, certificate_hash: str) -> bytes:
    body = (
        await session.execute(
            select(Certificate.body).where(Certificate.certificate_hash == certificate_hash.lower())
        )
    ).scalar_one_or_none()
    if body is None:
        raise CertificateNotFound("no certificate with that hash")
    return body


async def video_part(
    session: AsyncSession, certificate_hash: str, wanted: tuple[int | None, int | None] | None
) -> tuple[int, int, bytes]:
    """A certificate's replay video, whole (`wanted` None) or the byte range `wanted`: (first,
    last) offsets, inclusive, either open (None): (first, None) to the end, (None, n) the last
    n bytes. Returns (the video's size, the offset of the part, the part); only the part's
    bytes are read (the column is stored uncompressed)."""
    size = DrawVideo.bytes
    if wanted is None:
        first: Any = literal(0)
        part: Any = DrawVideo.mp4
    elif wanted[0] is None:
        suffix = wanted[1] or 0
        first = func.greatest(size - suffix, 0)
        part = func.substring(DrawVideo.mp4, first + 1, suffix)
    else:
        first = literal(wanted[0])
        if wanted[1] is None:
            part = func.substring(DrawVideo.mp4, wanted[0] + 1)
        else:
            part = func.substring(DrawVideo.mp4, wanted[0] + 1, wanted[1] - wanted[0] + 1)
    row = (
        await session.execute(
            select(size, first, part).where(DrawVideo.certificate_hash == certificate_hash.lower())
        )
    ).one_or_none()
    if row is None:
        raise VideoNotFound("no video of that certificate (yet: it is rendered after the draw)")
    total, offset, data = int(row[0]), int(row[1]), bytes(row[2])
    if wanted is not None and (offset >= total or not data):
        raise RangeNotSatisfiable(
            f"the video is {total} bytes", headers={"Content-Range": f"bytes */{total}"}
        )
    return total, offset, data


async def latest_certificate(session: AsyncSession, draw_id: uuid.UUID) -> bytes | None:
    draw = await get_draw(session, draw_id)
    if draw.certificate_hash is None:
        return None
    return await certificate_bytes(session, draw.certificate_hash)


async def entries_file(session: AsyncSession, draw_id: uuid.UUID, host_id: uuid.UUID) -> bytes:
    """The committed ENTRIES file (canonical lines, proof order), for the host to hand to
    whoever audits the draw; the public sees only the root and each entrant their own line."""
    draw = await get_draw(session, draw_id)
    if draw.user_id != host_id:
        raise DrawNotFound("no such draw of yours")
    lines = await entry_lines(session, draw_id)
    return b"".join(line + b"\n" for line in lines)


async def inclusion(session: AsyncSession, draw_id: uuid.UUID, username: str) -> dict[str, Any]:
    """An entrant's self-check: their entries' lines with Merkle proofs against the committed
    root and what became of each, without the list being published."""
    draw = await get_draw(session, draw_id)
    if draw.commitment is None:
        raise NotCommitted("the draw has no commitment yet: its entries are still open")
    try:
        name = normalize_username(username)
    except InvalidUsername as error:
        raise InvalidUsername(error.detail, field="query.username") from error
    lines = await entry_lines(session, draw_id)
    certificate = await latest_certificate(session, draw_id)
    found = engine.inclusion(lines, name, certificate)
    if not found:
        raise EntrantNotFound(f"no entry by {name!r} in this draw", field="query.username")
    return {
        "username": name,
        "entries_root": draw.commitment["entries_root"],
        "entries_count": draw.commitment["entries_count"],
        "entries": found,
    }


async def signing_keys(session: AsyncSession) -> Sequence[SigningKey]:
    return (
        (await session.execute(select(SigningKey).order_by(SigningKey.created_at))).scalars().all()
    )


async def credit_rows(session: AsyncSession, user_id: uuid.UUID, *, limit: int) -> list[Any]:
    rows = await session.execute(
        text(
            "SELECT id, amount, balance, transaction_type, metadata, created_at"
            " FROM giveaways.credits WHERE user_id = :user_id"
            " ORDER BY created_at DESC, id LIMIT :limit"
        ),
        {"user_id": user_id, "limit": limit},
    )
    return [row._asdict() for row in rows]
