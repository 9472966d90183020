"""The calendar: blocked ranges, the combined view, and the secret iCalendar feed, parsed back
with the icalendar library as Google or Apple Calendar would read it."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from icalendar import Calendar

from creatorhub.db import Database
from helpers import Account, account, assert_problem, scalar
from workspace.test_planning import SHOOTS, UPLOADS, count, create, creator, shoot_body, upload_body

BLOCKS, VIEW, FEED = (
    "/v1/workspace/calendar/blocks",
    "/v1/workspace/calendar",
    "/v1/workspace/calendar/feed",
)


async def block(client: httpx.AsyncClient, who: Account, **body: Any) -> dict[str, Any]:
    return await create(client, who, BLOCKS, body)


# --- blocked ranges --------------------------------------------------------------------------


async def test_blocked_ranges(client: httpx.AsyncClient, database: Database) -> None:
    me, other = await creator(client), await creator(client)
    one_day = await block(client, me, start_date="2031-06-10")
    assert (one_day["start_date"], one_day["end_date"]) == ("2031-06-10", "2031-06-10")
    assert one_day["reason"] is None and one_day["reason_public"] is False
    holiday = await block(
        client,
        me,
        start_date="2031-08-01",
        end_date="2031-08-14",
        reason="Holiday",
        reason_public=True,
    )
    assert (holiday["end_date"], holiday["reason"], holiday["reason_public"]) == (
        "2031-08-14",
        "Holiday",
        True,
    )
    # Exactly 366 days, both ends counted, is the longest range.
    year = await block(client, me, start_date="2032-01-01", end_date="2032-12-31")

    listed = (await client.get(BLOCKS, headers=me.headers)).json()
    assert listed == {"items": [one_day, holiday, year], "next_cursor": None}
    window = await client.get(
        BLOCKS, params={"from": "2031-08-14", "to": "2031-09-01"}, headers=me.headers
    )
    assert window.json()["items"] == [holiday]
    first = (await client.get(BLOCKS, params={"limit": 2}, headers=me.headers)).json()
    assert first["items"] == [one_day, holiday]
    rest = await client.get(
        BLOCKS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=me.headers
    )
    assert rest.json() == {"items": [year], "next_cursor": None}

    # Another creator: nothing to see, nothing to delete.
    url = f"{BLOCKS}/{holiday['id']}"
    assert (await client.get(BLOCKS, headers=other.headers)).json()["items"] == []
    assert_problem(await client.delete(url, headers=other.headers), 404, "block_not_found")
    assert await count(database, "calendar") == 3

    assert (await client.delete(url, headers=me.headers)).status_code == 204
    assert_problem(await client.delete(url, headers=me.headers), 404, "block_not_found")
    assert await count(database, "calendar") == 2


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"start_date": "2031-06-10", "end_date": "2031-06-09"},
            "invalid_date_range",
            "body.end_date",
        ),
        (
            {"start_date": "2031-01-01", "end_date": "2032-01-02"},
            "date_range_too_long",
            "body.end_date",
        ),
        ({"start_date": "10/06/2031"}, "validation_error", "body.start_date"),
        (
            {"start_date": "2031-06-10", "end_date": "2031-06-31"},
            "validation_error",
            "body.end_date",
        ),
        ({"end_date": "2031-06-10"}, "validation_error", "body.start_date"),
        ({"start_date": "2031-06-10", "reason": "x" * 501}, "validation_error", "body.reason"),
        (
            {"start_date": "2031-06-10", "reason_public": "maybe"},
            "validation_error",
            "body.reason_public",
        ),
    ],
)
async def test_refused_blocks_change_nothing(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any], code: str, field: str
) -> None:
    me = await creator(client)
    assert_problem(await client.post(BLOCKS, json=body, headers=me.headers), 422, code, field)
    assert await count(database, "calendar") == 0


async def test_a_fan_has_no_calendar(client: httpx.AsyncClient, database: Database) -> None:
    fan = await account(client, roles=["fan"])
    for response in (
        await client.post(BLOCKS, json={"start_date": "2031-06-10"}, headers=fan.headers),
        await client.get(BLOCKS, headers=fan.headers),
        await client.get(
            VIEW, params={"from": "2031-06-01", "to": "2031-06-30"}, headers=fan.headers
        ),
        await client.post(FEED, headers=fan.headers),
    ):
        assert_problem(response, 403, "role_required")
    assert await count(database, "calendar") == 0 and await count(database, "calendar_feeds") == 0


# --- the combined view -----------------------------------------------------------------------


async def test_combined_view_of_a_window(client: httpx.AsyncClient) -> None:
    me, other = await creator(client), await creator(client)
    shoots = {
        day: await create(client, me, SHOOTS, shoot_body(date=day))
        for day in ("2031-06-09", "2031-06-10", "2031-06-20", "2031-06-21")
    }
    uploads = {
        day: await create(client, me, UPLOADS, upload_body(date=day))
        for day in ("2031-06-10", "2031-06-15", "2031-06-21")
    }
    ranges = {
        name: await block(client, me, start_date=start, end_date=end)
        for name, start, end in (
            ("before", "2031-06-01", "2031-06-09"),
            ("left_edge", "2031-06-01", "2031-06-10"),
            ("inside", "2031-06-12", "2031-06-13"),
            ("spanning", "2031-05-25", "2031-07-05"),
            ("right_edge", "2031-06-20", "2031-06-30"),
            ("after", "2031-06-21", "2031-06-25"),
        )
    }
    await create(client, other, SHOOTS, shoot_body(date="2031-06-15"))
    await block(client, other, start_date="2031-06-15")

    response = await client.get(
        VIEW, params={"from": "2031-06-10", "to": "2031-06-20"}, headers=me.headers
    )
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["from"], view["to"], view["truncated"]) == ("2031-06-10", "2031-06-20", False)
    assert view["shoots"] == [shoots["2031-06-10"], shoots["2031-06-20"]]
    assert view["uploads"] == [uploads["2031-06-10"], uploads["2031-06-15"]]
    assert [row["id"] for row in view["blocked"]] == [
        ranges[name]["id"] for name in ("spanning", "left_edge", "inside", "right_edge")
    ]

    # One day, and the longest window (366 days, both ends counted).
    one_day = await client.get(
        VIEW, params={"from": "2031-06-21", "to": "2031-06-21"}, headers=me.headers
    )
    assert [row["id"] for row in one_day.json()["shoots"]] == [shoots["2031-06-21"]["id"]]
    longest = await client.get(
        VIEW, params={"from": "2031-01-01", "to": "2032-01-01"}, headers=me.headers
    )
    assert longest.status_code == 200 and len(longest.json()["shoots"]) == 4


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"from": "2031-06-20", "to": "2031-06-10"}, "invalid_date_range", "query.to"),
        ({"from": "2031-01-01", "to": "2032-01-02"}, "date_range_too_long", "query.to"),
        ({"from": "2031-6-1", "to": "2031-06-10"}, "validation_error", "query.from"),
        ({"from": "2031-06-01", "to": "soon"}, "validation_error", "query.to"),
        ({"to": "2031-06-10"}, "validation_error", "query.from"),
    ],
)
async def test_combined_view_refuses_bad_windows(
    client: httpx.AsyncClient, params: dict[str, str], code: str, field: str
) -> None:
    me = await creator(client)
    assert_problem(await client.get(VIEW, params=params, headers=me.headers), 422, code, field)


# --- the iCalendar feed ----------------------------------------------------------------------


def feed_path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver"  # public_base_url
    return parts.path


async def new_feed(client: httpx.AsyncClient, who: Account) -> str:
    response = await client.post(FEED, headers=who.headers)
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    assert url.endswith(".ics")
    return feed_path(url)


async def fetch(client: httpx.AsyncClient, path: str) -> Calendar:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "no-store" in response.headers["cache-control"]
    return Calendar.from_ical(response.content)


async def assert_dead(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")


def events(calendar: Calendar) -> dict[str, Any]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


async def test_feed_holds_the_calendar(client: httpx.AsyncClient, database: Database) -> None:
    me, other = await creator(client), await creator(client)
    soon = datetime.now(UTC).date() + timedelta(days=30)
    timed = await create(client, me, SHOOTS, shoot_body(date=soon.isoformat(), time="23:30"))
    all_day = await create(
        client,
        me,
        SHOOTS,
        shoot_body(date=soon.isoformat(), time=None, campaign_name=None, location=None, notes=None),
    )
    upload = await create(
        client, me, UPLOADS, upload_body(date=(soon + timedelta(days=1)).isoformat())
    )
    holiday = await block(
        client,
        me,
        start_date=(soon + timedelta(days=5)).isoformat(),
        end_date=(soon + timedelta(days=9)).isoformat(),
        reason="Holiday, Lisbon",
    )
    single = await block(client, me, start_date=(soon + timedelta(days=20)).isoformat())
    # Too old for the feed (more than a year ago), and another creator's rows.
    await create(
        client,
        me,
        SHOOTS,
        shoot_body(date=(datetime.now(UTC).date() - timedelta(days=400)).isoformat()),
    )
    await create(client, other, SHOOTS, shoot_body(date=soon.isoformat()))
    await new_feed(client, other)

    path = await new_feed(client, me)
    calendar = await fetch(client, path)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//creatorhub//workspace calendar//EN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["X-WR-CALNAME"]).startswith("creatorhub")

    found = events(calendar)
    assert set(found) == {
        f"{row['id']}@creatorhub" for row in (timed, all_day, upload, holiday, single)
    }
    for event in found.values():
        assert event["DTSTAMP"].dt.tzinfo is not None  # DTSTAMP is UTC

    # A timed shoot floats (no zone): 23:30 local, one hour long, across midnight.
    event = found[f"{timed['id']}@creatorhub"]
    assert event["DTSTART"].dt == datetime.combine(soon, time(23, 30))
    assert event["DTSTART"].dt.tzinfo is None and "TZID" not in event["DTSTART"].params
    assert event["DTEND"].dt == datetime.combine(soon + timedelta(days=1), time(0, 30))
    assert str(event["SUMMARY"]) == "Shoot: Acme — Summer drop"
    assert str(event["LOCATION"]) == "Studio 4, Berlin"
    assert str(event["DESCRIPTION"]) == "Bring the red jacket"

    # Without a time: an all-day event (dates, not date-times).
    event = found[f"{all_day['id']}@creatorhub"]
    assert (event["DTSTART"].dt, event["DTEND"].dt) == (soon, soon + timedelta(days=1))
    assert not isinstance(event["DTSTART"].dt, datetime)
    assert str(event["SUMMARY"]) == "Shoot: Acme"
    assert "LOCATION" not in event and "DESCRIPTION" not in event

    event = found[f"{upload['id']}@creatorhub"]
    assert str(event["SUMMARY"]) == "Upload: instagram Reel — Acme — Summer drop"
    assert event["DTSTART"].dt == datetime.combine(soon + timedelta(days=1), time(18, 0))
    assert str(event["TRANSP"]) == "TRANSPARENT"

    # Blocked ranges: all-day, DTEND exclusive (the day after the last blocked day).
    event = found[f"{holiday['id']}@creatorhub"]
    assert event["DTSTART"].dt == soon + timedelta(days=5)
    assert event["DTEND"].dt == soon + timedelta(days=10)
    assert str(event["SUMMARY"]) == "Unavailable: Holiday, Lisbon"
    event = found[f"{single['id']}@creatorhub"]
    assert (event["DTSTART"].dt, event["DTEND"].dt) == (
        soon + timedelta(days=20),
        soon + timedelta(days=21),
    )
    assert str(event["SUMMARY"]) == "Unavailable"

    status = (await client.get(FEED, headers=me.headers)).json()
    assert status["last_fetched_at"] is not None
    head = await client.head(path)
    assert head.status_code == 200


async def test_feed_token_is_stored_hashed(client: httpx.AsyncClient, database: Database) -> None:
    me = await creator(client)
    path = await new_feed(client, me)
    token = path.removeprefix("/calendar/").removesuffix(".ics")
    assert token.startswith("chc_") and len(token) > 40
    stored = await scalar(
        database,
        "SELECT token_hash FROM workspace.calendar_feeds WHERE user_id = CAST(:id AS uuid)",
        id=me.id,
    )
    assert bytes(stored) == hashlib.sha256(token.encode()).digest()
    # The plaintext is nowhere: not in the feed row, not in the audit trail.
    for table in ("workspace.calendar_feeds", "audit.audit_logs"):
        leaks = await scalar(
            database,
            f"SELECT count(*) FROM {table} t WHERE row_to_json(t)::text LIKE :pattern",  # noqa: S608
            pattern=f"%{token[4:]}%",
        )
        assert leaks == 0, table
    status = (await client.get(FEED, headers=me.headers)).json()
    assert status["last_fetched_at"] is None  # not fetched yet
    assert "url" not in status


async def test_regenerating_and_revoking_the_feed(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, other = await creator(client), await creator(client)
    assert_problem(await client.get(FEED, headers=me.headers), 404, "calendar_feed_not_found")
    first = await new_feed(client, me)
    await fetch(client, first)

    second = await new_feed(client, me)
    assert second != first
    await assert_dead(client, first)
    await fetch(client, second)
    live = await scalar(
        database,
        "SELECT count(*) FROM workspace.calendar_feeds"
        " WHERE user_id = CAST(:id AS uuid) AND revoked_at IS NULL",
        id=me.id,
    )
    assert live == 1

    # Another creator's revocation touches only their own (absent) feed.
    assert_problem(await client.delete(FEED, headers=other.headers), 404, "calendar_feed_not_found")
    await fetch(client, second)

    assert (await client.delete(FEED, headers=me.headers)).status_code == 204
    await assert_dead(client, second)
    assert_problem(await client.delete(FEED, headers=me.headers), 404, "calendar_feed_not_found")
    assert_problem(await client.get(FEED, headers=me.headers), 404, "calendar_feed_not_found")

    third = await new_feed(client, me)
    await fetch(client, third)
    await assert_dead(client, first)


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/chc_" + "A" * 43 + ".ics",
        "/calendar/nothing.ics",
        "/calendar/chc_" + "x" * 500 + ".ics",
        "/calendar/.ics",
    ],
)
async def test_unknown_feed_tokens_get_a_plain_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "calendar" not in response.text.lower()


async def test_concurrent_feed_creation_leaves_one_live_feed(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await creator(client)
    responses = await asyncio.gather(*(client.post(FEED, headers=me.headers) for _ in range(4)))
    assert [response.status_code for response in responses] == [201] * 4
    live = await scalar(
        database,
        "SELECT count(*) FROM workspace.calendar_feeds"
        " WHERE user_id = CAST(:id AS uuid) AND revoked_at IS NULL",
        id=me.id,
    )
    assert live == 1
    working = 0
    for response in responses:
        result = await client.get(feed_path(response.json()["url"]))
        working += result.status_code == 200
    assert working == 1
