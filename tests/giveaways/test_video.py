"""A draw's replay video (issue 16, seed 003 `Draw.video_url`): rendered by a job from the
certificate alone, an H.264 MP4 carrying the certificate's hash, stored once per certificate
and served at the draw's `video_url` (byte ranges too); a reroll's certificate gets its own."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import av
import httpx
import pytest
from sqlalchemy import delete

from creatorhub.db import Database
from creatorhub.giveaways import tasks, video
from creatorhub.giveaways.models import DrawVideo
from draw_helpers import CONFIG, comments, made_draw
from giveaways.test_proof import GOLDEN_RAW, certify, make_table
from helpers import account, assert_problem, scalar
from money_fixtures import ledger_verified

pytestmark = pytest.mark.usefixtures("ledger_verified")
__all__ = ["ledger_verified"]

RunJobs = Callable[[], Awaitable[None]]
# Each user comments twice: a draw of one entry per comment skips a user drawn before.
PER_COMMENT = {**CONFIG, "entries_per_user": "per_comment", "winners_count": 2}


def twice(count: int) -> list[tuple[str, str, str]]:
    rows = comments(count)
    return rows + [(author, text + " again", at) for author, text, at in rows]


def decoded(mp4: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert stream.average_rate is not None and container.duration is not None
        return {
            "codec": stream.codec_context.name,
            "size": (stream.width, stream.height),
            "pix_fmt": stream.format.name,
            "fps": float(stream.average_rate),
            "frames": frames,
            "seconds": container.duration / av.time_base,
            "metadata": dict(container.metadata),
        }


async def certificate_of(client: httpx.AsyncClient, certificate_hash: str) -> bytes:
    response = await client.get(f"/v1/giveaways/certificates/{certificate_hash}")
    assert response.status_code == 200, response.text
    return response.content


async def test_the_video_is_rendered_from_the_certificate_and_served(
    client: httpx.AsyncClient, database: Database, run_jobs: RunJobs
) -> None:
    host = await account(client)
    made = await made_draw(client, host, twice(12), config=PER_COMMENT)
    digest = made["certificate_hash"]
    url = f"/v1/giveaways/videos/{digest}.mp4"
    # Deferred with the certificate, rendered by the job: nothing to see until it ran.
    assert made["video_url"] is None
    assert_problem(await client.get(url), 404, "video_not_found")

    await run_jobs()
    draw = (await client.get(f"/v1/giveaways/draws/{made['id']}")).json()
    assert draw["video_url"] == url
    # The public draw page plays it (its CSP allows the app's own media).
    page = await client.get(f"/giveaways/draws/{made['id']}")
    assert f'<video src="{url}"' in page.text
    assert "media-src 'self'" in page.headers["content-security-policy"]
    served = await client.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "video/mp4"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["accept-ranges"] == "bytes"
    assert served.headers["etag"] == f'"{digest}"'
    mp4 = served.content
    assert 20_000 < len(mp4) < 1_500_000

    facts = decoded(mp4)
    assert facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"
    assert facts["size"] == (video.WIDTH, video.HEIGHT) and facts["fps"] == video.FPS
    assert 12 <= facts["seconds"] <= 20
    assert abs(facts["frames"] - facts["seconds"] * video.FPS) <= 1
    # The video names its certificate.
    assert facts["metadata"]["comment"] == f"certificate sha256:{digest}"
    assert made["id"] in facts["metadata"]["title"]
    row = await scalar(
        database,
        "SELECT json_build_object('bytes', bytes, 'duration_ms', duration_ms,"
        " 'draw_id', draw_id) FROM giveaways.draw_videos WHERE certificate_hash = :h",
        h=digest,
    )
    assert row == {
        "bytes": len(mp4),
        "duration_ms": facts["frames"] * 1000 // video.FPS,
        "draw_id": made["id"],
    }

    # Byte ranges, as a browser seeks.
    head = await client.get(url, headers={"Range": "bytes=0-99"})
    assert head.status_code == 206 and head.content == mp4[:100]
    assert head.headers["content-range"] == f"bytes 0-99/{len(mp4)}"
    assert head.headers["cache-control"] == "public, max-age=31536000, immutable"
    tail = await client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == mp4[-50:]
    assert tail.headers["content-range"] == f"bytes {len(mp4) - 50}-{len(mp4) - 1}/{len(mp4)}"
    rest = await client.get(url, headers={"Range": f"bytes={len(mp4) - 10}-"})
    assert rest.status_code == 206 and rest.content == mp4[-10:]
    beyond = await client.get(url, headers={"Range": f"bytes=0-{len(mp4) + 1000}"})
    assert beyond.status_code == 206 and beyond.content == mp4
    # Several ranges, or a range not understood: the whole video.
    several = await client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == mp4
    past = await client.get(url, headers={"Range": f"bytes={len(mp4)}-"})
    assert_problem(past, 416, "range_not_satisfiable")
    assert past.headers["content-range"] == f"bytes */{len(mp4)}"

    # A second run for the same certificate changes nothing.
    rendered_at = await scalar(database, "SELECT rendered_at FROM giveaways.draw_videos")
    assert await tasks.render_video(database, digest) == "exists"
    assert await scalar(database, "SELECT count(*) FROM giveaways.draw_videos") == 1
    assert await scalar(database, "SELECT rendered_at FROM giveaways.draw_videos") == rendered_at
    assert await tasks.render_video(database, "ab" * 32) == "gone"


async def test_a_reroll_gets_its_own_video(
    client: httpx.AsyncClient, database: Database, run_jobs: RunJobs
) -> None:
    host = await account(client)
    made = await made_draw(client, host, comments(10))
    await run_jobs()
    first = made["certificate_hash"]
    rerolled = await client.post(
        f"/v1/giveaways/draws/{made['id']}/rerolls",
        json={"rank": 1, "reason": "did not answer in 48 hours"},
        headers=host.headers,
    )
    assert rerolled.status_code == 200, rerolled.text
    second = rerolled.json()["certificate_hash"]
    # The first video is not the draw's any more; the new one is not rendered yet.
    assert rerolled.json()["video_url"] is None
    assert (await client.get(f"/v1/giveaways/videos/{first}.mp4")).status_code == 200
    assert_problem(await client.get(f"/v1/giveaways/videos/{second}.mp4"), 404, "video_not_found")

    await run_jobs()
    draw = (await client.get(f"/v1/giveaways/draws/{made['id']}")).json()
    assert draw["video_url"] == f"/v1/giveaways/videos/{second}.mp4"
    mp4 = (await client.get(draw["video_url"])).content
    assert decoded(mp4)["metadata"]["comment"] == f"certificate sha256:{second}"
    # The rerolls card adds to the video: it is longer than the first certificate's.
    old = (await client.get(f"/v1/giveaways/videos/{first}.mp4")).content
    assert decoded(mp4)["frames"] > decoded(old)["frames"]
    # An older certificate's video rendered late never takes the draw's place.
    async with database.session_scope() as session:
        await session.execute(delete(DrawVideo).where(DrawVideo.certificate_hash == first))
    assert await tasks.render_video(database, first) == "rendered"
    draw = (await client.get(f"/v1/giveaways/draws/{made['id']}")).json()
    assert draw["video_url"] == f"/v1/giveaways/videos/{second}.mp4"


async def test_the_pictures_come_from_the_certificate_alone(
    client: httpx.AsyncClient,
) -> None:
    host = await account(client)
    made = await made_draw(client, host, twice(12), config=PER_COMMENT)
    certificate = json.loads(await certificate_of(client, made["certificate_hash"]))

    # The draw's order is replayed from the seed, the commitment and the beacon: the winners
    # and alternates in rank order, each skip after the pick of its user.
    for drawn in (certificate, golden_with_skips()):
        steps, replayed = video.draw_steps(drawn)
        assert replayed
        picks = [s.index for s in steps if s.kind != "skipped"]
        assert picks == [p["index"] for p in drawn["winners"] + drawn["alternates"]]
        skips = [[s.index, steps[s.repeats - 1].index] for s in steps if s.kind == "skipped"]
        assert skips == drawn["skipped"]
    assert skips, "the golden draw skips an entry of a user drawn before"
    assert drawn["beacon"] is not None
    # A certificate that does not replay is shown in the order it lists, and says so.
    broken = {**certificate, "reveal": {"seed": "00" * 32}}
    listed, replayed = video.draw_steps(broken)
    assert not replayed
    assert [s.index for s in listed] == [
        p["index"] for p in certificate["winners"] + certificate["alternates"]
    ]

    # Two renders draw the same pictures.
    first = list(video.storyboard(certificate, made["certificate_hash"]))
    again = list(video.storyboard(certificate, made["certificate_hash"]))
    assert [(image.tobytes(), frames) for image, frames in first] == [
        (image.tobytes(), frames) for image, frames in again
    ]


def golden_with_skips() -> dict[str, Any]:
    """The proof's golden comments drawn one entry per comment, with a beacon: a skip."""
    config = {"winners_count": 3, "alternates_count": 20, "entries_per_user": "per_comment"}
    cert, _ = certify(make_table(GOLDEN_RAW), {**config, "rules": {"exclude_replies": False}}, [])
    return cert


def test_a_long_draw_stays_short() -> None:
    """Many picks and rerolls: the first ones are shown, the rest counted, within 20 s."""
    cert = golden_with_skips()
    many = [{**cert["alternates"][0], "rank": rank} for rank in range(1, 80)]
    cert = {**cert, "alternates": many, "rerolls": [cert_reroll(n) for n in range(1, 6)]}
    _, replayed = video.draw_steps(cert)
    assert not replayed  # made up: shown as listed
    frames = sum(count for _, count in video.storyboard(cert, "ab" * 32))
    assert 12 * video.FPS <= frames <= 20 * video.FPS


def cert_reroll(number: int) -> dict[str, Any]:
    return {
        "rank": 1,
        "replaced_index": 0,
        "alternate_index": 1,
        "reason": f"reroll {number}",
        "at": "2026-03-03T12:05:00Z",
    }


def test_names_outside_the_font_read_exactly() -> None:
    assert video.printable("josé_漢", 24) == "jos<U+00E9>_<U+6F22>"
    assert video.printable("fan_01.x", 24) == "fan_01.x"
