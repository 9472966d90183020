"""Review links and client reviews (seed 001's review-link workflow).

Opening a link must change nothing (mail scanners open links); only the form's POST records,
once per shoot. Tokens carry 256 random bits, are stored as hashes, expire, can be revoked and
regenerated. Another user's shoot or review is a 404; refused requests change nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import string
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conftest import make_settings
from creatorhub.app import create_app
from creatorhub.db import Database
from creatorhub.kit.pagination import encode_cursor
from creatorhub.workspace import reviews
from creatorhub.workspace.reviews_schemas import check_review_form
from helpers import Account, account, assert_problem, grant_roles, scalar
from review_helpers import creator, review_form, review_link, reviews_of, shoot

TOKEN = re.compile(r"^review_(\d{10})_([A-Za-z0-9_\-]{43})$")
URL_SAFE = set(string.ascii_letters + string.digits + "-_")


async def state(database: Database) -> str:
    """Every row the review workflow could touch, as text: equal before and after = no change."""
    return str(
        await scalar(
            database,
            "SELECT json_build_array("
            " (SELECT coalesce(json_agg(l ORDER BY l.id), '[]') FROM workspace.review_links l),"
            " (SELECT coalesce(json_agg(r ORDER BY r.id), '[]') FROM workspace.reviews r),"
            " (SELECT coalesce(json_agg(s ORDER BY s.id), '[]') FROM workspace.shoots s),"
            " (SELECT count(*) FROM audit.audit_logs))::text",
        )
    )


async def review_count(database: Database) -> int:
    return int(await scalar(database, "SELECT count(*) FROM workspace.reviews"))


async def reviewed(client: httpx.AsyncClient, me: Account) -> tuple[str, str]:
    """A completed shoot with a submitted review: (shoot id, review id)."""
    shoot_id = await shoot(client, me)
    path, _, _ = await review_link(client, me, shoot_id)
    done = await client.post(path, data=review_form())
    assert done.status_code == 200, done.text
    items = await reviews_of(client, me)
    return shoot_id, next(i["id"] for i in items if i["shoot"]["id"] == shoot_id)


# --- tokens ---------------------------------------------------------------------------------


def test_token_carries_at_least_128_random_bits() -> None:
    now = datetime.now(UTC)
    tokens = [reviews.new_review_token(now) for _ in range(20_000)]
    assert len(set(tokens)) == len(tokens)
    randoms = []
    for token in tokens:
        match = TOKEN.match(token)
        assert match, token
        assert int(match.group(1)) == int(now.timestamp())  # the seed's review_[timestamp]_…
        assert reviews.TOKEN_SHAPE.match(token)
        randoms.append(match.group(2))
    # 43 characters of a 64-letter alphabet encode the 32 random bytes: 256 bits of entropy.
    assert reviews.TOKEN_RANDOM_BITS >= 128
    assert all(len(r) == 43 and set(r) <= URL_SAFE for r in randoms)
    assert reviews.TOKEN_RANDOM_BITS <= 43 * 6
    # Every letter of the alphabet occurs, at every position but the last (which holds 4 bits).
    letters = set("".join(randoms))
    assert letters == URL_SAFE
    for position in (0, 21, 41):
        assert len({r[position] for r in randoms}) == 64
    # No two of 20 000 random parts share even their first 8 characters (48 bits).
    assert len({r[:8] for r in randoms}) == len(randoms)


async def test_link_is_shown_once_and_stored_as_a_hash(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me)
    before = datetime.now(UTC)
    _, token, body = await review_link(client, me, shoot_id)
    shape = TOKEN.match(token)
    assert shape, token
    assert body["url"] == f"http://testserver/review/{token}"
    assert body["shoot_id"] == shoot_id
    # Expires after the default 30 days.
    expires = datetime.fromisoformat(body["expires_at"])
    created = datetime.fromisoformat(body["created_at"])
    assert expires - created == timedelta(days=30)
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC)
    stored = await scalar(database, "SELECT token_hash FROM workspace.review_links")
    assert bytes(stored) == hashlib.sha256(token.encode()).digest()
    dump = await state(database)
    # The random part is matched whole: it may itself contain "_".
    assert token not in dump and shape.group(2) not in dump
    got = await client.get(f"/v1/workspace/shoots/{shoot_id}", headers=me.headers)
    assert got.json()["review_link_generated_at"] is not None


async def test_links_of_one_shoot_are_all_different(client: httpx.AsyncClient) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me)
    tokens = {(await review_link(client, me, shoot_id))[1] for _ in range(25)}
    assert len(tokens) == 25


@pytest.fixture
async def short_lived_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, review_link_ttl_days=7)
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_lifetime_is_a_setting(short_lived_client: httpx.AsyncClient) -> None:
    me, _ = await creator(short_lived_client)
    shoot_id = await shoot(short_lived_client, me)
    _, _, body = await review_link(short_lived_client, me, shoot_id)
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
        body["created_at"]
    )
    assert lifetime == timedelta(days=7)


async def test_link_expires_after_30_days(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me)
    path, _, body = await review_link(client, me, shoot_id)
    created = datetime.fromisoformat(body["created_at"])

    monkeypatch.setattr(reviews, "utcnow", lambda: created + timedelta(days=30, seconds=-1))
    assert (await client.get(path)).status_code == 200

    monkeypatch.setattr(reviews, "utcnow", lambda: created + timedelta(days=30))
    before = await state(database)
    page = await client.get(path)
    assert page.status_code == 410 and "has expired" in page.text
    posted = await client.post(path, data=review_form())
    assert posted.status_code == 410 and "has expired" in posted.text
    assert await state(database) == before
    assert await review_count(database) == 0


# --- generating and revoking ----------------------------------------------------------------


async def test_only_completed_shoots_get_links(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me, completed=False)
    before = await state(database)
    r = await client.post(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers)
    assert_problem(r, 409, "shoot_not_completed")
    assert await state(database) == before


async def test_regenerating_revokes_the_live_link(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me)
    first, _, _ = await review_link(client, me, shoot_id)
    second, _, _ = await review_link(client, me, shoot_id)
    page = await client.get(first)
    assert page.status_code == 410 and "withdrawn" in page.text
    assert (await client.post(first, data=review_form())).status_code == 410
    assert (await client.get(second)).status_code == 200
    live = await scalar(
        database,
        "SELECT count(*) FROM workspace.review_links WHERE revoked_at IS NULL AND used_at IS NULL",
    )
    assert live == 1

    r = await client.delete(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers)
    assert r.status_code == 204
    assert (await client.get(second)).status_code == 410
    got = await client.get(f"/v1/workspace/shoots/{shoot_id}", headers=me.headers)
    assert got.json()["review_link_generated_at"] is None
    before = await state(database)
    again = await client.delete(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers)
    assert_problem(again, 404, "review_link_not_found")
    assert await state(database) == before
    # A revoked link can be replaced.
    third, _, _ = await review_link(client, me, shoot_id)
    assert (await client.get(third)).status_code == 200


async def test_someone_elses_shoot_is_not_found(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    other, _ = await creator(client)
    fan = await account(client, roles=["fan"])
    shoot_id = await shoot(client, me)
    await review_link(client, me, shoot_id)
    before = await state(database)
    for method in ("POST", "DELETE"):
        url = f"/v1/workspace/shoots/{shoot_id}/review-link"
        assert_problem(
            await client.request(method, url, headers=other.headers), 404, "shoot_not_found"
        )
        assert_problem(await client.request(method, url, headers=fan.headers), 403, "role_required")
        assert_problem(await client.request(method, url), 401, "not_authenticated")
    missing = "/v1/workspace/shoots/00000000-0000-4000-8000-000000000000/review-link"
    assert_problem(await client.post(missing, headers=me.headers), 404, "shoot_not_found")
    assert await state(database) == before


# --- opening and submitting -----------------------------------------------------------------


async def test_opening_the_link_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client, display_name="Sarah Snaps")
    shoot_id = await shoot(client, me, brand_name="Acme Studio", day="2025-05-01")
    path, token, _ = await review_link(client, me, shoot_id)
    before = await state(database)
    for _ in range(3):  # a mail scanner, a preview, then the client
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "Review your shoot with Sarah Snaps" in page.text
        assert "Acme Studio" in page.text and "1 May 2025" in page.text
        assert f'action="/review/{token}"' in page.text and 'method="post"' in page.text
        for field in ('name="phone"', 'name="email"', 'name="rating"', 'name="review_text"'):
            assert field in page.text
        assert '<html lang="en">' in page.text and 'name="viewport"' in page.text
        assert '<main id="main"' in page.text and '<label for="phone">' in page.text
    assert await state(database) == before
    assert await review_count(database) == 0


async def test_review_is_recorded_once(client: httpx.AsyncClient, database: Database) -> None:
    me, _ = await creator(client, display_name="Sarah Snaps")
    shoot_id = await shoot(client, me)
    path, _, _ = await review_link(client, me, shoot_id)
    text = "Great work!\r\nWould book again."
    done = await client.post(path, data=review_form(rating="4", review_text=text))
    assert done.status_code == 200, done.text
    assert "Thank you for your review" in done.text and "Sarah Snaps" in done.text
    assert 'aria-label="4 out of 5 stars"' in done.text
    row = await scalar(
        database,
        "SELECT json_build_object('n', r.client_number, 'e', r.client_email, 'r', r.rating,"
        " 't', r.review_text, 'p', r.is_published, 'used', l.used_at IS NOT NULL,"
        " 'same_link', r.review_link_id = l.id, 'user', r.user_id::text)"
        " FROM workspace.reviews r JOIN workspace.review_links l ON l.shoot_id = r.shoot_id",
    )
    assert row == {
        "n": "+44 (20) 7946-0958",
        "e": "Client@example.com",  # the domain normalised, the local part as typed
        "r": 4,
        "t": "Great work!\nWould book again.",
        "p": False,  # hidden until the creator publishes it
        "used": True,
        "same_link": True,
        "user": me.id,
    }

    # The used link: opening it says so (410); sending it again is a second review (409).
    page = await client.get(path)
    assert page.status_code == 410 and "already sent" in page.text
    before = await state(database)
    again = await client.post(path, data=review_form(rating="1", review_text="Changed my mind"))
    assert again.status_code == 409 and "already has a review" in again.text
    # No new link for a reviewed shoot, and none to revoke.
    r = await client.post(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers)
    assert_problem(r, 409, "already_reviewed")
    r = await client.delete(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers)
    assert_problem(r, 404, "review_link_not_found")
    assert await state(database) == before
    assert await review_count(database) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rating", "0", "Choose a rating from 1 to 5"),
        ("rating", "6", "Choose a rating from 1 to 5"),
        ("rating", "4.5", "Choose a rating from 1 to 5"),
        ("rating", "five", "Choose a rating from 1 to 5"),
        ("rating", "", "Choose a rating from 1 to 5"),
        ("rating", "٣", "Choose a rating from 1 to 5"),  # an Arabic-Indic digit three
        ("email", "", "Enter your e-mail address"),
        ("email", "not-an-address", "Enter a valid e-mail address"),
        ("email", "client@", "Enter a valid e-mail address"),
        ("email", "a@b", "Enter a valid e-mail address"),
        ("email", "x" * 250 + "@example.com", "at most 254 characters"),
        ("phone", "", "Enter your phone number"),
        ("phone", "12345", "Enter a phone number of 7 to 15 digits"),
        ("phone", "call me maybe", "Enter a phone number of 7 to 15 digits"),
        ("phone", "555-0100 ext 2", "Enter a phone number of 7 to 15 digits"),
        ("phone", "1234567890123456", "Enter a phone number of 7 to 15 digits"),
        ("phone", "+1 (555) 010-0100-999999", "Enter a phone number of 7 to 15 digits"),
        ("phone", "12+3456789", "Enter a phone number of 7 to 15 digits"),
        ("phone", "-- -- -- --", "Enter a phone number of 7 to 15 digits"),
        ("review_text", "", "Write a few words"),
        ("review_text", " \r\n ", "Write a few words"),
        ("review_text", "x" * 5001, "at most 5000 fit"),
        ("review_text", "nul\x00byte", "must not contain NUL"),
    ],
)
async def test_bad_input_shows_the_form_again(
    client: httpx.AsyncClient, database: Database, field: str, value: str, message: str
) -> None:
    me, _ = await creator(client)
    path, token, _ = await review_link(client, me, await shoot(client, me))
    before = await state(database)
    data = {**review_form(review_text="<b>kept</b> & typed"), field: value}
    page = await client.post(path, data=data)
    assert page.status_code == 422, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert message in page.text
    assert 'role="alert"' in page.text and 'aria-invalid="true"' in page.text
    assert f'action="/review/{token}"' in page.text
    if field != "review_text":
        # What was typed is kept, escaped.
        assert "&lt;b&gt;kept&lt;/b&gt; &amp; typed" in page.text
    assert await state(database) == before
    # The link still works.
    assert (await client.post(path, data=review_form())).status_code == 200


async def test_edges_that_are_accepted(client: httpx.AsyncClient, database: Database) -> None:
    me, _ = await creator(client)
    cases = [
        {"phone": "5550100", "rating": "1", "review_text": "x"},
        {"phone": "+(351) 912-345-678", "rating": " 3 ", "review_text": "y" * 5000},
        {"phone": "123456789012345", "rating": "5", "review_text": "é" * 4999 + "\r\n"},
    ]
    for case in cases:
        path, _, _ = await review_link(client, me, await shoot(client, me))
        page = await client.post(path, data=review_form(**case))
        assert page.status_code == 200, (case, page.text)
    lengths = await scalar(
        database,
        "SELECT array_agg(length(review_text) ORDER BY length(review_text)) FROM workspace.reviews",
    )
    assert lengths == [1, 4999, 5000]


def test_form_check_normalises() -> None:
    form, errors = check_review_form(" +1 555 010 0100 ", " a@EXAMPLE.org ", "2", " hi \r\n ")
    assert errors == {}
    assert form is not None
    assert (form.client_number, form.client_email, form.rating, form.review_text) == (
        "+1 555 010 0100",
        "a@example.org",
        2,
        "hi",
    )
    form, errors = check_review_form("", "", "", "")
    assert form is None and set(errors) == {"phone", "email", "rating", "text"}


@pytest.mark.parametrize(
    "token",
    [
        "review_1700000000_" + "A" * 43,  # well formed, never issued
        "review_1700000000_" + "A" * 42,
        "nonsense",
        "che_" + "B" * 43,
        "%3Cscript%3Ealert(1)%3C%5Cscript%3E",
        "review_1_" + "A" * 400,
    ],
)
async def test_unknown_links_get_a_404_page(
    client: httpx.AsyncClient, database: Database, token: str
) -> None:
    before = await state(database)
    for method in ("GET", "POST"):
        page = await client.request(
            method, f"/review/{token}", data=review_form() if method == "POST" else None
        )
        assert page.status_code == 404, (method, page.text)
        assert "not valid" in page.text
        assert "<script>alert(1)" not in page.text
    assert await state(database) == before


async def test_cross_site_posts_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    me, _ = await creator(client)
    path, _, _ = await review_link(client, me, await shoot(client, me))
    before = await state(database)
    page = await client.post(path, data=review_form(), headers={"Sec-Fetch-Site": "cross-site"})
    assert page.status_code == 403
    assert await state(database) == before
    same = await client.post(path, data=review_form(), headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


async def test_reopened_shoot_takes_no_review(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    shoot_id = await shoot(client, me)
    path, _, _ = await review_link(client, me, shoot_id)
    r = await client.post(f"/v1/workspace/shoots/{shoot_id}/reopen", headers=me.headers)
    assert r.status_code == 200, r.text
    # Reopening withdraws the link (workspace.service.reopen).
    for method in ("GET", "POST"):
        page = await client.request(method, path, data=review_form() if method == "POST" else None)
        assert page.status_code == 410 and "withdrawn" in page.text
    # Even a link that stayed live (as before that rule) takes no review of an open shoot.
    await scalar(database, "UPDATE workspace.review_links SET revoked_at = NULL RETURNING 1")
    before = await state(database)
    page = await client.post(path, data=review_form())
    assert page.status_code == 409 and "cannot be reviewed now" in page.text
    assert await state(database) == before
    r = await client.post(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers)
    assert_problem(r, 409, "shoot_not_completed")


# --- races ----------------------------------------------------------------------------------


async def test_concurrent_submissions_record_one_review(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    path, _, _ = await review_link(client, me, await shoot(client, me))
    pages = await asyncio.gather(
        *(client.post(path, data=review_form(rating=str(1 + i % 5))) for i in range(8))
    )
    statuses = sorted(page.status_code for page in pages)
    assert statuses == [200] + [409] * 7
    assert await review_count(database) == 1


async def test_submission_racing_regeneration_stays_consistent(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    for _ in range(5):
        shoot_id = await shoot(client, me)
        path, _, _ = await review_link(client, me, shoot_id)
        posted, regenerated = await asyncio.gather(
            client.post(path, data=review_form()),
            client.post(f"/v1/workspace/shoots/{shoot_id}/review-link", headers=me.headers),
        )
        if posted.status_code == 200:
            assert_problem(regenerated, 409, "already_reviewed")
        else:
            assert posted.status_code == 410 and regenerated.status_code == 201
        live = await scalar(
            database,
            "SELECT count(*) FROM workspace.review_links l WHERE l.shoot_id = CAST(:s AS uuid)"
            " AND l.revoked_at IS NULL AND l.used_at IS NULL"
            " AND EXISTS (SELECT FROM workspace.reviews r WHERE r.shoot_id = l.shoot_id)",
            s=shoot_id,
        )
        assert live == 0  # never a usable link for a reviewed shoot


# --- the creator's list, publishing ---------------------------------------------------------


async def test_creator_lists_and_publishes_their_reviews(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    other, _ = await creator(client)
    shoot_id, review_id = await reviewed(client, me)
    other_shoot, other_review = await reviewed(client, other)

    items = await reviews_of(client, me)
    assert [i["id"] for i in items] == [review_id]
    item = items[0]
    assert item["shoot"]["id"] == shoot_id and item["shoot"]["brand_name"] == "Acme Studio"
    assert item["client_email"] == "Client@example.com" and item["rating"] == 5
    assert item["is_published"] is False and item["published_at"] is None

    published = await client.post(f"/v1/workspace/reviews/{review_id}/publish", headers=me.headers)
    assert published.status_code == 200, published.text
    assert published.json()["is_published"] is True and published.json()["published_at"]
    assert [i["id"] for i in await reviews_of(client, me, published="true")] == [review_id]
    assert await reviews_of(client, me, published="false") == []
    # Publishing twice changes nothing.
    before = await state(database)
    again = await client.post(f"/v1/workspace/reviews/{review_id}/publish", headers=me.headers)
    assert again.json()["published_at"] == published.json()["published_at"]
    assert await state(database) == before

    hidden = await client.post(f"/v1/workspace/reviews/{review_id}/hide", headers=me.headers)
    assert hidden.json()["is_published"] is False and hidden.json()["published_at"] is None
    actions = await scalar(
        database,
        "SELECT array_agg(action ORDER BY created_at) FROM audit.audit_logs WHERE entity_id = :id",
        id=review_id,
    )
    assert actions == ["review.submitted", "review.published", "review.hidden"]
    assert other_review not in {i["id"] for i in items} and other_shoot != shoot_id


async def test_only_the_creator_or_an_admin_publishes(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, _ = await creator(client)
    other, _ = await creator(client)
    fan = await account(client, roles=["fan"])
    moderator = await account(client)
    await grant_roles(database, moderator.id, "moderator")
    _, review_id = await reviewed(client, me)
    before = await state(database)
    for action in ("publish", "hide"):
        url = f"/v1/workspace/reviews/{review_id}/{action}"
        for stranger in (other, fan, moderator):
            assert_problem(
                await client.post(url, headers=stranger.headers), 404, "review_not_found"
            )
        assert_problem(await client.post(url), 401, "not_authenticated")
    missing = "/v1/workspace/reviews/00000000-0000-4000-8000-000000000000/publish"
    assert_problem(await client.post(missing, headers=me.headers), 404, "review_not_found")
    assert await state(database) == before
    assert await reviews_of(client, other) == []
    assert_problem(
        await client.get("/v1/workspace/reviews", headers=fan.headers), 403, "role_required"
    )

    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    r = await client.post(f"/v1/workspace/reviews/{review_id}/publish", headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_published"] is True
    actor = await scalar(
        database,
        "SELECT actor_id::text FROM audit.audit_logs WHERE action = 'review.published'",
    )
    assert actor == admin.id


async def test_review_list_pages(client: httpx.AsyncClient) -> None:
    me, _ = await creator(client)
    ids = [(await reviewed(client, me))[1] for _ in range(3)]
    first = await client.get("/v1/workspace/reviews", params={"limit": 2}, headers=me.headers)
    body: dict[str, Any] = first.json()
    assert [i["id"] for i in body["items"]] == ids[::-1][:2]
    rest = await client.get(
        "/v1/workspace/reviews",
        params={"limit": 2, "cursor": body["next_cursor"]},
        headers=me.headers,
    )
    assert [i["id"] for i in rest.json()["items"]] == ids[:1]
    assert rest.json()["next_cursor"] is None
    bad = await client.get(
        "/v1/workspace/reviews", params={"cursor": "nonsense!"}, headers=me.headers
    )
    assert_problem(bad, 400, "invalid_cursor")
    far = encode_cursor(datetime(2000, 1, 1, tzinfo=UTC), uuid.uuid4())
    assert (
        await client.get("/v1/workspace/reviews", params={"cursor": far}, headers=me.headers)
    ).json()["items"] == []
