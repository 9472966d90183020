"""Part A: promoters and campaigns through the HTTP API: the matching listing (followers,
categories, languages, filters, pages), joining with a tracking link of one's own (every
refusal with its code, nothing written), leaving and joining again, one's participations."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from campaign_helpers import (
    DEFAULT_BUDGET,
    advertiser,
    campaign_of,
    create_campaign,
    end,
    funded_campaign,
    join,
    pause,
    promoter,
)
from creatorhub.db import Database
from helpers import assert_problem, grant_roles
from payment_helpers import count, fund_wallet


async def browse(client: httpx.AsyncClient, who: Any, query: str = "") -> list[str]:
    response = await client.get(f"/v1/campaigns/browse{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


async def test_browse_lists_the_active_campaigns_that_match_the_promoter(
    client: httpx.AsyncClient,
) -> None:
    owner = await advertiser(client, funds=30_000)
    await funded_campaign(client, owner, title="anyone")
    await funded_campaign(client, owner, title="big", min_followers=10_000)
    await funded_campaign(client, owner, title="fashion", categories=["fashion", "shoes"])
    await funded_campaign(client, owner, title="german", languages=["de"])
    await funded_campaign(
        client,
        owner,
        title="consulting",
        type="consultant",
        cpv=None,
        max_views=None,
        destination_url=None,
        min_budget=1_000,
        max_budget=2_000,
    )
    await create_campaign(client, owner, title="draft")
    paused = await funded_campaign(client, owner, title="paused")
    assert (await pause(client, paused["id"], owner)).status_code == 200

    small = await promoter(client, followers=5_000, categories=["fashion"], languages=["en"])
    assert await browse(client, small) == ["consulting", "fashion", "anyone"]
    large = await promoter(client, followers=20_000, categories=["food"], languages=["de"])
    assert await browse(client, large) == ["consulting", "german", "big", "anyone"]
    nobody = await promoter(client, followers=None)  # no profile: what is for anyone
    assert await browse(client, nobody) == ["consulting", "anyone"]

    assert await browse(client, small, "?type=visibility") == ["fashion", "anyone"]
    assert await browse(client, small, "?category=fashion") == ["fashion"]
    assert await browse(client, large, "?language=de") == ["german"]
    first = await client.get("/v1/campaigns/browse?limit=2", headers=large.headers)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        f"/v1/campaigns/browse?limit=2&cursor={cursor}", headers=large.headers
    )
    assert [item["title"] for item in second.json()["items"]] == ["big", "anyone"]
    assert second.json()["items"][0]["view"] == "public"
    assert second.json()["items"][0]["allocation"] is None

    bad = await client.get("/v1/campaigns/browse?type=nonsense", headers=small.headers)
    assert_problem(bad, 422, "validation_error")
    assert_problem(
        await client.get("/v1/campaigns/browse", headers=owner.headers), 403, "role_required"
    )


async def test_joining_gives_a_tracking_link_of_ones_own(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=10_000)
    campaign = await funded_campaign(client, owner)
    first, second = await promoter(client), await promoter(client)
    mine = await join(client, campaign["id"], first)
    theirs = await join(client, campaign["id"], second)
    assert mine["status"] == "active" and mine["campaign_id"] == campaign["id"]
    assert len(mine["tracking_code"]) == 16 and mine["tracking_code"] != theirs["tracking_code"]
    assert mine["tracking_link"].endswith(f"/t/{mine['tracking_code']}")
    assert mine["tracking_link"].startswith("http")
    assert (mine["views_generated"], mine["budget_held"], mine["spent_budget"]) == (0, 0, 0)

    view = await campaign_of(client, campaign["id"], owner)
    assert {p["promoter_id"] for p in view["promoters"]} == {first.id, second.id}
    audited = "SELECT count(*) FROM audit.audit_logs WHERE action = 'campaigns.participation.join'"
    assert await count(database, audited) >= 2

    listed = await client.get("/v1/campaigns/participations", headers=first.headers)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["id"] == mine["id"] and item["tracking_link"] == mine["tracking_link"]
    assert item["campaign"]["title"] == campaign["title"]
    assert item["campaign"]["view"] == "public"


async def test_join_refusals_change_nothing(client: httpx.AsyncClient, database: Database) -> None:
    owner = await advertiser(client, funds=20_000)
    who = await promoter(client, followers=5_000)
    participations = "SELECT count(*) FROM campaigns.promoter_campaigns WHERE promoter_id = :me"

    draft = await create_campaign(client, owner)
    refused = await client.post(f"/v1/campaigns/{draft['id']}/join", headers=who.headers)
    assert_problem(refused, 404, "campaign_not_found")  # an unfunded campaign is not shown

    paused = await funded_campaign(client, owner)
    assert (await pause(client, paused["id"], owner)).status_code == 200
    refused = await client.post(f"/v1/campaigns/{paused['id']}/join", headers=who.headers)
    assert_problem(refused, 409, "campaign_paused")

    ended = await funded_campaign(client, owner)
    assert (await end(client, ended["id"], owner)).status_code == 200
    refused = await client.post(f"/v1/campaigns/{ended['id']}/join", headers=who.headers)
    assert_problem(refused, 409, "campaign_ended")

    # Past its end date, not yet ended by the job: not listed, not joined.
    past = await funded_campaign(client, owner, title="past its end")
    async with database.session_scope() as session:
        await session.execute(
            text(
                "UPDATE campaigns.campaigns SET starts_at = now() - interval '2 days',"
                " ends_at = now() - interval '1 minute' WHERE id = :c"
            ),
            {"c": past["id"]},
        )
    assert "past its end" not in await browse(client, who)
    refused = await client.post(f"/v1/campaigns/{past['id']}/join", headers=who.headers)
    assert_problem(refused, 409, "campaign_ended")

    both = await promoter(client)  # a promoter who is also an advertiser
    await grant_roles(database, both.id, "brand")
    await fund_wallet(client, both.headers, DEFAULT_BUDGET)
    own = await funded_campaign(client, both)
    refused = await client.post(f"/v1/campaigns/{own['id']}/join", headers=both.headers)
    assert_problem(refused, 403, "own_campaign")

    big = await funded_campaign(client, owner, min_followers=5_001)
    refused = await client.post(f"/v1/campaigns/{big['id']}/join", headers=who.headers)
    assert_problem(refused, 403, "not_enough_followers")
    assert await count(database, participations, me=who.id) == 0

    active = await funded_campaign(client, owner)
    await join(client, active["id"], who)
    refused = await client.post(f"/v1/campaigns/{active['id']}/join", headers=who.headers)
    assert_problem(refused, 409, "already_joined")
    refused = await client.post(f"/v1/campaigns/{active['id']}/join", headers=owner.headers)
    assert_problem(refused, 403, "role_required")
    assert await count(database, participations, me=who.id) == 1


async def test_joining_at_once_twice_makes_one_participation(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client, funds=10_000)
    campaign = await funded_campaign(client, owner)
    who = await promoter(client)
    answers = await asyncio.gather(
        *(
            client.post(f"/v1/campaigns/{campaign['id']}/join", headers=who.headers)
            for _ in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    for answer in answers:
        if answer.status_code == 409:
            assert_problem(answer, 409, "already_joined")
    participations = "SELECT count(*) FROM campaigns.promoter_campaigns WHERE promoter_id = :me"
    assert await count(database, participations, me=who.id) == 1


async def test_leave_and_join_again_with_the_same_link(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client, funds=10_000)
    campaign = await funded_campaign(client, owner)
    who, stranger = await promoter(client), await promoter(client)
    joined = await join(client, campaign["id"], who)
    left = await client.post(f"/v1/campaigns/{campaign['id']}/leave", headers=who.headers)
    assert left.status_code == 200, left.text
    assert left.json()["status"] == "left" and left.json()["left_at"] is not None
    again = await client.post(f"/v1/campaigns/{campaign['id']}/leave", headers=who.headers)
    assert_problem(again, 409, "not_joined")
    never = await client.post(f"/v1/campaigns/{campaign['id']}/leave", headers=stranger.headers)
    assert_problem(never, 404, "participation_not_found")
    back = await join(client, campaign["id"], who)
    assert back["id"] == joined["id"] and back["tracking_code"] == joined["tracking_code"]
    assert back["status"] == "active" and back["left_at"] is None


async def test_participations_page_newest_first(client: httpx.AsyncClient) -> None:
    owner = await advertiser(client, funds=20_000)
    who = await promoter(client)
    joined = [
        await join(client, (await funded_campaign(client, owner))["id"], who) for _ in range(3)
    ]
    first = await client.get("/v1/campaigns/participations?limit=2", headers=who.headers)
    assert [p["id"] for p in first.json()["items"]] == [joined[2]["id"], joined[1]["id"]]
    cursor = first.json()["next_cursor"]
    second = await client.get(
        f"/v1/campaigns/participations?limit=2&cursor={cursor}", headers=who.headers
    )
    assert [p["id"] for p in second.json()["items"]] == [joined[0]["id"]]
    assert second.json()["next_cursor"] is None
    other = await promoter(client)
    empty = await client.get("/v1/campaigns/participations", headers=other.headers)
    assert empty.json() == {"items": [], "next_cursor": None}


async def test_joins_racing_an_end_never_land_in_an_ended_campaign(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Joins take the campaign row FOR SHARE, the end FOR UPDATE: every join is either in
    before the end (201, its participation kept) or refused after it (409 campaign_ended,
    nothing written), none in between."""
    owner = await advertiser(client, funds=10_000)
    campaign = await funded_campaign(client, owner)
    promoters = [await promoter(client) for _ in range(6)]
    joins = [
        client.post(f"/v1/campaigns/{campaign['id']}/join", headers=who.headers)
        for who in promoters
    ]
    answers = await asyncio.gather(*joins[:3], end(client, campaign["id"], owner), *joins[3:])
    ended = answers[3]
    assert ended.status_code == 200, ended.text
    joined = [a for a in answers if a.status_code == 201]
    for answer in answers:
        if answer.status_code not in (200, 201):
            assert_problem(answer, 409, "campaign_ended")
    listed = "SELECT count(*) FROM campaigns.promoter_campaigns WHERE campaign_id = :c"
    assert await count(database, listed, c=campaign["id"]) == len(joined)
