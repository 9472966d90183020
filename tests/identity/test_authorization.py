"""Who may read and change what: ownership, roles, suspended and banned accounts."""

from __future__ import annotations

import httpx

from creatorhub.db import Database
from helpers import account, assert_problem, grant_roles, scalar

CREATOR_PROFILE = {
    "slug": "sarah-snaps",
    "categories": ["Fashion"],
    "min_budget_minor": 10_000,
    "max_budget_minor": 90_000,
    "budget_currency": "EUR",
    "languages": ["en", "fr"],
    "skills": ["reels"],
    "follower_estimates": {"instagram": 12_000, "tiktok": 3_000},
}


async def test_a_user_cannot_read_or_change_another_users_private_data(
    client: httpx.AsyncClient, database: Database
) -> None:
    alice, bob = await account(client), await account(client)
    # Reading: 404, the same answer as for an id that does not exist.
    assert_problem(
        await client.get(f"/v1/users/{bob.id}", headers=alice.headers), 404, "user_not_found"
    )
    r = await client.patch(
        f"/v1/users/{bob.id}", headers=alice.headers, json={"display_name": "pwned"}
    )
    assert_problem(r, 404, "user_not_found")
    assert (
        await scalar(
            database,
            "SELECT display_name FROM identity.users WHERE id = CAST(:id AS uuid)",
            id=bob.id,
        )
        == "Test User"
    )
    # The owner can.
    own = await client.get(f"/v1/users/{alice.id}", headers=alice.headers)
    assert own.status_code == 200 and own.json()["email"] == alice.email
    r = await client.patch(f"/v1/users/{alice.id}", headers=alice.headers, json={"bio": "hello"})
    assert r.status_code == 200 and r.json()["bio"] == "hello"
    # Unknown fields and admin-only fields cannot be smuggled in.
    r = await client.patch("/v1/me", headers=alice.headers, json={"roles": ["admin"]})
    assert_problem(r, 422, "validation_error")
    r = await client.patch("/v1/me", headers=alice.headers, json={"status": "active"})
    assert_problem(r, 422, "validation_error")


async def test_an_admin_can_read_any_account(client: httpx.AsyncClient, database: Database) -> None:
    admin, bob = await account(client), await account(client)
    await grant_roles(database, admin.id, "admin")
    r = await client.get(f"/v1/users/{bob.id}", headers=admin.headers)
    assert r.status_code == 200 and r.json()["email"] == bob.email


async def test_profile_changes_are_audited_with_only_what_changed(
    client: httpx.AsyncClient, database: Database
) -> None:
    me = await account(client)
    r = await client.patch(
        "/v1/me", headers=me.headers, json={"display_name": "New Name", "username": "new_name"}
    )
    assert r.status_code == 200
    row = await scalar(
        database,
        "SELECT jsonb_build_object('before', before, 'after', after) FROM audit.audit_logs "
        "WHERE action = 'user.updated' AND entity_id = :id",
        id=me.id,
    )
    assert row["after"] == {
        "display_name": "New Name",
        "username": "new_name",
        "updated_at": row["after"]["updated_at"],
    }
    assert row["before"]["display_name"] == "Test User"


async def test_usernames_are_unique_case_insensitively(client: httpx.AsyncClient) -> None:
    a, b = await account(client), await account(client)
    assert (
        await client.patch("/v1/me", headers=a.headers, json={"username": "Same_Name"})
    ).status_code == 200
    r = await client.patch("/v1/me", headers=b.headers, json={"username": "same_name"})
    assert_problem(r, 409, "username_taken", field="body.username")


async def test_creator_profile_needs_the_role_and_is_public_without_private_data(
    client: httpx.AsyncClient,
) -> None:
    fan = await account(client, roles=["fan"])
    r = await client.put("/v1/me/creator-profile", headers=fan.headers, json=CREATOR_PROFILE)
    assert_problem(r, 403, "role_required")

    creator = await account(client, roles=["creator"])
    r = await client.put("/v1/me/creator-profile", headers=creator.headers, json=CREATOR_PROFILE)
    assert r.status_code == 200, r.text
    assert r.json()["follower_estimates"] == {"instagram": 12_000, "tiktok": 3_000}

    public = await client.get("/v1/creators/SARAH-SNAPS")
    assert public.status_code == 200
    assert public.json()["profile"]["slug"] == "sarah-snaps"
    assert creator.email not in public.text and "phone" not in public.json()

    other = await account(client, roles=["creator"])
    r = await client.put("/v1/me/creator-profile", headers=other.headers, json=CREATOR_PROFILE)
    assert_problem(r, 409, "slug_taken", field="body.slug")
    bad = {**CREATOR_PROFILE, "slug": "other", "min_budget_minor": 5, "max_budget_minor": 1}
    assert_problem(
        await client.put("/v1/me/creator-profile", headers=other.headers, json=bad),
        422,
        "validation_error",
    )
    assert_problem(await client.get("/v1/creators/nobody-here"), 404, "creator_not_found")


async def test_brand_profile_needs_the_brand_role(client: httpx.AsyncClient) -> None:
    body = {
        "company_name": "Acme",
        "website": "https://acme.example",
        "business_categories": ["Beauty"],
    }
    creator = await account(client, roles=["creator"])
    assert_problem(
        await client.put("/v1/me/brand-profile", headers=creator.headers, json=body),
        403,
        "role_required",
    )
    brand = await account(client, roles=["brand"])
    r = await client.put("/v1/me/brand-profile", headers=brand.headers, json=body)
    assert r.status_code == 200 and r.json()["company_name"] == "Acme"
    assert "verification_status" not in r.json()  # the campaigns' advertiser details have it
    me = (await client.get("/v1/me", headers=brand.headers)).json()
    assert me["brand_profile"]["company_name"] == "Acme"


async def test_admin_routes_need_staff_roles(client: httpx.AsyncClient, database: Database) -> None:
    fan, target = await account(client), await account(client)
    body = {"status": "suspended", "reason": "spam"}
    assert_problem(
        await client.post(f"/v1/admin/users/{target.id}/status", headers=fan.headers, json=body),
        403,
        "role_required",
    )
    assert_problem(
        await client.get("/v1/admin/audit-logs", headers=fan.headers), 403, "role_required"
    )
    assert_problem(
        await client.put(
            f"/v1/admin/users/{target.id}/roles", headers=fan.headers, json={"roles": ["admin"]}
        ),
        403,
        "role_required",
    )
    assert (
        await scalar(
            database, "SELECT status FROM identity.users WHERE id = CAST(:id AS uuid)", id=target.id
        )
        == "active"
    )


async def test_moderator_suspends_but_only_admin_bans(
    client: httpx.AsyncClient, database: Database
) -> None:
    moderator, admin, target = await account(client), await account(client), await account(client)
    await grant_roles(database, moderator.id, "moderator")
    await grant_roles(database, admin.id, "admin")
    r = await client.post(
        f"/v1/admin/users/{target.id}/status",
        headers=moderator.headers,
        json={"status": "banned", "reason": "x"},
    )
    assert_problem(r, 403, "role_required")
    r = await client.post(
        f"/v1/admin/users/{target.id}/status",
        headers=moderator.headers,
        json={"status": "suspended", "reason": "spam"},
    )
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    r = await client.post(
        f"/v1/admin/users/{target.id}/status",
        headers=admin.headers,
        json={"status": "banned", "reason": "fraud"},
    )
    assert r.status_code == 200 and r.json()["status"] == "banned"
    trail = await client.get(
        f"/v1/admin/audit-logs?entity_type=user&entity_id={target.id}", headers=admin.headers
    )
    actions = [item["action"] for item in trail.json()["items"]]
    assert actions[:2] == ["user.status.banned", "user.status.suspended"]


async def user_row(database: Database, user_id: str) -> dict[str, object]:
    row: dict[str, object] = await scalar(
        database,
        "SELECT to_jsonb(u) FROM identity.users u WHERE id = CAST(:id AS uuid)",
        id=user_id,
    )
    return row


async def status_audits(database: Database, user_id: str) -> int:
    return int(
        await scalar(
            database,
            "SELECT count(*) FROM audit.audit_logs"
            " WHERE entity_id = :id AND action LIKE 'user.status.%'",
            id=user_id,
        )
    )


async def test_only_an_admin_lifts_or_changes_a_ban(
    client: httpx.AsyncClient, database: Database
) -> None:
    moderator, admin, target = await account(client), await account(client), await account(client)
    await grant_roles(database, moderator.id, "moderator")
    await grant_roles(database, admin.id, "admin")
    url = f"/v1/admin/users/{target.id}/status"
    banned = await client.post(
        url, headers=admin.headers, json={"status": "banned", "reason": "fraud"}
    )
    assert banned.status_code == 200, banned.text
    before, audits = await user_row(database, target.id), await status_audits(database, target.id)

    # Neither lifting the ban nor turning it into a suspension is a moderator's call.
    for status in ("active", "suspended"):
        r = await client.post(
            url, headers=moderator.headers, json={"status": status, "reason": "appeal"}
        )
        problem = assert_problem(r, 403, "role_required")
        assert "ban" in problem["detail"]
        assert await user_row(database, target.id) == before
        assert await status_audits(database, target.id) == audits
    assert_problem(await client.get("/v1/me", headers=target.headers), 403, "account_banned")

    lifted = await client.post(
        url, headers=admin.headers, json={"status": "active", "reason": "appeal upheld"}
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["status"] == "active"
    assert await status_audits(database, target.id) == audits + 1
    assert (await client.get("/v1/me", headers=target.headers)).status_code == 200


async def test_moderators_change_the_status_of_non_staff_accounts_only(
    client: httpx.AsyncClient, database: Database
) -> None:
    moderator, other_moderator, admin, fan = (
        await account(client),
        await account(client),
        await account(client),
        await account(client),
    )
    await grant_roles(database, moderator.id, "moderator")
    await grant_roles(database, other_moderator.id, "moderator")
    await grant_roles(database, admin.id, "admin")
    body = {"status": "suspended", "reason": "x"}
    for staff in (other_moderator, admin):
        before = await user_row(database, staff.id)
        r = await client.post(
            f"/v1/admin/users/{staff.id}/status", headers=moderator.headers, json=body
        )
        assert_problem(r, 403, "role_required")
        assert await user_row(database, staff.id) == before
        assert await status_audits(database, staff.id) == 0
    own = await client.post(
        f"/v1/admin/users/{moderator.id}/status", headers=moderator.headers, json=body
    )
    assert_problem(own, 403, "own_status")
    own = await client.post(f"/v1/admin/users/{admin.id}/status", headers=admin.headers, json=body)
    assert_problem(own, 403, "own_status")
    assert await status_audits(database, moderator.id) == 0
    assert await status_audits(database, admin.id) == 0

    # active <-> suspended on an ordinary account, both ways.
    for status in ("suspended", "active"):
        r = await client.post(
            f"/v1/admin/users/{fan.id}/status",
            headers=moderator.headers,
            json={"status": status, "reason": "review"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    assert await status_audits(database, fan.id) == 2
    # An administrator may suspend a moderator.
    r = await client.post(
        f"/v1/admin/users/{other_moderator.id}/status", headers=admin.headers, json=body
    )
    assert r.status_code == 200 and r.json()["status"] == "suspended"


async def test_suspended_user_can_only_read_their_status(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin, target = await account(client), await account(client)
    await grant_roles(database, admin.id, "admin")
    await client.post(
        f"/v1/admin/users/{target.id}/status",
        headers=admin.headers,
        json={"status": "suspended", "reason": "chargebacks"},
    )
    status = await client.get("/v1/me/status", headers=target.headers)
    assert status.status_code == 200
    assert status.json()["status"] == "suspended" and status.json()["reason"] == "chargebacks"
    assert_problem(await client.get("/v1/me", headers=target.headers), 403, "account_suspended")
    assert_problem(
        await client.patch("/v1/me", headers=target.headers, json={"bio": "x"}),
        403,
        "account_suspended",
    )
    assert_problem(
        await client.get(f"/v1/users/{target.id}", headers=target.headers), 403, "account_suspended"
    )
    r = await client.post(
        f"/v1/admin/users/{target.id}/status",
        headers=admin.headers,
        json={"status": "active", "reason": "appeal upheld"},
    )
    assert r.status_code == 200
    assert (await client.get("/v1/me", headers=target.headers)).status_code == 200


async def test_roles_and_age_verification_by_staff(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin, target = await account(client), await account(client)
    await grant_roles(database, admin.id, "admin")
    r = await client.put(
        f"/v1/admin/users/{target.id}/roles",
        headers=admin.headers,
        json={"roles": ["creator", "fan"]},
    )
    assert r.status_code == 200 and r.json()["roles"] == ["creator", "fan"]
    r = await client.put(
        f"/v1/admin/users/{admin.id}/roles", headers=admin.headers, json={"roles": ["fan"]}
    )
    assert_problem(r, 403, "own_role")
    r = await client.post(
        f"/v1/admin/users/{target.id}/age-verification",
        headers=admin.headers,
        json={"method": "id_provider", "result": "passed"},
    )
    assert r.status_code == 200
    age = r.json()["age_verification"]
    assert age["method"] == "id_provider" and age["result"] == "passed" and age["verified_at"]
    r = await client.post(
        f"/v1/admin/users/{target.id}/age-verification",
        headers=admin.headers,
        json={"method": "id_provider", "result": "passed", "document_image": "base64..."},
    )
    assert_problem(r, 422, "validation_error")


async def test_audit_log_pages_with_a_cursor(client: httpx.AsyncClient, database: Database) -> None:
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    for _ in range(3):
        await account(client)
    first = await client.get("/v1/admin/audit-logs?limit=2", headers=admin.headers)
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    second = await client.get(
        f"/v1/admin/audit-logs?limit=2&cursor={page['next_cursor']}", headers=admin.headers
    )
    ids_1 = {item["id"] for item in page["items"]}
    ids_2 = {item["id"] for item in second.json()["items"]}
    assert ids_1.isdisjoint(ids_2)
    assert_problem(
        await client.get("/v1/admin/audit-logs?cursor=@@@", headers=admin.headers),
        400,
        "invalid_cursor",
    )
    assert all("password" not in str(item) for item in page["items"])


async def test_no_route_taking_a_user_id_lets_a_fan_reach_another_account(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Every operation in the API document with a `{user_id}` path parameter, called by an
    ordinary account on another account: refused, and the other account is unchanged."""
    fan, victim = await account(client), await account(client)
    before = await scalar(
        database,
        "SELECT to_jsonb(u) - 'updated_at' FROM identity.users u WHERE id = CAST(:id AS uuid)",
        id=victim.id,
    )
    spec = (await client.get("/openapi.json")).json()
    # A valid body for each, so that refusals come from authorization, not from validation.
    # A new route with a body fails here with 422 until it gets an entry: on purpose.
    bodies = {
        ("patch", "/v1/users/{user_id}"): {"display_name": "taken over"},
        ("put", "/v1/admin/users/{user_id}/roles"): {"roles": ["admin"]},
        ("post", "/v1/admin/users/{user_id}/status"): {"status": "suspended", "reason": "x"},
        ("post", "/v1/admin/users/{user_id}/age-verification"): {
            "method": "id_provider",
            "result": "passed",
        },
    }
    tried = []
    for path, operations in spec["paths"].items():
        if "{user_id}" not in path:
            continue
        for method in operations:
            url = path.replace("{user_id}", victim.id)
            response = await client.request(
                method.upper(), url, headers=fan.headers, json=bodies.get((method, path))
            )
            tried.append((method, path, response.status_code))
            # Administration routes refuse by role; the others do not tell the account exists.
            expected = (
                (403, "role_required") if path.startswith("/v1/admin/") else (404, "user_not_found")
            )
            assert (response.status_code, response.json()["code"]) == expected, (
                method,
                path,
                response.text,
            )
            assert victim.email not in response.text
    assert len(tried) >= 5, tried
    after = await scalar(
        database,
        "SELECT to_jsonb(u) - 'updated_at' FROM identity.users u WHERE id = CAST(:id AS uuid)",
        id=victim.id,
    )
    assert after == before
