"""A draw's comments imported from the host's connected account (issue 16), against the local
fake platforms: pages read one at a time with progress after each, a 429 in the middle waits
and resumes from the stored cursor (never from the first page), a re-run adds only duplicates;
the refusals (no connection, TikTok, someone else's draw, a committed draw)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from conftest import make_settings
from creatorhub.config import Settings
from creatorhub.db import Database
from creatorhub.giveaways.connected_import import run_import
from creatorhub.kit.clock import utcnow
from draw_helpers import comments, create_draw, csv_of, import_csv
from helpers import Account, account, assert_problem, scalar
from money_fixtures import ledger_verified
from social.conftest import connect
from social.fake_platforms import FakePlatforms, fake_platforms

pytestmark = pytest.mark.usefixtures("ledger_verified")
__all__ = ["fake_platforms", "ledger_verified"]

MEDIA = "17900000000000001"
POST = "page-1_555000"


@pytest.fixture
def fake(fake_platforms: FakePlatforms) -> FakePlatforms:
    fake_platforms.reset()
    return fake_platforms


@pytest.fixture
def settings(database_url: str, fake: FakePlatforms) -> Settings:
    return make_settings(database_url, **fake.settings())


async def start(
    client: httpx.AsyncClient, host: Account, draw_id: str, platform: str, media_id: str
) -> httpx.Response:
    return await client.post(
        f"/v1/giveaways/draws/{draw_id}/imports",
        json={"platform": platform, "media_id": media_id},
        headers=host.headers,
    )


async def progress(
    client: httpx.AsyncClient, host: Account, draw_id: str, import_id: str
) -> dict[str, Any]:
    shown = await client.get(
        f"/v1/giveaways/draws/{draw_id}/imports/{import_id}", headers=host.headers
    )
    assert shown.status_code == 200, shown.text
    body: dict[str, Any] = shown.json()
    return body


def afters(fake: FakePlatforms, media_id: str) -> list[str | None]:
    """The `after` cursor of each comment page the fake was asked for, in order."""
    return [params.get("after") for params in fake.requests_to(f"/{media_id}/comments")]


async def test_an_instagram_import_page_by_page_resumes_after_a_rate_limit(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    host = await account(client, roles=["creator"])
    await connect(client, host, "instagram")
    # 230 comments and a reply to every 50th (5): 235 entries, 3 pages of 100.
    assert fake.add_comments("instagram", MEDIA, 230, replies_every=50) == 235
    fake.rate_limit_page(MEDIA, 1)
    draw = await create_draw(client, host)

    started = await start(client, host, draw["id"], "instagram", MEDIA)
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["status"], job["pages"], job["imported"]) == ("running", 0, 0)
    deferred = await scalar(
        database,
        "SELECT count(*) FROM procrastinate.procrastinate_jobs"
        " WHERE task_name = 'import_draw_comments' AND args->>'import_id' = :id",
        id=job["id"],
    )
    assert deferred == 1
    # The same draw: one import at a time.
    again = await start(client, host, draw["id"], "instagram", MEDIA)
    assert_problem(again, 409, "comment_import_in_flight")

    # The first page is written, the second answers 429: waiting, from the stored cursor.
    before = utcnow()
    assert await run_import(database, settings, uuid.UUID(job["id"])) == "waiting"
    shown = await progress(client, host, draw["id"], job["id"])
    assert (shown["status"], shown["pages"], shown["imported"], shown["duplicates"]) == (
        "waiting",
        1,
        102,  # 100 comments and the replies of the 1st and the 51st
        0,
    )
    retry_at = shown["retry_at"]
    assert retry_at is not None
    waited = await scalar(
        database,
        "SELECT retry_at - :before FROM giveaways.comment_imports WHERE id = :id",
        before=before,
        id=job["id"],
    )
    assert timedelta(seconds=119) <= waited <= timedelta(seconds=130)  # Retry-After: 120
    assert "429" in shown["last_error"]
    scheduled = await scalar(
        database,
        "SELECT count(*) FROM procrastinate.procrastinate_jobs"
        " WHERE task_name = 'import_draw_comments' AND args->>'import_id' = :id"
        " AND scheduled_at = CAST(:at AS timestamptz)",
        id=job["id"],
        at=retry_at,
    )
    assert scheduled == 1
    first, second = afters(fake, MEDIA)
    assert first is None and second is not None

    # The scheduled run continues from the cursor: the first page is never asked for again.
    assert await run_import(database, settings, uuid.UUID(job["id"])) == "completed"
    cursors = afters(fake, MEDIA)
    assert cursors[:2] == [None, second] and cursors[2] == second and len(cursors) == 4
    assert cursors.count(None) == 1
    done = await progress(client, host, draw["id"], job["id"])
    assert (done["status"], done["pages"], done["imported"], done["duplicates"]) == (
        "completed",
        3,
        235,
        0,
    )
    assert done["retry_at"] is None and done["finished_at"] is not None
    shown_draw = (
        await client.get(f"/v1/giveaways/draws/{draw['id']}", headers=host.headers)
    ).json()
    assert shown_draw["entries_count"] == 235
    # What each entry keeps: the platform's ids, username, text, time, likes, mentions.
    entries = await client.get(
        f"/v1/giveaways/draws/{draw['id']}/entries.jsonl", headers=host.headers
    )
    assert entries.status_code == 200
    assert entries.text.count("\n") == 235
    assert '"ig-0007"' in entries.text and '"fan0007"' in entries.text
    assert '"friend2"' in entries.text  # @friend2, a mention
    # A run of a finished import does nothing.
    assert await run_import(database, settings, uuid.UUID(job["id"])) == "idle"

    # A second import of the same post adds nothing new: every comment a duplicate.
    rerun = await start(client, host, draw["id"], "instagram", MEDIA)
    assert rerun.status_code == 202, rerun.text
    assert await run_import(database, settings, uuid.UUID(rerun.json()["id"])) == "completed"
    repeated = await progress(client, host, draw["id"], rerun.json()["id"])
    assert (repeated["pages"], repeated["imported"], repeated["duplicates"]) == (3, 0, 235)
    # Only the failed call reached the connector log (a page's answer is the commenters').
    logged = await scalar(
        database,
        "SELECT string_agg(action || ':' || status, ',') FROM social.logs"
        " WHERE user_id = :user AND action = 'fetch_comments'",
        user=uuid.UUID(host.id),
    )
    assert logged == "fetch_comments:failure"


async def test_a_facebook_page_post_import_with_replies_flat(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    host = await account(client, roles=["creator"])
    await connect(client, host, "facebook")
    assert fake.add_comments("facebook", POST, 120, replies_every=40) == 123
    draw = await create_draw(client, host, platform="facebook")
    started = await start(client, host, draw["id"], "facebook", POST)
    assert started.status_code == 202, started.text
    job_id = uuid.UUID(started.json()["id"])
    # One page per run (`max_pages`): progress after each.
    assert await run_import(database, settings, job_id, max_pages=1) == "continued"
    shown = await progress(client, host, draw["id"], str(job_id))
    assert (shown["status"], shown["pages"], shown["imported"]) == ("running", 1, 100)
    assert await run_import(database, settings, job_id) == "completed"
    done = await progress(client, host, draw["id"], str(job_id))
    assert (done["status"], done["pages"], done["imported"], done["duplicates"]) == (
        "completed",
        2,
        123,
        0,
    )
    # Read with the Page's token, asked for once per run, replies flat.
    pages = fake.requests_to(f"/{POST}/comments")
    assert [p.get("filter") for p in pages] == ["stream", "stream"]
    assert all(p["access_token"].startswith("facebook-page-") for p in pages)
    replies = await scalar(
        database,
        "SELECT count(*) FROM giveaways.entries WHERE draw_id = :draw"
        " AND line::jsonb->>'parent_id' IS NOT NULL",
        draw=uuid.UUID(draw["id"]),
    )
    assert replies == 3


async def test_a_dead_token_fails_the_import_asking_for_a_reconnect(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    host = await account(client, roles=["creator"])
    await connect(client, host, "instagram")
    fake.add_comments("instagram", MEDIA, 10)
    draw = await create_draw(client, host)
    started = await start(client, host, draw["id"], "instagram", MEDIA)
    fake.tokens.clear()  # the platform forgot every token: code 190
    assert await run_import(database, settings, uuid.UUID(started.json()["id"])) == "failed"
    shown = await progress(client, host, draw["id"], started.json()["id"])
    assert shown["status"] == "failed" and "reconnect the account" in shown["last_error"]
    assert shown["imported"] == 0


async def test_refusals(
    client: httpx.AsyncClient, database: Database, settings: Settings, fake: FakePlatforms
) -> None:
    host = await account(client, roles=["creator"])
    draw = await create_draw(client, host)
    not_connected = await start(client, host, draw["id"], "instagram", MEDIA)
    assert_problem(not_connected, 409, "social_account_not_connected")
    tiktok = await start(client, host, draw["id"], "tiktok", "7300000000000000001")
    assert_problem(tiktok, 422, "platform_import_unavailable", "body.platform")
    x = await start(client, host, draw["id"], "x", "1790000000000000001")
    assert_problem(x, 422, "platform_import_unavailable")

    await connect(client, host, "instagram")
    someone = await account(client)
    theirs = await create_draw(client, someone)
    assert_problem(
        await start(client, host, theirs["id"], "instagram", MEDIA), 404, "draw_not_found"
    )
    missing = await client.get(
        f"/v1/giveaways/draws/{draw['id']}/imports/{uuid.uuid4()}", headers=host.headers
    )
    assert_problem(missing, 404, "comment_import_not_found")

    committed = await create_draw(client, host)
    imported = await import_csv(client, host, committed["id"], csv_of(comments(5)))
    assert imported.status_code == 200, imported.text
    made = await client.post(f"/v1/giveaways/draws/{committed['id']}/commit", headers=host.headers)
    assert made.status_code == 200, made.text
    refused = await start(client, host, committed["id"], "instagram", MEDIA)
    assert_problem(refused, 409, "draw_not_pending")
    count = await scalar(database, "SELECT count(*) FROM giveaways.comment_imports")
    assert count == 0
