"""The public portfolio (seed 001 `profiles`): its address rules, its page and its JSON.

It shows the profile, the connected platforms with the follower counts they reported, the
published reviews with their average, and an honest way to get in touch; never a client's or
the creator's private details.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from creatorhub.db import Database
from creatorhub.identity.service.profiles import RESERVED_SLUGS
from creatorhub.workspace.portfolio import budget_text, format_minor
from creatorhub.workspace.reviews_schemas import BudgetOut
from helpers import account, assert_problem, grant_roles, scalar
from review_helpers import creator, review_form, review_link, shoot

PROFILE = {"slug": "nora-frames", "categories": ["Travel"]}


async def add_connection(
    database: Database,
    user_id: str,
    platform: str,
    followers: int | None,
    *,
    username: str = "sarah.snaps",
    status: str = "active",
) -> None:
    """A connected account as the OAuth flow leaves it (tokens are opaque bytes here)."""
    await scalar(
        database,
        "INSERT INTO social.credentials (user_id, platform, platform_user_id, username,"
        " access_token, key_id, status, follower_count, follower_count_at)"
        " VALUES (CAST(:user_id AS uuid), :platform, :pid, :username, '\\x00'::bytea, 'k1',"
        " :status, :followers, CASE WHEN CAST(:followers AS bigint) IS NULL THEN NULL"
        " ELSE TIMESTAMPTZ '2025-06-01 12:00Z' END) RETURNING 1",
        user_id=user_id,
        platform=platform,
        pid=f"{platform}-{user_id}",
        username=username,
        status=status,
        followers=followers,
    )


async def submit(client: httpx.AsyncClient, me: Any, rating: int, text: str) -> str:
    path, _, _ = await review_link(client, me, await shoot(client, me))
    page = await client.post(path, data=review_form(rating=str(rating), review_text=text))
    assert page.status_code == 200, page.text
    r = await client.get("/v1/workspace/reviews", params={"limit": 1}, headers=me.headers)
    review_id: str = r.json()["items"][0]["id"]
    return review_id


async def publish(client: httpx.AsyncClient, me: Any, review_id: str) -> None:
    r = await client.post(f"/v1/workspace/reviews/{review_id}/publish", headers=me.headers)
    assert r.status_code == 200, r.text


# --- the profile address --------------------------------------------------------------------


@pytest.mark.parametrize(
    "slug", ["admin", "api", "portfolio", "review", "www", "login", "static", "docs", "support"]
)
async def test_reserved_addresses_are_refused(
    client: httpx.AsyncClient, database: Database, slug: str
) -> None:
    assert slug in RESERVED_SLUGS
    me = await account(client, roles=["creator"])
    before = await scalar(database, "SELECT count(*) FROM identity.creator_profiles")
    r = await client.put("/v1/me/creator-profile", json={"slug": slug}, headers=me.headers)
    assert_problem(r, 422, "slug_reserved", field="body.slug")
    assert await scalar(database, "SELECT count(*) FROM identity.creator_profiles") == before


@pytest.mark.parametrize(
    "slug", ["Admin", "ab", "-sarah", "sarah-", "sarah snaps", "sarah_snaps", "sära", "x" * 51, ""]
)
async def test_malformed_addresses_are_refused(
    client: httpx.AsyncClient, database: Database, slug: str
) -> None:
    me = await account(client, roles=["creator"])
    r = await client.put("/v1/me/creator-profile", json={"slug": slug}, headers=me.headers)
    assert_problem(r, 422, "validation_error", field="body.slug")
    assert await scalar(database, "SELECT count(*) FROM identity.creator_profiles") == 0


async def test_taken_address_is_refused_and_nothing_changes(client: httpx.AsyncClient) -> None:
    first, slug = await creator(client)
    second, own = await creator(client)
    r = await client.put(
        "/v1/me/creator-profile",
        json={"slug": slug, "categories": ["Food"]},
        headers=second.headers,
    )
    assert_problem(r, 409, "slug_taken", field="body.slug")
    me = (await client.get("/v1/me", headers=second.headers)).json()
    assert me["creator_profile"]["slug"] == own
    assert me["creator_profile"]["categories"] == ["Fashion", "Lifestyle"]
    # A reserved word is refused for an existing profile too, which keeps its address.
    r = await client.put("/v1/me/creator-profile", json={"slug": "admin"}, headers=first.headers)
    assert_problem(r, 422, "slug_reserved")
    assert (await client.get(f"/v1/portfolio/{slug}")).status_code == 200


# --- the portfolio --------------------------------------------------------------------------


async def test_portfolio_shows_profile_platforms_and_published_reviews(
    client: httpx.AsyncClient, database: Database
) -> None:
    me, slug = await creator(
        client,
        display_name="Sarah Snaps",
        profile={"photo_url": "https://img.example.com/sarah.jpg"},
    )
    await add_connection(database, me.id, "instagram", 12_345)
    await add_connection(database, me.id, "youtube", None, username="sarahsnaps")
    await add_connection(database, me.id, "tiktok", 999, status="disconnected")
    r = await client.put(
        "/v1/me/creator-profile",
        json={
            "slug": slug,
            "categories": ["Fashion", "Lifestyle"],
            "photo_url": "https://img.example.com/sarah.jpg",
            "min_budget_minor": 50_000,
            "max_budget_minor": 250_000,
            "budget_currency": "EUR",
            "follower_estimates": {"facebook": 4000},
        },
        headers=me.headers,
    )
    assert r.status_code == 200, r.text
    shown = [await submit(client, me, 5, "Brilliant shoot"), await submit(client, me, 4, "Good")]
    await submit(client, me, 1, "Hidden <em>rant</em>")
    for review_id in shown:
        await publish(client, me, review_id)

    body = (await client.get(f"/v1/portfolio/{slug}")).json()
    assert body["slug"] == slug and body["display_name"] == "Sarah Snaps"
    assert body["bio"] == "Fashion and lifestyle photographer in Lisbon."
    assert body["photo_url"] == "https://img.example.com/sarah.jpg"
    assert body["categories"] == ["Fashion", "Lifestyle"]
    assert body["budget"] == {"min_minor": 50_000, "max_minor": 250_000, "currency": "EUR"}
    assert [(p["platform"], p["username"], p["follower_count"]) for p in body["platforms"]] == [
        ("instagram", "sarah.snaps", 12_345),
        ("youtube", "sarahsnaps", None),
    ]
    assert body["declared_audience"] == {"facebook": 4000}
    assert body["rating"] == {"count": 2, "average_rating": "4.5"}
    assert [(r["rating"], r["review_text"]) for r in body["reviews"]] == [
        (4, "Good"),
        (5, "Brilliant shoot"),
    ]
    assert body["contact"]["kind"] == "sign_in"
    text = str(body)
    assert "Client@example.com" not in text and "7946" not in text and me.email not in text

    page = await client.get(f"/portfolio/{slug}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "img-src https: http:" in page.headers["content-security-policy"]
    html = page.text
    for expected in (
        "<h1>Sarah Snaps</h1>",
        "Fashion and lifestyle photographer in Lisbon.",
        "<li>Fashion</li>",
        '<img src="https://img.example.com/sarah.jpg" alt="Photo of Sarah Snaps"',
        "<strong>Instagram</strong> @sarah.snaps:",
        "12,345 followers",
        "(as of 1 June 2025)",
        "follower count not reported yet",
        "Facebook 4,000",
        "4.5 out of 5</strong> from 2 reviews",
        "Brilliant shoot",
        'aria-label="4 out of 5 stars"',
        "EUR 500 – 2,500",
        'href="/docs"',
        '<html lang="en">',
        '<main id="main"',
    ):
        assert expected in html, expected
    for absent in ("Hidden", "rant", "Tiktok", "Client@example.com", "7946", me.email):
        assert absent not in html, absent


async def test_contact_button(client: httpx.AsyncClient) -> None:
    _, with_email = await creator(
        client,
        display_name="Leo Lens",
        socials={"email": "bookings@leolens.example", "website": "https://leo.example"},
    )
    body = (await client.get(f"/v1/portfolio/{with_email}")).json()
    assert body["contact"] == {
        "kind": "email",
        "href": "mailto:bookings@leolens.example"
        "?subject=Collaboration%20enquiry%20for%20Leo%20Lens",
        "label": "E-mail Leo Lens",
    }
    page = await client.get(f"/portfolio/{with_email}")
    assert 'href="mailto:bookings@leolens.example?subject=' in page.text

    _, with_site = await creator(
        client,
        display_name="Mia",
        socials={"email": "not an address", "website": "https://mia.example"},
    )
    body = (await client.get(f"/v1/portfolio/{with_site}")).json()
    assert body["contact"]["kind"] == "website"
    assert body["contact"]["href"] == "https://mia.example"
    assert 'rel="noopener nofollow"' in (await client.get(f"/portfolio/{with_site}")).text

    _, bare = await creator(client, display_name="Kai", socials={"website": "javascript:alert(1)"})
    body = (await client.get(f"/v1/portfolio/{bare}")).json()
    assert body["contact"]["kind"] == "sign_in"
    page = await client.get(f"/portfolio/{bare}")
    assert "javascript:" not in page.text and "has not published a contact address" in page.text


async def test_empty_portfolio(client: httpx.AsyncClient) -> None:
    me = await account(client, roles=["creator"])
    r = await client.put("/v1/me/creator-profile", json=PROFILE, headers=me.headers)
    assert r.status_code == 200, r.text
    body = (await client.get("/v1/portfolio/NORA-frames")).json()  # addresses ignore case
    assert body["rating"] == {"count": 0, "average_rating": None}
    assert body["reviews"] == [] and body["platforms"] == [] and body["budget"] is None
    page = await client.get("/portfolio/nora-frames")
    assert page.status_code == 200
    assert "No published reviews yet." in page.text and "No accounts connected yet." in page.text


async def test_upcoming_blocked_dates_show_with_public_reasons_only(
    client: httpx.AsyncClient,
) -> None:
    me, slug = await creator(client)
    today = datetime.now(UTC).date()
    blocks = [
        (today - timedelta(days=10), today - timedelta(days=5), "Past trip", True),
        (today + timedelta(days=3), today + timedelta(days=9), "Holiday in Japan", True),
        (today + timedelta(days=20), today + timedelta(days=20), "Dentist", False),
        (today + timedelta(days=400), today + timedelta(days=401), "Far away", True),
    ]
    for start, end, reason, public in blocks:
        r = await client.post(
            "/v1/workspace/calendar/blocks",
            json={
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "reason": reason,
                "reason_public": public,
            },
            headers=me.headers,
        )
        assert r.status_code == 201, r.text
    body = (await client.get(f"/v1/portfolio/{slug}")).json()
    assert body["unavailable"] == [
        {
            "start_date": (today + timedelta(days=3)).isoformat(),
            "end_date": (today + timedelta(days=9)).isoformat(),
            "reason": "Holiday in Japan",
        },
        {
            "start_date": (today + timedelta(days=20)).isoformat(),
            "end_date": (today + timedelta(days=20)).isoformat(),
            "reason": None,
        },
    ]
    page = await client.get(f"/portfolio/{slug}")
    assert "Holiday in Japan" in page.text
    assert "Dentist" not in page.text and "Past trip" not in page.text


async def test_average_is_exact_to_one_decimal(client: httpx.AsyncClient) -> None:
    me, slug = await creator(client)
    for rating in (5, 4, 4):  # 13 / 3 = 4.333…
        await publish(client, me, await submit(client, me, rating, "ok"))
    body = (await client.get(f"/v1/portfolio/{slug}")).json()
    assert body["rating"] == {"count": 3, "average_rating": "4.3"}
    await publish(client, me, await submit(client, me, 4, "ok"))  # 17 / 4 = 4.25 → 4.3 (half up)
    body = (await client.get(f"/v1/portfolio/{slug}")).json()
    assert body["rating"]["average_rating"] == "4.3"
    assert Decimal(body["rating"]["average_rating"]) == Decimal("4.3")


async def test_user_text_is_escaped(client: httpx.AsyncClient) -> None:
    me, slug = await creator(
        client, display_name="<script>alert(1)</script>", bio="<img src=x onerror=alert(1)>"
    )
    await publish(client, me, await submit(client, me, 3, "</blockquote><script>alert(2)</script>"))
    html = (await client.get(f"/portfolio/{slug}")).text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("slug", "status", "code"),
    [
        ("nobody-here", 404, "creator_not_found"),  # well formed, nobody's
        ("x" * 51, 422, "validation_error"),  # cannot be an address: the path is refused
        ("%3Cscript%3E", 422, "validation_error"),
        ("bad_slug", 422, "validation_error"),
    ],
)
async def test_unknown_portfolio(
    client: httpx.AsyncClient, slug: str, status: int, code: str
) -> None:
    page = await client.get(f"/portfolio/{slug}")
    assert page.status_code == 404 and "No such portfolio" in page.text
    assert_problem(await client.get(f"/v1/portfolio/{slug}"), status, code)


async def test_suspended_creator_has_no_portfolio(
    client: httpx.AsyncClient, database: Database
) -> None:
    _, slug = await creator(client)
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    user_id = await scalar(
        database,
        "SELECT user_id::text FROM identity.creator_profiles WHERE slug = :slug",
        slug=slug,
    )
    r = await client.post(
        f"/v1/admin/users/{user_id}/status",
        json={"status": "suspended", "reason": "test"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    assert_problem(await client.get(f"/v1/portfolio/{slug}"), 404, "creator_not_found")
    assert (await client.get(f"/portfolio/{slug}")).status_code == 404


def test_budget_formatting() -> None:
    assert format_minor(1_250_000, "USD") == "12,500"
    assert format_minor(1_250_050, "USD") == "12,500.50"
    assert format_minor(50_000, "JPY") == "50,000"
    assert format_minor(1_500, "KWD") == "1.500"
    assert budget_text(BudgetOut(min_minor=None, max_minor=9_900, currency="EUR")) == (
        "up to EUR 99"
    )
    assert budget_text(BudgetOut(min_minor=9_900, max_minor=None, currency="EUR")) == (
        "from EUR 99"
    )
    assert budget_text(BudgetOut(min_minor=100, max_minor=100, currency="GBP")) == "GBP 1"
    assert budget_text(None) is None
