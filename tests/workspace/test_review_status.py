"""A shoot's review state (seed 001, review workflow step 4: "the influencer sees the review
status on Completed Shoots").

`review_link_generated_at` alone cannot say what became of a link; each shoot carries
`review.state`: `none`, `link_open` (until when), `reviewed` (hidden or published),
`link_expired`, `link_revoked`, the same in the shoot, the list and the calendar view, and a
page of shoots reads it in the statement that reads the shoots.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import event

from creatorhub.db import Database
from helpers import Account, scalar
from review_helpers import creator, review_form, review_link, reviews_of, shoot

SHOOTS = "/v1/workspace/shoots"
DAY = "2025-05-01"


def state(
    name: str,
    *,
    until: str | None = None,
    review_id: str | None = None,
    published: bool | None = None,
) -> dict[str, Any]:
    return {
        "state": name,
        "link_expires_at": until,
        "review_id": review_id,
        "published": published,
    }


async def review_of(client: httpx.AsyncClient, me: Account, shoot_id: str) -> dict[str, Any]:
    """The shoot's review state, checked to be the same in all three places that show it."""
    one = await client.get(f"{SHOOTS}/{shoot_id}", headers=me.headers)
    assert one.status_code == 200, one.text
    listed = await client.get(SHOOTS, headers=me.headers)
    assert listed.status_code == 200, listed.text
    (in_list,) = [s for s in listed.json()["items"] if s["id"] == shoot_id]
    view = await client.get(
        "/v1/workspace/calendar", params={"from": DAY, "to": DAY}, headers=me.headers
    )
    assert view.status_code == 200, view.text
    (in_view,) = [s for s in view.json()["shoots"] if s["id"] == shoot_id]
    review: dict[str, Any] = one.json()["review"]
    assert in_list["review"] == review
    assert in_view["review"] == review
    return review


def same_instant(left: str | None, right: str | None) -> bool:
    assert left is not None and right is not None
    return datetime.fromisoformat(left) == datetime.fromisoformat(right)


async def test_a_shoot_goes_through_every_review_state(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me, completed=False, day=DAY)
    assert await review_of(client, me, shoot_id) == state("none")

    await client.post(f"{SHOOTS}/{shoot_id}/complete", headers=me.headers)
    assert await review_of(client, me, shoot_id) == state("none")

    # Open: until the link's expiry, as the link's own answer said.
    _, _, first = await review_link(client, me, shoot_id)
    opened = await review_of(client, me, shoot_id)
    assert opened["state"] == "link_open"
    assert same_instant(opened["link_expires_at"], first["expires_at"])
    assert opened == state("link_open", until=opened["link_expires_at"])

    # Revoked by hand.
    revoked = await client.delete(f"{SHOOTS}/{shoot_id}/review-link", headers=me.headers)
    assert revoked.status_code == 204
    assert await review_of(client, me, shoot_id) == state("link_revoked")

    # A new link opens it again; its lifetime passes unused.
    _, _, second = await review_link(client, me, shoot_id)
    assert (await review_of(client, me, shoot_id))["state"] == "link_open"
    # A month passes (moved in the database: both links were made a month earlier).
    await scalar(
        database,
        "UPDATE workspace.review_links SET created_at = created_at - interval '31 days',"
        " expires_at = CASE WHEN revoked_at IS NULL THEN now() - interval '1 day'"
        " ELSE expires_at - interval '31 days' END"
        " WHERE shoot_id = CAST(:s AS uuid) RETURNING id",
        s=shoot_id,
    )
    expired = await review_of(client, me, shoot_id)
    assert expired["state"] == "link_expired"
    assert expired == state("link_expired", until=expired["link_expires_at"])
    assert not same_instant(expired["link_expires_at"], second["expires_at"])  # moved above

    # Another link, which the client uses: reviewed, hidden until published.
    path, _, _ = await review_link(client, me, shoot_id)
    assert (await client.post(path, data=review_form())).status_code == 200
    (review,) = await reviews_of(client, me)
    assert await review_of(client, me, shoot_id) == state(
        "reviewed", review_id=review["id"], published=False
    )
    published = await client.post(
        f"/v1/workspace/reviews/{review['id']}/publish", headers=me.headers
    )
    assert published.status_code == 200, published.text
    assert await review_of(client, me, shoot_id) == state(
        "reviewed", review_id=review["id"], published=True
    )
    hidden = await client.post(f"/v1/workspace/reviews/{review['id']}/hide", headers=me.headers)
    assert hidden.status_code == 200, hidden.text
    assert await review_of(client, me, shoot_id) == state(
        "reviewed", review_id=review["id"], published=False
    )
    # The seed's column still says when the link that took the review was made.
    one = (await client.get(f"{SHOOTS}/{shoot_id}", headers=me.headers)).json()
    assert one["review_link_generated_at"] is not None


async def test_reopening_a_shoot_revokes_its_open_link(client: httpx.AsyncClient) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me, day=DAY)
    await review_link(client, me, shoot_id)
    reopened = await client.post(f"{SHOOTS}/{shoot_id}/reopen", headers=me.headers)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["review"] == state("link_revoked")
    assert await review_of(client, me, shoot_id) == state("link_revoked")
    completed = await client.post(f"{SHOOTS}/{shoot_id}/complete", headers=me.headers)
    assert completed.json()["review"] == state("link_revoked")


async def test_answers_of_changes_carry_the_state(client: httpx.AsyncClient) -> None:
    me, _ = await creator(client)
    created = await client.post(
        SHOOTS, json={"date": DAY, "brand_name": "Acme"}, headers=me.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["review"] == state("none")
    shoot_id = created.json()["id"]
    await client.post(f"{SHOOTS}/{shoot_id}/complete", headers=me.headers)
    await review_link(client, me, shoot_id)
    patched = await client.patch(
        f"{SHOOTS}/{shoot_id}", json={"notes": "two looks"}, headers=me.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["review"]["state"] == "link_open"


async def test_each_shoot_has_its_own_state(client: httpx.AsyncClient) -> None:
    """Five shoots in five states, listed together: no shoot takes another's link or review."""
    me, _ = await creator(client)
    other, _ = await creator(client)
    untouched = await shoot(client, me, day=DAY)
    opened = await shoot(client, me, day=DAY)
    await review_link(client, me, opened)
    revoked = await shoot(client, me, day=DAY)
    await review_link(client, me, revoked)
    await client.delete(f"{SHOOTS}/{revoked}/review-link", headers=me.headers)
    reviewed = await shoot(client, me, day=DAY)
    path, _, _ = await review_link(client, me, reviewed)
    assert (await client.post(path, data=review_form())).status_code == 200
    # Another creator's open link on the same day changes nothing of these.
    await review_link(client, other, await shoot(client, other, day=DAY))

    listed = (await client.get(SHOOTS, headers=me.headers)).json()["items"]
    states = {item["id"]: item["review"]["state"] for item in listed}
    assert states == {
        untouched: "none",
        opened: "link_open",
        revoked: "link_revoked",
        reviewed: "reviewed",
    }


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements the app runs while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_page_of_shoots_reads_their_states_in_one_statement(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    first = await shoot(client, me, day=DAY)
    await review_link(client, me, first)
    with statements(database) as one_shoot:
        response = await client.get(SHOOTS, headers=me.headers)
    assert [s["review"]["state"] for s in response.json()["items"]] == ["link_open"]

    for _ in range(5):
        await review_link(client, me, await shoot(client, me, day=DAY))
    with statements(database) as six_shoots:
        response = await client.get(SHOOTS, headers=me.headers)
    assert [s["review"]["state"] for s in response.json()["items"]] == ["link_open"] * 6
    # As many statements for six shoots as for one, and none of them reads review links apart.
    assert len(six_shoots) == len(one_shoot)
    reading_links = [sql for sql in six_shoots if "review_links" in sql]
    assert len(reading_links) == 1
    assert "workspace.shoots" in reading_links[0]
