"""Part A: seed 002's advertiser and promoter details through the HTTP API, and the
administrator's verification of an advertiser."""

from __future__ import annotations

import httpx

from campaign_helpers import advertiser, promoter
from creatorhub.db import Database
from helpers import account, assert_problem, grant_roles
from payment_helpers import count


async def test_advertiser_details_and_their_verification(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await advertiser(client)
    empty = await client.get("/v1/me/advertiser-details", headers=owner.headers)
    assert empty.status_code == 200, empty.text
    assert empty.json()["verification_status"] == "unverified"
    assert empty.json()["company_name"] is None

    body = {
        "company_name": "Sneaker Co",
        "website": "https://sneakers.example.com",
        "business_categories": ["fashion", "shoes"],
    }
    put = await client.put("/v1/me/advertiser-details", json=body, headers=owner.headers)
    assert put.status_code == 200, put.text
    assert put.json() == {
        **body,
        "user_id": owner.id,
        "verification_status": "pending",
        "verified_at": None,
    }
    # The status is the platform's: a body setting it is refused, nothing changed.
    forged = await client.put(
        "/v1/me/advertiser-details",
        json={**body, "verification_status": "verified"},
        headers=owner.headers,
    )
    assert_problem(forged, 422, "validation_error")

    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    url = f"/v1/admin/advertisers/{owner.id}/verification"
    verified = await client.post(url, json={"status": "verified"}, headers=admin.headers)
    assert verified.status_code == 200, verified.text
    assert verified.json()["verification_status"] == "verified"
    assert verified.json()["verified_at"] is not None
    mine = (await client.get("/v1/me/advertiser-details", headers=owner.headers)).json()
    assert mine["verification_status"] == "verified"
    # Another company name asks for verification again.
    renamed = await client.put(
        "/v1/me/advertiser-details",
        json={**body, "company_name": "Other Co"},
        headers=owner.headers,
    )
    assert renamed.json()["verification_status"] == "pending"
    rejected = await client.post(url, json={"status": "rejected"}, headers=admin.headers)
    assert rejected.json()["verification_status"] == "rejected"
    audited = (
        "SELECT count(*) FROM audit.audit_logs WHERE entity_id = :me"
        " AND action IN ('campaigns.advertiser.verified', 'campaigns.advertiser.rejected')"
    )
    assert await count(database, audited, me=owner.id) == 2

    refused = await client.post(url, json={"status": "verified"}, headers=owner.headers)
    assert_problem(refused, 403, "role_required")
    fan = await promoter(client)
    not_brand = await client.post(
        f"/v1/admin/advertisers/{fan.id}/verification",
        json={"status": "verified"},
        headers=admin.headers,
    )
    assert_problem(not_brand, 404, "advertiser_not_found")
    bad = await client.post(url, json={"status": "pending"}, headers=admin.headers)
    assert_problem(bad, 422, "validation_error")


async def test_promoter_details_with_what_campaigns_match_on(client: httpx.AsyncClient) -> None:
    who = await promoter(client, followers=9_001, categories=["fashion"], languages=["en", "de"])
    empty = (await client.get("/v1/me/promoter-details", headers=who.headers)).json()
    assert empty["country"] is None and empty["follower_total"] == 9_001
    assert empty["languages"] == ["en", "de"] and empty["categories"] == ["fashion"]
    body = {
        "country": "DE",
        "city": "Berlin",
        "birth_year": 1995,
        "gender": "female",
        "audience_countries": ["DE", "AT"],
    }
    put = await client.put("/v1/me/promoter-details", json=body, headers=who.headers)
    assert put.status_code == 200, put.text
    assert {key: put.json()[key] for key in body} == body
    assert put.json()["follower_estimates"] == {"instagram": 4_500, "tiktok": 4_501}
    again = (await client.get("/v1/me/promoter-details", headers=who.headers)).json()
    assert again == put.json()

    bad = await client.put(
        "/v1/me/promoter-details", json={"country": "Germany"}, headers=who.headers
    )
    assert_problem(bad, 422, "validation_error")
    assert (await client.get("/v1/me/promoter-details", headers=who.headers)).json() == again
    owner = await advertiser(client)
    refused = await client.get("/v1/me/promoter-details", headers=owner.headers)
    assert_problem(refused, 403, "role_required")
    refused = await client.get("/v1/me/advertiser-details", headers=who.headers)
    assert_problem(refused, 403, "role_required")
