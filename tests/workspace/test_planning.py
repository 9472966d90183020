"""Shoots and uploads (seed 001): CRUD, ownership, validation, completion, listing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from creatorhub.db import Database
from helpers import Account, account, assert_problem, scalar

SHOOTS, UPLOADS = "/v1/workspace/shoots", "/v1/workspace/uploads"


def shoot_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2031-06-15",
        "time": "10:30",
        "location": "Studio 4, Berlin",
        "brand_name": "Acme",
        "campaign_name": "Summer drop",
        "notes": "Bring the red jacket",
        "amount": 1250_00,
        "currency": "EUR",
    }
    body.update(overrides)
    return body


def upload_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2031-06-16",
        "time": "18:00:00",
        "platform": "instagram",
        "content_type": "Reel",
        "brand_name": "Acme",
        "campaign_name": "Summer drop",
        "notes": "Tag @acme",
    }
    body.update(overrides)
    return body


async def creator(client: httpx.AsyncClient) -> Account:
    return await account(client, roles=["creator"])


async def create(
    client: httpx.AsyncClient, who: Account, base: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(base, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def count(database: Database, table: str) -> int:
    sql = f"SELECT count(*) FROM workspace.{table}"  # noqa: S608  # a constant of the test
    return int(await scalar(database, sql))


async def test_shoot_crud(client: httpx.AsyncClient, database: Database) -> None:
    me = await creator(client)
    shoot = await create(client, me, SHOOTS, shoot_body())
    assert shoot["date"] == "2031-06-15" and shoot["time"] == "10:30:00"
    assert (shoot["amount"], shoot["currency"]) == (1250_00, "EUR")
    assert shoot["completed"] is False and shoot["completed_at"] is None
    url = f"{SHOOTS}/{shoot['id']}"

    assert (await client.get(url, headers=me.headers)).json() == shoot
    listed = (await client.get(SHOOTS, headers=me.headers)).json()
    assert listed == {"items": [shoot], "next_cursor": None}

    response = await client.patch(
        url,
        json={"notes": None, "time": None, "amount": 900_00, "brand_name": "Acme GmbH"},
        headers=me.headers,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["notes"] is None and changed["time"] is None
    assert (changed["amount"], changed["currency"], changed["brand_name"]) == (
        900_00,
        "EUR",
        "Acme GmbH",
    )
    assert changed["location"] == shoot["location"]  # absent: unchanged

    # Amount and currency can be cleared together.
    response = await client.patch(url, json={"amount": None, "currency": None}, headers=me.headers)
    assert (response.json()["amount"], response.json()["currency"]) == (None, None)

    assert (await client.delete(url, headers=me.headers)).status_code == 204
    assert_problem(await client.get(url, headers=me.headers), 404, "shoot_not_found")
    assert await count(database, "shoots") == 0
    actions = await scalar(
        database,
        "SELECT array_agg(action ORDER BY created_at) FROM audit.audit_logs"
        " WHERE entity_type = 'shoot'",
    )
    assert actions == [
        "workspace.shoot.create",
        "workspace.shoot.update",
        "workspace.shoot.update",
        "workspace.shoot.delete",
    ]


async def test_upload_crud_and_completion(client: httpx.AsyncClient) -> None:
    me = await creator(client)
    upload = await create(client, me, UPLOADS, upload_body())
    assert (upload["platform"], upload["time"]) == ("instagram", "18:00:00")
    url = f"{UPLOADS}/{upload['id']}"
    response = await client.patch(
        url, json={"platform": "tiktok", "brand_name": None}, headers=me.headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["platform"], response.json()["brand_name"]) == ("tiktok", None)

    done = (await client.post(f"{url}/complete", headers=me.headers)).json()
    assert done["completed"] is True and done["completed_at"] is not None
    again = await client.post(f"{url}/complete", headers=me.headers)
    assert again.status_code == 200 and again.json()["completed_at"] == done["completed_at"]
    reopened = (await client.post(f"{url}/reopen", headers=me.headers)).json()
    assert reopened["completed"] is False and reopened["completed_at"] is None

    assert (await client.delete(url, headers=me.headers)).status_code == 204
    assert_problem(await client.get(url, headers=me.headers), 404, "upload_not_found")


async def test_another_creators_rows_are_not_found_and_unchanged(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner, other = await creator(client), await creator(client)
    shoot = await create(client, owner, SHOOTS, shoot_body())
    upload = await create(client, owner, UPLOADS, upload_body())

    for base, row, code, patch in (
        (SHOOTS, shoot, "shoot_not_found", {"notes": "mine now"}),
        (UPLOADS, upload, "upload_not_found", {"notes": "mine now"}),
    ):
        url = f"{base}/{row['id']}"
        assert_problem(await client.get(url, headers=other.headers), 404, code)
        assert_problem(await client.patch(url, json=patch, headers=other.headers), 404, code)
        assert_problem(await client.delete(url, headers=other.headers), 404, code)
        assert_problem(await client.post(f"{url}/complete", headers=other.headers), 404, code)
        assert_problem(await client.post(f"{url}/reopen", headers=other.headers), 404, code)
        assert (await client.get(base, headers=other.headers)).json()["items"] == []
        # The owner sees the row exactly as it was.
        assert (await client.get(url, headers=owner.headers)).json() == row

    assert await count(database, "shoots") == 1 and await count(database, "uploads") == 1


async def test_a_fan_needs_the_creator_role(client: httpx.AsyncClient, database: Database) -> None:
    fan = await account(client, roles=["fan"])
    for response in (
        await client.post(SHOOTS, json=shoot_body(), headers=fan.headers),
        await client.get(SHOOTS, headers=fan.headers),
        await client.post(UPLOADS, json=upload_body(), headers=fan.headers),
        await client.get(UPLOADS, headers=fan.headers),
    ):
        assert_problem(response, 403, "role_required")
    assert_problem(await client.post(SHOOTS, json=shoot_body()), 401, "not_authenticated")
    assert await count(database, "shoots") == 0 and await count(database, "uploads") == 0


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"date": "2031/06/15"}, "validation_error", "body.date"),
        ({"date": "20310615"}, "validation_error", "body.date"),
        ({"date": "2031-02-30"}, "validation_error", "body.date"),
        ({"date": 1_900_000_000}, "validation_error", "body.date"),
        ({"date": "2031-06-15T10:00:00"}, "validation_error", "body.date"),
        ({"date": "9999-12-31"}, "validation_error", "body.date"),
        ({"date": None}, "validation_error", "body.date"),
        ({"time": "25:00"}, "validation_error", "body.time"),
        ({"time": "10:00Z"}, "validation_error", "body.time"),
        ({"time": "10"}, "validation_error", "body.time"),
        ({"time": "10:30:00.5"}, "validation_error", "body.time"),
        ({"currency": None}, "currency_required", "body.currency"),
        ({"amount": None}, "amount_required", "body.amount"),
        ({"amount": -1}, "validation_error", "body.amount"),
        ({"amount": 12.5}, "validation_error", "body.amount"),
        ({"amount": "1250"}, "validation_error", "body.amount"),
        ({"currency": "XXX"}, "validation_error", "body.currency"),
        ({"currency": "eur"}, "validation_error", "body.currency"),
        ({"brand_name": ""}, "validation_error", "body.brand_name"),
        ({"brand_name": "x" * 101}, "validation_error", "body.brand_name"),
        ({"completed": True}, "validation_error", "body.completed"),
        ({"rating": 5}, "validation_error", "body.rating"),
    ],
)
async def test_shoot_validation(
    client: httpx.AsyncClient,
    database: Database,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    me = await creator(client)
    response = await client.post(SHOOTS, json=shoot_body(**overrides), headers=me.headers)
    assert_problem(response, 422, code, field)
    assert await count(database, "shoots") == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"platform": "myspace"}, "body.platform"),
        ({"platform": None}, "body.platform"),
        ({"date": "15.06.2031"}, "body.date"),
        ({"time": "6pm"}, "body.time"),
        ({"content_type": "x" * 51}, "body.content_type"),
    ],
)
async def test_upload_validation(
    client: httpx.AsyncClient, database: Database, overrides: dict[str, Any], field: str
) -> None:
    me = await creator(client)
    response = await client.post(UPLOADS, json=upload_body(**overrides), headers=me.headers)
    assert_problem(response, 422, "validation_error", field)
    assert await count(database, "uploads") == 0


@pytest.mark.parametrize(
    ("patch", "code", "field"),
    [
        ({"amount": None}, "amount_required", "body.amount"),
        ({"currency": None}, "currency_required", "body.currency"),
        ({"date": None}, "field_required", "body.date"),
        ({"brand_name": None}, "field_required", "body.brand_name"),
        ({"date": "tomorrow"}, "validation_error", "body.date"),
        ({"amount": -5}, "validation_error", "body.amount"),
        ({"completed": False}, "validation_error", "body.completed"),
    ],
)
async def test_refused_patch_changes_nothing(
    client: httpx.AsyncClient, patch: dict[str, Any], code: str, field: str
) -> None:
    me = await creator(client)
    shoot = await create(client, me, SHOOTS, shoot_body())
    url = f"{SHOOTS}/{shoot['id']}"
    # The valid part of the request must not be applied either.
    response = await client.patch(url, json={"notes": "changed", **patch}, headers=me.headers)
    assert_problem(response, 422, code, field)
    assert (await client.get(url, headers=me.headers)).json() == shoot


async def test_upload_patch_cannot_null_its_platform(client: httpx.AsyncClient) -> None:
    me = await creator(client)
    upload = await create(client, me, UPLOADS, upload_body())
    url = f"{UPLOADS}/{upload['id']}"
    response = await client.patch(url, json={"platform": None}, headers=me.headers)
    assert_problem(response, 422, "field_required", "body.platform")
    assert (await client.get(url, headers=me.headers)).json() == upload


async def _add_review_link(database: Database, shoot_id: str, user_id: str) -> str:
    link_id = await scalar(
        database,
        "INSERT INTO workspace.review_links (shoot_id, user_id, token_hash, expires_at)"
        " VALUES (CAST(:shoot AS uuid), CAST(:user AS uuid), gen_random_uuid()::text::bytea,"
        " now() + interval '7 days') RETURNING id",
        shoot=shoot_id,
        user=user_id,
    )
    return str(link_id)


async def test_completing_and_reopening_a_shoot(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await creator(client)
    shoot = await create(client, me, SHOOTS, shoot_body())
    url = f"{SHOOTS}/{shoot['id']}"

    done = await client.post(f"{url}/complete", headers=me.headers)
    assert done.status_code == 200, done.text
    assert done.json()["completed"] is True and done.json()["completed_at"] is not None
    # Idempotent: a retry answers 200 and keeps the first completion time.
    again = await client.post(f"{url}/complete", headers=me.headers)
    assert again.status_code == 200 and again.json() == done.json()
    listed = await client.get(SHOOTS, params={"completed": "true"}, headers=me.headers)
    assert [row["id"] for row in listed.json()["items"]] == [shoot["id"]]

    # Reopening revokes a live review link: only a completed shoot can be reviewed.
    link_id = await _add_review_link(database, shoot["id"], me.id)
    reopened = await client.post(f"{url}/reopen", headers=me.headers)
    assert reopened.status_code == 200 and reopened.json()["completed"] is False
    assert reopened.json()["completed_at"] is None
    assert await scalar(
        database,
        "SELECT revoked_at IS NOT NULL FROM workspace.review_links WHERE id = CAST(:id AS uuid)",
        id=link_id,
    )
    listed = await client.get(SHOOTS, params={"completed": "false"}, headers=me.headers)
    assert [row["id"] for row in listed.json()["items"]] == [shoot["id"]]
    assert (await client.post(f"{url}/reopen", headers=me.headers)).status_code == 200


async def test_a_reviewed_shoot_stays_completed_and_cannot_be_deleted(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await creator(client)
    shoot = await create(client, me, SHOOTS, shoot_body())
    url = f"{SHOOTS}/{shoot['id']}"
    done = (await client.post(f"{url}/complete", headers=me.headers)).json()
    link_id = await _add_review_link(database, shoot["id"], me.id)
    await scalar(
        database,
        "INSERT INTO workspace.reviews (shoot_id, user_id, review_link_id, client_number,"
        " client_email, rating, review_text) VALUES (CAST(:shoot AS uuid), CAST(:user AS uuid),"
        " CAST(:link AS uuid), '+4930123', 'client@example.com', 5, 'Great shoot') RETURNING id",
        shoot=shoot["id"],
        user=me.id,
        link=link_id,
    )
    assert_problem(await client.post(f"{url}/reopen", headers=me.headers), 409, "shoot_has_review")
    assert_problem(await client.delete(url, headers=me.headers), 409, "shoot_has_review")
    after = (await client.get(url, headers=me.headers)).json()
    # Unchanged but for the review state, which now says what the client did.
    assert {**after, "review": done["review"]} == done
    assert done["review"]["state"] == "none"
    assert after["review"]["state"] == "reviewed"
    assert await count(database, "reviews") == 1


async def test_listing_by_date_window_and_pages(client: httpx.AsyncClient) -> None:
    me, other = await creator(client), await creator(client)
    plan = [
        ("2031-06-02", "09:00"),
        ("2031-06-01", None),
        ("2031-06-01", "14:00"),
        ("2031-06-01", "08:00"),
        ("2031-06-03", None),
        ("2031-07-01", "12:00"),
    ]
    ids = {}
    for day, at in plan:
        ids[(day, at)] = (await create(client, me, SHOOTS, shoot_body(date=day, time=at)))["id"]
    await create(client, other, SHOOTS, shoot_body(date="2031-06-01"))
    expected = [
        ids[key]
        for key in [
            ("2031-06-01", None),  # no time: first on its day
            ("2031-06-01", "08:00"),
            ("2031-06-01", "14:00"),
            ("2031-06-02", "09:00"),
            ("2031-06-03", None),
        ]
    ]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"from": "2031-06-01", "to": "2031-06-30", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(SHOOTS, params=params, headers=me.headers)).json()
        seen += [row["id"] for row in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and pages == 3

    everything = (await client.get(SHOOTS, headers=me.headers)).json()["items"]
    assert len(everything) == len(plan)
    late = await client.get(SHOOTS, params={"from": "2031-06-03"}, headers=me.headers)
    assert [row["date"] for row in late.json()["items"]] == ["2031-06-03", "2031-07-01"]

    response = await client.get(
        SHOOTS, params={"from": "2031-06-10", "to": "2031-06-01"}, headers=me.headers
    )
    assert_problem(response, 422, "invalid_date_range", "query.to")
    response = await client.get(SHOOTS, params={"from": "June 1"}, headers=me.headers)
    assert_problem(response, 422, "validation_error", "query.from")
    response = await client.get(UPLOADS, params={"to": "2031-13-01"}, headers=me.headers)
    assert_problem(response, 422, "validation_error", "query.to")
    response = await client.get(SHOOTS, params={"cursor": "garbage!"}, headers=me.headers)
    assert_problem(response, 400, "invalid_cursor")
