"""The giveaways' background jobs: drawing committed draws once their drand round is out,
rendering each certificate's replay video, and the daily system metrics.

A draw's beacon round is fetched over HTTP with no transaction open; then the draw is made in
its own transaction. A round not out yet is left for the next run; a beacon that cannot be
reached is retried each minute (`retried` in the draw's history) and after
`BEACON_ATTEMPTS` tries the draw fails and its credits come back.

A replay video (`render_draw_video`, deferred with each new certificate) is rendered with no
transaction open, in a thread (seconds of CPU), from the certificate's bytes; then stored, and
the draw's `video_url` set if that certificate is still the draw's latest.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import procrastinate
import structlog
from sqlalchemy import LargeBinary, literal, select, update
from sqlalchemy.dialects.postgresql import insert

from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.giveaways import beacon_client, engine, metrics, video
from creatorhub.giveaways.models import Certificate, Draw, DrawStatus, DrawVideo, HistoryAction
from creatorhub.giveaways.service import drawing, execution
from creatorhub.jobs import job_app, task_database, task_settings
from creatorhub.kit.clock import utcnow

log = structlog.get_logger(__name__)

BEACON_ATTEMPTS = 30


async def _due(
    database: Database, now: datetime, limit: int
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """The committed draws whose round is due, each with its commitment's beacon (where the
    round comes from is part of the commitment, not of this server's settings)."""
    async with database.session_scope() as session:
        rows = await session.execute(
            select(Draw.id, Draw.commitment)
            .where(Draw.status == DrawStatus.PROCESSING, Draw.beacon_due_at <= now)
            .order_by(Draw.beacon_due_at)
            .limit(limit)
        )
        return [(row.id, row.commitment["beacon"]) for row in rows]


async def _note_retry(database: Database, draw_id: uuid.UUID, reason: str) -> None:
    """Count a failed beacon fetch; past the limit the draw fails (credits back)."""
    async with database.session_scope() as session:
        draw = await drawing.lock_draw(session, draw_id)
        if draw.status != DrawStatus.PROCESSING:
            return
        await session.execute(
            update(Draw).where(Draw.id == draw_id).values(attempts=Draw.attempts + 1)
        )
        attempts = draw.attempts + 1
        if attempts >= BEACON_ATTEMPTS:
            await drawing.fail_draw(
                session,
                draw,
                reason=f"the drand beacon could not be read in {attempts} attempts: {reason}",
                details={"attempts": attempts},
            )
        else:
            session.add(
                drawing.history(
                    draw_id, None, HistoryAction.RETRIED, {"attempt": attempts, "reason": reason}
                )
            )


async def run_due_draws(
    settings: Settings,
    database: Database,
    *,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
    limit: int = 50,
) -> dict[str, int]:
    """Make every committed draw whose beacon round is due: {drawn, waiting, retried}."""
    now = now or utcnow()
    counts = {"drawn": 0, "waiting": 0, "retried": 0}
    due = await _due(database, now, limit)
    if not due:
        return counts
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=10.0)
    try:
        for draw_id, beacon in due:
            try:
                fetched = await beacon_client.fetch_round(
                    http, beacon["url"], beacon["chain_hash"], beacon["round"]
                )
            except beacon_client.BeaconNotYet:
                counts["waiting"] += 1
                continue
            except beacon_client.BeaconError as error:
                await _note_retry(database, draw_id, str(error))
                counts["retried"] += 1
                continue
            revealed = engine.Beacon(
                round=fetched.round, randomness=fetched.randomness, signature=fetched.signature
            )
            async with database.session_scope() as session:
                await execution.execute_draw(
                    session, settings, draw_id=draw_id, beacon=revealed, now=utcnow()
                )
            counts["drawn"] += 1
    finally:
        if own_client:
            await http.aclose()
    log.info("giveaway_draws_run", **counts)
    return counts


@job_app.periodic(cron="* * * * *", periodic_id="run_due_draws")
@job_app.task(queue="maintenance", queueing_lock="run_due_draws")
async def run_due_draws_task(timestamp: int) -> dict[str, int]:
    return await run_due_draws(task_settings(), task_database())


async def compute_metrics(database: Database, day: date) -> dict[str, object]:
    async with database.session_scope() as session:
        return await metrics.compute_day(session, day)


@job_app.periodic(cron="20 0 * * *", periodic_id="compute_giveaway_metrics")
@job_app.task(queue="maintenance", queueing_lock="compute_giveaway_metrics")
async def compute_giveaway_metrics(timestamp: int) -> dict[str, object]:
    """Daily, shortly after midnight UTC: yesterday's system metrics."""
    return await compute_metrics(task_database(), (utcnow() - timedelta(days=1)).date())


async def render_video(database: Database, certificate_hash: str) -> str:
    """Render and keep the replay video of a certificate: `rendered`, or `exists` (rendered
    before: nothing changes) or `gone` (the certificate was deleted with its draw)."""
    async with database.session_scope() as session:
        found = (
            await session.execute(
                select(Certificate.body, DrawVideo.certificate_hash.label("rendered"))
                .outerjoin(DrawVideo, DrawVideo.certificate_hash == Certificate.certificate_hash)
                .where(Certificate.certificate_hash == certificate_hash)
            )
        ).one_or_none()
    if found is None:
        return "gone"
    if found.rendered is not None:
        return "exists"
    # Seconds of CPU, with no transaction open, off the event loop.
    replay = await asyncio.to_thread(video.render, bytes(found.body))
    async with database.session_scope() as session:
        # From the certificate's row: a certificate deleted meanwhile stores nothing.
        stored = await session.execute(
            insert(DrawVideo)
            .from_select(
                ["certificate_hash", "draw_id", "mp4", "bytes", "duration_ms"],
                select(
                    Certificate.certificate_hash,
                    Certificate.draw_id,
                    literal(replay.mp4, LargeBinary),
                    literal(len(replay.mp4)),
                    literal(replay.duration_ms),
                ).where(Certificate.certificate_hash == certificate_hash),
            )
            .on_conflict_do_nothing()
            .returning(DrawVideo.draw_id)
        )
        draw_id = stored.scalar_one_or_none()
        if draw_id is None:
            return "exists"
        # Only the video of the draw's latest certificate is the draw's (a reroll since then
        # has its own video coming).
        await session.execute(
            update(Draw)
            .where(Draw.id == draw_id, Draw.certificate_hash == certificate_hash)
            .values(video_url=video_url(certificate_hash))
        )
    log.info(
        "giveaway_video_rendered",
        certificate_hash=certificate_hash,
        bytes=len(replay.mp4),
        duration_ms=replay.duration_ms,
    )
    return "rendered"


def video_url(certificate_hash: str) -> str:
    return f"/v1/giveaways/videos/{certificate_hash}.mp4"


@job_app.task(
    name=execution.VIDEO_TASK,
    queue="media",
    retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2),
)
async def render_draw_video(certificate_hash: str) -> str:
    return await render_video(task_database(), certificate_hash)
