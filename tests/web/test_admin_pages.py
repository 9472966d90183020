"""The administrator's pages over HTTP: an administrator finds an account, changes its roles,
suspends and reactivates it, checks the ledger, releases a payout below the minimum, sets a
fee, reads the analytics and the logs; and the refusals (another role, a missing CSRF token, a
bad form, an unknown account, the API's own rules) change nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from creatorhub.db import Database
from creatorhub.web import admin as admin_pages
from helpers import Account, account, assert_problem, grant_roles, scalar
from market_helpers import brand, claim, creator, open_job, submit
from money_fixtures import ledger_verified  # noqa: F401 - the ledger is checked after each test
from payment_helpers import fund_wallet, idem, wallet
from web_helpers import csrf_of, signed_in_browser


async def an_admin(client: httpx.AsyncClient, database: Database) -> Account:
    who = await account(client)
    await grant_roles(database, who.id, "admin")
    return who


@contextlib.asynccontextmanager
async def admin_browser(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, Account]]:
    admin = await an_admin(client, database)
    async with signed_in_browser(app, admin.email, address=("203.0.113.41", 40041)) as browser:
        yield browser, admin


async def roles_of(database: Database, user_id: str) -> list[str]:
    roles = await scalar(
        database, "SELECT roles FROM identity.users WHERE id = CAST(:id AS uuid)", id=user_id
    )
    return sorted(roles)


async def test_an_admin_finds_an_account_and_changes_its_roles_and_status(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    target = await account(client, roles=["creator"], email="findme.page@example.com")
    async with admin_browser(app, client, database) as (browser, admin):
        found = await browser.get("/admin/users", params={"q": "FINDME.page"})
        assert found.status_code == 200
        assert 'href="/admin/users"' in found.text  # the admin's navigation
        assert f'href="/admin/users/{target.id}"' in found.text and "Creator" in found.text
        # By a part of the display name too ("Test User"), newest first, paged.
        by_name = await browser.get("/admin/users", params={"q": "est us"})
        assert f"/admin/users/{target.id}" in by_name.text
        nothing = await browser.get("/admin/users", params={"q": "nobody-at-all"})
        assert "No account matches" in nothing.text

        page = await browser.get(f"/admin/users/{target.id}")
        assert page.status_code == 200 and "findme.page@example.com" in page.text
        token = csrf_of(page.text)
        changed = await browser.post(
            f"/admin/users/{target.id}/roles",
            data={"csrf_token": token, "roles": ["creator", "brand"]},
        )
        assert changed.status_code == 303, changed.text
        assert await roles_of(database, target.id) == ["brand", "creator"]
        page = await browser.get(changed.headers["location"])
        assert "The roles are saved." in page.text

        suspended = await browser.post(
            f"/admin/users/{target.id}/status",
            data={"csrf_token": token, "status": "suspended", "reason": "spam reports"},
        )
        assert suspended.status_code == 303, suspended.text
        assert_problem(await client.get("/v1/me", headers=target.headers), 403, "account_suspended")
        page = await browser.get(f"/admin/users/{target.id}")
        assert "suspended: “spam reports”" in page.text

        back = await browser.post(
            f"/admin/users/{target.id}/status",
            data={"csrf_token": token, "status": "active", "reason": "appeal granted"},
        )
        assert back.status_code == 303, back.text
        assert (await client.get("/v1/me", headers=target.headers)).status_code == 200

        logs = await browser.get("/admin/logs", params={"entity_type": "user"})
        assert logs.status_code == 200
        assert "user.roles_changed" in logs.text and "user.status.suspended" in logs.text
        assert f"/admin/users/{admin.id}" in logs.text  # who did it
        system = await browser.get("/admin/logs", params={"component": "no-such-component"})
        assert system.status_code == 200 and "user.roles_changed" in system.text


async def test_the_api_rules_hold_on_the_pages(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    target = await account(client, roles=["creator"])
    async with admin_browser(app, client, database) as (browser, admin):
        held = await roles_of(database, admin.id)
        assert "admin" in held
        token = csrf_of((await browser.get(f"/admin/users/{admin.id}")).text)
        own = await browser.post(
            f"/admin/users/{admin.id}/roles", data={"csrf_token": token, "roles": ["creator"]}
        )
        assert own.status_code == 403
        assert "You cannot remove your own administrator role." in own.text
        assert 'value="creator" checked' in own.text  # what was chosen comes back
        assert await roles_of(database, admin.id) == held
        self_status = await browser.post(
            f"/admin/users/{admin.id}/status",
            data={"csrf_token": token, "status": "suspended", "reason": "testing"},
        )
        assert self_status.status_code == 403
        assert "You cannot change your own account status." in self_status.text
        assert (
            await scalar(
                database,
                "SELECT status FROM identity.users WHERE id = CAST(:id AS uuid)",
                id=admin.id,
            )
            == "active"
        )

        none = await browser.post(f"/admin/users/{target.id}/roles", data={"csrf_token": token})
        assert none.status_code == 422 and "Choose at least one of the roles." in none.text
        no_reason = await browser.post(
            f"/admin/users/{target.id}/status",
            data={"csrf_token": token, "status": "suspended", "reason": "  "},
        )
        assert no_reason.status_code == 422 and "Write why." in no_reason.text
        assert await roles_of(database, target.id) == ["creator"]

        unknown = await browser.get("/admin/users/00000000-0000-4000-8000-000000000000")
        assert unknown.status_code == 404 and "No such user." in unknown.text
        forged = await browser.post(f"/admin/users/{target.id}/roles", data={"roles": ["admin"]})
        assert forged.status_code == 403
        forged = await browser.post(
            f"/admin/users/{target.id}/status", data={"status": "banned", "reason": "no token"}
        )
        assert forged.status_code == 403
    assert await roles_of(database, target.id) == ["creator"]
    assert (await client.get("/v1/me", headers=target.headers)).status_code == 200

    # Another role on any admin page: 403, a page.
    async with signed_in_browser(app, target.email, address=("203.0.113.42", 40042)) as other:
        for path in ("/admin/users", "/admin/ledger", "/admin/fees", "/admin/logs"):
            refused = await other.get(path)
            assert refused.status_code == 403, path
            assert "This page is for the role: Administrator." in refused.text


async def test_ledger_check_after_money_moves(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner, budget=100_00, influencer_slots=1)
    async with admin_browser(app, client, database) as (browser, _):
        page = await browser.get("/admin/ledger")
        assert page.status_code == 200 and "I6" in page.text
        checked = await browser.post(
            "/admin/ledger/verify", data={"csrf_token": csrf_of(page.text)}
        )
        assert checked.status_code == 200, checked.text
        assert "The ledger is sound: no violation" in checked.text
        assert re.search(r"in \d+\.\d\d s\.", checked.text)
        assert (await browser.post("/admin/ledger/verify")).status_code == 403
    assert job["status"] == "open"


async def payee_below_minimum(client: httpx.AsyncClient, amount: int) -> Account:
    payee = await account(client, roles=["creator"])
    made = await client.post("/v1/payout-accounts", json={"country": "US"}, headers=payee.headers)
    assert made.status_code == 201, made.text
    await fund_wallet(client, payee.headers, amount)
    return payee


async def test_a_payout_released_below_the_minimum(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    payee = await payee_below_minimum(client, 15_00)
    async with admin_browser(app, client, database) as (browser, admin):
        page = await browser.get("/admin/payouts")
        assert page.status_code == 200
        assert f'id="payee-{payee.id}-USD"' in page.text and "available USD 15<" in page.text
        token = csrf_of(page.text)
        form = {"csrf_token": token, "user_id": payee.id, "currency": "USD"}

        bad = await browser.post(
            "/admin/payouts/release", data={**form, "amount": "15.001", "reason": "x"}
        )
        assert bad.status_code == 422
        assert "at most 2 decimals" in bad.text and 'value="15.001"' in bad.text
        assert "Write why this payout" in bad.text
        too_much = await browser.post(
            "/admin/payouts/release", data={**form, "amount": "16", "reason": "closing"}
        )
        assert too_much.status_code == 409 and 'value="16"' in too_much.text
        assert (await wallet(client, payee.headers))["available"] == 15_00

        released = await browser.post(
            "/admin/payouts/release",
            data={**form, "amount": "15.00", "reason": "closing the account"},
        )
        assert released.status_code == 303, released.text
        page = await browser.get("/admin/payouts")
        assert "The payout is released" in page.text and f"payee-{payee.id}" not in page.text
        # A second click finds the money gone: nothing more is released.
        again = await browser.post(
            "/admin/payouts/release",
            data={**form, "amount": "15.00", "reason": "closing the account"},
        )
        assert again.status_code == 409 and "The payout was not released" in again.text
    payouts = (await client.get("/v1/payouts", headers=payee.headers)).json()["items"]
    assert [(p["amount"], p["trigger"], p["released_below_minimum_by"]) for p in payouts] == [
        (15_00, "admin", admin.id)
    ]
    assert (await wallet(client, payee.headers))["available"] == 0


async def test_fees_are_set_on_the_page(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    async with admin_browser(app, client, database) as (browser, admin):
        page = await browser.get("/admin/fees")
        assert page.status_code == 200 and 'action="/admin/fees/tip"' in page.text
        token = csrf_of(page.text)
        bad = await browser.post(
            "/admin/fees/tip",
            data={"csrf_token": token, "basis_points": "20000", "fixed_amount": "3x"},
        )
        assert bad.status_code == 422
        assert 'value="20000"' in bad.text and 'value="3x"' in bad.text
        assert "Enter the fixed amount as a whole number." in bad.text
        too_high = await browser.post(
            "/admin/fees/tip",
            data={"csrf_token": token, "basis_points": "20000", "fixed_amount": "0"},
        )
        assert too_high.status_code == 422 and "10000" in too_high.text
        unsent = await browser.post(
            "/admin/fees/tip", data={"basis_points": "1", "fixed_amount": "0"}
        )
        assert unsent.status_code == 403

        rules = (await client.get("/v1/admin/fees", headers=admin.headers)).json()
        assert [
            (r["basis_points"], r["fixed_amount"]) for r in rules if r["transaction_kind"] == "tip"
        ] == [(1000, 0)]

        saved = await browser.post(
            "/admin/fees/tip",
            data={"csrf_token": token, "basis_points": "290", "fixed_amount": "30"},
        )
        assert saved.status_code == 303, saved.text
        page = await browser.get("/admin/fees")
        assert "The fee is saved" in page.text and "290 basis points (2.90%)" in page.text
    quote = await client.get(
        "/v1/fees/quote", params={"kind": "tip", "gross": 1000}, headers=admin.headers
    )
    assert quote.json()["fee"] == 1000 * 290 // 10_000 + 30


async def test_analytics_after_a_job_is_approved(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await brand(client, funds=200_00)
    job = await open_job(client, owner, budget=100_00, influencer_slots=1, influence_min=0)
    maker = await creator(client)
    slot = await claim(client, job["uid"], maker)
    assert slot.status_code == 201, slot.text
    assert (await submit(client, slot.json()["uid"], maker)).status_code == 201
    approved = await client.post(
        f"/v1/marketplace/claims/{slot.json()['uid']}/approve",
        headers={**owner.headers, **idem()},
    )
    assert approved.status_code == 200, approved.text
    today = datetime.now(UTC).date().isoformat()
    async with admin_browser(app, client, database) as (browser, _):
        page = await browser.get("/admin/analytics", params={"from": today, "to": today})
        assert page.status_code == 200 and "No day of this range is rolled up yet" in page.text
        done = await browser.post(
            "/admin/analytics/rollup",
            data={"csrf_token": csrf_of(page.text), "from": today, "to": today},
        )
        assert done.status_code == 303, done.text
        page = await browser.get(done.headers["location"])
        assert "are recomputed" in page.text
        assert "<dd>USD 100 (1)</dd>" in page.text  # paid to creators, one payout
        assert '<dd class="platform-fees">USD 10</dd>' in page.text  # the platform's 10% fee
        assert "1 jobs created" in page.text

        bad = await browser.get("/admin/analytics", params={"from": today, "to": "2001-01-01"})
        assert bad.status_code == 422 and "The last day must be on or after the first." in bad.text
        refused = await browser.post(
            "/admin/analytics/rollup",
            data={"csrf_token": csrf_of(page.text), "from": "2001-01-01", "to": "2003-01-01"},
        )
        assert refused.status_code == 422 and "366 days" in refused.text


async def test_accounts_are_paged_and_an_age_check_is_recorded(
    app: FastAPI, client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_pages, "USERS_PER_PAGE", 2)
    made = [await account(client, email=f"paged{n}.admin@example.com") for n in range(3)]
    async with admin_browser(app, client, database) as (browser, _):
        first = await browser.get("/admin/users", params={"q": "paged"})
        assert [f"/admin/users/{who.id}" in first.text for who in made] == [False, True, True]
        more = re.search(r'href="(/admin/users\?[^"]+)" rel="next"', first.text)
        assert more, first.text
        second = await browser.get(more.group(1).replace("&amp;", "&"))
        assert f"/admin/users/{made[0].id}" in second.text and 'rel="next"' not in second.text
        assert f"/admin/users/{made[1].id}" not in second.text

        page = await browser.get(f"/admin/users/{made[0].id}")
        token = csrf_of(page.text)
        wrong = await browser.post(
            f"/admin/users/{made[0].id}/age-verification",
            data={"csrf_token": token, "method": "a passport photo", "result": "passed"},
        )
        assert wrong.status_code == 422 and "Choose how the age was checked" in wrong.text
        recorded = await browser.post(
            f"/admin/users/{made[0].id}/age-verification",
            data={"csrf_token": token, "method": "document_check", "result": "passed"},
        )
        assert recorded.status_code == 303, recorded.text
    row = await scalar(
        database,
        "SELECT age_verification_method || ':' || age_verification_result FROM identity.users"
        " WHERE id = CAST(:id AS uuid)",
        id=made[0].id,
    )
    assert row == "document_check:passed"


async def test_a_suspended_administrator_is_refused(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    target = await account(client, roles=["creator"])
    async with admin_browser(app, client, database) as (browser, admin):
        token = csrf_of((await browser.get("/admin/users")).text)
        other = await an_admin(client, database)
        suspended = await client.post(
            f"/v1/admin/users/{admin.id}/status",
            json={"status": "suspended", "reason": "compromised"},
            headers=other.headers,
        )
        assert suspended.status_code == 200, suspended.text
        assert (await browser.get("/admin/users")).status_code == 403
        refused = await browser.post(
            f"/admin/users/{target.id}/roles", data={"csrf_token": token, "roles": ["admin"]}
        )
        assert refused.status_code == 403
    assert await roles_of(database, target.id) == ["creator"]
